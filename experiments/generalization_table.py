"""Generalization runs table: for each saved model, clean PublicTest (one view), the
corruption benchmark on PublicTest, and a labelled photo set (JAFFE) through the whole face
pipeline, per class. PrivateTest is not looked at: this table is for choosing.

    python experiments/generalization_table.py results/model runs/robust1 \
        --data ../shared/data/fer2013.csv.gz --photos ../shared/data/jaffe \
        --out results/generalization/runs.md

A model may be named ``NAME=FOLDER`` (the table shows NAME). ``--reuse`` takes the figures of
a model from an earlier table's JSON where its files, the PublicTest images and the photo
crops are the same (a hash of each), so adding a run to the table computes that run only. A
model folder that is no longer on disk (run folders are not committed, and a new machine has
none) keeps its row from that JSON, said on stderr; a folder that is there is always checked.
An earlier shipped model comes
back from git for such a table: ``mkdir -p runs/w48e160 && git archive 137aa4e results/model |
tar -x --strip-components=2 -C runs/w48e160``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from emojax import data as data_lib
from emojax import photoset, robustness
from emojax.io import command_line, markdown_table, named, report, run
from emojax.models import fingerprint
from emojax.pipeline import load_classifier


def scoring_parser(doc: str) -> argparse.ArgumentParser:
    """The flags of a table that scores saved models on PublicTest and a photo set."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="saved model folders, each FOLDER or NAME=FOLDER")
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--photos", required=True, help="labelled photo set (e.g. JAFFE)")
    p.add_argument("--limit", type=int, help="first N PublicTest images only (quick checks)")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    return p


def diagnosis_parser(doc: str, out: str = "Markdown file to write (default: print only)") -> argparse.ArgumentParser:
    """The flags of a diagnosis of one saved model on FER2013 and a photo set."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("model", help="saved model folder")
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--photos", required=True, help="labelled photo set (e.g. JAFFE)")
    p.add_argument("--out", help=out)
    return p


def publictest_and_photos(args: argparse.Namespace):
    """PublicTest (its first ``--limit`` images), the photo set, and its crops with the faces found."""
    val = data_lib.require(data_lib.load(args.data, verbose=False).val, "validation (PublicTest)")
    if args.limit:
        val = val.subset(slice(0, args.limit))
    photos = photoset.read(args.photos)
    crops, found = photoset.crops(photos, progress=True)
    return val, photos, crops, found


def main(argv=None) -> int:
    p = scoring_parser(__doc__)
    p.add_argument("--reuse", help="an earlier table's .json: its rows for unchanged models are kept")
    args = p.parse_args(argv)
    val, photos, crops, found = publictest_and_photos(args)
    inputs = hashlib.sha1(val.images.tobytes() + val.labels.tobytes() + crops.tobytes() + found.tobytes()
                          + "|".join(ph.emotion for ph in photos).encode()).hexdigest()
    earlier, by_folder = {}, {}
    if args.reuse and Path(args.reuse).is_file():
        old = json.loads(Path(args.reuse).read_text())
        earlier = {r["key"]: r for r in old if "key" in r}
        by_folder = {r["folder"]: r for r in old if "folder" in r}
    rows = []
    for spec in args.models:
        name, folder = named(spec)
        if not (Path(folder) / "model.json").is_file() and folder in by_folder:
            rows.append({**by_folder[folder], "model": name})
            print(f"{name}: {folder} is not here, figures from {args.reuse}", file=sys.stderr)
            continue
        key = hashlib.sha1(f"{fingerprint(folder)}|{inputs}".encode()).hexdigest()
        if key in earlier:
            rows.append({**earlier[key], "model": name, "folder": folder})
            print(f"{name}: unchanged, figures from {args.reuse}", file=sys.stderr)
            continue
        clf = load_classifier(folder)  # one view: what predict, live and serve use
        bench = robustness.benchmark(clf, val.images, val.labels, progress=True)
        rep = photoset.evaluate(clf, photos, crops, found)
        rows.append({"model": name, "folder": folder, "key": key, "publictest": bench["clean"],
                     "corruptions": bench, "photos": photoset.scores(rep)})
        print(f"{name}: PublicTest {100 * bench['clean']:.1f}%, worst mild "
              f"{bench['worst_mild']} -{bench['mild'][bench['worst_mild']]['drop']:.1f}, "
              f"photos {100 * rep['accuracy']:.1f}%", file=sys.stderr)
    classes = list(rows[0]["photos"]["recall"])
    mild = list(rows[0]["corruptions"]["mild"])
    head = ["model", "PublicTest (1 view)", "worst mild drop", *[f"{n}" for n in mild],
            f"{Path(args.photos).name}", *classes]
    cells = []
    for r in rows:
        c = r["corruptions"]
        cells.append([
            f"`{r['model']}`", f"{100 * r['publictest']:.1f}%", f"{robustness.format_drop(c['mild'][c['worst_mild']])} ({c['worst_mild']})",
            *[f"{c['mild'][n]['drop']:+.1f}" for n in mild], *photoset.score_cells(r["photos"], classes)])
    half = robustness.accuracy_interval
    per_class = min(n for n in (sum(ph.emotion == c for ph in photos) for c in classes) if n)
    text = ("Corruption columns: points lost against clean PublicTest (one view). Photo-set columns: "
            "accuracy over every photo (no face found counts as wrong) and recall per class (%). "
            f"Sampling error (95%, near 50%): the photo set's accuracy over {len(photos)} photos is "
            f"known to about +-{half(len(photos)):.1f} points, a class's recall (at least {per_class} "
            f"photos) to +-{half(per_class):.0f}, PublicTest ({len(val.labels):,} faces) to "
            f"+-{half(len(val.labels)):.1f}: rows closer than that may differ by the photos alone. A drop "
            "is known better (the same faces clean and corrupted): its paired 95% half-width follows "
            "the worst one where the row measured it.\n\n"
            f"{markdown_table(head, cells)}\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

"""A whole-face model and a part expert (e.g. ``fer2013_vgg48_brows``, which never sees the
mouth) pooled as a product of experts (``pipeline.Ensemble(rule='product')``): the expert's
log probabilities added at each weight. Per weight: PublicTest (one view), the corruption
benchmark's worst mild drop, and a labelled photo set (JAFFE) through the face pipeline. The
weight is chosen on PublicTest (marked); the photo set shows what each weight does off
FER2013, never chosen on.

    python experiments/part_fusion.py results/model runs/brows --data ../shared/data/fer2013.csv.gz \\
        --photos ../shared/data/jaffe --out results/generalization/part_fusion.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import data as data_lib  # noqa: E402
from emojax import photoset, robustness  # noqa: E402
from emojax.io import command_line, markdown_table, report, run  # noqa: E402
from emojax.pipeline import Ensemble, load_classifier  # noqa: E402
from experiments.ensemble import Cached  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("whole", help="saved whole-face model folder")
    p.add_argument("expert", help="saved part-expert model folder (same classes)")
    p.add_argument("--weights", type=float, nargs="+", default=[0, 0.25, 0.5, 0.75, 1.0, 1.5],
                   help="weights of the expert's log probabilities (the whole face's is 1)")
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--photos", help="labelled photo set (e.g. JAFFE)")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    ds = data_lib.load(args.data, verbose=False)
    val = data_lib.require(ds.val, "validation (PublicTest)")
    whole, expert = Cached(load_classifier(args.whole)), Cached(load_classifier(args.expert))
    photos = crops = found = None
    if args.photos:
        photos = photoset.read(args.photos)
        crops, found = photoset.crops(photos, progress=True)
    pooled = [(f"whole + {w:g} x expert", Ensemble([whole, expert], [1.0, w], rule="product"))
              for w in args.weights]
    rows = []
    for name, clf in [*pooled, ("expert alone", expert)]:
        bench = robustness.benchmark(clf, val.images, val.labels, severe=False, progress=True)
        worst = bench["worst_mild"]
        row = {"model": name, "publictest": bench["clean"],
               "worst_mild": {"name": worst, **bench["mild"][worst]}}
        if photos is not None:
            rep = photoset.evaluate(clf, photos, crops, found)
            row["photos"] = photoset.scores(rep)
        rows.append(row)
    best = max(range(len(pooled)), key=lambda i: rows[i]["publictest"])
    rows[best]["chosen"] = True
    classes = list(whole.classes)
    head = ["pooling", "PublicTest (1 view)", "worst mild drop"] + (
        [Path(args.photos).name, *classes] if photos is not None else [])
    table = []
    for r in rows:
        cells = [f"{r['model']}{' (chosen on PublicTest)' if r.get('chosen') else ''}",
                 f"{100 * r['publictest']:.1f}%",
                 f"{robustness.format_drop(r['worst_mild'])} ({r['worst_mild']['name']})"]
        if "photos" in r:
            cells += photoset.score_cells(r["photos"], classes)
        table.append(cells)
    text = (f"`{args.whole}` (whole face) and `{args.expert}` (part expert) as a product of experts: "
            "log probabilities added, the expert's at each weight. Photo-set columns: accuracy over every "
            f"photo and recall per class (%).\n\n{markdown_table(head, table)}\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

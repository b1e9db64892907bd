"""Score an ensemble of saved models (probabilities averaged) beside each member:
PublicTest and PrivateTest, the corruption benchmark on PublicTest, and a labelled photo set
(JAFFE) through the face pipeline. Nothing is chosen here: the members were each chosen on
PublicTest; PrivateTest is reported.

    python experiments/ensemble.py results/model runs/w48e160 runs/robust2 \\
        --data ../shared/data/fer2013.csv.gz --photos ../shared/data/jaffe \\
        --out results/generalization/ensemble.md
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from emojax import data as data_lib
from emojax import photoset, robustness
from emojax.io import EmojaxError, command_line, markdown_table, named, report, run
from emojax.pipeline import VIEWS, CNNClassifier, Ensemble


class Cached:
    """A member whose answers are kept by input, so the ensemble reuses what each member
    already computed on the same images (the splits, each corruption, the photo crops)."""

    def __init__(self, clf):
        self.clf, self.classes, self.memo = clf, clf.classes, {}

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        crops = np.ascontiguousarray(crops)
        key = (crops.shape, hashlib.sha1(crops.tobytes()).hexdigest())
        if key not in self.memo:
            self.memo[key] = self.clf.predict_proba(crops)
        return self.memo[key]

    def predict(self, crops: np.ndarray) -> np.ndarray:
        return self.predict_proba(crops).argmax(-1)


def accuracy(clf, split: data_lib.Split) -> float:
    return float((clf.predict(split.images) == split.labels).mean())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="saved CNN folders, each FOLDER or NAME=FOLDER")
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--photos", help="labelled photo set (e.g. JAFFE)")
    p.add_argument("--views", type=int, choices=VIEWS, default=1, help="test-time views of every member")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    if len(args.models) < 2:
        raise EmojaxError("an ensemble needs at least two models")
    ds = data_lib.load(args.data, verbose=False)
    val = data_lib.require(ds.val, "validation (PublicTest)")
    test = data_lib.require(ds.test, "test (PrivateTest)")
    names, members = [], []
    for spec in args.models:
        name, folder = named(spec)
        names.append(name)
        members.append(Cached(CNNClassifier(folder, views=args.views)))
    ens = Ensemble(members)
    photos = crops = found = None
    if args.photos:
        photos = photoset.read(args.photos)
        crops, found = photoset.crops(photos, progress=True)
    rows = []
    for name, clf in [*zip(names, members), (f"ensemble of {len(members)}", ens)]:
        row = {"model": name, "publictest": accuracy(clf, val), "privatetest": accuracy(clf, test)}
        bench = robustness.benchmark(clf, val.images, val.labels, progress=True)
        row["worst_mild"] = {"name": bench["worst_mild"], "drop": bench["mild"][bench["worst_mild"]]["drop"]}
        if photos is not None:
            rep = photoset.evaluate(clf, photos, crops, found)
            row["photos"] = photoset.scores(rep)
        rows.append(row)
        print(f"{name}: PublicTest {100 * row['publictest']:.1f}%, PrivateTest {100 * row['privatetest']:.1f}%",
              file=sys.stderr)
    classes = list(ds.classes)
    head = ["model", f"PublicTest ({args.views} view{'s' if args.views > 1 else ''})", "PrivateTest",
            "worst mild drop"] + ([Path(args.photos).name, *classes] if photos is not None else [])
    table = []
    for r in rows:
        cells = [f"`{r['model']}`", f"{100 * r['publictest']:.1f}%", f"{100 * r['privatetest']:.1f}%",
                 f"{r['worst_mild']['drop']:.1f} ({r['worst_mild']['name']})"]
        if "photos" in r:
            cells += photoset.score_cells(r["photos"], classes)
        table.append(cells)
    text = ("Members and their average (probabilities), each member chosen on PublicTest before; "
            "PrivateTest reported, never chosen on. Photo-set columns: accuracy over every photo and "
            f"recall per class (%).\n\n{markdown_table(head, table)}\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

"""Test-time photometric normalisation: is it worth matching each crop's exposure and contrast
to FER2013's before the CNN?

JAFFE's crops are darker and more contrasted than FER2013's (``results/generalization/
crop_stats.md``: mean grey 107 against 132, spread 65 against 54). Each crop is rescaled to
the median mean and spread of FER2013 Training crops (no photo-set figure is used), and the
saved model is scored with and without it on PublicTest (with the corruption benchmark) and
on a labelled photo set through the whole photo pipeline. Writes a Markdown table.

    python experiments/moment_matching.py results/model --data ../shared/data/fer2013.csv.gz \
        --photos ../shared/data/jaffe --out results/generalization/moments.md
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

import numpy as np

from emojax import data as data_lib
from emojax import models, photoset, pipeline, robustness
from emojax.io import report, run

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script, experiments/ is not on the path
    sys.path.insert(0, str(ROOT))
from experiments.generalization_table import diagnosis_parser  # noqa: E402


class Matched:
    """A classifier whose crops are first rescaled to a given mean and spread of grey levels."""

    def __init__(self, classifier, mean: float, std: float):
        self.classifier, self.mean, self.std, self.classes = classifier, mean, std, classifier.classes

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        x = crops.astype(np.float32)[..., None] / 255
        y = models.standardize_crops(x, self.mean / 255, self.std / 255)[..., 0] * 255
        return self.classifier.predict_proba(np.clip(y, 0, 255).round().astype(np.uint8))


def main(argv=None) -> int:
    p = diagnosis_parser(__doc__)
    args = p.parse_args(argv)
    ds = data_lib.load(args.data, verbose=False)
    train = ds.train.images.astype(np.float32)
    mean, std = float(np.median(train.mean((1, 2)))), float(np.median(train.std((1, 2))))
    photos = photoset.read(args.photos)
    crops, found = photoset.crops(photos, progress=True)
    plain = pipeline.load_classifier(args.model)
    rows = {}
    for name, clf in (("as is", plain), (f"matched to mean {mean:.1f}, spread {std:.1f}", Matched(plain, mean, std))):
        bench = robustness.benchmark(clf, ds.val.images, ds.val.labels, severe=False, progress=True)
        rep = photoset.evaluate(clf, photos, crops, found)
        rows[name] = {"publictest": bench["clean"], "mild": {k: v["drop"] for k, v in bench["mild"].items()},
                      "photos": rep["accuracy"], "recall": {k: v["recall"] for k, v in rep["per_class"].items()}}
    names = list(next(iter(rows.values()))["mild"])
    classes = list(next(iter(rows.values()))["recall"])
    lines = ["| crops | PublicTest (1 view) | worst mild drop | " + " | ".join(names) + f" | {args.photos} | "
             + " | ".join(classes) + " |", "|---|" + "---:|" * (3 + len(names) + len(classes))]
    for name, r in rows.items():
        worst = max(r["mild"], key=r["mild"].get)
        lines.append(f"| {name} | {100 * r['publictest']:.1f}% | {r['mild'][worst]:.1f} ({worst}) | "
                     + " | ".join(f"{r['mild'][n]:+.1f}" for n in names) + f" | {100 * r['photos']:.1f}% | "
                     + " | ".join(f"{100 * r['recall'][c]:.0f}" for c in classes) + " |")
    text = "\n".join(lines) + f"\n\n`python experiments/moment_matching.py {shlex.join(argv or sys.argv[1:])}`\n"
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

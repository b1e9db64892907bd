"""Did a model learn the posed faces of ``fer2013_vgg48_posed``, and what did that cost?

Posed anger is made from PublicTest's neutral faces exactly as the run made it from Training's
(``geometry.posed``: FER2013 Training's own brow-and-eye shift, 1.5-3.5x, the mouth kept),
faces no run has trained on. For each model: the share of them it reads as angry, and on
PublicTest as it is, accuracy, recall per class and the precision of "angry" (what calling more
faces angry costs). Writes a Markdown table and a PNG of a few faces before and after.

    python experiments/posed_faces.py results/model runs/posed --data ../shared/data/fer2013.csv.gz \\
        --out results/generalization/posed.md
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from emojax import data as data_lib
from emojax import geometry
from emojax.io import atomic_path, command_line, markdown_table, named, report, run
from emojax.pipeline import load_classifier

STRENGTH = (1.5, 3.5)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="saved model folders, each FOLDER or NAME=FOLDER")
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--out", help="Markdown file to write (a .json and a .png go beside it)")
    args = p.parse_args(argv)
    models = [(name, load_classifier(folder, views=1)) for name, folder in map(named, args.models)]
    ds = data_lib.load(args.data, verbose=False)
    val = data_lib.require(ds.val, "validation (PublicTest)")
    classes = list(ds.classes)
    angry, neutral = classes.index("angry"), classes.index("neutral")
    box = geometry.fixed_box(ds.train.images[:800])
    keep = np.isin(ds.train.labels, [angry, neutral])
    shift = geometry.expression_shift(geometry.crop_landmarks(ds.train.images[keep], box, "Training landmarks"),
                                      ds.train.labels[keep], angry, neutral)
    calm = val.images[val.labels == neutral]
    points = geometry.crop_landmarks(calm, box, "PublicTest landmarks")
    strengths = np.random.default_rng(0).uniform(*STRENGTH, len(calm))
    posed = geometry.pose(calm, points, shift, strengths)
    rows = {}
    for name, clf in models:
        pred, on_posed = clf.predict(val.images), clf.predict(posed)
        rows[name] = {
            "posed_read_angry": float(np.mean(on_posed == angry)), "posed_read_neutral": float(np.mean(on_posed == neutral)),
            "publictest": float(np.mean(pred == val.labels)),
            "angry_precision": float(np.mean(val.labels[pred == angry] == angry)),
            "recall": {c: float(np.mean(pred[val.labels == k] == k)) for k, c in enumerate(classes)}}
    table = markdown_table(
        ["model", "posed PublicTest faces read angry", "... read neutral", "PublicTest (1 view)",
         "angry precision", *classes],
        [[n, f"{100 * r['posed_read_angry']:.0f}%", f"{100 * r['posed_read_neutral']:.0f}%",
          f"{100 * r['publictest']:.1f}%", f"{100 * r['angry_precision']:.0f}%",
          *[f"{100 * r['recall'][c]:.0f}" for c in classes]] for n, r in rows.items()])
    text = (f"Posed anger made from PublicTest's {len(calm)} neutral faces (FER2013 Training's brow-and-eye "
            f"shift from neutral to angry, {STRENGTH[0]:g}-{STRENGTH[1]:g}x, the mouth kept); PublicTest as "
            f"it is beside it, recall per class (%).\n\n{table}\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    if args.out:
        with atomic_path(Path(args.out).with_suffix(".png")) as tmp:
            pair = np.concatenate([np.concatenate(list(calm[:10]), 1), np.concatenate(list(posed[:10]), 1)], 0)
            cv2.imwrite(str(tmp), cv2.resize(pair, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST))
    return 0


if __name__ == "__main__":
    run(main)

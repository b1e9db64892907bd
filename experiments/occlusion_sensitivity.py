"""Which half of the face a model reads: per-class recall on a labelled photo set (JAFFE)
through the face pipeline, with the whole crop and with each of ``emojax.augment.FACE_BANDS``
(brows and eyes; mouth and chin) filled with the crop's mean grey.

    python experiments/occlusion_sensitivity.py results/model --photos ../shared/data/jaffe \
        --out results/generalization/occlusion.md

A class whose recall rises when a half is hidden is one the model sees but lets the other
half outvote (posed anger: angry brows over a neutral mouth).
"""
from __future__ import annotations

import argparse

import numpy as np

from emojax import photoset
from emojax.io import command_line, markdown_table, named, report, run
from emojax.pipeline import load_classifier
from emojax.augment import FACE_BANDS


def hide(crops: np.ndarray, rows: tuple[int, int]) -> np.ndarray:
    """The crops with ``rows`` replaced by each crop's mean grey."""
    out = crops.copy()
    out[:, rows[0]:rows[1]] = crops.mean((1, 2), keepdims=True).round().astype(np.uint8)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="saved model folders, each FOLDER or NAME=FOLDER")
    p.add_argument("--photos", required=True, help="labelled photo set (e.g. JAFFE)")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    photos = photoset.read(args.photos)
    crops, found = photoset.crops(photos, progress=True)
    (u0, u1), (l0, l1) = FACE_BANDS
    views = {"whole face": crops, f"brows and eyes hidden (rows {u0}-{u1 - 1})": hide(crops, (u0, u1)),
             f"mouth and chin hidden (rows {l0}-{l1 - 1})": hide(crops, (l0, l1))}
    rows = []
    for spec in args.models:
        name, folder = named(spec)
        clf = load_classifier(folder)
        for view, images in views.items():
            rep = photoset.evaluate(clf, photos, images, found)
            recall = {c: m["recall"] for c, m in rep["per_class"].items()}
            rows.append({"model": name, "folder": folder, "view": view, "accuracy": rep["accuracy"],
                         "recall": recall})
    classes = list(rows[0]["recall"])
    table = markdown_table(["model", "view", "accuracy", *classes], [
        [f"`{r['model']}`", r["view"], f"{100 * r['accuracy']:.1f}%", *[f"{100 * r['recall'][c]:.0f}" for c in classes]]
        for r in rows], left=2)
    text = ("Recall per class (%) on the photo set, whole crops and crops with one face half filled "
            f"with the crop's mean grey.\n\n{table}\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

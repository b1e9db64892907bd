"""How much better saved models do on the Training faces they trained on than on faces they
never saw: the premise of cross-fitted distillation (``train_cnn.py --folds``). A teacher that
learnt its Training labels gives targets there that mostly repeat the label; one that held a
face out has to guess it, as on PublicTest. For each model: accuracy and mean top probability
(one view) on the Training faces it trained on, on those it held out (a ``holdout`` fold, if
it has one), and on PublicTest.

    python experiments/seen_faces.py results/model runs/crossfit_probe/folds/fold0 \\
        --data ../shared/data/fer2013.csv.gz --subset 7200 --out results/robust_scratch/seen_faces.md
"""
from __future__ import annotations

import argparse

import numpy as np

from emojax import data as data_lib
from emojax import models
from emojax.train import in_fold
from emojax.io import command_line, markdown_table, named, positive_int, report, run
from emojax.pipeline import CNNClassifier


def scores(clf: CNNClassifier, split: data_lib.Split) -> dict:
    """Accuracy and mean top probability over ``split`` (None for no faces), and its size."""
    if not len(split):
        return {"accuracy": None, "top_probability": None, "faces": 0}
    probs = clf.predict_proba(split.images)
    return {"accuracy": float((probs.argmax(1) == split.labels).mean()),
            "top_probability": float(probs.max(1).mean()), "faces": len(split)}


def cells(s: dict) -> list[str]:
    if not s["faces"]:
        return ["", "", "0"]
    return [f"{100 * s['accuracy']:.1f}%", f"{s['top_probability']:.3f}", f"{s['faces']:,}"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="saved model folders, each FOLDER or NAME=FOLDER")
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--subset", type=positive_int, help="the first N Training faces only (the ones a "
                   "--subset run trained on)")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    ds = data_lib.load(args.data, verbose=False)
    train = data_lib.require(ds.train, "Training")
    val = data_lib.require(ds.val, "validation (PublicTest)")
    train = train.subset(slice(0, args.subset or len(train)))  # rows: positions, as train.training_data's
    results = []
    for name, folder in map(named, args.models):
        clf = CNNClassifier(folder)
        held = in_fold(models.read_meta(folder).get("holdout"), np.arange(len(train)))
        results.append({"model": name, "trained_on": scores(clf, train.subset(~held)),
                        "held_out": scores(clf, train.subset(held)), "publictest": scores(clf, val)})
    head = ["model", "Training faces it trained on", "top prob", "faces", "Training faces it held out",
            "top prob", "faces", "PublicTest", "top prob", "faces"]
    table = [[f"`{r['model']}`", *cells(r["trained_on"]), *cells(r["held_out"]), *cells(r["publictest"])]
             for r in results]
    text = ("Accuracy and mean top probability (one view) on the faces each model learnt the label of, "
            "and on faces it never saw.\n\n"
            f"{markdown_table(head, table)}\n\n`{command_line(__file__, argv)}`\n")
    report(text, results, args.out)
    return 0


if __name__ == "__main__":
    run(main)

"""Train the HOG + kernel-SVM baseline (emojax.baseline) on FER2013.

    python experiments/train_svm.py                          # default grid, data from data/
    python experiments/train_svm.py --C 2 --gamma 4e-4       # one setting: scored, then refitted

Protocol: every setting of the grid is trained on Training and scored on PublicTest; the
best one is then refitted from scratch on Training (PublicTest stays a selection set
only, so the reported training time is that of one clean fit), its softmax temperature
is fitted on PublicTest, and it is evaluated once on PrivateTest. Writes svm.joblib,
metrics.json (every figure and the command that produced it) and confusion.png to --out.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import data as data_lib  # noqa: E402
from emojax import evaluate  # noqa: E402
from emojax.metrics import format_report, report  # noqa: E402
from emojax.baseline import HogSVM  # noqa: E402
from emojax.io import EmojaxError, atomic_path, check_out_dir, command_line, positive_float, positive_int, run  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="dataset: fer2013.csv[.gz], icml_face_data.csv, train.csv or an "
                   "image folder (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--out", default=str(ROOT / "results" / "svm"), help="output folder (default: results/svm)")
    p.add_argument("--C", type=positive_float, nargs="+", default=[1.0, 2.0, 4.0],
                   help="grid: LinearSVC regularisation, larger = less regularised and slower to fit "
                   "(default: %(default)s)")
    p.add_argument("--gamma", type=positive_float, nargs="+", default=[4e-4, 8e-4],
                   help="grid: RBF kernel width on the PCA features, exp(-gamma |x - y|^2) "
                   "(default: %(default)s)")
    p.add_argument("--pca", type=positive_int, nargs="+", default=[150], help="grid: PCA components (default: %(default)s)")
    p.add_argument("--landmarks", type=positive_int, default=2000,
                   help="Nystroem landmarks: the kernel approximation's rank; the saved model grows "
                   "with it (default: %(default)s)")
    p.add_argument("--cells", type=positive_int, nargs="+", default=[6, 12],
                   help="HOG cell sizes in pixels; the features of each are joined (default: %(default)s)")
    p.add_argument("--subset", type=positive_int, help="train on the first N Training images only (quick runs)")
    p.add_argument("--seed", type=int, default=0, help="random seed (PCA, Nystroem landmarks, SVM)")
    return p.parse_args(argv)


def accuracy(model: HogSVM, split: data_lib.Split) -> float:
    return float((model.predict(split.images) == split.labels).mean())


def main(argv=None) -> int:
    args = parse_args(argv)
    check_out_dir(args.out)
    command = command_line(__file__, argv)
    ds = data_lib.load(args.data)
    if ds.synthetic:
        raise EmojaxError("the SVM baseline is trained on real data only")
    train = data_lib.require(ds.train, "training")
    if args.subset:
        train = train.subset(slice(0, args.subset))
    if len(train) <= max(args.pca):
        raise EmojaxError(f"{len(train)} training images are too few for {max(args.pca)} PCA components")
    val = data_lib.require(ds.val, "validation (PublicTest)")
    test = data_lib.require(ds.test, "test (PrivateTest)")
    fixed = {"landmarks": args.landmarks, "cells": tuple(args.cells), "seed": args.seed}

    grid, t_search = [], time.time()
    print(f"grid: train on {len(train):,} Training images, score on {len(val):,} PublicTest images "
          "(HOG/PCA/Nystroem steps are cached, so later settings fit faster):")
    with tempfile.TemporaryDirectory(prefix="emojax-svm-") as cache:
        for pca, gamma, C in itertools.product(args.pca, args.gamma, args.C):
            t0 = time.time()
            model = HogSVM(ds.classes, C=C, gamma=gamma, pca=pca, **fixed).fit(train.images, train.labels, memory=cache)
            row = {"C": C, "gamma": gamma, "pca": pca, "val_accuracy": accuracy(model, val),
                   "seconds": round(time.time() - t0, 1)}
            grid.append(row)
            print(f"  pca {pca:4d}  gamma {gamma:<8g} C {C:<6g} PublicTest {100 * row['val_accuracy']:5.2f}%  "
                  f"({row['seconds']:.0f}s)", flush=True)
    search_time = time.time() - t_search
    best = max(grid, key=lambda r: r["val_accuracy"])
    chosen = {k: best[k] for k in ("C", "gamma", "pca")}
    print(f"chosen: {chosen}; refitting it from scratch on Training", flush=True)

    t0 = time.time()
    model = HogSVM(ds.classes, **chosen, **fixed).fit(train.images, train.labels)
    train_time = time.time() - t0
    temperature = model.calibrate(val.images, val.labels)
    rep = report(test.labels, model.predict(test.images), ds.classes)
    print(f"trained in {train_time:.0f}s; softmax temperature {temperature:.3f} (fitted on PublicTest)")
    print(f"Accuracy on test set (PrivateTest): {100 * rep['accuracy']:.1f}%")
    print(format_report(rep))

    out = Path(args.out)
    model.save(out / "svm.joblib")
    metrics = {"command": command, "dataset": ds.source, "train_images": len(train),
               "params": {**chosen, **fixed, "cells": list(args.cells)}, "temperature": temperature,
               "grid": grid, "search_time_s": round(search_time, 1), "train_time_s": round(train_time, 1),
               "device": f"{os.cpu_count()} CPU cores",
               "val_accuracy": accuracy(model, val), "test_accuracy": rep["accuracy"],
               "test_macro_f1": rep["macro_f1"], "test_per_class": rep["per_class"],
               "test_confusion": rep["confusion"],
               "model_size_bytes": (out / "svm.joblib").stat().st_size}
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    evaluate.plot_confusion(rep["confusion"], ds.classes, out / "confusion.png",
                            f"HOG+SVM: {100 * rep['accuracy']:.1f}% on PrivateTest")
    print(f"model, metrics.json and confusion.png in {out} "
          f"({metrics['model_size_bytes'] / 1e6:.1f} MB model)")
    return 0


if __name__ == "__main__":
    run(main)

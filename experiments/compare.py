"""Side by side: the HOG+SVM baseline and the CNN on the same PrivateTest images.

    python experiments/compare.py        # results/svm/svm.joblib vs results/model

Both models go through ``emojax.pipeline.load_classifier``, the interface every front end
uses. Writes ``comparison.md`` (accuracy, macro-F1, per-class recall, training time from
each model's metrics.json, measured inference time, size on disk, and this command) and
``comparison.png`` (per-class recall and overall accuracy) to --out-dir. Every number in
them is computed or read here; none is typed in.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from emojax import data as data_lib  # noqa: E402
from emojax.metrics import report as scores  # noqa: E402
from emojax.io import EmojaxError, atomic_path, check_out_dir, command_line, positive_int, run, shown  # noqa: E402
from emojax.pipeline import DEFAULT_MODEL, DEFAULT_SVM, load_classifier, shipped  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="dataset path (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--svm", default=str(DEFAULT_SVM), help="saved HOG+SVM .joblib (default: results/svm/svm.joblib)")
    p.add_argument("--cnn", default=str(DEFAULT_MODEL), help="saved CNN folder (default: results/model)")
    p.add_argument("--pretrained", default=str(shipped("pretrained")),
                   help="saved pretrained-backbone model (dlib ResNet + head; default: results/pretrained, "
                   "left out when absent; 'none' leaves it out)")
    p.add_argument("--out", "--out-dir", dest="out_dir", default=str(ROOT / "results"),
                   help="folder for comparison.md and comparison.png (default: results/)")
    p.add_argument("--limit", type=positive_int, help="use only the first N PrivateTest images (quick checks)")
    p.add_argument("--repeats", type=positive_int, default=50,
                   help="single-crop calls timed per model; the median is reported (default: 50)")
    return p.parse_args(argv)


def size_on_disk(path: Path) -> int:
    """Bytes needed to use the model: the file, or a CNN folder's model.json + weights/
    (not its training checkpoints and logs)."""
    if path.is_file():
        return path.stat().st_size
    files = [path / "model.json", path / "head.npz", *(path / "weights").rglob("*")]
    return sum(f.stat().st_size for f in files if f.is_file())


def read_metrics(path: Path) -> dict:
    """The metrics.json beside a saved model ({} if absent or unreadable)."""
    try:
        return json.loads(((path.parent if path.is_file() else path) / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}


def train_time(metrics: dict, folder: Path | None = None, _seen: int = 0) -> float | None:
    """``train_time_s`` of a run (None if not recorded), plus that of the model it started
    from (``config.init``), so staged training counts in full. A run that replaced the model
    it started from (init = its own folder) counts only itself."""
    t, init = metrics.get("train_time_s"), (metrics.get("config") or {}).get("init")
    if t is not None and init and _seen < 5:
        init = Path(init) if Path(init).is_absolute() else ROOT / init
        if folder is None or init.resolve() != folder.resolve():
            t += train_time(read_metrics(init), init, _seen + 1) or 0.0
    return t


def measure(name: str, path: Path, split: data_lib.Split, classes, repeats: int) -> dict:
    clf = load_classifier(path)
    if tuple(clf.classes) != tuple(classes):
        raise EmojaxError(f"{path}: classes {list(clf.classes)} are not the data's {list(classes)}")
    images = split.images
    clf.predict_proba(images[:256])  # warm-up: the CNN compiles its batch program here
    t0 = time.perf_counter()
    probs = clf.predict_proba(images)
    batched = time.perf_counter() - t0
    clf.predict_proba(images[0])  # warm-up of the single-crop program
    single = []
    for i in range(repeats):
        t0 = time.perf_counter()
        clf.predict_proba(images[i % len(images)])
        single.append(time.perf_counter() - t0)
    rep = scores(split.labels, probs.argmax(-1), classes)
    metrics = read_metrics(path)
    return {"name": name, "path": path, "report": rep,
            "train_time_s": train_time(metrics, path if path.is_dir() else path.parent),
            "trained_on": metrics.get("device"),  # where training times come from; older runs lack it
            "single_ms": 1000 * float(np.median(single)), "per_second": len(images) / batched,
            "size_bytes": size_on_disk(path)}


def markdown(rows: list[dict], classes, n: int, source: str, command: str) -> str:
    import jax

    def fmt_time(s):
        return "n/a (no metrics.json)" if s is None else f"{s / 60:.1f} min"

    table = [("accuracy", lambda r: f"{100 * r['report']['accuracy']:.1f}%"),
             ("macro-F1", lambda r: f"{r['report']['macro_f1']:.3f}"),
             *[(f"recall: {c}", lambda r, c=c: f"{100 * r['report']['per_class'][c]['recall']:.1f}%")
               for c in classes],
             ("training time", lambda r: fmt_time(r["train_time_s"])),
             *([("trained on", lambda r: r["trained_on"] or "not recorded")]
               if any(r["trained_on"] for r in rows) else []),
             ("inference, one face (median)", lambda r: f"{r['single_ms']:.2f} ms"),
             ("inference, batched", lambda r: f"{r['per_second']:,.0f} faces/s"),
             ("size on disk", lambda r: f"{r['size_bytes'] / 1e6:.2f} MB")]
    lines = ["# HOG+SVM baseline vs CNN" + (" vs pretrained backbone" if len(rows) > 2 else ""), "",
             (f"PrivateTest, {n:,} images of {source}. Generated by `{command}`; "
              "do not edit by hand."), "",
             "| | " + " | ".join(f"{r['name']} (`{shown(r['path'], ROOT)}`)" for r in rows) + " |",
             "|---|" + "---:|" * len(rows)]
    lines += [f"| {label} | " + " | ".join(f(r) for r in rows) + " |" for label, f in table]
    lines += ["", ("Training time is `train_time_s` from each model's metrics.json: one training "
                   "run with the chosen settings (all stages, for a model trained from another), not the "
                   "search for them. Inference was timed on "
                   f"the machine that ran the command ({os.cpu_count()} CPU cores, JAX on "
                   f"{jax.default_backend()}): one crop per call (median of repeated calls, the "
                   "latency a live front end sees) and the whole split in one call. Size on disk "
                   "counts what loading needs (a CNN's model.json and weights/, not its training "
                   "checkpoints).")]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], classes, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [*classes, "overall\naccuracy"]
    x = np.arange(len(labels))
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(10, 4))
    for i, r in enumerate(rows):
        values = [r["report"]["per_class"][c]["recall"] for c in classes] + [r["report"]["accuracy"]]
        bars = ax.bar(x + (i - (len(rows) - 1) / 2) * width, values, width, label=r["name"])
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(x, labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("recall on PrivateTest")
    ax.set_title("per-class recall and overall accuracy")
    ax.legend()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    check_out_dir(args.out_dir, "--out")
    command = command_line(__file__, argv)
    ds = data_lib.load(args.data, verbose=False)
    test = data_lib.require(ds.test, "test (PrivateTest)")
    if args.limit:
        test = test.subset(slice(0, args.limit))
    models = [("HOG+SVM", args.svm), ("CNN", args.cnn)]
    if args.pretrained != "none" and Path(args.pretrained).exists():
        models.append(("pretrained dlib ResNet + head", args.pretrained))
    rows = [measure(name, Path(path), test, ds.classes, args.repeats) for name, path in models]
    out = Path(args.out_dir)
    with atomic_path(out / "comparison.md") as tmp:
        tmp.write_text(markdown(rows, ds.classes, len(test), ds.source, command))
    plot(rows, ds.classes, out / "comparison.png")
    for r in rows:
        print(f"{r['name']:8s} accuracy {100 * r['report']['accuracy']:.1f}%  macro-F1 "
              f"{r['report']['macro_f1']:.3f}  {r['single_ms']:.2f} ms/face  {r['per_second']:,.0f} faces/s")
    print(f"wrote {out / 'comparison.md'} and {out / 'comparison.png'}")
    return 0


if __name__ == "__main__":
    run(main)

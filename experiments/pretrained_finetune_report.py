"""Figures of the pretrained backbone's variant (b), the end-to-end fine-tune, beside
variant (a) (frozen + head, ``results/pretrained``) and the shipped VGG: PublicTest and
PrivateTest, JAFFE through the face pipeline per class, the corruption benchmark on
PublicTest, parameters and CPU ms per face. The fine-tuned weights (22 MB) stay in the run
folder; its training record (metrics, curves, architecture) is copied here.

    python experiments/train_cnn.py --config fer2013_dlib_resnet_ft --data ../shared/data/fer2013.csv.gz \\
        --out runs/dlib_ft
    python experiments/pretrained_finetune_report.py runs/dlib_ft --data ../shared/data/fer2013.csv.gz
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import data as data_lib  # noqa: E402
from emojax import models, photoset, pretrained, robustness  # noqa: E402
from emojax.evaluate import plot_confusion  # noqa: E402
from emojax.io import EmojaxError, atomic_path, command_line, markdown_table, run  # noqa: E402
from emojax.pipeline import CNNClassifier, load_classifier  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="the fine-tune's run folder (train_cnn.py --config fer2013_dlib_resnet_ft)")
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--photos", default=str(SHARED / "jaffe"), help="labelled photo set scored with no training")
    p.add_argument("--frozen", default=str(ROOT / "results" / "pretrained"), help="variant (a)")
    p.add_argument("--vgg", default=str(ROOT / "results" / "model"), help="the shipped CNN")
    p.add_argument("--out", default=str(ROOT / "results" / "pretrained" / "finetune"))
    p.add_argument("--limit", type=int, help="first N images of each split only (quick checks)")
    args = p.parse_args(argv)
    run_dir, out = Path(args.run), Path(args.out)
    train_metrics = json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").exists() else None
    if train_metrics is None:
        raise EmojaxError(f"{run_dir}: no metrics.json (the run has not finished)")
    ds = data_lib.load(args.data, verbose=False)
    val = data_lib.require(ds.val, "validation (PublicTest)")
    test = data_lib.require(ds.test, "test (PrivateTest)")
    if args.limit:
        val, test = val.subset(slice(0, args.limit)), test.subset(slice(0, args.limit))
    photos = photoset.read(args.photos)
    crops, found = photoset.crops(photos, progress=True)
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, clf in (("VGG (shipped)", CNNClassifier(args.vgg)), ("(a) frozen + head", load_classifier(args.frozen)),
                      ("(b) fine-tuned end to end", CNNClassifier(run_dir))):
        r = {"publictest": float((clf.predict(val.images) == val.labels).mean()),
             "privatetest": float((clf.predict(test.images) == test.labels).mean())}
        rep = photoset.evaluate(clf, photos, crops, found)
        r["jaffe"] = {"accuracy": rep["accuracy"], "recall": {c: m["recall"] for c, m in rep["per_class"].items()}}
        bench = robustness.benchmark(clf, val.images, val.labels, progress=True)
        r["worst_mild"] = {"name": bench["worst_mild"], "drop": bench["mild"][bench["worst_mild"]]["drop"]}
        r["corruptions"] = bench
        r["cpu_ms_per_face"] = pretrained.ms_per_face(clf, val.images[:256])
        if isinstance(clf, CNNClassifier):
            r["parameters"] = models.param_count(clf.variables["params"])
        else:
            r["parameters"] = int(sum(np.asarray(v).size for v in
                                      __import__("jax").tree_util.tree_leaves(pretrained.backbone().variables))
                                  + clf.parameters())
        if name.startswith("(b)"):
            plot_confusion(rep["confusion"], clf.classes, out / "confusion_jaffe.png",
                           title=f"JAFFE, dlib ResNet fine-tuned end to end: {100 * rep['accuracy']:.1f}%")
        rows[name] = r
        print(f"{name}: PublicTest {100 * r['publictest']:.1f}% PrivateTest {100 * r['privatetest']:.1f}% "
              f"JAFFE {100 * rep['accuracy']:.1f}%", file=sys.stderr)
    for f in ("learning_curves.png", "architecture.txt"):
        if (run_dir / f).exists():
            shutil.copyfile(run_dir / f, out / f)
    command = command_line(__file__, argv)
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps({"command": command, "training": train_metrics, "variants": rows}, indent=2) + "\n")
    classes = list(ds.classes)
    head = ["model", "parameters", "PublicTest", "PrivateTest", "worst mild drop", "CPU ms/face (batched)",
            "JAFFE", *classes]
    table = [[
            name, f"{r['parameters']:,}", f"{100 * r['publictest']:.1f}%", f"{100 * r['privatetest']:.1f}%",
            f"{r['worst_mild']['drop']:.1f} ({r['worst_mild']['name']})", f"{r['cpu_ms_per_face']['batched_ms']:.1f}",
            f"{100 * r['jaffe']['accuracy']:.1f}%", *[f"{100 * r['jaffe']['recall'][c]:.0f}" for c in classes]]
        for name, r in rows.items()]
    text = ("The pretrained face backbone's two variants beside the shipped VGG (one view each; PrivateTest "
            "reported, never chosen on; JAFFE per-class recall in %).\n\n" + markdown_table(head, table)
            + f"\n\nTraining of (b): `{train_metrics['command']}`\n\n`{command}`\n")
    with atomic_path(out.parent / "variants.md") as tmp:
        tmp.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    run(main)

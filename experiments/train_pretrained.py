"""A head on dlib's frozen face-recognition ResNet, trained on FER2013 (issue 16, variant a).

    python experiments/train_pretrained.py --data /work/shared/data/fer2013.csv.gz --out results/pretrained
    python experiments/train_pretrained.py --limit 2000 --out /tmp/pt   # quick run on the first rows
    python experiments/train_pretrained.py --features-only              # just fill the feature cache

Each 48x48 crop is upsampled to 150x150 grey-as-RGB and run once through the frozen
network (emojax.pretrained); the features of Training/PublicTest/PrivateTest are cached in
an .npz outside the repository (``--cache``, default ~/.cache/emojax/pretrained/: they are
derived from the dataset and are never committed). Protocol: every head setting of the
small grid is trained on Training and its epoch and setting are chosen on PublicTest;
PrivateTest is scored once. JAFFE is scored through the photo pipeline with no training on
it, with our crops and, for comparison, with dlib's own chips. Writes model.json + head.npz,
architecture.txt, metrics.json, learning_curves.png and confusion_jaffe.png to --out.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import data as data_lib  # noqa: E402
from emojax import pretrained  # noqa: E402
from emojax.io import EmojaxError, atomic_path, run  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
# (feature, hidden units, dropout, weight decay): a few choices, chosen on PublicTest.
GRID = [("descriptor", 0, 0.0, 1e-4), ("pooled", 0, 0.0, 1e-4), ("pooled", 512, 0.5, 1e-4),
        ("pooled", 1024, 0.5, 1e-4)]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="FER2013 file (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--out", default=str(ROOT / "results" / "pretrained"), help="output folder")
    p.add_argument("--limit", type=int, help="use only the first N rows of each split (quick runs)")
    p.add_argument("--cache", default=str(Path.home() / ".cache" / "emojax" / "pretrained"),
                   help="folder for the feature cache (outside the repository)")
    p.add_argument("--interpolation", default="cubic", choices=pretrained.INTERPOLATIONS)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--jaffe", default=str(SHARED / "jaffe"), help="labelled photo set scored with no training")
    p.add_argument("--faces", default=str(SHARED / "faces"), help="colour photos for the grey-vs-RGB check")
    p.add_argument("--robust-n", type=int, default=1000,
                   help="corruption benchmark on the first N PublicTest images (0 = skip, -1 = all)")
    p.add_argument("--vgg", default=str(ROOT / "results" / "model"), help="the shipped CNN, for comparison")
    p.add_argument("--features-only", action="store_true", help="fill the feature cache and stop")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def split_features(ds, args) -> tuple[dict, Path]:
    """Features of the three splits, from the cache or computed once and cached."""
    src = Path(ds.source)
    st = src.stat() if src.exists() else None
    key = json.dumps([str(src.resolve()) if st else ds.source, st.st_size if st else 0,
                      int(st.st_mtime) if st else 0, args.interpolation, args.limit, 1])
    path = Path(args.cache).expanduser() / f"fer_features_{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"
    splits = {"train": ds.train, "val": ds.val, "test": ds.test}
    if path.exists():
        with np.load(path) as z:
            feats = {k: z[k] for k in z.files}
        if all(len(feats[f"{s}_pooled"]) == len(sp.images[:args.limit]) for s, sp in splits.items()):
            log(f"features from cache {path}")
            return feats, path
    feats = {}
    for name, sp in splits.items():
        imgs = sp.images[:args.limit]
        t = time.perf_counter()
        step = max(512, (len(imgs) // 10) // 512 * 512)
        f = pretrained.crop_features(imgs, args.interpolation, chunk=512, progress=lambda i, n: (
            i % step == 0 or i == n) and log(f"  {name}: {i}/{n} ({(time.perf_counter() - t) / i * 1000:.1f} ms/face)"))
        for k, v in f.items():
            feats[f"{name}_{k}"] = v
        log(f"{name}: {len(imgs)} faces in {time.perf_counter() - t:.0f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **feats)
    log(f"cached features in {path}")
    return feats, path


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def grey_vs_rgb(folder: Path) -> dict:
    """Descriptors of dlib chips of colour photos vs the same chips made grey."""
    from emojax import dlibnet, face

    chips, names = [], []
    for f in sorted(folder.glob("*.jpg")):
        img = face.load_image(f)
        for i, fc in enumerate(face.detect_faces(img)):
            chips.append(dlibnet.face_chip(img, fc.landmarks))
            names.append(f"{f.name}#{i}")
    if not chips:
        return {"faces": 0}
    rgb = np.stack(chips)
    grey = np.stack([pretrained.grey_rgb(c) for c in chips])
    a, b = pretrained.backbone().features(rgb), pretrained.backbone().features(grey)
    cd, cp = cosine(a["descriptor"], b["descriptor"]), cosine(a["pooled"], b["pooled"])
    dist = np.linalg.norm(a["descriptor"] - b["descriptor"], axis=1)
    return {"faces": len(chips), "photos": sorted({n.split("#")[0] for n in names}),
            "descriptor_cosine_mean": float(cd.mean()), "descriptor_cosine_min": float(cd.min()),
            "pooled_cosine_mean": float(cp.mean()), "pooled_cosine_min": float(cp.min()),
            "descriptor_distance_mean": float(dist.mean()), "descriptor_distance_max": float(dist.max()),
            "note": "dlib calls two faces the same person below distance 0.6"}


def jaffe_dlib_chips(clf, photos) -> tuple[np.ndarray, np.ndarray]:
    """The head's probabilities on dlib's own chips (padding 0.25, grey-as-RGB) of each photo."""
    from emojax import dlibnet, face

    probs = np.zeros((len(photos), len(clf.classes)), np.float32)
    found = np.zeros(len(photos), bool)
    chips = []
    for i, p in enumerate(photos):
        img = face.load_image(p.path)
        faces = face.detect_faces(img)
        if faces:
            f = face.largest(faces)
            chips.append(pretrained.grey_rgb(dlibnet.face_chip(img, f.landmarks)))
            found[i] = True
    if chips:
        feats = pretrained.backbone().features(np.stack(chips))[clf.feature]
        probs[found] = pretrained.head_proba(clf.head, clf.norm, feats)
    return probs, found


def jaffe_report(photos, classes, probs, found) -> dict:
    from emojax.metrics import report

    labels = np.array([classes.index(p.emotion) for p in photos])
    pred = np.where(found, probs.argmax(1), -1)
    rep = report(labels, pred, classes)
    rep["faces_found"] = int(found.sum())
    return rep


def main(argv=None) -> int:
    args = parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, ROOT)] + sys.argv[1:])
    ds = data_lib.load(args.data, verbose=False)
    if any(c not in ds.classes for c in data_lib.FER_CLASSES) or len(ds.val.images) == 0:
        raise EmojaxError("this experiment needs FER2013 with its Training/PublicTest/PrivateTest splits")
    classes = tuple(ds.classes)
    lim = args.limit
    y_tr, y_val, y_te = ds.train.labels[:lim], ds.val.labels[:lim], ds.test.labels[:lim]
    feats, cache = split_features(ds, args)
    if args.features_only:
        return 0

    # The grid: each setting trained on Training, its epoch and itself chosen on PublicTest.
    runs = []
    for feature, hidden, dropout, wd in GRID:
        t = time.perf_counter()
        head, norm, hist, best = pretrained.train_head(
            feats[f"train_{feature}"], y_tr, feats[f"val_{feature}"], y_val, len(classes), hidden=hidden,
            epochs=args.epochs, lr=args.lr, weight_decay=wd, dropout=dropout, seed=args.seed)
        acc = hist[best - 1]["val_accuracy"]
        log(f"{feature} hidden={hidden} dropout={dropout}: PublicTest {100 * acc:.2f}% at epoch {best} "
            f"({time.perf_counter() - t:.0f} s)")
        runs.append({"feature": feature, "hidden": hidden, "dropout": dropout, "weight_decay": wd,
                     "best_epoch": best, "val_accuracy": acc, "train_seconds": time.perf_counter() - t,
                     "_fit": (head, norm, hist)})
    chosen = max(runs, key=lambda r: r["val_accuracy"])
    head, norm, hist = chosen.pop("_fit")
    histories = {f"{r['feature']} h{r['hidden']}": r.pop("_fit")[2] for r in runs if "_fit" in r}
    histories[f"{chosen['feature']} h{chosen['hidden']}"] = hist
    clf = pretrained.PretrainedClassifier(head, norm, classes, chosen["feature"], args.interpolation, info={
        "epoch": chosen["best_epoch"], "dataset": ds.source, "dropout": chosen["dropout"],
        "weight_decay": chosen["weight_decay"], "lr": args.lr, "epochs": args.epochs})

    from emojax.evaluate import plot_confusion
    from emojax.metrics import report

    out = Path(args.out)
    clf.save(out)
    plot_curves(histories, f"{chosen['feature']} h{chosen['hidden']}", chosen["best_epoch"],
                out / "learning_curves.png")
    f = chosen["feature"]
    p_val = pretrained.head_proba(head, norm, feats[f"val_{f}"])
    p_te = pretrained.head_proba(head, norm, feats[f"test_{f}"])
    val_rep, test_rep = report(y_val, p_val.argmax(1), classes), report(y_te, p_te.argmax(1), classes)
    # The cached features and the classifier's own path must agree (same upsampling, same net).
    check = clf.predict_proba(ds.val.images[:64])
    consistency = float(np.abs(check - p_val[:64]).max())
    log(f"PublicTest {100 * val_rep['accuracy']:.2f}%  PrivateTest {100 * test_rep['accuracy']:.2f}%  "
        f"(cache vs classifier max |dp| {consistency:.1e})")
    metrics: dict = {
        "command": command, "model": pretrained.MODEL_KIND, "feature_cache": str(cache),
        "chosen": chosen, "grid": runs,
        "public_test": {"accuracy": val_rep["accuracy"], "per_class": val_rep["per_class"], "n": len(y_val)},
        "private_test": {"accuracy": test_rep["accuracy"], "per_class": test_rep["per_class"], "n": len(y_te),
                         "confusion": test_rep["confusion"]},
        "head_parameters": clf.parameters(), "backbone_parameters": int(sum(
            np.asarray(v).size for v in __import__("jax").tree_util.tree_leaves(
                pretrained.backbone().variables)) + pretrained.backbone().fc_kernel.size),
        "cache_vs_classifier_max_abs_diff": consistency, "history": hist,
    }

    timing = pretrained.ms_per_face(clf, ds.val.images[:256])
    metrics["cpu_ms_per_face"] = {**timing, "cpu_count": os.cpu_count(),
                                  "load_average": list(os.getloadavg()),
                                  "note": "end to end from 48x48 crops (upsample, backbone, head); "
                                          "measured on a machine shared with another training job"}
    log(f"ms per face: {timing}")

    vgg = None
    if Path(args.vgg, "model.json").exists():
        from emojax.pipeline import CNNClassifier

        vgg = CNNClassifier(args.vgg, views=1)

    jaffe = Path(args.jaffe)
    if jaffe.exists():
        from emojax import photoset

        photos = photoset.read(jaffe)
        crops, found = photoset.crops(photos)
        rep = photoset.evaluate(clf, photos, crops, found)
        plot_confusion(rep["confusion"], classes, out / "confusion_jaffe.png",
                       title=f"JAFFE, dlib ResNet + head, no training on JAFFE: {100 * rep['accuracy']:.1f}%")
        probs, found_chip = jaffe_dlib_chips(clf, photos)
        chip_rep = jaffe_report(photos, classes, probs, found_chip)
        metrics["jaffe"] = {"accuracy": rep["accuracy"], "per_class": rep["per_class"], "confusion": rep["confusion"],
                            "photos": len(photos), "faces_found": rep["faces_found"],
                            "input": "our 48x48 crop upsampled (what the head was trained on)"}
        metrics["jaffe_dlib_chips"] = {"accuracy": chip_rep["accuracy"], "per_class": chip_rep["per_class"],
                                       "input": "dlib get_face_chip 150x150 padding 0.25, grey-as-RGB, same head"}
        if vgg is not None:
            v = photoset.evaluate(vgg, photos, crops, found)
            metrics["jaffe_vgg_same_crops"] = {"accuracy": v["accuracy"], "per_class": v["per_class"]}
        log(f"JAFFE {100 * rep['accuracy']:.1f}% (dlib chips {100 * chip_rep['accuracy']:.1f}%)")

    faces = Path(args.faces)
    if faces.exists():
        metrics["grey_vs_rgb"] = grey_vs_rgb(faces)
        log(f"grey vs RGB: {metrics['grey_vs_rgb']}")

    if args.robust_n:
        from emojax import robustness

        n = len(ds.val.images) if args.robust_n < 0 else args.robust_n
        imgs, labels = ds.val.images[:n], ds.val.labels[:n]
        t = time.perf_counter()
        res = robustness.benchmark(clf, imgs, labels)
        metrics["robustness"] = {**res, "images": f"first {len(imgs)} PublicTest images",
                                 "seconds": time.perf_counter() - t}
        log(f"robustness ({time.perf_counter() - t:.0f} s):\n{robustness.format_benchmark(res)}")
        if vgg is not None:
            metrics["robustness_vgg_same_images"] = robustness.benchmark(vgg, imgs, labels)

    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    write_architecture(out / "architecture.txt", clf, chosen, metrics)
    log(f"wrote {out}")
    return 0


def plot_curves(histories: dict, chosen: str, best_epoch: int, path: Path) -> None:
    """Loss and accuracy per epoch of every grid setting (train dashed, PublicTest solid)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emojax.io import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (name, hist) in enumerate(histories.items()):
        ep = [h["epoch"] for h in hist]
        for ax, key in zip(axes, ("loss", "accuracy")):
            ax.plot(ep, [h[f"train_{key}"] for h in hist], ls="--", color=f"C{i}", alpha=0.7)
            ax.plot(ep, [h[f"val_{key}"] for h in hist], color=f"C{i}",
                    label=f"{name}{' (chosen)' if name == chosen else ''}")
    for ax, key in zip(axes, ("cross-entropy", "accuracy")):
        ax.axvline(best_epoch, color="gray", ls=":", label=f"kept epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_title(f"{key}: Training dashed, PublicTest solid")
        ax.legend(fontsize=7)
    fig.suptitle("heads on frozen dlib ResNet features (feature, hidden units)")
    save_figure(fig, path)


def write_architecture(path: Path, clf, chosen: dict, m: dict) -> None:
    bb = pretrained.backbone()
    g = m.get("grey_vs_rgb", {})
    convs = sum(spec.type == "con" for spec in bb.trunk.layers)
    head_desc = ("a linear layer (multinomial logistic regression)" if not clf.hidden
                 else f"Dense({clf.hidden}) ReLU, dropout {chosen['dropout']}, Dense({len(clf.classes)})")
    lines = [
        "dlib face-recognition ResNet (frozen) + a trained head: FER2013 expressions",
        "",
        "Backbone: dlib_face_recognition_resnet_model_v1.dat from face_recognition_models, run in Flax",
        f"  (emojax.dlibnet): {convs} conv layers + fc 256->128, a ResNet-34-like stack at half width,",
        f"  {m['backbone_parameters']:,} parameters,",
        "  trained by Davis King for face IDENTITY (metric loss, ~3M faces): expression is what it is",
        "  trained to ignore. Frozen; not saved with the model (read from the package at load time).",
        f"  Trunk used up to the global average pool: {len(bb.trunk.layers)} layers; the 256-D pooled vector and",
        "  the 128-D descriptor (pooled @ fc) come from one pass.",
        "",
        "Input: our pipeline's aligned 48x48 grey crop (FER2013 framing, eyes at (14.6,18.4),(32.6,18.4)),",
        f"  upsampled to 150x150 with cv2.INTER_{clf.interpolation.upper()} and replicated to 3 channels, the",
        "  same at training (FER2013 exists only as such crops) and at deployment. dlib's own chip framing",
        "  (get_face_chip, padding 0.25) cannot be cut from FER2013's 48x48 images; measured on JAFFE with",
        f"  the same head: our crops {100 * m.get('jaffe', {}).get('accuracy', float('nan')):.1f}%, "
        f"dlib chips {100 * m.get('jaffe_dlib_chips', {}).get('accuracy', float('nan')):.1f}%.",
        f"  Grey vs RGB: on {g.get('faces', 0)} faces of colour photos, descriptor cosine(RGB chip, grey chip)",
        f"  mean {g.get('descriptor_cosine_mean', float('nan')):.3f} (min {g.get('descriptor_cosine_min', float('nan')):.3f}), "
        f"Euclidean distance mean {g.get('descriptor_distance_mean', float('nan')):.3f} (dlib's same-person threshold 0.6).",
        "",
        f"Head: feature = {clf.feature} ({pretrained.FEATURE_DIMS[clf.feature]}-D), standardised with the Training",
        f"  mean/std, then {head_desc};",
        f"  {clf.parameters():,} trained parameters. optax AdamW, lr {clf.info.get('lr')} cosine decay, weight decay",
        f"  {chosen['weight_decay']}, batch 256, {clf.info.get('epochs')} epochs, epoch {chosen['best_epoch']} kept (best PublicTest).",
        "  Grid (chosen on PublicTest only):",
    ]
    for r in m["grid"]:
        lines.append(f"    {r['feature']:<10} hidden {r['hidden']:<4} dropout {r['dropout']:<4} -> PublicTest "
                     f"{100 * r['val_accuracy']:.2f}% (epoch {r['best_epoch']})")
    lines += ["", f"PublicTest {100 * m['public_test']['accuracy']:.2f}%, PrivateTest {100 * m['private_test']['accuracy']:.2f}%",
              f"CPU ms per face (end to end): {m['cpu_ms_per_face']['batched_ms']:.1f} batched, "
              f"{m['cpu_ms_per_face']['single_ms']:.1f} one face at a time"]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    run(main)

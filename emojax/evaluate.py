"""Evaluation of a saved model on the test split (PrivateTest), and the plots.

``python -m emojax.evaluate --checkpoint results/model`` prints ``Accuracy on test set: ...%``,
per-class precision/recall, and saves a confusion-matrix PNG.
"""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from emojax import data as data_lib
from emojax import models
from emojax.cli import EmojaxError, atomic_path, run


VIEWS = (1, 2, 10)


def tta_views(x: jax.Array, views: int, shift: int = 2) -> jax.Array:
    """Test-time augmentation views of a batch (B, 48, 48, 1), stacked on a new first axis:
    1 = the face, 2 = and its mirror image, 10 = five placements (centred and moved by
    ``shift`` pixels up/down/left/right, edges replicated) each with its mirror: the
    ten-crop recipe for a model trained with random shifts instead of random crops."""
    if views not in VIEWS:
        raise EmojaxError(f"test-time views must be one of {VIEWS}, not {views}")
    out = [x]
    if views == 10:
        h, w = x.shape[1:3]
        pad = jnp.pad(x, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="edge")
        for dy, dx in ((-shift, 0), (shift, 0), (0, -shift), (0, shift)):
            out.append(pad[:, shift + dy:shift + dy + h, shift + dx:shift + dx + w])
    if views >= 2:
        out += [v[:, :, ::-1] for v in out]
    return jnp.stack(out)


@partial(jax.jit, static_argnums=(0, 3))
def _probs(model, variables, images: jax.Array, views: int) -> jax.Array:
    x = tta_views(images.astype(jnp.float32)[..., None] / 255.0, views)
    logits = model.apply(variables, x.reshape(-1, *x.shape[2:]))
    return jax.nn.softmax(logits).reshape(len(x), -1, logits.shape[-1]).mean(0)


def predict_proba(model, variables, images: np.ndarray, batch_size: int = 256,
                  views: int = 1) -> np.ndarray:
    """Class probabilities for uint8 images (N, 48, 48), averaged over ``views`` test-time
    views (see ``tta_views``). Batches are zero-padded to a power of two (at most
    ``batch_size``), so a live stream with 1, 2, 3... faces compiles a handful of programs,
    not one per face count."""
    out = []
    for i in range(0, len(images), batch_size):
        chunk = images[i:i + batch_size]
        n = len(chunk)
        size = min(batch_size, 1 << (n - 1).bit_length())
        if size > n:
            chunk = np.concatenate([chunk, np.zeros((size - n, *chunk.shape[1:]), chunk.dtype)])
        out.append(np.asarray(_probs(model, variables, chunk, views))[:n])
    return np.concatenate(out) if out else np.zeros((0, model.num_classes), np.float32)


def report(labels: np.ndarray, predicted: np.ndarray, classes) -> dict:
    """Accuracy, macro-F1, confusion matrix and per-class precision/recall/F1/support."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    k = len(classes)
    p, r, f, s = precision_recall_fscore_support(labels, predicted, labels=range(k), zero_division=0)
    return {"accuracy": float((labels == predicted).mean()), "macro_f1": float(f.mean()),
            "confusion": confusion_matrix(labels, predicted, labels=range(k)).tolist(),
            "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                              "support": int(s[i])} for i, c in enumerate(classes)}}


def load_with_data(checkpoint: str | Path, data: str | None = None, ferplus: str | None = None):
    """A saved model and the dataset it is scored on (FER2013 or FER+, as the model was
    trained): ``(model, variables, meta, dataset)``; an error if their classes differ."""
    model, variables, meta = models.load(checkpoint)
    ds = data_lib.load(data, labels=meta.get("labels", "fer2013"), ferplus=ferplus)
    if tuple(meta["classes"]) != ds.classes:
        raise EmojaxError(f"model classes {meta['classes']} do not match the data's {list(ds.classes)}")
    return model, variables, meta, ds


def evaluate(model, variables, split: data_lib.Split, classes, views: int = 1) -> dict:
    data_lib.require(split, "test (PrivateTest)")
    probs = predict_proba(model, variables, split.images, views=views)
    return report(split.labels, probs.argmax(1), classes)


def format_report(rep: dict) -> str:
    lines = [f"{'class':10s} {'precision':>9s} {'recall':>7s} {'f1':>6s} {'support':>8s}"]
    for c, m in rep["per_class"].items():
        lines.append(f"{c:10s} {m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} {m['support']:8d}")
    lines.append(f"{'macro F1':10s} {rep['macro_f1']:24.3f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots


def save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    plt.close(fig)


def plot_confusion(confusion, classes, path: str | Path, title: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(confusion, float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix (rows sum to 1)")
    fig.colorbar(im, ax=ax)
    save_figure(fig, Path(path))


def plot_learning_curves(history: list[dict], best_epoch: int, path: str | Path) -> None:
    """Train/validation loss and accuracy per epoch, the early-stopping epoch marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key in zip(axes[:2], ("loss", "accuracy")):
        ax.plot(ep, [h[f"train_{key}"] for h in history], label="train (augmented)")
        ax.plot(ep, [h[f"val_{key}"] for h in history], label="validation (PublicTest)")
        ax.axvline(best_epoch, color="gray", ls="--", label=f"best epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend()
    axes[2].plot(ep, [h["lr"] for h in history])
    axes[2].set_title("learning rate")
    axes[2].set_xlabel("epoch")
    save_figure(fig, Path(path))


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emojax.evaluate",
                                description="Evaluate a saved model on the test split (PrivateTest).")
    p.add_argument("--checkpoint", default="results/model",
                   help="saved model folder (with model.json and weights/); default: results/model")
    p.add_argument("--data", help="dataset path (default: $EMOJAX_DATA, then data/fer2013.csv[.gz])")
    p.add_argument("--ferplus", help="FER+ fer2013new.csv for 8-class models (default: beside --data)")
    p.add_argument("--split", choices=("test", "val"), default="test",
                   help="test = PrivateTest (what we report); val = PublicTest")
    p.add_argument("--views", type=int, choices=VIEWS,
                   help="test-time augmentation: 1 = none, 2 = average with the mirrored face, 10 = five "
                   "2-pixel placements x mirror (default: the model's own setting in model.json, chosen on "
                   "PublicTest by experiments/choose_tta.py; 1 if it has none)")
    p.add_argument("--confusion", help="confusion-matrix PNG path (default: CHECKPOINT/confusion_<split>.png)")
    args = p.parse_args(argv)
    model, variables, meta, ds = load_with_data(args.checkpoint, args.data, args.ferplus)
    views = args.views or meta.get("views", 1)
    rep = evaluate(model, variables, getattr(ds, args.split), ds.classes, views=views)
    name = "test set" if args.split == "test" else "validation set"
    print(f"Accuracy on {name}: {100 * rep['accuracy']:.1f}%" + (f" ({views} test-time views)" if views > 1 else ""))
    print(format_report(rep))
    path = Path(args.confusion or Path(args.checkpoint) / f"confusion_{args.split}.png")
    plot_confusion(rep["confusion"], ds.classes, path,
                   f"{Path(args.checkpoint).name}: {100 * rep['accuracy']:.1f}% on {name}")
    print(f"confusion matrix: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run(main)

"""Evaluation of a saved model on the test split (PrivateTest), and the plots.

``python -m emojax.evaluate --checkpoint results/model`` prints ``Accuracy on test set: ...%``,
per-class precision/recall, and saves a confusion-matrix PNG.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from emojax import data as data_lib
from emojax import models
from emojax.io import EmojaxError, save_figure
from emojax.metrics import report
from emojax.pipeline import predict_proba


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


# --------------------------------------------------------------------------- plots


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


if __name__ == "__main__":  # python -m emojax.evaluate: the front door's 'emojax evaluate'
    from emojax.commands.evaluate import cli

    cli()

"""Classification metrics: what every evaluation reports, on any labels and predictions.

Below every module that scores a classifier (``evaluate``, ``photoset``, the experiments), so
a photo set and a test split are reported the same way.
"""
from __future__ import annotations

import numpy as np


def report(labels: np.ndarray, predicted: np.ndarray, classes) -> dict:
    """Accuracy, macro-F1, confusion matrix and per-class precision/recall/F1/support."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    k = len(classes)
    p, r, f, s = precision_recall_fscore_support(labels, predicted, labels=range(k), zero_division=0)
    return {"accuracy": float((labels == predicted).mean()), "macro_f1": float(f.mean()),
            "confusion": confusion_matrix(labels, predicted, labels=range(k)).tolist(),
            "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                              "support": int(s[i])} for i, c in enumerate(classes)}}


def format_report(rep: dict) -> str:
    lines = [f"{'class':10s} {'precision':>9s} {'recall':>7s} {'f1':>6s} {'support':>8s}"]
    for c, m in rep["per_class"].items():
        lines.append(f"{c:10s} {m['precision']:9.3f} {m['recall']:7.3f} {m['f1']:6.3f} {m['support']:8d}")
    lines.append(f"{'macro F1':10s} {rep['macro_f1']:24.3f}")
    return "\n".join(lines)

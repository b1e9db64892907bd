"""Is the photo-set gap in what the network sees, or in where it draws the line between classes?

Every fine-tune so far lands on one line: JAFFE 45-50% at 70-72% PublicTest, posed anger read
as neutral. If the network ranks a photo set's faces well but its posed expressions are
weaker than FER2013's, a per-class offset on its log probabilities would recover them, and the
same offset would then cost FER2013, whose thresholds the network learnt. This measures both,
one view throughout: how well each class's probability ranks the photo set's faces (one-vs-rest
AUC); the seven offsets chosen on the photo set itself (an optimistic figure) and, where it
names people, chosen on all but one person and scored on that one (leave one person out); the
offsets' cost on PublicTest; and a one-number family, the angry, disgust and fear log
probabilities raised together, against every run of ``results/generalization/runs.json``.
Nothing here is shipped: offsets chosen on JAFFE would be tuning on the development set.

    python experiments/decision_offsets.py results/model --data ../shared/data/fer2013.csv.gz \
        --photos ../shared/data/jaffe --runs results/generalization/runs.json \
        --out results/generalization/offsets.md
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from emojax import data as data_lib
from emojax import metrics, photoset, pipeline
from emojax.io import EmojaxError, command_line, markdown_table, report, run, save_figure

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script, experiments/ is not on the path
    sys.path.insert(0, str(ROOT))
from experiments.generalization_table import diagnosis_parser  # noqa: E402

GRID = np.round(np.arange(-4, 4.01, 0.1), 2)
NEGATIVE = ("angry", "disgust", "fear")   # the classes every model misses on posed photo sets
BOOSTS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)


def fit_offsets(log_p: np.ndarray, labels: np.ndarray, sweeps: int = 10) -> np.ndarray:
    """Per-class offsets that maximise accuracy, by coordinate ascent on :data:`GRID` (ties go to
    the offset nearest zero), relative to the last class."""
    b = np.zeros(log_p.shape[1])
    for _ in range(sweeps):
        before = b.copy()
        for k in range(len(b)):
            acc = [np.mean((log_p + np.where(np.arange(len(b)) == k, v, b)).argmax(1) == labels) for v in GRID]
            best = np.flatnonzero(np.isclose(acc, max(acc)))
            b[k] = GRID[best[np.argmin(np.abs(GRID[best]))]]
        if np.array_equal(b, before):
            break
    return b - b[-1]


def main(argv=None) -> int:
    p = diagnosis_parser(__doc__, out="Markdown file to write, its figure beside it (default: print only)")
    p.add_argument("--runs", help="runs table JSON (experiments/generalization_table.py) to plot beside the curve")
    args = p.parse_args(argv)
    runs = json.loads(Path(args.runs).read_text()) if args.runs else []
    ds = data_lib.load(args.data, verbose=False)
    photos = photoset.read(args.photos)
    crops, found = photoset.crops(photos, progress=True)
    cnn = pipeline.load_classifier(args.model, views=1)
    classes = list(cnn.classes)
    if any(c not in classes for c in NEGATIVE):
        raise EmojaxError(f"the model has no {', '.join(NEGATIVE)} classes (its classes: {', '.join(classes)})")
    truth = np.array([classes.index(ph.emotion) for ph in photos])
    log_p = np.full((len(photos), len(classes)), np.log(1 / len(classes)))
    log_p[found] = np.log(cnn.predict_proba(crops[found]) + 1e-6)
    log_val = np.log(cnn.predict_proba(ds.val.images) + 1e-6)

    def scored(pred: np.ndarray, offsets: np.ndarray | None) -> dict:
        pred = np.where(found, pred, -1)  # no face found: wrong, in no column
        rep = metrics.report(truth, pred, classes)
        return {"photos": rep["accuracy"], "recall": {c: m["recall"] for c, m in rep["per_class"].items()},
                "publictest": None if offsets is None else float(np.mean((log_val + offsets).argmax(1) == ds.val.labels)),
                "offsets": None if offsets is None else dict(zip(classes, offsets.tolist()))}

    rows = {"as trained": scored(log_p.argmax(1), np.zeros(len(classes)))}
    own = fit_offsets(log_p[found], truth[found])
    rows["offsets chosen on the photo set (optimistic)"] = scored((log_p + own).argmax(1), own)
    people = np.array([ph.person for ph in photos])
    if all(people) and len(set(people)) > 1:
        pred = np.zeros(len(photos), int)
        for who in np.unique(people):
            rest = (people != who) & found
            pred[people == who] = (log_p[people == who] + fit_offsets(log_p[rest], truth[rest])).argmax(1)
        rows["offsets chosen on the other people (leave one person out)"] = scored(pred, None)
    negative = np.isin(classes, NEGATIVE)
    curve = [rows["as trained"]]
    for boost in BOOSTS[1:]:
        curve.append(scored((log_p + boost * negative).argmax(1), boost * negative))
        rows[f"{', '.join(NEGATIVE)} + {boost:g}"] = curve[-1]
    present = set(truth[found])
    auc = {c: float(roc_auc_score(truth[found] == k, log_p[found, k])) if k in present and len(present) > 1
           else None for k, c in enumerate(classes)}

    def pct(v):
        return "" if v is None else f"{100 * v:.1f}%"

    table = markdown_table(
        ["decision rule", "PublicTest (1 view)", args.photos, *classes],
        [[name, pct(r["publictest"]), pct(r["photos"]), *[f"{100 * r['recall'][c]:.0f}" for c in classes]]
         for name, r in rows.items()])
    auc_table = markdown_table(["", *classes], [["one-vs-rest AUC", *["" if auc[c] is None else f"{auc[c]:.2f}" for c in classes]]])
    chosen = ", ".join(f"{c} {v:+.1f}" for c, v in rows["offsets chosen on the photo set (optimistic)"]["offsets"].items())
    out = Path(args.out) if args.out else None
    text = (f"`{args.model}`, one view. How well each class's probability ranks the photo set's faces:\n\n"
            f"{auc_table}\n\nDecision rules: offsets added to the log probabilities (chosen on the photo "
            f"set: {chosen}). Recall per class on the photo set (%); no face found counts as wrong.\n\n"
            f"{table}\n\n" + (f"![trade-off]({out.with_suffix('.png').name})\n\n" if out else "")
            + f"`{command_line(__file__, argv)}`\n")
    if out:
        plot(curve, rows["offsets chosen on the photo set (optimistic)"], runs, args.photos, out.with_suffix(".png"))
    report(text, {"auc": auc, "rules": rows}, args.out)
    return 0


def plot(curve: list[dict], own: dict, runs: list[dict], photos: str, path: Path) -> None:
    """PublicTest against the photo set: the runs table's models, this model with the negative
    classes raised (``curve``) and with the offsets chosen on the photo set (``own``)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    if runs:
        ax.scatter([100 * r["publictest"] for r in runs], [100 * r["photos"]["accuracy"] for r in runs],
                   c="tab:gray", s=18, label="every run of runs.md, as trained")
    ax.plot([100 * r["publictest"] for r in curve], [100 * r["photos"] for r in curve], "o-", c="tab:blue",
            label=f"this model, {', '.join(NEGATIVE)} raised 0 to {BOOSTS[-1]:g}")
    ax.scatter([100 * own["publictest"]], [100 * own["photos"]], marker="*", s=150, c="tab:red",
               label="this model, offsets chosen on the photo set")
    ax.set(xlabel="FER2013 PublicTest accuracy (%)", ylabel=f"{Path(photos).name} accuracy (%)",
           title="Where the line between classes is drawn")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


if __name__ == "__main__":
    run(main)

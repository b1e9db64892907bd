"""Every run of the generalization table on one figure: clean PublicTest (one view) against the
photo set (JAFFE), each point coloured by its worst mild corruption drop, with the issue's
target (JAFFE 65%, PublicTest not below the floor) shaded and the runs that no other run beats
on both axes named. It shows the trade-off the runs lie on, from the table's JSON alone.

    python experiments/plot_runs.py results/generalization/runs.json --mark scratch_aa_seed1_distill \
        --out results/generalization/runs.png
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from emojax.io import EmojaxError, check_out_dir, run, save_figure
from emojax.robustness import accuracy_interval


def short(name: str) -> str:
    """A run's name without its description: ``sam_aa, last-step weights of epoch 3`` -> ``sam_aa, epoch 3``."""
    head = name.split(" (")[0].split(":")[0]
    if ", " in head and "epoch" in head:
        head = head.split(", ")[0] + ", epoch " + head.rsplit(" ", 1)[-1]
    return head


def front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which points no other point matches or beats on both axes while beating it on one."""
    better = (x[None] >= x[:, None]) & (y[None] >= y[:, None]) & ((x[None] > x[:, None]) | (y[None] > y[:, None]))
    return ~better.any(axis=1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", type=Path, help="the table's .json (experiments/generalization_table.py --out)")
    p.add_argument("--mark", metavar="NAME", help="the run to ring (the shipped model)")
    p.add_argument("--set-name", default="JAFFE", help="the photo set's name, for the axis (default JAFFE)")
    p.add_argument("--photos-count", type=int, default=213, help="photos in the set (default 213, JAFFE's)")
    p.add_argument("--target", type=float, default=65.0, help="the photo-set target, %% (default 65)")
    p.add_argument("--floor", type=float, default=71.1, help="the PublicTest floor, %% (default 71.1)")
    p.add_argument("--min-publictest", type=float, default=65.0,
                   help="runs below this PublicTest %% are listed, not drawn (default 65)")
    p.add_argument("--out", type=Path, required=True, help="the figure (.png or .svg)")
    args = p.parse_args(argv)
    try:
        rows = [r for r in json.loads(args.runs.read_text()) if r.get("photos") and r.get("corruptions")]
    except (OSError, ValueError, AttributeError, TypeError) as e:
        raise EmojaxError(f"{args.runs}: not a generalization table's JSON ({e})") from None
    if not rows:
        raise EmojaxError(f"{args.runs}: no run with PublicTest, corruption and photo-set figures")
    check_out_dir(args.out.parent)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["model"] for r in rows]
    x = np.array([100 * r["publictest"] for r in rows])
    y = np.array([100 * r["photos"]["accuracy"] for r in rows])
    drop = np.array([r["corruptions"]["mild"][r["corruptions"]["worst_mild"]]["drop"] for r in rows])
    shown = x >= args.min_publictest
    if not shown.any():
        raise EmojaxError(f"no run reaches --min-publictest {args.min_publictest:g}% (the best: {x.max():.1f}%)")
    fig, ax = plt.subplots(figsize=(9, 6))
    ax.add_patch(plt.Rectangle((args.floor, args.target), 100, 100, color="0.9", zorder=0))
    ax.axvline(args.floor, color="0.6", lw=0.8, ls="--", zorder=0)
    ax.axhline(args.target, color="0.6", lw=0.8, ls="--", zorder=0)
    dots = ax.scatter(x[shown], y[shown], c=np.minimum(drop[shown], 5), cmap="viridis_r", vmin=0, vmax=5,
                      s=36, edgecolors="k", linewidths=0.4, zorder=3)
    fig.colorbar(dots, ax=ax, label="worst mild corruption drop, points (5 = 5 or more)")
    named = front(x, y) & shown
    if args.mark:
        marked = np.array([n == args.mark or n.startswith(args.mark + " ") for n in names])
        if not marked.any():
            raise EmojaxError(f"--mark {args.mark}: no run of that name in {args.runs}")
        ax.scatter(x[marked], y[marked], s=160, facecolors="none", edgecolors="crimson", linewidths=1.5, zorder=4)
        named |= marked
    labels: dict[tuple, list[str]] = {}  # runs at the same point share one label
    for i in np.flatnonzero(named):
        labels.setdefault((x[i], y[i]), []).append(short(names[i]))
    for (px, py), text in labels.items():
        ax.annotate(" / ".join(text), (px, py), xytext=(5, 4), textcoords="offset points", fontsize=8)
    left = x[shown].min()
    ax.text(left, args.target + 1, f"target (shaded): {args.set_name} >= {args.target:g}% with PublicTest "
            f">= {args.floor:g}%\n95% sampling error of one point: +-{accuracy_interval(3589):.1f} PublicTest "
            f"(3,589 faces), +-{accuracy_interval(args.photos_count):.1f} {args.set_name} ({args.photos_count} "
            "photos)", fontsize=8, va="bottom")
    ax.set_xlim(left - 0.2, max(x[shown].max(), args.floor) + 0.8)
    ax.set_xlabel("FER2013 PublicTest accuracy, one view (%)")
    ax.set_ylabel(f"{args.set_name} accuracy through the photo pipeline (%)")
    hidden = [f"{short(n)} ({v:.1f}%)" for n, v, s in zip(names, x, shown) if not s]
    ax.set_title(f"{int(shown.sum())} runs of {args.runs.name}; named: none better on both axes"
                 + (f", ringed: {args.mark}" if args.mark else "")
                 + (f"\nnot drawn (PublicTest < {args.min_publictest:g}%): " + ", ".join(hidden) if hidden else ""),
                 fontsize=9)
    ax.set_ylim(min(y[shown].min(), args.target - 12) - 2, max(y[shown].max(), args.target) + 5)
    save_figure(fig, args.out)
    print(f"{args.out}: {int(shown.sum())} runs, {int(named.sum())} named")
    return 0


if __name__ == "__main__":
    run(main)

"""Plot the scalars of a run's tensorboard logs: the figure ``tensorboard --logdir RUN/tb``
shows, without needing TensorFlow or tensorboard installed.

    python experiments/plot_tensorboard.py results/model        # writes results/model/tensorboard.png
    python experiments/plot_tensorboard.py results/model --learning-curves   # and learning_curves.png

Reads the event files that tensorboardX wrote (TFRecord framing around ``Event`` protos); when
a resumed run logged a step twice, the later value wins, as in tensorboard.
"""
from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax.io import EmojaxError, run  # noqa: E402


def read_scalars(tb_dir: Path) -> dict[str, dict[int, float]]:
    """``{tag: {step: value}}`` from every event file in ``tb_dir``, oldest file first."""
    from tensorboardX.proto import event_pb2

    files = sorted(tb_dir.glob("events.out.tfevents.*"), key=lambda p: p.name)
    if not files:
        raise EmojaxError(f"no tensorboard event files in {tb_dir}")
    scalars: dict[str, dict[int, float]] = {}
    for path in files:
        data = path.read_bytes()
        pos = 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            record = data[pos + 12:pos + 12 + length]
            if len(record) < length:
                raise EmojaxError(f"{path}: truncated event record")
            pos += 12 + length + 4
            event = event_pb2.Event.FromString(record)
            for v in event.summary.value:
                scalars.setdefault(v.tag, {})[event.step] = v.simple_value
    return scalars


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run folder holding tb/ (e.g. results/model)")
    p.add_argument("--out", help="PNG path (default: RUN/tensorboard.png)")
    p.add_argument("--learning-curves", action="store_true",
                   help="also redraw RUN/learning_curves.png from RUN/metrics.json, as train_cnn.py draws it "
                   "at the end of a run (for runs whose figures were not copied back, e.g. from a GPU machine)")
    args = p.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emojax.evaluate import plot_learning_curves
    from emojax.io import save_figure

    scalars = read_scalars(Path(args.run) / "tb")
    panel = lambda tag: tag.split("/")[1] if "/" in tag else tag  # train/loss and val/loss share "loss"
    groups = sorted({panel(tag) for tag in scalars})
    fig, axes = plt.subplots(1, len(groups), figsize=(4.3 * len(groups), 3.4), squeeze=False)
    for ax, group in zip(axes[0], groups):
        for tag in sorted(t for t in scalars if panel(t) == group):
            steps = sorted(scalars[tag])
            ax.plot(steps, [scalars[tag][s] for s in steps], label=tag)
        ax.set_title(group)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.suptitle(f"tensorboard scalars of {Path(args.run).name}/tb", fontsize=10, y=1.03)
    out = Path(args.out or Path(args.run) / "tensorboard.png")
    save_figure(fig, out)
    print(f"wrote {out}")
    if args.learning_curves:
        metrics = Path(args.run) / "metrics.json"
        if not metrics.exists():
            raise EmojaxError(f"{metrics} not found: --learning-curves needs a finished run")
        m = json.loads(metrics.read_text())
        plot_learning_curves(m["history"], m["best_epoch"], Path(args.run) / "learning_curves.png")
        print(f"wrote {Path(args.run) / 'learning_curves.png'}")
    return 0


if __name__ == "__main__":
    run(main)

"""Write RUN/architecture.txt: what the saved model is (layers in the order the data flows
through them, output shapes, parameters), why (its config's reasoning), and the iterations
that led to it (the runs tables it was chosen from, as they are in results/).

    python experiments/architecture.py results/model --history results/sweep/table.md \
        results/generalization/runs.md
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from emojax import models
from emojax.io import EmojaxError, atomic_path, run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="saved model folder (model.json + metrics.json)")
    p.add_argument("--history", nargs="*", default=[], help="runs tables (Markdown) to include, oldest first")
    args = p.parse_args(argv)
    folder = Path(args.model)
    meta = models.read_meta(folder)
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        raise EmojaxError(f"{folder}/metrics.json is missing or damaged") from None
    model = models.create(meta["model"], len(meta["classes"]), **meta["kwargs"])
    n = models.param_count(models.init(model)["params"])
    cfg = metrics.get("config", {})
    parts = [f"{meta['model']} {meta['kwargs']}, {len(meta['classes'])} classes, {n:,} parameters",
             f"Trained by: `{metrics.get('command', '?')}`",
             f"Why: {cfg.get('why', '')}",
             "Layers in data-flow order (each Dropout_k follows a 2x2 max-pool, a function, not a layer):\n"
             + models.architecture_table(model)]
    for table in args.history:
        parts.append(f"Iterations ({table}):\n\n" + Path(table).read_text().strip())
    text = "\n\n".join(parts) + f"\n\n(`python experiments/architecture.py {shlex.join(argv or sys.argv[1:])}`)\n"
    with atomic_path(folder / "architecture.txt") as tmp:
        tmp.write_text(text)
    print(f"wrote {folder / 'architecture.txt'}")
    return 0


if __name__ == "__main__":
    run(main)

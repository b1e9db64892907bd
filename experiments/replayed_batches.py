"""How well a trained network remembers its exact augmented training batches: the training
loss of a run's saved model (training mode: batch statistics, dropout) on the batches it drew
in some epochs (the same images, warps, camera effects and dropout masks, from its own random
stream) against the same epochs drawn from another stream (fresh ones).

    python experiments/replayed_batches.py runs/occlude runs/distill --data ../shared/data/fer2013.csv.gz \
        --epochs 1 3 8 --out results/generalization/replay.md

Run it where the run folders (and their teachers, for distilled runs) are. A fine-tune that
draws its parent's stream replays these batches; its training loss then tells how much the
parent remembered, not how well it learns (``emojax.train.stream_of``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import jax
import numpy as np
from tqdm import tqdm

from emojax import data as data_lib
from emojax import augment, engine, models, train
from emojax.io import EmojaxError, command_line, markdown_table, positive_int, report, run


def run_config(folder: Path) -> tuple[train.Config, int]:
    """A finished run's config and random stream, from its metrics.json."""
    try:
        m = json.loads((folder / "metrics.json").read_text())
        fields = {f.name for f in dataclasses.fields(train.Config)}
        cfg = train.Config(**{k: tuple(v) if isinstance(v, list) else v
                              for k, v in m["config"].items() if k in fields})
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EmojaxError(f"{folder} is not a finished training run (metrics.json: {e})") from None
    return cfg, int(m.get("stream", 0))


def batch_losses(folder: Path, ds: data_lib.Dataset, epochs, n_batches: int) -> list[dict]:
    cfg, stream = run_config(folder)
    model, variables, _ = models.load(folder)
    train_split, _, _, steps, soft = train.training_data(cfg, ds)
    n_batches = min(n_batches, steps)

    @jax.jit
    def loss(images, labels, s, key):
        k_aug, k_drop, k_lab = jax.random.split(key, 3)
        x, mix = augment.inputs(k_aug, images, cfg)
        logits, _ = model.apply(variables, x, train=True, rngs={"dropout": k_drop}, mutable=["batch_stats"])
        return train._loss(k_lab, logits, labels, s, cfg, mix), (logits.argmax(-1) == labels).mean()

    rows = []
    for epoch in epochs:
        for name, st in (("own", stream), ("fresh", stream + 1)):
            key, batches = train.run_key(cfg, st), engine.epoch_rows(cfg, epoch, len(train_split), steps, st)
            out = []
            for i in tqdm(range(n_batches), desc=f"{folder.name} epoch {epoch} {name}", leave=False):
                idx = batches[i]  # the training loop's own batch of step i
                out.append(loss(train_split.images[idx], train_split.labels[idx],
                                None if soft is None else soft[idx],
                                jax.random.fold_in(key, (epoch - 1) * steps + i)))
            l, a = np.asarray(jax.device_get(out)).mean(0)
            rows.append({"run": str(folder), "epoch": epoch, "batches": name, "loss": float(l), "accuracy": float(a)})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="finished run folders (metrics.json, model.json)")
    p.add_argument("--data", help="the dataset the runs trained on")
    p.add_argument("--epochs", type=positive_int, nargs="+", default=[1, 3, 8], help="epochs to replay")
    p.add_argument("--batches", type=positive_int, default=150, help="batches per epoch measured")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    ds = data_lib.load(args.data)
    rows = [r for f in args.runs for r in batch_losses(Path(f), ds, args.epochs, args.batches)]
    table = markdown_table(["run", "epoch", "batches", "training loss", "training accuracy"], [
        [f"`{r['run']}`", str(r["epoch"]), r["batches"], f"{r['loss']:.3f}", f"{100 * r['accuracy']:.1f}%"]
        for r in rows], left=3)
    text = (f"Training loss of each run's saved model on {args.batches} batches of an epoch: the ones it "
            "trained on (its own stream: same images, augmentation and dropout) and fresh ones (another "
            f"stream).\n\n{table}\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

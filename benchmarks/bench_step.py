"""The training step of named configs as they train (augmentation, model, loss, update),
images/s on this machine: in float32, with ``--precision bfloat16`` (the oneDNN convolutions
on bfloat16 inputs, float32 sums), and, for an anti-aliased model, with its pool as it was
first written (edge pads and strided slices, whose CPU gradients were slow) for comparison.

    python benchmarks/bench_step.py --configs fer2013_vgg48_robust fer2013_vgg48_robust_scratch_aa

Each measurement is a fresh child process on random uint8 faces; the variants alternate
within a round and the medians are reported, with the seconds an epoch of FER2013's 28,709
Training faces would take at that rate (evaluation not included).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINING = 28709


def strided_blur_pool(x):
    """``models.max_blur_pool2`` as it was written before 2026-12-06 (same values)."""
    import jax
    import jax.numpy as jnp

    pad = lambda a, axis, lo, hi: jnp.pad(a, [(lo, hi) if i == axis else (0, 0) for i in range(4)], mode="edge")
    p = pad(pad(x, 1, 0, 1), 2, 0, 1)
    m = jnp.maximum(jnp.maximum(p[:, :-1, :-1], p[:, 1:, :-1]), jnp.maximum(p[:, :-1, 1:], p[:, 1:, 1:]))
    for axis in (1, 2):
        q = pad(m, axis, 1, 1)
        n = q.shape[axis] - 2
        sl = lambda k: jax.lax.slice_in_dim(q, k, k + n, stride=2, axis=axis)
        m = (sl(0) + 2 * sl(1) + sl(2)) / 4
    return m


def child(config: str, variant: str, steps: int) -> float:
    sys.path.insert(0, str(ROOT))
    import dataclasses
    import importlib

    from benchmarks.bench_train import step_rate
    from emojax import models

    if variant == "float32, strided pool":
        models.max_blur_pool2 = strided_blur_pool  # read by VGG when it is traced
    cfg = importlib.import_module(f"experiments.configs.{config}").CONFIG
    return step_rate(dataclasses.replace(cfg, init=None, precision="bfloat16" if variant == "bfloat16" else None), steps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=["fer2013_vgg48_robust", "fer2013_vgg48_robust_scratch_aa"],
                   help="experiment configs in experiments/configs/")
    p.add_argument("--steps", type=int, default=16, help="timed training steps per measurement")
    p.add_argument("--rounds", type=int, default=3, help="rounds over all variants; medians are reported")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.steps)))
        return
    sys.path.insert(0, str(ROOT))
    import importlib

    rows = []
    for config in args.configs:
        cfg = importlib.import_module(f"experiments.configs.{config}").CONFIG
        variants = ["float32", "bfloat16"] + (["float32, strided pool"] if cfg.model_kwargs.get("antialias") else [])
        runs = {v: [] for v in variants}
        for r in range(args.rounds):
            for v in (variants if r % 2 == 0 else variants[::-1]):
                proc = subprocess.run([sys.executable, __file__, "--child", config, v, "--steps", str(args.steps)],
                                      capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
                if proc.returncode:
                    raise SystemExit(f"{config} {v} failed:\n{proc.stderr[-2000:]}")
                runs[v].append(json.loads(proc.stdout.strip().splitlines()[-1]))
        base = statistics.median(runs["float32"])
        for v in variants:
            med = statistics.median(runs[v])
            rows.append(f"| {config} | {cfg.batch_size} | {v} | {med:.0f} | {TRAINING / med:.0f} | {med / base:.2f} | "
                        + ", ".join(f"{x:.0f}" for x in runs[v]) + " |")
    print(f"# {os.cpu_count()} CPUs, {args.steps} steps x {args.rounds} rounds\n")
    print("| config | batch | variant | train img/s (median) | s per Training epoch | / float32 | runs |")
    print("|---|---:|---|---:|---:|---:|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

"""What each CPU change in the training step is worth: JAX training images/s of our VGG with
the changes of benchmarks/RESULTS.md switched on one after another.

    python benchmarks/bench_ablation.py --width 32 --rounds 3

Variants (cumulative): ``before`` (YNNPACK convolutions, ``nn.max_pool``, flax BatchNorm and
Dropout), ``+eigen-conv`` (the XLA flag ``import emojax`` sets), ``+reshape-pool``,
``+matvec-bn``, ``+8bit-dropout``, ``+fused-bn-relu`` (= the code as it is). Each measurement is a fresh child
process; variants alternate within a round and medians are reported.
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
VARIANTS = ("before", "+eigen-conv", "+reshape-pool", "+matvec-bn", "+8bit-dropout", "+fused-bn-relu")


def child(variant: str, width: int, batch: int, steps: int) -> float:
    sys.path.insert(0, str(ROOT))
    import flax.linen as nn

    from benchmarks.bench_train import jax_train_rate
    from emojax import models

    level = VARIANTS.index(variant)
    if level < 2:
        models.max_pool2 = lambda x: nn.max_pool(x, (2, 2), (2, 2))
    if level < 3:  # flax's BatchNorm, then a separate relu
        models.BatchNorm = lambda relu=False, **kw: (lambda x: nn.relu(nn.BatchNorm(**kw)(x)))
    if level < 4:
        models.Dropout = nn.Dropout
    if level < 5:  # the same forward pass, differentiated by autodiff instead of by hand
        models.batch_norm_relu = lambda *args: models._batch_norm_relu_fwd(*args)[0]
    return jax_train_rate(width, batch, steps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--width", type=int, default=32, help="VGG width (first stage channels)")
    p.add_argument("--batch", type=int, default=128, help="training batch size")
    p.add_argument("--steps", type=int, default=10, help="timed training steps per measurement")
    p.add_argument("--rounds", type=int, default=3, help="rounds over all variants; medians are reported")
    p.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.width, args.batch, args.steps)))
        return
    runs = {v: [] for v in VARIANTS}
    for r in range(args.rounds):
        for v in (VARIANTS if r % 2 == 0 else VARIANTS[::-1]):
            env = {**os.environ, "JAX_PLATFORMS": "cpu", "EMOJAX_XLA_DEFAULTS": "0" if v == "before" else "1"}
            proc = subprocess.run([sys.executable, __file__, "--child", v, "--width", str(args.width),
                                   "--batch", str(args.batch), "--steps", str(args.steps)],
                                  capture_output=True, text=True, env=env)
            if proc.returncode:
                raise SystemExit(f"{v} failed:\n{proc.stderr[-2000:]}")
            runs[v].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"# w={args.width}, batch {args.batch}, {args.steps} steps x {args.rounds} rounds, {os.cpu_count()} CPUs\n")
    print("| variant (cumulative) | JAX train img/s (median) | runs |")
    print("|---|---:|---|")
    for v in VARIANTS:
        print(f"| {v} | {statistics.median(runs[v]):.0f} | {', '.join(f'{x:.0f}' for x in runs[v])} |")


if __name__ == "__main__":
    main()

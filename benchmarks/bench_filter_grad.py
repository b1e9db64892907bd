"""The filter gradient of a 3x3 convolution on CPU: XLA's own (a convolution over the batch)
against the same sums written as matrix products, the ways a JAX program could compute it
instead. It is the largest part of what JAX's training step loses to PyTorch's channels_last
(``bench_conv.py``), so it is the part a faster path would have to replace.

    python benchmarks/bench_filter_grad.py

Each variant gives dk[kh, kw, ci, co] = sum over (b, h, w) of x_pad[b, h+kh, w+kw, ci] *
g[b, h, w, co] for the layers of the VGG at widths 16 and 48 (batch 128), ms per call, and
its largest error relative to XLA's:
- ``shifted``: nine matrix products, one per kernel tap, of shifted slices;
- ``patches``: ``lax.conv_general_dilated_patches`` (im2col), then one product;
- ``flat``: the padded images as one long (pixels, channels) matrix, where a kernel tap is a
  constant row offset, so each tap is a contiguous slice;
- ``rows``: im2col along the width only (3x the input), three products over row offsets.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

DN = ("NHWC", "HWIO", "NHWC")
LAYERS = [(48, 16, 16), (24, 32, 32), (48, 48, 48), (24, 96, 96)]


def xla(x, g):
    k = jnp.zeros((3, 3, x.shape[-1], g.shape[-1]), x.dtype)
    conv = lambda k: jax.lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=DN)
    return jax.vjp(conv, k)[1](g)[0]


def _pad(a):
    return jnp.pad(a, ((0, 0), (1, 1), (1, 1), (0, 0)))


def shifted(x, g):
    s, xp = x.shape[1], _pad(x)
    return jnp.stack([jnp.stack([jnp.einsum("bhwc,bhwd->cd", xp[:, i:i + s, j:j + s], g) for j in range(3)])
                      for i in range(3)])


def patches(x, g):
    ci = x.shape[-1]
    p = jax.lax.conv_general_dilated_patches(x, (3, 3), (1, 1), "SAME", dimension_numbers=DN)
    return jnp.einsum("bhwp,bhwd->pd", p, g).reshape(ci, 3, 3, -1).transpose(1, 2, 0, 3)


def flat(x, g):
    row = x.shape[2] + 2
    xp, gp = _pad(x).reshape(-1, x.shape[-1]), _pad(g).reshape(-1, g.shape[-1])
    xp = jnp.pad(xp, ((row + 1, row + 1), (0, 0)))
    taps = [jax.lax.dot_general(jax.lax.dynamic_slice_in_dim(xp, row + 1 + (i - 1) * row + (j - 1), gp.shape[0]),
                                gp, (((0,), (0,)), ((), ()))) for i in range(3) for j in range(3)]
    return jnp.stack(taps).reshape(3, 3, x.shape[-1], g.shape[-1])


def rows(x, g):
    s, ci, xp = x.shape[1], x.shape[-1], _pad(x)
    xw = jnp.concatenate([xp[:, :, j:j + s] for j in range(3)], -1)
    return jnp.stack([jnp.einsum("bhwc,bhwd->cd", xw[:, i:i + s], g).reshape(3, ci, -1) for i in range(3)])


def timed(f, *args, reps: int) -> float:
    jax.block_until_ready(f(*args))
    t = time.perf_counter()
    for _ in range(reps):
        out = f(*args)
    jax.block_until_ready(out)
    return 1000 * (time.perf_counter() - t) / reps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--reps", type=int, default=10)
    args = p.parse_args()
    variants = {"shifted": shifted, "patches": patches, "flat": flat, "rows": rows}
    print(f"# batch {args.batch}, {os.cpu_count()} CPUs, XLA_FLAGS={os.environ['XLA_FLAGS']!r}; "
          "ms per call (largest error relative to XLA's)\n")
    print("| layer | XLA | " + " | ".join(variants) + " |")
    print("|---|---:|" + "---:|" * len(variants))
    for side, ci, co in LAYERS:
        kx, kg = jax.random.split(jax.random.PRNGKey(0))
        x, g = jax.random.normal(kx, (args.batch, side, side, ci)), jax.random.normal(kg, (args.batch, side, side, co))
        ref_f = jax.jit(xla)
        ref = ref_f(x, g)
        cells = [f"{timed(ref_f, x, g, reps=args.reps):.1f}"]
        for f in variants.values():
            f = jax.jit(f)
            err = float(jnp.abs(f(x, g) - ref).max() / jnp.abs(ref).max())
            cells.append(f"{timed(f, x, g, reps=args.reps):.1f} ({err:.0e})")
        print(f"| {side}x{side} {ci}->{co} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

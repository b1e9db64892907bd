"""Per-layer convolution timings on CPU, JAX with and without XLA's YNNPACK fusion, against
PyTorch: the measurement behind the first fix in benchmarks/RESULTS.md.

    python benchmarks/bench_conv.py                # JAX both ways, and PyTorch if installed

For each 3x3 convolution of our VGG at width 32 (batch 128): the forward pass, the input
gradient (dx) and the filter gradient (dk) in ms, and the forward pass's CPU time / wall time
(how many cores it keeps busy).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

LAYERS = [(48, 1, 32), (48, 32, 32), (24, 32, 64), (24, 64, 64), (12, 128, 128), (6, 256, 256)]


def timed(f, *args, sync=lambda out: out, reps: int = 5) -> tuple[float, float]:
    """Mean ms per call and CPU seconds per wall second; ``sync`` waits for an asynchronous
    result (``jax.block_until_ready``)."""
    sync(f(*args))
    r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(reps):
        out = f(*args)
    sync(out)
    wall, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF)
    return 1000 * wall / reps, (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) / wall


def jax_child(batch: int) -> list:
    import jax

    conv = lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    fwd = jax.jit(conv)
    dx = jax.jit(lambda x, k, g: jax.vjp(conv, x, k)[1](g)[0])
    dk = jax.jit(lambda x, k, g: jax.vjp(conv, x, k)[1](g)[1])
    rows = []
    for hw, cin, cout in LAYERS:
        keys = jax.random.split(jax.random.PRNGKey(0), 3)
        x = jax.random.normal(keys[0], (batch, hw, hw, cin))
        k = jax.random.normal(keys[1], (3, 3, cin, cout))
        g = jax.random.normal(keys[2], (batch, hw, hw, cout))
        sync = jax.block_until_ready
        (f_ms, cores), (dx_ms, _), (dk_ms, _) = (timed(fwd, x, k, sync=sync), timed(dx, x, k, g, sync=sync),
                                                  timed(dk, x, k, g, sync=sync))
        rows.append([f_ms, dx_ms, dk_ms, cores])
    return rows


def torch_child(batch: int) -> list:
    import torch

    rows = []
    for hw, cin, cout in LAYERS:
        conv = torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        x = torch.randn(batch, cin, hw, hw, requires_grad=True)
        y = conv(x)
        g = torch.randn_like(y)

        def fwd():
            with torch.no_grad():
                return conv(x)

        def both():  # dx and dk together: PyTorch computes them in one backward call
            return torch.autograd.grad(conv(x), [x, conv.weight], g)

        f_ms, cores = timed(fwd)
        b_ms, _ = timed(both)
        rows.append([f_ms, b_ms - f_ms, cores])
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=128, help="batch size")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        rows = jax_child(args.batch) if args.child == "jax" else torch_child(args.batch)
        print(json.dumps(rows))
        return

    def run(kind: str, env: dict) -> list | None:
        proc = subprocess.run([sys.executable, __file__, "--child", kind, "--batch", str(args.batch)],
                              capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu", **env})
        if proc.returncode:
            if kind == "torch":
                return None  # PyTorch not installed: benchmarks/requirements.txt
            raise SystemExit(proc.stderr[-2000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])

    ynn = run("jax", {"XLA_FLAGS": ""})
    eigen = run("jax", {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type="})
    torch_rows = run("torch", {})
    print(f"# batch {args.batch}, {os.cpu_count()} CPUs; ms per call (cores busy during the forward pass)\n")
    head = "| layer | JAX+YNNPACK fwd / dx / dk | JAX+Eigen fwd / dx / dk |"
    print(head + (" PyTorch fwd / dx+dk |" if torch_rows else ""))
    print("|---|---:|---:|" + ("---:|" if torch_rows else ""))
    for i, (hw, cin, cout) in enumerate(LAYERS):
        a, b = ynn[i], eigen[i]
        line = (f"| {hw}x{hw} {cin}->{cout} | {a[0]:.1f} ({a[3]:.2f}) / {a[1]:.1f} / {a[2]:.1f} "
                f"| {b[0]:.1f} ({b[3]:.2f}) / {b[1]:.1f} / {b[2]:.1f} |")
        if torch_rows:
            t = torch_rows[i]
            line += f" {t[0]:.1f} ({t[2]:.2f}) / {t[1]:.1f} |"
        print(line)


if __name__ == "__main__":
    main()

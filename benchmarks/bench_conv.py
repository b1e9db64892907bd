"""Per-layer convolution timings on CPU, JAX with and without XLA's YNNPACK fusion, against
PyTorch in its NCHW default and in channels_last: the measurements behind the first fix in
benchmarks/RESULTS.md and behind what is left of the gap.

    python benchmarks/bench_conv.py                # JAX both ways, and PyTorch if installed
    python benchmarks/bench_conv.py --width 16     # the layers of another width

For each 3x3 convolution of our VGG at the given width (batch 128): the forward pass, the
input gradient (dx) and the filter gradient (dk) in ms, and the forward pass's CPU time /
wall time (how many cores it keeps busy); a last row sums the layers.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time



def layers(width: int) -> list[tuple[int, int, int]]:
    """(side, in channels, out channels) of the VGG's convolutions (models.VGG: four stages
    of two, widths w, 2w, 4w, 8w at sides 48, 24, 12, 6)."""
    out, cin = [], 1
    for side, c in zip((48, 24, 12, 6), (width, 2 * width, 4 * width, 8 * width)):
        out += [(side, cin, c), (side, c, c)]
        cin = c
    return out


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


def jax_child(batch: int, width: int) -> list:
    import jax

    conv = lambda x, k: jax.lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    fwd = jax.jit(conv)
    dx = jax.jit(lambda x, k, g: jax.vjp(conv, x, k)[1](g)[0])
    dk = jax.jit(lambda x, k, g: jax.vjp(conv, x, k)[1](g)[1])
    rows = []
    for hw, cin, cout in layers(width):
        keys = jax.random.split(jax.random.PRNGKey(0), 3)
        x = jax.random.normal(keys[0], (batch, hw, hw, cin))
        k = jax.random.normal(keys[1], (3, 3, cin, cout))
        g = jax.random.normal(keys[2], (batch, hw, hw, cout))
        sync = jax.block_until_ready
        (f_ms, cores), (dx_ms, _), (dk_ms, _) = (timed(fwd, x, k, sync=sync), timed(dx, x, k, g, sync=sync),
                                                  timed(dk, x, k, g, sync=sync))
        rows.append([f_ms, dx_ms, dk_ms, cores])
    return rows


def torch_child(batch: int, width: int, channels_last: bool = False) -> list:
    import torch

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    rows = []
    for hw, cin, cout in layers(width):
        conv = torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False).to(memory_format=fmt)
        x = torch.randn(batch, cin, hw, hw).to(memory_format=fmt).requires_grad_()
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
    p.add_argument("--width", type=int, default=32, help="the VGG's width (its first layer's channels)")
    p.add_argument("--xla-flags", default="", help="more XLA flags for the JAX+Eigen run (e.g. oneDNN's)")
    p.add_argument("--jax-only", action="store_true", help="skip the YNNPACK and PyTorch runs")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        rows = (jax_child(args.batch, args.width) if args.child == "jax"
                else torch_child(args.batch, args.width, channels_last=args.child == "torch_cl"))
        print(json.dumps(rows))
        return

    def run(kind: str, env: dict) -> list | None:
        proc = subprocess.run([sys.executable, __file__, "--child", kind, "--batch", str(args.batch),
                               "--width", str(args.width)],
                              capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu", **env})
        if proc.returncode:
            if kind.startswith("torch"):
                return None  # PyTorch not installed: benchmarks/requirements.txt
            raise SystemExit(proc.stderr[-2000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])

    eigen = run("jax", {"XLA_FLAGS": f"--xla_cpu_experimental_ynn_fusion_type= {args.xla_flags}".strip()})
    if args.jax_only:
        rows = [(f"{hw}x{hw} {cin}->{cout}", *r[:3]) for (hw, cin, cout), r in zip(layers(args.width), eigen)]
        rows.append(("all layers", *[sum(r[j] for r in eigen) for j in range(3)]))
        print(f"# width {args.width}, batch {args.batch}, JAX+Eigen, extra XLA flags {args.xla_flags!r}\n")
        print("| layer | fwd | dx | dk |\n|---|---:|---:|---:|")
        for name, *ms in rows:
            print(f"| {name} | " + " | ".join(f"{m:.1f}" for m in ms) + " |")
        return
    ynn = run("jax", {"XLA_FLAGS": ""})
    torch_rows = run("torch", {})
    cl_rows = run("torch_cl", {}) if torch_rows else None
    print(f"# width {args.width}, batch {args.batch}, {os.cpu_count()} CPUs; ms per call "
          "(cores busy during the forward pass)\n")
    head = "| layer | JAX+YNNPACK fwd / dx / dk | JAX+Eigen fwd / dx / dk |"
    if torch_rows:
        head += " PyTorch NCHW fwd / dx+dk | PyTorch channels_last fwd / dx+dk |"
    print(head)
    print("|---|---:|---:|" + ("---:|---:|" if torch_rows else ""))
    rows = [(f"{hw}x{hw} {cin}->{cout}", ynn[i], eigen[i], torch_rows and torch_rows[i], cl_rows and cl_rows[i])
            for i, (hw, cin, cout) in enumerate(layers(args.width))]
    total = lambda rs: None if rs is None else [sum(r[j] for r in rs) for j in range(len(rs[0]))]
    rows.append(("all layers", total(ynn), total(eigen), total(torch_rows), total(cl_rows)))
    for name, a, b, t, c in rows:
        cores = name != "all layers"
        fmt = lambda r, k: f"{r[0]:.1f}" + (f" ({r[k]:.2f})" if cores else "")
        line = f"| {name} | {fmt(a, 3)} / {a[1]:.1f} / {a[2]:.1f} | {fmt(b, 3)} / {b[1]:.1f} / {b[2]:.1f} |"
        if t:
            line += f" {fmt(t, 2)} / {t[1]:.1f} | {fmt(c, 2)} / {c[1]:.1f} |"
        print(line)

if __name__ == "__main__":
    main()

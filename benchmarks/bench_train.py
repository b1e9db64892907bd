"""Training and inference throughput: our Flax VGG against the same net in PyTorch.

    python benchmarks/bench_train.py                      # widths 16 32 64, batch 128
    python benchmarks/bench_train.py --widths 32 --rounds 5
    python benchmarks/bench_train.py --frameworks jax torch_cl   # PyTorch channels_last only

Each measurement runs in a fresh child process (so the two frameworks never share a thread
pool), and the frameworks alternate round by round, so a noisy machine slows both alike and
the *ratio* stays meaningful. PyTorch runs twice, in its default NCHW memory format
(``torch``) and in ``channels_last`` (``torch_cl``: NHWC strides, the layout oneDNN's CPU
convolutions prefer); JAX is compared with the faster of the two at each width. JAX runs with
emojax's oneDNN convolutions (``emojax.onednn``, the default where they build) and, as
``jax_xla``, with XLA's own (``EMOJAX_CONV=xla``); ``jax_bf16`` is the oneDNN step with its
convolutions on bfloat16 inputs and float32 sums (``Config.precision="bfloat16"``: AMX where the
CPU has it). PyTorch is a
benchmark-only dependency: ``pip install -r benchmarks/requirements.txt``.

Also measured: single-face inference latency (one 48x48 crop in, probabilities out) and the
input pipeline (batch assembly on the host + the on-device augmentation) in images/s.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- children


def jax_train_rate(width: int, batch: int, steps: int) -> float:
    """Images/s of our jitted training step (random uint8 batch, no augmentation)."""
    sys.path.insert(0, str(ROOT))
    from emojax import train

    return step_rate(train.Config(model_kwargs={"width": width}, augment=False, batch_size=batch), steps)


def step_rate(cfg, steps: int) -> float:
    """Images/s of ``train.train_step`` for ``cfg`` on a random uint8 batch of its size, after
    three steps that compile and warm up."""
    import jax
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from emojax import train

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (cfg.batch_size, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 7, cfg.batch_size).astype(np.int32)
    state = train.create_state(cfg, 7, steps_per_epoch=100)
    x, y = train.shard_batch(train.data_mesh(), images, labels)
    for i in range(3):  # compile and warm up
        state, m = train.train_step(state, x, y, None, jax.random.PRNGKey(i), cfg)
    jax.block_until_ready(m)
    t = time.perf_counter()
    for i in range(steps):
        state, m = train.train_step(state, x, y, None, jax.random.PRNGKey(i), cfg)
    jax.block_until_ready(m)
    return steps * cfg.batch_size / (time.perf_counter() - t)


def jax_engine_rate(width: int, batch: int, steps: int) -> float:
    """Images/s of the same step through the device-resident engine (``emojax.engine``,
    ``Config.engine="device"``): the uint8 images on the device, ``engine.default_chunk``'s
    steps (8 on a CPU) per jitted call, each gathering its own batch."""
    import jax
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from emojax import engine, train

    rng = np.random.default_rng(0)
    cfg = train.Config(model_kwargs={"width": width}, augment=False, batch_size=batch)
    chunk = engine.default_chunk(100)
    n = batch * chunk
    mesh = train.data_mesh()
    images = engine.put(mesh, rng.integers(0, 256, (n, 48, 48), dtype=np.uint8))
    labels = engine.put(mesh, rng.integers(0, 7, n).astype(np.int32))
    state = train.create_state(cfg, 7, steps_per_epoch=100)
    key = jax.random.PRNGKey(0)
    calls = max(1, round(steps / chunk))

    def call(state, i):
        rows = engine.put(mesh, rng.permutation(n).reshape(chunk, batch).astype(np.int32), train.P(None, "data"))
        return engine.train_chunk(state, images, labels, None, rows, key, np.int32(i * chunk), cfg=cfg,
                                  mesh=mesh)

    for i in range(2):  # compile and warm up (the second call compiles for the state's new placement)
        state, m = call(state, i)
    jax.block_until_ready(m)
    t = time.perf_counter()
    for i in range(calls):
        state, m = call(state, i + 2)
    jax.block_until_ready(m)
    return calls * chunk * batch / (time.perf_counter() - t)


def jax_child(width: int, batch: int, steps: int, what: str) -> dict:
    import jax
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from emojax import augment, models, pipeline, train

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 7, batch).astype(np.int32)
    if what == "train":
        return {"images_per_s": jax_train_rate(width, batch, steps)}
    if what == "engine":
        return {"images_per_s": jax_engine_rate(width, batch, steps)}
    if what == "infer":
        model = models.create("vgg", 7, width=width)
        variables = models.init(model)
        crop = images[:1]
        for _ in range(20):
            pipeline.predict_proba(model, variables, crop)
        times = []
        for _ in range(steps * 20):
            t = time.perf_counter()
            pipeline.predict_proba(model, variables, crop)
            times.append(time.perf_counter() - t)
        return {"latency_ms": 1000 * statistics.median(times)}
    if what == "pipeline":
        # Host side: shuffled indexing of the uint8 dataset and the transfer to the device.
        data = rng.integers(0, 256, (28709, 48, 48), dtype=np.uint8)
        mesh = train.data_mesh()
        perm = rng.permutation(len(data))
        n = 0
        t = time.perf_counter()
        for i in range(0, len(data) - batch, batch):
            x, y = train.shard_batch(mesh, data[np.sort(perm[i:i + batch])], labels)
            n += batch
        jax.block_until_ready(x)
        host = n / (time.perf_counter() - t)
        # Device side: the augmentation that runs inside the training step, alone.
        cfg = train.Config()
        aug = jax.jit(lambda k, x: augment.augment(k, x.astype("float32")[..., None] / 255, cfg))
        jax.block_until_ready(aug(jax.random.PRNGKey(0), x))
        t = time.perf_counter()
        for i in range(steps):
            out = aug(jax.random.PRNGKey(i), x)
        jax.block_until_ready(out)
        return {"host_images_per_s": host, "augment_images_per_s": steps * batch / (time.perf_counter() - t)}
    raise ValueError(what)


def torch_child(width: int, batch: int, steps: int, what: str, channels_last: bool = False) -> dict:
    import torch
    from torch import nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, momentum=0.1), nn.ReLU()]

    layers, cin = [], 1
    for mult in (1, 2, 4, 8):
        layers += block(cin, width * mult) + block(width * mult, width * mult)
        layers += [nn.MaxPool2d(2), nn.Dropout(0.1)]
        cin = width * mult
    net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * 9, 256, bias=False), nn.BatchNorm1d(256),
                        nn.ReLU(), nn.Dropout(0.4), nn.Linear(256, 7))
    x = torch.randint(0, 256, (batch, 1, 48, 48), dtype=torch.uint8)
    y = torch.randint(0, 7, (batch,))
    if channels_last:  # NHWC strides for the weights and the input (same shapes, same maths)
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if what == "train":
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
        net.train()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(net((x.float() / 255 - 0.5) / 0.25), y)
            loss.backward()
            opt.step()

        for _ in range(3):
            step()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        return {"images_per_s": steps * batch / (time.perf_counter() - t)}
    if what == "infer":
        net.eval()
        crop = x[:1]
        times = []
        with torch.inference_mode():
            for i in range(20 + steps * 20):
                t = time.perf_counter()
                torch.softmax(net((crop.float() / 255 - 0.5) / 0.25), -1).numpy()
                if i >= 20:
                    times.append(time.perf_counter() - t)
        return {"latency_ms": 1000 * statistics.median(times)}
    raise ValueError(what)


# --------------------------------------------------------------------------- parent


FRAMEWORKS = {"jax": "JAX", "jax_bf16": "JAX, bfloat16 convolutions", "jax_engine": "JAX, device engine",
              "jax_xla": "JAX, XLA convolutions",
              "torch": "PyTorch NCHW", "torch_cl": "PyTorch channels_last"}


def measure(framework: str, width: int, batch: int, steps: int, what: str) -> dict:
    cmd = [sys.executable, __file__, "--child", framework, "--widths", str(width), "--batch", str(batch),
           "--steps", str(steps), "--what", what]
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    if framework == "jax_xla":  # the same program with XLA's own convolutions instead of oneDNN's
        env["EMOJAX_CONV"] = "xla"
    if framework == "jax_bf16":  # the same program, its convolutions on bfloat16 inputs (Config.precision)
        env["JAX_DEFAULT_MATMUL_PRECISION"] = "bfloat16"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"{framework} {what} w={width} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64], help="VGG widths (first stage channels)")
    p.add_argument("--batch", type=int, default=128, help="training batch size")
    p.add_argument("--steps", type=int, default=10, help="timed training steps per measurement")
    p.add_argument("--rounds", type=int, default=3, help="alternating JAX/PyTorch rounds; medians are reported")
    p.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=list(FRAMEWORKS),
                   help="what to measure: jax = the host-loop step, jax_bf16 = the same with bfloat16 "
                        "convolutions, jax_engine = the device engine, "
                        "jax_xla = the host loop with XLA's convolutions, torch = PyTorch NCHW, "
                        "torch_cl = PyTorch channels_last "
                        "(both need benchmarks/requirements.txt)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--what", default="train", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        if args.child.startswith("jax"):
            res = jax_child(args.widths[0], args.batch, args.steps, args.what)
        else:
            res = torch_child(args.widths[0], args.batch, args.steps, args.what, args.child == "torch_cl")
        print(json.dumps(res))
        return

    sys.path.insert(0, str(ROOT))
    import emojax  # noqa: F401  (sets the XLA CPU flags the JAX children inherit)

    print(f"# {os.cpu_count()} CPUs, batch {args.batch}, {args.steps} steps x {args.rounds} rounds, "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}\n")
    train_rate = {}
    torches = [f for f in args.frameworks if f.startswith("torch")]
    nan = float("nan")
    ours = [f for f in ("jax", "jax_bf16", "jax_engine") if f in args.frameworks]
    print("| width | " + " | ".join(f"{FRAMEWORKS[f]} train img/s" for f in args.frameworks)
          + "".join(f" | {FRAMEWORKS[f]} / faster PyTorch" for f in ours) + " |")
    print("|---:|" + "---:|" * (len(args.frameworks) + len(ours)))
    for w in args.widths:
        runs = {f: [] for f in args.frameworks}
        for r in range(args.rounds):  # alternate the order: a noisy machine slows every one alike
            order = args.frameworks if r % 2 == 0 else args.frameworks[::-1]
            for f in order:
                what = "engine" if f == "jax_engine" else "train"
                runs[f].append(measure(f, w, args.batch, args.steps, what)["images_per_s"])
        med = {f: statistics.median(v) for f, v in runs.items()}
        best = max(torches, key=med.get) if torches else None
        ratios = [med[f] / med[best] if best else nan for f in ours]
        cells = [f"{med[f]:.0f}" + (" (faster)" if f == best and len(torches) > 1 else "") for f in args.frameworks]
        print(f"| {w} | " + " | ".join(cells + [f"{r:.2f}" for r in ratios]) + " |", flush=True)
        train_rate[w] = med.get("jax")
    print("\nSingle-face inference, median latency (crop in, probabilities out):")
    for w in args.widths:
        lat = {f: statistics.median(measure(f, w, 1, 10, "infer")["latency_ms"] for _ in range(args.rounds))
               for f in args.frameworks if f not in ("jax_engine", "jax_bf16")}  # training paths (one face: XLA)
        print(f"  w={w}: " + ", ".join(f"{FRAMEWORKS[f]} {v:.2f} ms" for f, v in lat.items()))
    if "jax" in args.frameworks:
        w = min(args.widths)  # the fastest step is the hardest for the pipeline to keep fed
        pipe = measure("jax", w, args.batch, 20, "pipeline")
        print(f"\nInput pipeline, batch {args.batch}: host batching + transfer "
              f"{pipe['host_images_per_s']:.0f} img/s; on-device augmentation {pipe['augment_images_per_s']:.0f} img/s "
              f"(the augmentation runs inside the step; host pipeline / fastest JAX step (w={w}): "
              f"{pipe['host_images_per_s'] / train_rate[w]:.0f}x)")


if __name__ == "__main__":
    main()

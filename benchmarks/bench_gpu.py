"""Training throughput on an accelerator: the host-fed loop against the device-resident
engine (``emojax.engine``), one model against K in one program.

    python benchmarks/bench_gpu.py                    # on a GPU: writes benchmarks/RESULTS_gpu.md
    python benchmarks/bench_gpu.py --recipe --data ../shared/data/fer2013.csv.gz   # + 160-epoch recipe
    python benchmarks/bench_gpu.py --widths 8 --batches 16 --models 2 --steps 2 --repeats 1  # CPU smoke

For every width (VGG, first-stage channels) and batch size, with the FER2013 recipe's step
(``experiments/configs/fer2013_vgg48``: augmentation, dropout, SGD-Nesterov, label smoothing):

- **host loop**: ``train.train``'s inner loop as it is: per step, the sorted slice of the
  epoch's permutation, the numpy gather of the uint8 batch, ``train.shard_batch`` and the
  jitted ``train.train_step``;
- **device, K=1**: ``engine.train_chunk``: the data already on the device, one call runs
  ``--steps`` steps with ``lax.scan``;
- **device, K=8**: ``engine.train_many_chunk``: K models (seeds 0..K-1) vmapped in one
  scanned program; its figure counts every model's images (K x batch per step).

Each figure is the median of ``--repeats`` timed calls after a compiling warm-up, on a
synthetic uint8 training set of FER2013's size (28,709 images; the speed depends on shapes
only). ``--recipe`` also times the whole width-48 recipe (``--epochs``, 160 by default, no
early stopping) through ``engine.DeviceEpochs``, as ``train.train`` with ``engine="device"``
runs it but without writing files (so it needs only jax, flax, optax): on ``--data`` if given
(and then reports its best PublicTest accuracy), else on synthetic data.

The results go to ``benchmarks/RESULTS_gpu.md`` when the default backend is a GPU (or to
``--out``); on a CPU only to stdout, unless ``--out`` is given, and then labelled a smoke
run. ``--budget-s`` stops starting new measurements after that many seconds (what is left
is marked skipped), so the command ends inside a device lease.
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_TRAIN = 28709  # FER2013 Training images


def recipe_config(width: int, batch: int):
    from experiments.configs.fer2013_vgg48 import CONFIG

    return dataclasses.replace(CONFIG, model_kwargs={**CONFIG.model_kwargs, "width": width}, batch_size=batch)


def _timed(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` (which blocks until its work is done)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def host_rate(cfg, images, labels, steps: int, repeats: int) -> float:
    """Images/s of train.train's host-fed inner loop (same code, no progress bar)."""
    import jax
    import numpy as np

    from emojax import train

    mesh = train.data_mesh()
    state = [jax.device_put(train.create_state(cfg, 7, steps), train.NamedSharding(mesh, train.P()))]
    key = jax.random.PRNGKey(cfg.seed)
    epoch = [0]

    def run(n):
        epoch[0] += 1
        perm = np.random.default_rng([cfg.seed, epoch[0]]).permutation(len(images))
        s, metrics = state[0], []
        for i in range(n):
            idx = np.sort(perm[i * cfg.batch_size:(i + 1) * cfg.batch_size])
            x, y, _ = train.shard_batch(mesh, images[idx], labels[idx], None)
            s, m = train.train_step(s, x, y, None, jax.random.fold_in(key, i), cfg)
            metrics.append(m)
        jax.device_get(metrics)
        state[0] = s

    run(2)  # compile
    return steps * cfg.batch_size / _timed(lambda: run(steps), repeats)


def device_rate(cfg, images, labels, steps: int, repeats: int, k_models: int, unroll: int) -> float:
    """Images/s (all models together) of the scanned device path, K models in one program."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from emojax import engine, train

    mesh = train.data_mesh()
    rep = train.NamedSharding(mesh, train.P())
    d_images, d_labels = engine.put(mesh, images), engine.put(mesh, labels)
    epoch = [0]
    if k_models == 1:
        state = [jax.device_put(train.create_state(cfg, 7, steps), rep)]
        key = jax.random.PRNGKey(cfg.seed)

        def run():
            epoch[0] += 1
            rows = engine.put(mesh, engine.epoch_rows(cfg, epoch[0], len(images), steps), train.P(None, "data"))
            state[0], m = engine.train_chunk(state[0], d_images, d_labels, None, rows, key, np.int32(0),
                                             cfg=cfg, mesh=mesh, unroll=unroll)
            jax.device_get(m)
    else:
        cfgs = [dataclasses.replace(cfg, seed=s) for s in range(k_models)]
        states = [train.create_state(c, 7, steps) for c in cfgs]
        stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *[
            {"step": s.step, "params": s.params, "opt_state": s.opt_state, "batch_stats": s.batch_stats}
            for s in states])
        state = [jax.device_put(stacked, rep)]
        keys = jax.device_put(jnp.stack([jax.random.PRNGKey(c.seed) for c in cfgs]), rep)

        def run():
            epoch[0] += 1
            rows = np.stack([engine.epoch_rows(c, epoch[0], len(images), steps) for c in cfgs], 1)
            rows = engine.put(mesh, rows, train.P(None, None, "data"))
            state[0], m = engine.train_many_chunk(state[0], {}, d_images, d_labels, None, rows, keys,
                                                  np.int32(0), cfg=cfg, steps=steps, num_classes=7, mesh=mesh,
                                                  unroll=unroll)
            jax.device_get(m)

    run()  # compile
    return k_models * steps * cfg.batch_size / _timed(run, repeats)


def recipe_wall_time(data: str | None, epochs: int, subset: int | None = None) -> dict:
    """The width-48 recipe for ``epochs`` epochs through engine.DeviceEpochs (no files);
    ``subset``: the first N training and validation images only (a smoke check)."""
    import jax
    import numpy as np

    from emojax import data as data_lib
    from emojax import engine, train

    cfg = dataclasses.replace(recipe_config(48, 64), epochs=epochs, engine="device")
    if data:
        ds = data_lib.load(data, verbose=False)
        tr, val = ds.train, ds.val
    else:
        rng = np.random.default_rng(0)
        tr = data_lib.Split(rng.integers(0, 256, (N_TRAIN, 48, 48), dtype=np.uint8),
                            rng.integers(0, 7, N_TRAIN).astype(np.int32))
        val = data_lib.Split(rng.integers(0, 256, (3589, 48, 48), dtype=np.uint8),
                             rng.integers(0, 7, 3589).astype(np.int32))
    if subset:
        tr, val = tr.subset(slice(0, subset)), val.subset(slice(0, subset))
    mesh = train.data_mesh()
    steps = len(tr) // cfg.batch_size
    t0 = time.perf_counter()
    state = jax.device_put(train.create_state(cfg, 7, steps), train.NamedSharding(mesh, train.P()))
    runner = engine.DeviceEpochs(cfg, tr, None, val, mesh, steps, jax.random.PRNGKey(cfg.seed))
    best, first = (0, -1.0), None
    for epoch in range(1, epochs + 1):
        state, means, v = runner.epoch(state, epoch)
        if v["accuracy"] > best[1]:
            best = (epoch, v["accuracy"])
        if first is None:
            first = time.perf_counter() - t0
        print(f"  recipe epoch {epoch}: train loss {means['loss']:.3f} val acc {v['accuracy']:.3f}",
              file=sys.stderr, flush=True)
    total = time.perf_counter() - t0
    return {"epochs": epochs, "wall_s": total, "first_epoch_s": first, "steps_per_epoch": steps,
            "best_epoch": best[0], "best_val_accuracy": best[1], "real_data": bool(data) and not subset}


def environment() -> list[str]:
    import flax
    import jax
    import jaxlib
    import optax

    d = jax.devices()[0]
    return [f"- device: {jax.device_count()} x {d.device_kind} ({d.platform})",
            f"- jax {jax.__version__}, jaxlib {jaxlib.__version__}, flax {flax.__version__}, "
            f"optax {optax.__version__}, Python {platform.python_version()}, {platform.machine()}"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", type=int, nargs="+", default=[32, 48, 64])
    p.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--models", type=int, nargs="+", default=[8], help="K values besides 1 (models in one program)")
    p.add_argument("--steps", type=int, help="steps per timed call (default: 25,600 images' worth, 10 to 100)")
    p.add_argument("--unroll", type=int, help="scan unroll of the device path (default 1, a rolled loop, "
                   "as engine.default_chunk)")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per figure; the median is reported")
    p.add_argument("--budget-s", type=float, default=480, help="start no measurement after this many seconds")
    p.add_argument("--recipe", action="store_true", help="also time the whole width-48 recipe (device engine)")
    p.add_argument("--epochs", type=int, default=160, help="epochs of --recipe")
    p.add_argument("--data", help="FER2013 for --recipe (default: synthetic data, timing only)")
    p.add_argument("--recipe-subset", type=int, help=argparse.SUPPRESS)  # smoke checks: N images only
    p.add_argument("--out", help="results file (default: benchmarks/RESULTS_gpu.md on a GPU, none on a CPU)")
    args = p.parse_args()

    import emojax  # noqa: F401  (XLA CPU flags, before JAX starts)
    import jax
    import numpy as np

    gpu = jax.default_backend() == "gpu"
    out = Path(args.out) if args.out else (ROOT / "benchmarks" / "RESULTS_gpu.md" if gpu else None)
    t_start = time.perf_counter()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (N_TRAIN, 48, 48), dtype=np.uint8)
    labels = rng.integers(0, 7, N_TRAIN).astype(np.int32)

    title = "Training throughput: host loop vs device engine" + ("" if gpu else " (CPU SMOKE RUN: not GPU figures)")
    head = [f"# {title}", "", *environment(),
            f"- `python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:])}`".replace("  ", " "),
            f"- {time.strftime('%Y-%m-%d %H:%M')}; the recipe's step (fer2013_vgg48: augmentation, dropout, "
            "SGD-Nesterov, label smoothing) at each width and batch, on synthetic uint8 data of FER2013's size; "
            f"median of {args.repeats} timed calls after a compiling warm-up; device path: one call of "
            f"`steps` steps, scan unroll {args.unroll or 1}. Images/s; K models count "
            "K x batch images a step.", ""]
    ks = [k for k in args.models if k != 1]
    cols = ["width", "batch", "steps", "host loop", "device K=1", "device / host"]
    for k in ks:
        cols += [f"device K={k} (all models)", f"K={k} / K=1"]
    table = ["| " + " | ".join(cols) + " |", "|" + "---:|" * len(cols)]
    print("\n".join(head + table), flush=True)

    def write(extra=()):
        if out:
            out.write_text("\n".join(head + table + list(extra)) + "\n")

    for w in args.widths:
        for b in args.batches:
            steps = args.steps or max(10, min(100, 25600 // b))
            cfg = recipe_config(w, b)
            if time.perf_counter() - t_start > args.budget_s:
                table.append(f"| {w} | {b} | {steps} | skipped (budget) |" + " |" * (len(cols) - 4))
                print(table[-1], flush=True)
                continue
            unroll = args.unroll or 1  # rolled, as engine.default_chunk
            host = host_rate(cfg, images, labels, steps, args.repeats)
            dev = device_rate(cfg, images, labels, steps, args.repeats, 1, unroll)
            cells = [str(w), str(b), str(steps), f"{host:.0f}", f"{dev:.0f}", f"{dev / host:.2f}x"]
            for k in ks:
                if time.perf_counter() - t_start > args.budget_s:
                    cells += ["skipped (budget)", ""]
                    continue
                many = device_rate(cfg, images, labels, steps, args.repeats, k, unroll)
                cells += [f"{many:.0f}", f"{many / dev:.2f}x"]
            table.append("| " + " | ".join(cells) + " |")
            print(table[-1], flush=True)
            write()
    extra = []
    if args.recipe:
        r = recipe_wall_time(args.data, args.epochs, args.recipe_subset)
        extra = ["", f"Whole recipe (fer2013_vgg48 at batch 64, {r['epochs']} epochs, {r['steps_per_epoch']} steps "
                 f"an epoch, PublicTest evaluated every epoch, no files written) through the device engine: "
                 f"**{r['wall_s']:.0f} s** wall ({r['first_epoch_s']:.0f} s to the end of epoch 1, compilation "
                 "included)" + (f"; best PublicTest accuracy {100 * r['best_val_accuracy']:.1f}% at epoch "
                                f"{r['best_epoch']}." if r["real_data"] else "; synthetic data (timing only).")]
        print("\n".join(extra), flush=True)
    write(extra)
    if out:
        print(f"\nwrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Device-resident training: the whole epoch in one jitted call, and many models in one program.

``train.train`` feeds its jitted step from the host: every step sorts a slice of the epoch's
permutation, gathers the uint8 batch in numpy and sends it to the device(s). On a fast
accelerator the small nets of this project finish a step sooner than Python can dispatch
the next one, so the device waits. Here instead:

- **one model** (``DeviceEpochs``, used by ``train.train`` when ``cfg.engine == "device"``):
  the uint8 training set is put on the device(s) once; each epoch the host sends only the
  epoch's batch indices (``(steps, batch)`` int32, from the same ``train.epoch_order``
  permutation as the host loop); one jitted call runs a chunk of steps (the epoch on an
  accelerator, 8 steps on a CPU: ``default_chunk``; an epoch's last chunk is padded with
  steps that change nothing, so every chunk is one program) with ``jax.lax.scan``: gather,
  augmentation and the update are the host loop's own ``train.train_step``, with the same keys
  ``fold_in(key, (epoch - 1) * steps + i)``. PublicTest is evaluated in one call too (its
  images also stay on the device). It plugs into ``train.train``'s epoch loop, so
  checkpoints, ``--resume``, early stopping and every file of a run are unchanged; the
  history equals the host loop's to float tolerance.
- **many models** (``train_many``): K configs that differ only in seed, learning rate,
  weight decay, label smoothing or patience train together: ``jax.vmap`` over a model axis
  of the stacked states, each model with its own batches, keys, optimizer state and
  metrics, in one scanned program; one ordinary run folder per model.

Data parallelism is kept: the states are replicated, and every batch is constrained to the
``data`` mesh axis (the model axis, when there is one, stays whole on each device).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from emojax import data as data_lib
from emojax import augment, models, train
from emojax.io import EmojaxError

log = logging.getLogger(__name__)

EVAL_BATCH = 512  # PublicTest images per forward pass (as train.predict_logits)
CPU_CHUNK = 8     # steps per call on a CPU (see default_chunk)

# Fields that may differ between the models of one program (they keep every shape);
# ``seed`` changes the initialisation, the shuffling and every key, the others are traced.
PER_MODEL = ("seed", "lr", "weight_decay", "label_smoothing", "patience", "init", "holdout", "why")
TRACED = ("lr", "weight_decay", "label_smoothing")


# --------------------------------------------------------------------------- placement


def put(mesh: Mesh, array: np.ndarray, spec: P = P()) -> jax.Array:
    """A host array placed on ``mesh`` with ``spec`` (replicated by default). Every host
    passes the whole array (every host reads the same data) and places its own shards."""
    a = np.asarray(array)
    return jax.make_array_from_callback(a.shape, NamedSharding(mesh, spec), lambda index: a[index])


def epoch_rows(cfg: train.Config, epoch: int, n: int, steps: int, stream: int = 0) -> np.ndarray:
    """``(steps, batch)`` int32: the training rows of every step of ``epoch``, exactly the
    host loop's (``np.sort`` of consecutive slices of ``train.epoch_order``)."""
    perm = train.epoch_order(cfg, stream, epoch, n)
    rows = perm[:steps * cfg.batch_size].reshape(steps, cfg.batch_size)
    return np.sort(rows, axis=1).astype(np.int32)


def eval_batches(mesh: Mesh, images: np.ndarray, batch_size: int = EVAL_BATCH) -> tuple[jax.Array, int]:
    """Images (N, 48, 48) padded and reshaped to (batches, batch, 48, 48), each batch sharded
    over ``data``; returns the device array and N."""
    n_dev = mesh.devices.size
    bs = max(n_dev, min(batch_size, -(-len(images) // n_dev) * n_dev) // n_dev * n_dev)
    pad = (-len(images)) % bs
    x = np.concatenate([images, np.zeros((pad, *images.shape[1:]), images.dtype)]) if pad else images
    return put(mesh, x.reshape(-1, bs, *images.shape[1:]), P(None, "data")), len(images)


def default_chunk(steps: int) -> int:
    """Steps per call on the default backend: on an accelerator the whole epoch; on a CPU
    ``CPU_CHUNK``, so that a stop waits for at most one more chunk (``_queued``). The scan is
    rolled on both: with jaxlib 0.10 a rolled CPU loop steps as fast as an unrolled one and
    compiles about 3x sooner (the shipped recipe's 8-step chunk: 19 s against 53-55 s on 2
    cores; benchmarks/RESULTS.md). Unrolling had been 10x faster a step with an older jaxlib."""
    return min(steps, CPU_CHUNK) if jax.default_backend() == "cpu" else steps


def _chunking(steps: int, chunk: int | None, unroll: int | None) -> tuple[int, int]:
    """Steps per call and scan unroll: as given, else ``default_chunk``'s and a rolled loop."""
    return min(chunk or default_chunk(steps), steps), unroll or 1


def chunks(rows: np.ndarray, chunk: int) -> Iterator[tuple[int, np.ndarray, int]]:
    """(first step, the rows of ``chunk`` steps, how many of them are real) for each call of an
    epoch: the last chunk is padded by repeating its last step, which ``valid`` then skips, so
    that an epoch whose steps are not a multiple of the chunk compiles one program, not two
    (a second compilation of the recipe's step cost 50-60 s on a 2-core machine)."""
    for c in range(0, len(rows), chunk):
        part = rows[c:c + chunk]
        real = len(part)
        if real < chunk:
            part = np.concatenate([part, np.repeat(part[-1:], chunk - real, axis=0)])
        yield c, part, real


def _unless_padding(i: jax.Array, valid: jax.Array, step, state):
    """``step(state)`` for a real step (``i < valid``); for a padding step the state as it was
    and zero metrics."""
    def idle(s):
        return s, jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), jax.eval_shape(step, s)[1])
    return jax.lax.cond(i < valid, step, idle, state)


def _queued(metrics: list, m) -> None:
    """Keep a chunk's metrics, then wait for the chunk before it: at most one chunk waits
    behind the running one. Unbounded, the host queued the whole epoch, and Ctrl-C or kill
    waited for all of it (37 s on 6,000 faces, up to an epoch on the whole training set)."""
    metrics.append(m)
    if len(metrics) > 1:
        jax.block_until_ready(metrics[-2])


def _per_step(metrics: list, steps: int) -> dict:
    """The chunks' metrics fetched and joined: one value per real step for each name."""
    return {k: np.concatenate([np.asarray(m[k]) for m in jax.device_get(metrics)])[:steps] for k in metrics[0]}


def split_metrics(logits: np.ndarray, split: data_lib.Split) -> dict:
    """Loss and accuracy from logits, computed as ``train.evaluate_split`` does."""
    t = split.targets if split.targets is not None else np.eye(logits.shape[1])[split.labels]
    log_p = logits - logits.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    loss = float(-(t * log_p).sum(1).mean())
    return {"loss": loss, "accuracy": float((logits.argmax(1) == split.labels).mean())}


# --------------------------------------------------------------------------- one model


@partial(jax.jit, static_argnames=("cfg", "mesh", "unroll"), donate_argnums=(0,))
def train_chunk(state: train.TrainState, images: jax.Array, labels: jax.Array, soft: jax.Array | None,
                rows: jax.Array, key: jax.Array, start: jax.Array, cfg: train.Config,
                mesh: Mesh, unroll: int = 1, valid: jax.Array | None = None) -> tuple[train.TrainState, dict]:
    """``len(rows)`` training steps in one call: step ``i`` trains on ``images[rows[i]]``
    with the key ``fold_in(key, start + i)``; with ``valid``, only the first ``valid`` steps
    train (``chunks``' padding). Returns the state and per-step metrics."""
    batch = NamedSharding(mesh, P("data"))
    pick = lambda a, r: None if a is None else jax.lax.with_sharding_constraint(a[r], batch)

    def body(state, xs):
        i, r = xs
        step = lambda s: train.train_step(s, pick(images, r), pick(labels, r), pick(soft, r),
                                          jax.random.fold_in(key, start + i), cfg)
        return step(state) if valid is None else _unless_padding(i, valid, step, state)

    return jax.lax.scan(body, state, (jnp.arange(rows.shape[0], dtype=jnp.int32), rows), unroll=unroll)


@partial(jax.jit, static_argnames=("mesh",))
def eval_chunk(state: train.TrainState, batches: jax.Array, mesh: Mesh) -> jax.Array:
    """Inference logits of every batch of ``batches`` (B, b, 48, 48), as (B * b, classes),
    replicated (every host can read them)."""
    logits = jax.lax.map(lambda x: train.eval_step(state, x), batches)
    logits = logits.reshape(-1, logits.shape[-1])
    return jax.lax.with_sharding_constraint(logits, NamedSharding(mesh, P()))


class DeviceEpochs:
    """The inner part of ``train.train``'s epoch loop on the device: ``epoch(state, n)``
    trains epoch ``n`` and evaluates PublicTest, returning (state, train means, val metrics)
    like the host loop's steps and ``train.evaluate_split`` do. ``chunk``: steps per call,
    ``unroll``: of the scan (default: ``default_chunk``)."""

    def __init__(self, cfg: train.Config, train_split: data_lib.Split, soft: np.ndarray | None,
                 val: data_lib.Split, mesh: Mesh, steps: int, key: jax.Array, chunk: int | None = None,
                 unroll: int | None = None, stream: int = 0):
        self.cfg, self.mesh, self.steps, self.key, self.val = cfg, mesh, steps, key, val
        self.stream = stream
        self.chunk, self.unroll = _chunking(steps, chunk, unroll)
        self.n = len(train_split)
        self.images = put(mesh, train_split.images)
        self.labels = put(mesh, train_split.labels.astype(np.int32))
        self.soft = None if soft is None else put(mesh, np.asarray(soft, np.float32))
        self.val_batches, self.n_val = eval_batches(mesh, val.images)

    def train_epoch(self, state: train.TrainState, epoch: int) -> tuple[train.TrainState, dict]:
        rows = epoch_rows(self.cfg, epoch, self.n, self.steps, self.stream)
        metrics = []
        for c, part, real in chunks(rows, self.chunk):
            r = put(self.mesh, part, P(None, "data"))
            state, m = train_chunk(state, self.images, self.labels, self.soft, r, self.key,
                                   np.int32((epoch - 1) * self.steps + c), cfg=self.cfg, mesh=self.mesh,
                                   unroll=self.unroll, valid=np.int32(real))
            _queued(metrics, m)
        per_step = _per_step(metrics, self.steps)
        return state, {k: float(np.mean(v)) for k, v in per_step.items()}

    def evaluate(self, state: train.TrainState) -> dict:
        logits = np.asarray(eval_chunk(state, self.val_batches, mesh=self.mesh))[:self.n_val]
        return split_metrics(logits, self.val)

    def epoch(self, state: train.TrainState, epoch: int) -> tuple[train.TrainState, dict, dict]:
        state, means = self.train_epoch(state, epoch)
        return state, means, self.evaluate(train.averaged(state))


# --------------------------------------------------------------------------- many models


def _group(cfgs: Sequence[train.Config]) -> tuple[train.Config, tuple[str, ...]]:
    """The shared config (the first) and the traced fields that differ between models;
    any other difference is an error (it would change shapes or the program)."""
    base = cfgs[0]
    for c in cfgs[1:]:
        other = [f.name for f in dataclasses.fields(c)
                 if f.name not in PER_MODEL and getattr(c, f.name) != getattr(base, f.name)]
        if other:
            raise EmojaxError(f"models trained in one program may differ only in {', '.join(PER_MODEL)}; "
                              f"these differ: {', '.join(other)}")
    return base, tuple(f for f in TRACED if len({getattr(c, f) for c in cfgs}) > 1)


def _model_loss(key, logits, labels, soft, cfg: train.Config, smoothing) -> jax.Array:
    """``train._loss``, with a traced label smoothing when the models' values differ (the
    same operations: ``optax.smooth_labels`` of ``train._targets``; 0 leaves them as is)."""
    if smoothing is None or (soft is not None and cfg.ferplus_mode == "multilabel"):
        return train._loss(key, logits, labels, soft, cfg)
    t = train._targets(key, labels, soft, logits.shape[-1], dataclasses.replace(cfg, label_smoothing=0.0))
    return optax.softmax_cross_entropy(logits, optax.smooth_labels(t, smoothing)).mean()


def lr_table(cfg: train.Config, steps: int) -> np.ndarray:
    """The learning rate of every step count 0 .. epochs * steps, from ``train.make_schedule``."""
    return np.asarray(jax.jit(jax.vmap(train.make_schedule(cfg, steps)))(
        jnp.arange(cfg.epochs * steps + 1)), np.float32)


def _optimizer(cfg: train.Config, hp: dict, steps: int) -> optax.GradientTransformation:
    """``train.make_optimizer`` with the model's traced weight decay and, when the models'
    learning rates differ, its schedule as a table (``hp["lr"]``, one value per step count:
    optax's schedules take only Python numbers)."""
    wd = hp.get("weight_decay", cfg.weight_decay)
    if "lr" not in hp:
        return train.make_optimizer(dataclasses.replace(cfg, weight_decay=wd), steps)
    table = hp["lr"]
    lr = lambda count: table[jnp.minimum(count, table.shape[0] - 1)]
    if cfg.optimizer == "sgd":  # as train.make_optimizer
        decay_mask = lambda p: jax.tree_util.tree_map(lambda x: x.ndim > 1, p)
        return optax.chain(optax.add_decayed_weights(wd, decay_mask),
                           optax.sgd(lr, momentum=0.9, nesterov=True))
    if cfg.optimizer == "adamw":
        return optax.adamw(lr, weight_decay=wd)
    raise EmojaxError(f"unknown optimizer {cfg.optimizer!r}")


def _model_step(state: dict, hp: dict, images, labels, soft, key, cfg: train.Config, steps: int,
                num_classes: int) -> tuple[dict, dict]:
    """One model's ``train.train_step`` (same operations) with its traced hyper-parameters
    ``hp`` (learning-rate table, weight decay, label smoothing)."""
    tx = _optimizer(cfg, hp, steps)
    model = models.create(cfg.model, num_classes, **cfg.model_kwargs)
    k_aug, k_drop, k_lab = jax.random.split(key, 3)
    x, _ = augment.inputs(k_aug, images, cfg, labels=labels)  # no mixup or cutmix here (train_many refuses them)

    def loss_fn(params):
        logits, updates = model.apply({"params": params, "batch_stats": state["batch_stats"]}, x,
                                      train=True, rngs={"dropout": k_drop}, mutable=["batch_stats"])
        return _model_loss(k_lab, logits, labels, soft, cfg, hp.get("label_smoothing")), (logits, updates)

    with train.precision(cfg):
        (loss, (logits, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    delta, opt_state = tx.update(grads, state["opt_state"], state["params"])
    new = {"step": state["step"] + 1, "params": optax.apply_updates(state["params"], delta),
           "opt_state": opt_state, "batch_stats": updates["batch_stats"]}
    return new, {"loss": loss, "accuracy": (logits.argmax(-1) == labels).mean()}


@partial(jax.jit, static_argnames=("cfg", "steps", "num_classes", "mesh", "unroll"), donate_argnums=(0,))
def train_many_chunk(states: dict, hp: dict, images: jax.Array, labels: jax.Array, soft: jax.Array | None,
                     rows: jax.Array, keys: jax.Array, start: jax.Array, cfg: train.Config, steps: int,
                     num_classes: int, mesh: Mesh, unroll: int = 1, valid: jax.Array | None = None
                     ) -> tuple[dict, dict]:
    """``rows.shape[0]`` steps of K models at once: ``states`` and ``hp`` stacked on a leading
    model axis, ``rows`` (steps, K, batch), ``keys`` (K, 2); ``valid`` as ``train_chunk``'s.
    Per-step metrics (steps, K)."""
    batch = NamedSharding(mesh, P(None, "data"))
    pick = lambda a, r: None if a is None else jax.lax.with_sharding_constraint(a[r], batch)
    step = jax.vmap(partial(_model_step, cfg=cfg, steps=steps, num_classes=num_classes))

    def body(states, xs):
        i, r = xs
        ks = jax.vmap(lambda k: jax.random.fold_in(k, start + i))(keys)
        models_step = lambda s: step(s, hp, pick(images, r), pick(labels, r), pick(soft, r), ks)
        return models_step(states) if valid is None else _unless_padding(i, valid, models_step, states)

    return jax.lax.scan(body, states, (jnp.arange(rows.shape[0], dtype=jnp.int32), rows), unroll=unroll)


@partial(jax.jit, static_argnames=("cfg", "num_classes", "mesh"))
def eval_many_chunk(params, batch_stats, batches: jax.Array, cfg: train.Config, num_classes: int,
                    mesh: Mesh) -> jax.Array:
    """Inference logits of K stacked models on every batch: (K, B * b, classes), replicated."""
    model = models.create(cfg.model, num_classes, **cfg.model_kwargs)

    def one_batch(images):
        x = images.astype(jnp.float32)[..., None] / 255.0
        return jax.vmap(lambda p, s: model.apply({"params": p, "batch_stats": s}, x))(params, batch_stats)

    logits = jax.lax.map(one_batch, batches)  # (B, K, b, classes)
    logits = jnp.moveaxis(logits, 1, 0).reshape(logits.shape[1], -1, logits.shape[-1])
    return jax.lax.with_sharding_constraint(logits, NamedSharding(mesh, P()))


def _prepare_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise EmojaxError(f"--out {out} is a file, not a folder")
    previous = [n for n in train.RUN_FILES if (out / n).exists()]
    if previous and not overwrite:
        raise EmojaxError(f"{out} already holds a run ({', '.join(previous)}): pass overwrite=True to replace it")


def train_many(cfgs: Sequence[train.Config], ds: data_lib.Dataset, outs: Sequence[str | Path],
               overwrite: bool = False, command: str = "", progress: bool = True,
               chunk: int | None = None, unroll: int | None = None) -> list[dict]:
    """Train K models in one program (``jax.vmap`` over a model axis) and write one ordinary
    run folder per model: ``model.json`` + ``weights/`` (its best PublicTest epoch),
    ``metrics.json`` (its history, test figures), ``learning_curves.png``,
    ``architecture.txt``. The configs may differ only in ``PER_MODEL`` fields; each model
    gets what ``train.train`` would give it alone (its own shuffling, keys, optimizer
    state, early stopping), to float tolerance. Returns each model's results. No
    checkpoints are written (a killed program is started again)."""
    cfgs, outs = list(cfgs), [Path(o) for o in outs]
    if not cfgs or len(cfgs) != len(outs):
        raise EmojaxError(f"{len(cfgs)} configs and {len(outs)} output folders: give one folder per config")
    if len({o.absolute() for o in outs}) != len(outs):
        raise EmojaxError("two models would write into the same folder")
    base, traced = _group(cfgs)
    for name, what in (("ema", "a moving average of the weights (ema)"), ("mixup", "mixup"),
                      ("cutmix_face", "face cutmix"), ("consistency", "the consistency term"),
                      ("sam", "sharpness-aware minimisation (sam)")):
        if getattr(base, name):
            raise EmojaxError(f"{what} is not in the many-models program yet: train such models one at a time")
    k_models = len(cfgs)
    train_split, val, mesh, _, soft = train.training_data(dataclasses.replace(base, holdout=()), ds, progress)
    kept = [train.held_in(c.holdout, train_split.rows) for c in cfgs]  # each model's faces: --folds
    steps = {len(r) // base.batch_size for r in kept}
    if len(steps) > 1 or min(steps) == 0:
        raise EmojaxError(f"the models' training faces make {sorted(steps)} steps an epoch (batch "
                          f"{base.batch_size}): models in one program need the same number, at least one")
    steps = steps.pop()
    streams = [train.stream_of(c) for c in cfgs]
    for out in outs:
        _prepare_folder(out, overwrite)
    num_classes = len(ds.classes)

    states = []
    for c in cfgs:
        s = train.create_state(c, num_classes, steps)
        if c.init:
            s, _ = train.init_from(s, c.init)
        states.append({"step": s.step, "params": s.params, "opt_state": s.opt_state,
                       "batch_stats": s.batch_stats})
    writer_host = jax.process_index() == 0
    if writer_host:
        for out, c in zip(outs, cfgs):
            for name in train.RUN_FILES:
                if (out / name).exists():
                    shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
            out.mkdir(parents=True, exist_ok=True)
            (out / "architecture.txt").write_text(
                f"{c.model} {c.model_kwargs}, {num_classes} classes, "
                f"{models.param_count(states[0]['params']):,} parameters\n\n{c.why}\n\n"
                f"(trained with {k_models - 1} other models in one program: emojax.engine.train_many)\n\n"
                + models.architecture_table(models.create(c.model, num_classes, **c.model_kwargs)))
    replicated = NamedSharding(mesh, P())
    stacked = jax.device_put(jax.tree_util.tree_map(lambda *a: jnp.stack(a), *states), replicated)
    del states
    hp = {k: np.asarray([getattr(c, k) for c in cfgs], np.float32) for k in traced}
    if "lr" in hp:
        hp["lr"] = np.stack([lr_table(c, steps) for c in cfgs])
    hp = jax.device_put(hp, replicated)
    keys = jax.device_put(jnp.stack([train.run_key(c, st) for c, st in zip(cfgs, streams)]), replicated)
    images = put(mesh, train_split.images)
    labels = put(mesh, train_split.labels.astype(np.int32))
    soft_d = None if soft is None else put(mesh, np.asarray(soft, np.float32))
    val_batches, n_val = eval_batches(mesh, val.images)
    schedules = [train.make_schedule(c, steps) for c in cfgs]
    metas = [{"epoch": 0, "history": [], "best": {"epoch": 0, "val_accuracy": -1.0}, "train_time_s": 0.0}
             for _ in cfgs]
    active = [True] * k_models
    chunk, unroll = _chunking(steps, chunk, unroll)
    static = dict(cfg=dataclasses.replace(base, seed=0, patience=0, init=None, why=""), steps=steps,
                  num_classes=num_classes, mesh=mesh, unroll=unroll)

    for epoch in range(1, base.epochs + 1):
        active = [a and epoch - m["best"]["epoch"] <= c.patience for a, m, c in zip(active, metas, cfgs)]
        if not any(active):
            break
        t0 = time.time()
        rows = np.stack([r[epoch_rows(c, epoch, len(r), steps, st)]
                         for c, st, r in zip(cfgs, streams, kept)], 1)  # (steps, K, B)
        metrics = []
        for c0, part, real in chunks(rows, chunk):
            r = put(mesh, part, P(None, None, "data"))
            stacked, m = train_many_chunk(stacked, hp, images, labels, soft_d, r, keys,
                                          np.int32((epoch - 1) * steps + c0), valid=np.int32(real), **static)
            _queued(metrics, m)
        per_step = _per_step(metrics, steps)
        logits = np.asarray(eval_many_chunk(stacked["params"], stacked["batch_stats"], val_batches,
                                            cfg=static["cfg"], num_classes=num_classes, mesh=mesh))[:, :n_val]
        model_steps = np.asarray(jax.device_get(stacked["step"]))
        elapsed = time.time() - t0
        for k in range(k_models):
            if not active[k]:
                continue
            v = split_metrics(logits[k], val)
            meta = metas[k]
            row = {"epoch": epoch, "train_loss": float(np.mean(per_step["loss"][:, k])),
                   "train_accuracy": float(np.mean(per_step["accuracy"][:, k])),
                   "val_loss": v["loss"], "val_accuracy": v["accuracy"],
                   "lr": float(schedules[k](int(model_steps[k])))}
            meta["history"].append(row)
            meta["epoch"] = epoch
            meta["train_time_s"] += elapsed
            folders = [train.snapshot_folder(outs[k], cfgs[k], epoch)]
            if v["accuracy"] > meta["best"]["val_accuracy"]:
                meta["best"] = {"epoch": epoch, "val_accuracy": v["accuracy"]}
                folders.append(outs[k])
            if writer_host and any(folders):
                variables = {name: jax.tree_util.tree_map(lambda a: a[k], stacked[name])
                             for name in ("params", "batch_stats")}
                for folder in filter(None, folders):
                    train.save_epoch(folder, cfgs[k], ds, variables, epoch)
        accs = " ".join(f"{m['history'][-1]['val_accuracy']:.3f}" if a else "-" for m, a in zip(metas, active))
        log.info(f"epoch {epoch}: {sum(active)}/{k_models} models, val acc {accs} | {elapsed:.1f}s")
    if not writer_host:
        return [{"val_accuracy": m["best"]["val_accuracy"], "best_epoch": m["best"]["epoch"]} for m in metas]
    results = []
    for out, c, meta in zip(outs, cfgs, metas):
        res = train.finish(out, c, ds, meta, command)
        res["models_in_program"] = k_models  # train_time_s is the whole program's
        from emojax.io import atomic_path
        with atomic_path(out / "metrics.json") as tmp:
            tmp.write_text(json.dumps(res, indent=2))
        results.append(res)
    return results

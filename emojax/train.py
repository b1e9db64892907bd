"""Training: a ``TrainState``, pure jitted step functions, and the epoch loop.

The step is written for data parallelism with ``jax.sharding``: the batch is sharded over
a ``data`` mesh axis spanning all local devices and the state is replicated, so the same
code runs on one CPU, one GPU or eight (XLA inserts the cross-device reductions, batch
norm statistics included). The input pipeline (``emojax.augment``: random affine, erasing,
camera effects, mixing) runs inside the jitted step, on the device, fused with the forward
pass; the experiment is one ``emojax.config.Config``.

Every epoch writes an orbax checkpoint of the whole training state plus the history, so a
killed run restarted with ``resume=True`` ends exactly where an uninterrupted one would:
the shuffling order and every random key are derived from (seed, stream, epoch, step),
where a run started from a saved model has a stream of its own (``stream_of``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import shutil
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from emojax import data as data_lib
from emojax import models
from emojax.augment import Mix, inputs, mixed
from emojax.config import Config
from emojax.io import EmojaxError, cache_dir, check_out_dir, signals_deferred

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- state


class TrainState(train_state.TrainState):
    batch_stats: Any = None
    ema: Any = None  # {"params", "batch_stats"} averaged over steps when Config.ema > 0


def averaged(state: TrainState) -> TrainState:
    """The state to evaluate and save: its moving average of the weights where it keeps one
    (the average of the last ~1/(1-decay) steps, smoother than any single step's weights)."""
    if state.ema is None:
        return state
    return state.replace(params=state.ema["params"], batch_stats=state.ema["batch_stats"])


def make_schedule(cfg: Config, steps_per_epoch: int) -> optax.Schedule:
    total = max(cfg.epochs * steps_per_epoch, 2)
    warmup = max(min(int(cfg.warmup_epochs * steps_per_epoch), total // 2), 1)
    if cfg.schedule == "cosine":
        return optax.warmup_cosine_decay_schedule(cfg.lr / 10, cfg.lr, warmup, total, cfg.lr / 100)
    if cfg.schedule == "onecycle":
        return optax.cosine_onecycle_schedule(total, cfg.lr)
    if cfg.schedule == "constant":
        return optax.constant_schedule(cfg.lr)
    raise EmojaxError(f"unknown schedule {cfg.schedule!r}")


def make_optimizer(cfg: Config, steps_per_epoch: int) -> optax.GradientTransformation:
    lr = make_schedule(cfg, steps_per_epoch)
    if cfg.optimizer == "sgd":
        # Weight decay on kernels only, not on batch-norm scales/biases.
        decay_mask = lambda p: jax.tree_util.tree_map(lambda x: x.ndim > 1, p)
        return optax.chain(optax.add_decayed_weights(cfg.weight_decay, decay_mask),
                           optax.sgd(lr, momentum=0.9, nesterov=True))
    if cfg.optimizer == "adamw":
        return optax.adamw(lr, weight_decay=cfg.weight_decay)
    raise EmojaxError(f"unknown optimizer {cfg.optimizer!r}")


def create_state(cfg: Config, num_classes: int, steps_per_epoch: int) -> TrainState:
    model = models.create(cfg.model, num_classes, **cfg.model_kwargs)
    tx = make_optimizer(cfg, steps_per_epoch)

    @jax.jit  # one compiled program instead of many small eager ones
    def create():
        variables = model.init(jax.random.PRNGKey(cfg.seed), jnp.zeros((1, 48, 48, 1)))
        return TrainState.create(apply_fn=model.apply, params=variables["params"],
                                 batch_stats=variables["batch_stats"], tx=tx)

    state = create()
    return _start_average(state) if cfg.ema else state


def _start_average(state: TrainState) -> TrainState:
    """The moving average starts at the current weights, in buffers of its own (the step
    donates its input state, and one buffer cannot be donated twice)."""
    copy = lambda t: jax.tree_util.tree_map(lambda a: jnp.array(a, copy=True), t)
    return state.replace(ema={"params": copy(state.params), "batch_stats": copy(state.batch_stats)})


def init_from(state: TrainState, folder: str | Path) -> tuple[TrainState, list[str]]:
    """Copy a saved model's weights into ``state`` wherever names and shapes match (transfer
    learning: FER2013 features for FER+, a longer schedule from a shorter run). Returns the
    state and the names of the layers left freshly initialised (say, an 8-class head). A
    frozen dlib-ResNet model (``results/pretrained``) starts the fine-tunable ``dlib_resnet``."""
    from emojax import pretrained

    if pretrained.is_pretrained_folder(folder):
        saved = pretrained.initial_variables(folder)
    else:
        _, saved, _ = models.load(folder)
    fresh = []

    def merge(path, new):
        old = saved
        for k in path:
            old = old.get(k.key) if isinstance(old, dict) else None
        if old is None or np.shape(old) != new.shape:
            fresh.append("/".join(k.key for k in path))
            return new
        return jnp.asarray(old, new.dtype)

    both = {"params": state.params, "batch_stats": state.batch_stats}
    both = jax.tree_util.tree_map_with_path(merge, both)
    state = state.replace(params=both["params"], batch_stats=both["batch_stats"],
                          opt_state=state.tx.init(both["params"]))
    if state.ema is not None:
        state = _start_average(state)
    return state, sorted({f.rsplit("/", 1)[0] for f in fresh})


def stream_of(cfg: Config) -> int:
    """The random stream a new run draws its batches and augmentation from, beside its seed:
    0 from scratch, and from a saved model a number taken from the hash of its files. A run on the
    stream its parent trained on replays the parent's exact augmented batches (same images,
    same warps and noise, same dropout masks) epoch by epoch, and a network remembers those
    (``experiments/replayed_batches.py``: the second robust fine-tune's loss is 0.81 on its own
    epoch-3 batches, 1.09 on fresh ones), so its ``train_loss`` measured the parent's memory
    and part of its steps were spent on what the parent had already fitted."""
    return int(models.fingerprint(cfg.init)[:8], 16) & 0x7FFFFFFF if cfg.init else 0


def sources_of(cfg: Config) -> dict[str, str]:
    """The saved models a run starts from and learns from, each with the hash of its files as
    the run first read it: a config names them by path (``results/model``), and the model at a
    path changes when a new one ships, so metrics.json records which one the run really used."""
    return {f: models.fingerprint(f) for f in dict.fromkeys(([cfg.init] if cfg.init else []) + list(cfg.teacher))}


def run_key(cfg: Config, stream: int) -> jax.Array:
    """The key every step's key is folded from (step ``n``: ``fold_in(run_key, n)``)."""
    key = jax.random.PRNGKey(cfg.seed)
    return jax.random.fold_in(key, stream) if stream else key


def epoch_order(cfg: Config, stream: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of ``n`` training rows in ``epoch``: a function of (seed, stream,
    epoch) only, so a resumed run sees what an uninterrupted one would."""
    return np.random.default_rng([cfg.seed, epoch, stream] if stream else [cfg.seed, epoch]).permutation(n)


# --------------------------------------------------------------------------- steps


def _targets(key: jax.Array, labels: jax.Array, soft: jax.Array | None, num_classes: int,
             cfg: Config) -> jax.Array:
    """Per-example target distributions for the loss, by label mode."""
    if soft is not None and (cfg.ferplus_soft or cfg.distill):
        w = cfg.distill or cfg.ferplus_soft
        t = (1 - w) * jax.nn.one_hot(labels, num_classes) + w * soft
    elif soft is not None and cfg.ferplus_mode == "crossentropy":
        t = soft
    elif soft is not None and cfg.ferplus_mode == "pld":
        # Probabilistic label drawing: a fresh label from the vote distribution each time.
        t = jax.nn.one_hot(jax.random.categorical(key, jnp.log(soft + 1e-12)), num_classes)
    else:
        t = jax.nn.one_hot(labels, num_classes)
    return optax.smooth_labels(t, cfg.label_smoothing) if cfg.label_smoothing else t


def _loss(key: jax.Array, logits: jax.Array, labels: jax.Array, soft: jax.Array | None,
          cfg: Config, mix: Mix | None = None) -> jax.Array:
    if soft is not None and cfg.ferplus_mode == "multilabel":
        # Multi-label learning: every emotion with at least 30% of the votes (and the
        # majority) is an acceptable answer; only the most likely acceptable one is rewarded.
        ok = (soft >= 0.3) | jax.nn.one_hot(labels, logits.shape[-1], dtype=bool)
        return -jnp.where(ok, jax.nn.log_softmax(logits), -jnp.inf).max(-1).mean()
    t = mixed(_targets(key, labels, soft, logits.shape[-1], cfg), mix)
    return optax.softmax_cross_entropy(logits, t).mean()


def jensen_shannon(logits_a: jax.Array, logits_b: jax.Array) -> jax.Array:
    """Mean Jensen-Shannon divergence between two batches of predictions (nats): zero when the
    network says the same of a face whatever the camera did to it (Hendrycks et al. 2020)."""
    p, q = jax.nn.softmax(logits_a), jax.nn.softmax(logits_b)
    log_m = jnp.log(jnp.clip((p + q) / 2, 1e-7, 1.0))
    kl = lambda r, log_r: (r * (log_r - log_m)).sum(-1)
    return (0.5 * (kl(p, jax.nn.log_softmax(logits_a)) + kl(q, jax.nn.log_softmax(logits_b)))).mean()


def precision(cfg: Config):
    """The context a training step is traced in: the config's convolution precision, or (None)
    whatever the process set (``jax.config.update("jax_default_matmul_precision", ...)``)."""
    return jax.default_matmul_precision(cfg.precision) if cfg.precision else contextlib.nullcontext()


@partial(jax.jit, static_argnames=("cfg",), donate_argnums=(0,))
def train_step(state: TrainState, images: jax.Array, labels: jax.Array, soft: jax.Array | None,
               key: jax.Array, cfg: Config) -> tuple[TrainState, dict]:
    """One SGD step on a uint8 batch; returns the new state and the batch's loss/accuracy."""
    with precision(cfg):
        return _train_step(state, images, labels, soft, key, cfg)


def _train_step(state: TrainState, images: jax.Array, labels: jax.Array, soft: jax.Array | None,
                key: jax.Array, cfg: Config) -> tuple[TrainState, dict]:
    k_aug, k_drop, k_lab = jax.random.split(key, 3)
    x, mix = inputs(k_aug, images, cfg, labels=labels)
    if cfg.consistency:
        # The same faces, same warp and mixing, without the camera effects: the network sees
        # both in one batch and is asked to say the same of each pair.
        x = jnp.concatenate([inputs(k_aug, images, cfg, camera=False, labels=labels)[0], x])

    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x,
                                         train=True, rngs={"dropout": k_drop},
                                         mutable=["batch_stats"])
        if not cfg.consistency:
            return _loss(k_lab, logits, labels, soft, cfg, mix), (logits, updates)
        plain, camera = jnp.split(logits, 2)
        loss = (_loss(k_lab, plain, labels, soft, cfg, mix) + _loss(k_lab, camera, labels, soft, cfg, mix)) / 2
        return loss + cfg.consistency * jensen_shannon(plain, camera), (camera, updates)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, (logits, updates)), grads = grad_fn(state.params)
    if cfg.sam:
        # Sharpness-aware minimisation (Foret et al. 2021): the gradient at the worst point of
        # a ball of radius ``sam`` around the weights, so the step seeks a flat minimum. The
        # batch-norm statistics and the reported loss are those of the weights themselves.
        scale = cfg.sam / (optax.global_norm(grads) + 1e-12)
        worst = jax.tree_util.tree_map(lambda p, g: p + scale * g, state.params, grads)
        grads = grad_fn(worst)[1]
    state = state.apply_gradients(grads=grads, batch_stats=updates["batch_stats"])
    if cfg.ema:
        new = {"params": state.params, "batch_stats": state.batch_stats}
        state = state.replace(ema=optax.incremental_update(new, state.ema, 1 - cfg.ema))
    return state, {"loss": loss, "accuracy": (logits.argmax(-1) == labels).mean()}


@jax.jit
def eval_step(state: TrainState, images: jax.Array) -> jax.Array:
    """Logits in inference mode (running batch-norm statistics, no dropout)."""
    x = images.astype(jnp.float32)[..., None] / 255.0
    return state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, x)


# --------------------------------------------------------------------------- sharding


def data_mesh() -> Mesh:
    """A 1-D mesh named ``data`` over all local devices (multi-host: call
    ``jax.distributed.initialize()`` first and it spans every host's devices)."""
    return Mesh(np.array(jax.devices()), ("data",))


def shard_batch(mesh: Mesh, *arrays):
    """Global batch arrays, sharded over ``data``. Each host passes the whole global batch
    (every host sees the same data) and contributes the rows its devices hold."""
    sharding = NamedSharding(mesh, P("data"))
    mine = lambda a: np.array_split(a, jax.process_count())[jax.process_index()]
    return [None if a is None else jax.make_array_from_process_local_data(sharding, mine(a), a.shape)
            for a in arrays]


def predict_logits(state: TrainState, images: np.ndarray, mesh: Mesh, batch_size: int = 512) -> np.ndarray:
    """Logits for uint8 images (N, 48, 48), batched and padded to a multiple of the mesh."""
    n_dev = mesh.devices.size
    batch_size = max(n_dev, batch_size // n_dev * n_dev)
    out = []
    for i in range(0, len(images), batch_size):
        chunk = images[i:i + batch_size]
        pad = (-len(chunk)) % n_dev
        chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)]) if pad else chunk
        (x,) = shard_batch(mesh, chunk)
        logits = eval_step(state, x)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils
            logits = multihost_utils.process_allgather(logits, tiled=True)
        out.append(np.asarray(logits)[:len(chunk) - pad])
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def evaluate_split(state: TrainState, split: data_lib.Split, mesh: Mesh) -> dict:
    logits = predict_logits(state, split.images, mesh)
    t = split.targets if split.targets is not None else np.eye(logits.shape[1])[split.labels]
    log_p = logits - logits.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    loss = float(-(t * log_p).sum(1).mean())
    return {"loss": loss, "accuracy": float((logits.argmax(1) == split.labels).mean())}


# --------------------------------------------------------------------------- loop


def _checkpoint_manager(out: Path):
    import orbax.checkpoint as ocp

    return ocp.CheckpointManager(
        (out / "ckpt").absolute(),
        options=ocp.CheckpointManagerOptions(max_to_keep=1, create=True),
        item_names=("state", "meta"))


def export_checkpoint(run: str | Path, out: str | Path, raw: bool = False) -> int:
    """Save the weights of ``run``'s last checkpoint (their moving average, where the run
    keeps one, unless ``raw``) as a model in ``out``; returns its epoch. A run saves its best
    epoch on PublicTest only, and a later one may generalize better: this makes it a model
    that ``evaluate --photos`` and the tables can measure, while the run goes on."""
    import orbax.checkpoint as ocp

    run = Path(run)
    meta = models.read_meta(run)
    if not (run / "ckpt").is_dir():
        raise EmojaxError(f"{run} has no checkpoint (ckpt/)")
    mngr = _checkpoint_manager(run)
    step = mngr.latest_step()
    if step is None:
        raise EmojaxError(f"{run}/ckpt holds no finished checkpoint")
    restored = mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(),
                                                          meta=ocp.args.JsonRestore()))
    mngr.close()
    state = restored["state"]
    weights = state if raw else state.get("ema") or state
    epoch = int(restored["meta"]["epoch"])
    models.save(out, meta["model"], meta["kwargs"], meta["classes"],
                {"params": weights["params"], "batch_stats": weights["batch_stats"]},
                extra={"epoch": epoch, "exported_from": str(run), "weights": "raw" if raw else "average"})
    return epoch


def subtle_faces(split: data_lib.Split, classes) -> np.ndarray:
    """The faces FER2013 labels with an emotion that most of FER+'s ten taggers call neutral:
    weak expressions (4,696 of Training's 23,741 emotion labels). FER2013's labels come from the
    search words its photos were found with, the emotion meant, as a posed set's labels are;
    the shipped model reads 28% of PublicTest's subtle faces as neutral (3% of its other
    emotional ones), as it reads JAFFE's posed anger. Needs ``split.targets`` (FER+'s votes).
    Repeated in a fine-tune, they moved JAFFE's neutral photos, not its anger (``runs.md``)."""
    neutral = list(classes).index("neutral")
    return (split.labels != neutral) & (split.targets.argmax(1) == neutral)


def with_posed(cfg: Config, split: data_lib.Split, classes, progress: bool = True) -> data_lib.Split:
    """``split`` with ``geometry.posed`` faces appended (made once per run from the seed, so a
    resumed run trains on the same ones); their soft targets, where the split has some, one-hot."""
    from emojax import geometry

    unknown = set(cfg.posed) - set(classes)
    if unknown or "neutral" not in classes or "neutral" in cfg.posed:
        raise EmojaxError(f"posed needs classes of the data other than neutral: {sorted(unknown) or ['neutral']}")
    if cfg.teacher:
        raise EmojaxError("posed faces with teachers: the teachers would name them neutral; use one or the other")
    if not 0 < cfg.posed_share <= 1:
        raise EmojaxError(f"posed_share {cfg.posed_share} is not a share in (0, 1]")
    images, labels = geometry.posed(split.images, split.labels, classes, cfg.posed, cfg.posed_share,
                                    cfg.posed_strength, seed=cfg.seed, progress=progress)
    targets = None if split.targets is None else np.concatenate(
        [split.targets, np.eye(split.targets.shape[1], dtype=split.targets.dtype)[labels]])
    rows = None if split.rows is None else np.concatenate([split.rows, np.full(len(labels), -1, split.rows.dtype)])
    return data_lib.Split(np.concatenate([split.images, images]), np.concatenate([split.labels, labels]), targets, rows)


def in_fold(holdout: tuple | None, rows: np.ndarray) -> np.ndarray:
    """Whether each face, given its Training row, is in the fold that ``holdout=(k, K)`` holds
    out: row mod K == k; none without a holdout. Folds by row, not by a shuffle, so a fold is
    the same faces whatever ``subset`` a run takes."""
    if not holdout:
        return np.zeros(len(rows), bool)
    if (len(holdout) != 2 or not all(isinstance(v, (int, np.integer)) for v in holdout)
            or not 0 <= holdout[0] < holdout[1] or holdout[1] < 2):
        raise EmojaxError(f"holdout {tuple(holdout)} is not (k, K) with K >= 2 and 0 <= k < K")
    return rows % holdout[1] == holdout[0]


def held_in(holdout: tuple, rows: np.ndarray) -> np.ndarray:
    """The positions of the faces a run trains on: all of them, or those outside its fold."""
    return np.flatnonzero(~in_fold(holdout, rows))


def training_data(cfg: Config, ds: data_lib.Dataset, progress: bool = True):
    """What every training path needs, checked: ``(train split, validation split, mesh,
    steps per epoch, soft targets or None)``."""
    train_split = data_lib.require(ds.train, "training")
    train_split = dataclasses.replace(train_split, rows=np.arange(len(train_split)))
    if cfg.subset:
        train_split = train_split.subset(slice(0, cfg.subset))
    if cfg.holdout:
        train_split = train_split.subset(held_in(cfg.holdout, train_split.rows))
    if cfg.subtle_repeat != 1:
        if cfg.subtle_repeat < 1 or train_split.targets is None or cfg.labels != "fer2013":
            raise EmojaxError("subtle_repeat (at least 1) needs FER2013 loaded with FER+ vote distributions")
        subtle = np.flatnonzero(subtle_faces(train_split, ds.classes))
        train_split = train_split.subset(np.concatenate(
            [np.arange(len(train_split)), np.tile(subtle, cfg.subtle_repeat - 1)]))
    if cfg.posed:
        train_split = with_posed(cfg, train_split, ds.classes, progress)
    val = data_lib.require(ds.val, "validation (PublicTest)")
    mesh = data_mesh()
    n_dev = mesh.devices.size
    if cfg.batch_size % n_dev:
        raise EmojaxError(f"batch size {cfg.batch_size} is not a multiple of the {n_dev} devices")
    if cfg.consistency and not cfg.photometric:
        raise EmojaxError("consistency compares each face with and without its camera effects: set photometric too")
    if cfg.mixup and cfg.cutmix_face:
        raise EmojaxError("mixup and cutmix_face both mix targets: use one at a time")
    if (cfg.mixup or cfg.cutmix_face) and cfg.labels == "ferplus" and cfg.ferplus_mode == "multilabel":
        raise EmojaxError("mixup and cutmix need a target distribution to mix: not with --ferplus-mode multilabel")
    steps = len(train_split) // cfg.batch_size
    if steps == 0:
        raise EmojaxError(f"{len(train_split)} training images are fewer than one batch ({cfg.batch_size})")
    soft = (train_split.targets if (cfg.labels == "ferplus" and cfg.ferplus_mode != "majority")
            or cfg.ferplus_soft else None)
    if soft is None and cfg.ferplus_soft:
        raise EmojaxError("ferplus_soft needs the data loaded with FER+ vote distributions")
    if not 0 <= cfg.ema < 1:
        raise EmojaxError(f"ema {cfg.ema} is not a decay in [0, 1)")
    if bool(cfg.teacher) != bool(cfg.distill) or (cfg.teacher and cfg.ferplus_soft):
        raise EmojaxError("distillation needs both teacher and distill, and no ferplus_soft beside them")
    if cfg.teacher:
        soft = teacher_probabilities(cfg.teacher, train_split, ds.classes)
    return train_split, val, mesh, steps, soft


def teacher_probabilities(folders, split: data_lib.Split, classes) -> np.ndarray:
    """The teachers' averaged probabilities on the clean Training faces, each at its chosen
    test-time views: deterministic, so a resumed run gets the same targets. They are cached
    (``$XDG_CACHE_HOME/emojax/teachers``, keyed by the teachers' files and the images): ten
    views of three VGGs over Training take about 20 CPU minutes, every resume.

    Cross-fitted teachers (each trained with a ``holdout`` fold, recorded in its model.json)
    label only the faces they never trained on, so a face's target is not the teachers' memory
    of its own label: each face gets the mean of the teachers that held out its fold (its row in
    ``split.rows``), and every face needs one."""
    from emojax.io import atomic_path
    from emojax.pipeline import CNNClassifier

    folds = [tuple(models.read_meta(f).get("holdout") or ()) for f in folders]
    if any(folds) and not all(folds):
        raise EmojaxError("cross-fitted teachers (trained without a fold) and teachers that trained on every "
                          "face do not mix: the second kind would have seen the faces the first kind label")
    if any(folds) and (split.rows is None or (split.rows < 0).any()):
        raise EmojaxError("cross-fitted teachers need each face's Training row, and made faces have none")
    h = hashlib.sha1(split.images.tobytes())
    if any(folds):
        h.update(split.rows.tobytes())
    for f in folders:
        h.update(models.fingerprint(f).encode())
    cache = cache_dir() / "teachers" / f"{h.hexdigest()[:16]}.npy"
    if cache.exists():
        try:
            probs = np.load(cache, allow_pickle=False)
            if probs.shape == (len(split), len(classes)):
                return probs
        except (OSError, ValueError):
            pass  # stale or corrupt: compute again
    members = []
    for f in folders:
        clf = CNNClassifier(f)
        clf.views = clf.meta.get("views", 1)
        if clf.classes != tuple(classes):
            raise EmojaxError(f"teacher {f} has classes {list(clf.classes)}, the data {list(classes)}")
        members.append(clf)
    log.info(f"teachers: {len(members)} models, {sum(m.views for m in members)} views in all, over "
             f"{len(split):,} Training faces" + (", each model over the folds it held out" if any(folds) else "")
             + f" (minutes on a CPU; kept in {cache.parent} for --resume)")
    # Each teacher labels the faces it held out, or all of them; a face gets the mean of its teachers.
    probs, counts = np.zeros((len(split), len(classes)), np.float32), np.zeros(len(split), np.int32)
    for clf, fold in zip(members, folds):
        mine = in_fold(fold, split.rows) if fold else np.ones(len(split), bool)
        if mine.any():
            probs[mine] += clf.predict_proba(split.images[mine])
            counts[mine] += 1
    if not counts.all():
        raise EmojaxError(f"{int((counts == 0).sum()):,} Training faces have no teacher that held them out: "
                          f"the teachers hold out folds {sorted(folds)}; give one teacher per fold")
    probs /= counts[:, None]
    try:
        with atomic_path(cache) as tmp:
            np.save(tmp, probs)
    except OSError:
        pass  # caching is an optimisation only
    return probs


# What a run writes into its folder; a folder holding any of them holds a run.
RUN_FILES = ("ckpt", "weights", "tb", "model.json", "metrics.json", "learning_curves.png", "architecture.txt",
             "snapshots")


def save_epoch(folder: Path, cfg: Config, ds: data_lib.Dataset, variables: dict, epoch: int) -> None:
    """One epoch's weights (``params`` and ``batch_stats``) as a model folder: the run's best
    epoch in the run folder itself, or a snapshot (``snapshot_folder``)."""
    variables = jax.device_get({k: variables[k] for k in ("params", "batch_stats")})
    models.save(folder, cfg.model, dict(cfg.model_kwargs), ds.classes, variables,
                extra={"epoch": epoch, "dataset": ds.source, "labels": cfg.labels,
                       **({"holdout": list(cfg.holdout)} if cfg.holdout else {})})


def snapshot_folder(out: Path, cfg: Config, epoch: int) -> Path | None:
    """Where a run keeps ``epoch``'s weights when it is one of its last ``cfg.snapshots``
    epochs, else None. A run otherwise keeps only its best epoch, and the average of several
    epochs' weights along the schedule (SWA, Izmailov et al. 2018) needs each of them."""
    return out / "snapshots" / f"{epoch:03d}" if epoch > cfg.epochs - cfg.snapshots else None


def recalibrate_batch_norm(model, variables: dict, images: np.ndarray, batch_size: int = 256,
                           seed: int = 0) -> dict:
    """``variables`` with each batch-norm layer's running statistics replaced by the mean,
    over ``images`` (uint8 faces, in shuffled batches of ``batch_size``, in training mode as
    the layers saw them), of its batch moments. Weights averaged over several epochs compute
    features that no epoch's running statistics describe (Izmailov et al. 2018)."""
    if not variables.get("batch_stats"):
        return variables
    stats = variables["batch_stats"]
    zeros = jax.tree_util.tree_map(jnp.zeros_like, stats)
    ones = jax.tree_util.tree_map(jnp.ones_like, stats)

    @jax.jit
    def updated(params, start, x, key):
        x = x.astype(jnp.float32)[..., None] / 255.0
        _, new = model.apply({"params": params, "batch_stats": start}, x, train=True,
                             mutable=["batch_stats"], rngs={"dropout": key})
        return new["batch_stats"]

    # A layer's update is momentum * start + (1 - momentum) * moment: from zeros it is
    # (1 - momentum) * moment, and the momentum is what a start at ones adds.
    order = np.random.default_rng(seed).permutation(len(images))
    n = max(len(images) // batch_size, 1)
    total = momentum = None
    for i in range(n):
        x, key = jnp.asarray(images[order[i * batch_size:(i + 1) * batch_size]]), jax.random.PRNGKey(seed + i)
        step = updated(variables["params"], zeros, x, key)
        if momentum is None:
            momentum = jax.tree_util.tree_map(jnp.subtract, updated(variables["params"], ones, x, key), step)
        total = step if total is None else jax.tree_util.tree_map(jnp.add, total, step)
    mean = jax.tree_util.tree_map(lambda t, m: np.asarray(t / n / (1 - m)), total, momentum)
    return {**variables, "batch_stats": mean}


def train(cfg: Config, ds: data_lib.Dataset, out: str | Path, resume: bool = False,
          overwrite: bool = False, command: str = "", progress: bool = True) -> dict:
    """Train with early stopping on the validation split (PublicTest) and write to ``out``:
    ``ckpt/`` (resumable state), ``model.json`` + ``weights/`` (best epoch), ``tb/``
    (tensorboard), ``metrics.json``, ``learning_curves.png``, ``architecture.txt``.

    A folder that already holds a run is never touched unless ``resume`` (continue from its
    checkpoint) or ``overwrite`` (delete that run's files first) says so."""
    import orbax.checkpoint as ocp
    from tensorboardX import SummaryWriter
    from tqdm import tqdm

    out = Path(out)
    train_split, val, mesh, steps, soft = training_data(cfg, ds, progress)
    if cfg.engine not in ("host", "device"):
        raise EmojaxError(f"unknown engine {cfg.engine!r}: host or device")

    previous = [n for n in RUN_FILES if (out / n).exists()]
    check_out_dir(out)
    has_ckpt = (out / "ckpt").is_dir() and any((out / "ckpt").iterdir())
    if previous and not overwrite and not (resume and has_ckpt):
        hint = "it has no checkpoint to resume; " if resume else "pass --resume to continue it, or "
        raise EmojaxError(f"{out} already holds a run ({', '.join(previous)}): {hint}"
                          "--overwrite to replace it")
    writer_host = jax.process_index() == 0  # multi-host: one process writes the files

    state = create_state(cfg, len(ds.classes), steps)
    state = jax.device_put(state, NamedSharding(mesh, P()))
    meta = {"epoch": 0, "history": [], "best": {"epoch": 0, "val_accuracy": -1.0}, "train_time_s": 0.0,
            "stream": stream_of(cfg), "sources": sources_of(cfg)}  # before an --overwrite may clear the init's folder
    if resume and has_ckpt:
        mngr = _checkpoint_manager(out)
        restored = mngr.restore(mngr.latest_step(), args=ocp.args.Composite(
            state=ocp.args.StandardRestore(state), meta=ocp.args.JsonRestore()))
        state, meta = restored["state"], restored["meta"]
        log.info(f"resuming after epoch {meta['epoch']} from {out / 'ckpt'}")
    else:
        if cfg.init:  # read before clearing: the run may continue the model in its own folder
            state, fresh = init_from(state, cfg.init)
            state = jax.device_put(state, NamedSharding(mesh, P()))
            log.info(f"initialised from {cfg.init}" + (f"; fresh: {', '.join(fresh)}" if fresh else ""))
        if previous and writer_host:  # --overwrite: a fresh run never mixes with an old one
            for name in previous:
                shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()
        mngr = _checkpoint_manager(out)
    writer = None
    if writer_host:
        out.mkdir(parents=True, exist_ok=True)
        (out / "architecture.txt").write_text(
            f"{cfg.model} {cfg.model_kwargs}, {len(ds.classes)} classes, "
            f"{models.param_count(state.params):,} parameters\n\n{cfg.why}\n\n"
            + models.architecture_table(models.create(cfg.model, len(ds.classes), **cfg.model_kwargs)))
        writer = SummaryWriter(str(out / "tb"), purge_step=meta["epoch"] + 1)
    stream = meta.get("stream", 0)  # runs checkpointed before streams: 0, as they were drawn
    key = run_key(cfg, stream)
    schedule = make_schedule(cfg, steps)
    runner = None
    if cfg.engine == "device":  # the same epochs, each one jitted call on device-resident data
        from emojax import engine
        runner = engine.DeviceEpochs(cfg, train_split, soft, val, mesh, steps, key, stream=stream)

    with _resumable(mngr, out, writer):
        for epoch in range(meta["epoch"] + 1, cfg.epochs + 1):
            if epoch - meta["best"]["epoch"] > cfg.patience:
                break
            t0 = time.time()
            if runner is not None:
                state, means, v = runner.epoch(state, epoch)
            else:
                perm = epoch_order(cfg, stream, epoch, len(train_split))
                step_metrics = []
                bar = tqdm(range(steps), desc=f"epoch {epoch}/{cfg.epochs}", disable=not progress,
                           leave=False, file=sys.stderr)
                for i in bar:
                    idx = np.sort(perm[i * cfg.batch_size:(i + 1) * cfg.batch_size])
                    x, y, s = shard_batch(mesh, train_split.images[idx], train_split.labels[idx],
                                          None if soft is None else soft[idx])
                    step_key = jax.random.fold_in(key, (epoch - 1) * steps + i)
                    state, m = train_step(state, x, y, s, step_key, cfg)
                    step_metrics.append(m)  # fetched later: no host-device sync inside the loop
                    if progress and i % 20 == 19:
                        bar.set_postfix({k: f"{float(v):.3f}" for k, v in jax.device_get(m).items()})
                means = {k: float(np.mean(v)) for k, v in
                         jax.tree_util.tree_map(lambda *a: np.stack(a), *jax.device_get(step_metrics)).items()}
                v = evaluate_split(averaged(state), val, mesh)
            row = {"epoch": epoch, "train_loss": means["loss"], "train_accuracy": means["accuracy"],
                   "val_loss": v["loss"], "val_accuracy": v["accuracy"],
                   "lr": float(schedule(int(state.step)))}
            meta["history"].append(row)
            meta["epoch"] = epoch
            meta["train_time_s"] += time.time() - t0
            if writer:
                for k, val_ in row.items():
                    if k != "epoch":
                        writer.add_scalar(k.replace("_", "/", 1), val_, epoch)
                writer.flush()
            folders = [snapshot_folder(out, cfg, epoch)]
            if v["accuracy"] > meta["best"]["val_accuracy"]:
                meta["best"] = {"epoch": epoch, "val_accuracy": v["accuracy"]}
                folders.append(out)
            with signals_deferred():  # a stop waits for this epoch's files: resume needs them whole
                if writer_host and any(folders):
                    kept = averaged(state)
                    for folder in filter(None, folders):
                        save_epoch(folder, cfg, ds, {"params": kept.params, "batch_stats": kept.batch_stats}, epoch)
                mngr.save(epoch, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                         meta=ocp.args.JsonSave(meta)))
                mngr.wait_until_finished()
            log.info(f"epoch {epoch}: train loss {row['train_loss']:.3f} acc {row['train_accuracy']:.3f} | "
                     f"val loss {row['val_loss']:.3f} acc {row['val_accuracy']:.3f} | {time.time() - t0:.0f}s")
    if not writer_host:
        return {"val_accuracy": meta["best"]["val_accuracy"], "best_epoch": meta["best"]["epoch"]}
    return finish(out, cfg, ds, meta, command)


@contextlib.contextmanager
def _resumable(mngr, out: Path, writer):
    """An interrupted run ends saying which epoch it can resume after; either way the
    checkpoint manager and the tensorboard writer are closed (their threads joined)."""
    try:
        yield
    except KeyboardInterrupt as e:
        step = mngr.latest_step()
        raise KeyboardInterrupt(f"stopped after epoch {step}, whose checkpoint is in {out / 'ckpt'}; --resume "
                                "continues it" if step is not None else "stopped before the first checkpoint") from e
    finally:
        if writer:
            writer.close()
        mngr.close()


def finish(out: Path, cfg: Config, ds: data_lib.Dataset, meta: dict, command: str) -> dict:
    """Evaluate the best checkpoint on the test split and write metrics and plots."""
    from emojax import evaluate
    from emojax.io import atomic_path

    model, variables, _ = models.load(out)
    results = {"command": command, "dataset": ds.source, "synthetic": ds.synthetic,
               "config": dataclasses.asdict(cfg), "best_epoch": meta["best"]["epoch"],
               "epochs_run": meta["epoch"], "stream": meta.get("stream", 0), "sources": meta.get("sources", {}),
               "val_accuracy": meta["best"]["val_accuracy"],
               "train_time_s": round(meta["train_time_s"], 1),
               "device": f"{jax.device_count()} x {jax.devices()[0].device_kind}", "history": meta["history"]}
    if ds.test.labelled:
        rep = evaluate.evaluate(model, variables, ds.test, ds.classes)
        results["test_accuracy"] = rep["accuracy"]
        results["test_per_class"] = rep["per_class"]
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    evaluate.plot_learning_curves(meta["history"], meta["best"]["epoch"], out / "learning_curves.png")
    return results

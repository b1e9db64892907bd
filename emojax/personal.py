"""Personal fine-tuning: adapt a trained CNN to one person's faces from a few dozen labelled crops.

The result is an ordinary saved model (:func:`save`), so ``predict --model`` and
``live --model`` take it like any other.

Variants (:data:`VARIANTS`), from the cheapest to the most flexible:

* ``head``: every convolution frozen, the dense head learns;
* ``last_stage``: the last convolutional stage and the head learn;
* ``all``: every layer learns, at a small learning rate;
* ``joint``: like ``all`` (or like ``head``, ``joint_base="head"``), with a batch of FER2013
  Training images mixed into every step, so the model keeps what FER2013 taught it.

Which layers are which is read from the model, not from a list of names: the layers that
hold parameters, in the order the forward pass calls them (:func:`layers`, recorded with
``flax.linen.intercept_methods``). The *head* is everything from the first ``Dense`` after
the last ``Conv`` on (for the VGG: ``Dense_0``, its ``BatchNorm_8``, and the classifier
``Dense_1``, the last Dense); the *last stage* is the trailing run of convolutions with the
same output shape as the last one, and everything after them (VGG: ``Conv_6``,
``BatchNorm_6``, ``Conv_7``, ``BatchNorm_7`` and the head). :func:`trainable_layers` gives
the choice for a model.

Freezing: the loss is differentiated with respect to the trainable layers only (the frozen
ones enter as constants), and optax only sees those, so the frozen weights cannot move and
no gradient is computed for them (a head-only step costs one forward pass of the trunk).
Batch norm keeps its running statistics and dropout is off (``train=False``): the statistics
of a dozen photos of one face would be meaningless; a light augmentation (shift, zoom,
rotation, mirror, small erasing: ``emojax.augment.augment``) regularises instead.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from emojax.io import EmojaxError

VARIANTS = ("head", "last_stage", "all", "joint")
# Adam learning rate (cosine-decayed to a tenth) and steps per variant: set once before the
# JAFFE run (experiments/personal_jaffe.py), not tuned on its held-out repetitions. Joint
# takes fewer steps because each also carries a FER2013 batch.
DEFAULTS = {"head": {"lr": 1e-3, "steps": 150}, "last_stage": {"lr": 3e-4, "steps": 150},
            "all": {"lr": 1e-4, "steps": 150}, "joint": {"lr": 1e-4, "steps": 100}}
BATCH = 16  # personal images per step (drawn with replacement, so every set size compiles once)
FER_BATCH = 16  # FER2013 Training images per step in the joint variant


@dataclasses.dataclass
class FineTuned:
    variables: dict          # {'params', 'batch_stats'} of the personal model
    seconds: float           # wall time of the fine-tuning (includes compiling the step the first time)
    trainable: tuple[str, ...]  # the layers that learned
    losses: list[float]      # training loss per step


# --------------------------------------------------------------------------- layers


def layers(model) -> list[tuple[str, tuple[int, ...]]]:
    """The layers that hold parameters, in the order the forward pass calls them, with their
    output shapes (no batch axis). Recorded with ``flax.linen.intercept_methods`` while the
    shapes are traced (nothing is computed): a dict of captured intermediates would come back
    sorted by name, which puts ``BatchNorm_8`` before ``Conv_0``."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    from emojax import models

    variables = jax.eval_shape(lambda: models.init(model))
    order: list[tuple[str, tuple[int, ...]]] = []

    def record(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        m = context.module
        path = m.scope.path if m.scope is not None else ()
        if context.method_name == "__call__" and len(path) == 1 and path[0] in variables["params"]:
            if path[0] not in dict(order):
                order.append((path[0], tuple(out.shape[1:])))
        return out

    with nn.intercept_methods(record):
        jax.eval_shape(lambda v: model.apply(v, jnp.zeros((1, 48, 48, 1))), variables)
    return order


def trainable_layers(model, variant: str) -> tuple[str, ...]:
    """The names of the layers ``variant`` trains (see the module docstring)."""
    if variant not in VARIANTS:
        raise EmojaxError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    order = layers(model)
    names = [n for n, _ in order]
    if variant in ("all", "joint"):
        return tuple(names)
    convs = [i for i, (n, _) in enumerate(order) if n.startswith("Conv")]
    if not convs:
        raise EmojaxError("the model has no Conv layer: no head/last stage to tell apart")
    if variant == "head":  # from the first Dense after the last convolution to the end
        first = next((i for i in range(convs[-1], len(order)) if names[i].startswith("Dense")), len(order))
        return tuple(names[first:])
    shape = order[convs[-1]][1]  # last stage: the trailing convolutions of the last one's shape, onwards
    k = len(convs) - 1
    while k > 0 and order[convs[k - 1]][1] == shape:
        k -= 1
    return tuple(names[convs[k]:])


# --------------------------------------------------------------------------- training


def _augment_config():
    from emojax.config import Config

    return Config(shift=0.05, scale=0.05, rotate=8.0, erase=0.25)


@functools.lru_cache(maxsize=16)
def _step(model, trainable: tuple[str, ...], lr: float, steps: int, fer_weight: float, augment: bool):
    """The jitted training step and its optimizer, cached so that every person after the first
    reuses the compiled program."""
    import jax
    import jax.numpy as jnp
    import optax

    from emojax.augment import augment as augment_batch

    cfg = _augment_config()
    tx = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.1))

    def ce(params, batch_stats, x, y):
        logits = model.apply({"params": params, "batch_stats": batch_stats}, x)  # train=False: see docstring
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(train, frozen, batch_stats, opt_state, key, x, y, fx, fy):
        k1, k2 = jax.random.split(key)
        x = x.astype(jnp.float32)[..., None] / 255.0
        if augment:
            x = augment_batch(k1, x, cfg)

        def loss_fn(train):
            params = {**frozen, **train}
            loss = ce(params, batch_stats, x, y)
            if fx is not None:  # joint: FER2013 batches limit forgetting
                f = fx.astype(jnp.float32)[..., None] / 255.0
                f = augment_batch(k2, f, cfg) if augment else f
                loss = loss + fer_weight * ce(params, batch_stats, f, fy)
            return loss

        loss, grads = jax.value_and_grad(loss_fn)(train)
        updates, opt_state = tx.update(grads, opt_state, train)
        return optax.apply_updates(train, updates), opt_state, loss

    return tx, step


def fine_tune(model_folder: str | Path, crops: np.ndarray, labels: np.ndarray, variant: str = "head",
              steps: int | None = None, lr: float | None = None, seed: int = 0,
              fer: tuple[np.ndarray, np.ndarray] | None = None, fer_weight: float = 1.0,
              joint_base: str = "all", augment: bool = True,
              progress: Callable[[int, float], None] | None = None, loaded=None) -> FineTuned:
    """Fine-tune the model saved in ``model_folder`` on ``crops`` (N, 48, 48) uint8 with
    ``labels`` (N,) class indices of the model. ``fer`` = (images, labels) of FER2013 Training,
    needed by ``joint``. ``progress(step, loss)`` is called after every step. ``loaded`` =
    ``models.load(model_folder)`` if the caller has it already. Returns the new variables,
    the wall time, the trained layers and the losses."""
    import jax
    import jax.numpy as jnp

    from emojax import models

    if variant not in VARIANTS:
        raise EmojaxError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    if variant == "joint":
        if fer is None:
            raise EmojaxError("the joint variant needs FER2013 Training images (fer=(images, labels))")
        if joint_base not in ("head", "all"):
            raise EmojaxError(f"joint_base must be 'head' or 'all', not {joint_base!r}")
    crops, labels = np.asarray(crops, np.uint8), np.asarray(labels, np.int32)
    if crops.ndim != 3 or crops.shape[1:] != (48, 48) or len(crops) != len(labels) or not len(crops):
        raise EmojaxError(f"expected crops (N, 48, 48) with N labels, got {crops.shape} and {labels.shape}")
    start = time.perf_counter()
    model, variables, _ = loaded if loaded is not None else models.load(model_folder)
    if labels.min() < 0 or labels.max() >= model.num_classes:
        raise EmojaxError(f"labels must be class indices below {model.num_classes}")
    steps = int(steps or DEFAULTS[variant]["steps"])
    lr = float(lr or DEFAULTS[variant]["lr"])
    names = trainable_layers(model, joint_base if variant == "joint" else variant)
    tx, step = _step(model, names, lr, steps, float(fer_weight), bool(augment))
    params = dict(variables["params"])
    train = {n: params[n] for n in names}
    frozen = {n: p for n, p in params.items() if n not in names}
    batch_stats = variables["batch_stats"]
    opt_state = tx.init(train)
    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed)
    losses = []
    for i in range(steps):
        idx = rng.integers(0, len(crops), BATCH)
        fx = fy = None
        if variant == "joint":
            j = rng.integers(0, len(fer[0]), FER_BATCH)
            fx, fy = jnp.asarray(fer[0][j]), jnp.asarray(fer[1][j], jnp.int32)
        train, opt_state, loss = step(train, frozen, batch_stats, opt_state, jax.random.fold_in(key, i),
                                      jnp.asarray(crops[idx]), jnp.asarray(labels[idx]), fx, fy)
        losses.append(float(loss))
        if progress is not None:
            progress(i + 1, losses[-1])
    out = {"params": {**frozen, **jax.device_get(train)}, "batch_stats": batch_stats}
    return FineTuned(out, time.perf_counter() - start, names, losses)


def accuracy(model, variables: dict, crops: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of the model on uint8 crops (one view)."""
    from emojax.pipeline import predict_proba

    if not len(crops):
        return float("nan")
    return float((predict_proba(model, variables, np.asarray(crops, np.uint8)).argmax(1) == labels).mean())


def save(out: str | Path, model_folder: str | Path, variables: dict, extra: dict | None = None) -> None:
    """Save a personal model as an ordinary saved model: the base model's architecture,
    classes and metadata, the new weights, and ``personalized_from``."""
    from emojax import models

    meta = json.loads((Path(model_folder) / "model.json").read_text())
    keep = {k: v for k, v in meta.items() if k not in ("model", "kwargs", "classes")}
    models.save(out, meta["model"], meta["kwargs"], meta["classes"], variables,
                extra=keep | {"personalized_from": str(model_folder)} | (extra or {}))


# --------------------------------------------------------------------------- labelled faces


def _read_label_csv(path: Path, classes: tuple[str, ...]):
    """``file,emotion`` rows (header optional; an emotion is a class name, a synonym or JAFFE
    code as in ``photoset``, or a class index)."""
    from emojax import photoset

    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise EmojaxError(f"cannot read {path}: {e}") from None
    header = [c.strip().lower() for c in rows[0]] if rows else []
    if "file" in header and "emotion" in header:
        fi, ei = header.index("file"), header.index("emotion")
        pi = header.index("person") if "person" in header else None
        rows = rows[1:]
    else:
        fi, ei, pi = 0, 1, None
    photos = []
    for r in rows:
        name = r[fi].strip() if len(r) > fi else ""
        raw = r[ei].strip() if len(r) > ei else ""
        emotion = classes[int(raw)] if raw.isdigit() and int(raw) < len(classes) else photoset.emotion_name(raw)
        if emotion is None and raw.lower() in classes:
            emotion = raw.lower()
        if emotion is None or emotion not in classes:
            raise EmojaxError(f"{path}: unknown emotion {raw.lower()!r} for {name} (one of {', '.join(classes)})")
        person = r[pi].strip() if pi is not None and len(r) > pi else ""
        photos.append(photoset.Photo(path.parent / name, emotion, person))
    return photos


def read_photos(path: str | Path, classes: tuple[str, ...], labels_csv: str | Path | None = None):
    """The labelled photos of a set: ``labels_csv`` or ``PATH/label.csv`` (read here, so that
    a header is optional and FER2013 codes are accepted), else any layout of ``photoset.read``
    (a folder per emotion, JAFFE names)."""
    from emojax import photoset

    path = Path(path)
    csv_path = Path(labels_csv) if labels_csv else (path / "label.csv" if path.is_dir() else path)
    if csv_path.is_file() and csv_path.suffix.lower() == ".csv":
        return _read_label_csv(csv_path, classes)
    if labels_csv:
        raise EmojaxError(f"no label file {labels_csv} (rows: file,emotion)")
    try:
        photos = photoset.read(path)
    except EmojaxError as e:
        raise EmojaxError(f"{e}; or give {path}/label.csv (rows: file,emotion)") from None
    bad = sorted({p.emotion for p in photos} - set(classes))
    if bad:
        raise EmojaxError(f"the model has no class {bad[0]!r} (its classes: {', '.join(classes)})")
    return photos


def labelled_crops(photos, classes: tuple[str, ...], upsample: int = 1):
    """``(crops (N, 48, 48) uint8, labels (N,), kept photos, skipped messages)``: a 48x48 image
    is used as it is (a crop saved by ``live --collect``), a photo goes through the face
    pipeline (largest face, as ``photoset.crops``); unreadable files and photos without a
    face are skipped and reported."""
    from emojax import face, photoset

    crops, kept, skipped, photos_in = [], [], [], []
    for p in photos:
        try:
            image = face.load_image(p.path)
        except EmojaxError as e:
            skipped.append(str(e))
            continue
        gray = face.to_gray(image)
        if gray.shape == (48, 48):
            crops.append(gray)
            kept.append(p)
        else:
            photos_in.append(p)
    if photos_in:
        found_crops, found = photoset.crops(photos_in, upsample=upsample)
        for p, c, ok in zip(photos_in, found_crops, found):
            if ok:
                crops.append(c)
                kept.append(p)
            else:
                skipped.append(f"{Path(p.path).name}: no face found")
    if not crops:
        raise EmojaxError("no usable face in the photo set" + (f" ({skipped[0]})" if skipped else ""))
    labels = np.array([classes.index(p.emotion) for p in kept], np.int32)
    return np.stack(crops).astype(np.uint8), labels, kept, skipped


def holdout_split(labels: np.ndarray, frac: float, seed: int) -> np.ndarray:
    """A boolean mask of held-out images: ``frac`` of each class (at least one where a class
    has two or more images)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = max(1, int(round(frac * len(idx)))) if len(idx) > 1 else 0
        held[idx[:k]] = True
    return held

"""Expressions from dlib's frozen face-recognition ResNet: a small head on its features.

The backbone is dlib's ``dlib_face_recognition_resnet_model_v1`` (see :mod:`emojax.dlibnet`),
an identity network: it was trained so that the *same person* maps to the same point
whatever their expression, so expression is information it was taught to discard. A head
on its features is a cheap way to measure how much survives; it is not expected to beat a
CNN trained on expressions.

Input decision. The classifier interface takes our pipeline's aligned 48x48 grey crops
(eyes at ``face.LEFT_EYE``/``RIGHT_EYE``, FER2013's framing), and FER2013 only exists as
such crops, so the head is trained and deployed on the same thing: the 48x48 crop
upsampled to 150x150 (``cv2.INTER_CUBIC``) and replicated to three channels. This is not
dlib's own chip framing (``get_face_chip``, padding 0.25: a tighter face, eyes higher);
``experiments/train_pretrained.py`` measures what that costs on JAFFE.

Features. One pass gives two feature sets: the 128-D descriptor (dlib's output, the fc
layer) and the 256-D globally pooled activations just before it (``pooled``); the fc is a
linear map of the pooled vector, so the pooled one can only carry more. Which one the head
reads is a saved choice (``feature``).

Head. Features are standardised (training mean and std, saved), then a linear layer
(multinomial logistic regression, ``hidden=0``) or a one-hidden-layer MLP with dropout,
trained with optax AdamW on cross-entropy; the epoch is chosen on a validation split.

Saved form (``save``/``load``): a folder with ``model.json``
(``{"model": "dlib_resnet_head", "classes", "feature", "hidden", "interpolation", ...}``)
and ``head.npz`` (the standardisation and the head's weights). The backbone is not saved:
it is read from the ``face_recognition_models`` package at load time.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from emojax.io import EmojaxError, atomic_path

MODEL_KIND = "dlib_resnet_head"
FEATURES = ("descriptor", "pooled")  # 128-D fc output, 256-D pooled activations before it
FEATURE_DIMS = {"descriptor": 128, "pooled": 256}
INTERPOLATIONS = ("cubic", "linear")
CHIP = 150
_HEAD_FILE = "head.npz"
_FORMAT = 1


# ----------------------------------------------------------------------------------------
# Input: 48x48 grey crops -> 150x150 grey-as-RGB


def upsample(crops: np.ndarray, interpolation: str = "cubic", size: int = CHIP) -> np.ndarray:
    """(N, 48, 48) uint8 grey crops -> (N, size, size, 3) uint8, grey replicated to RGB."""
    import cv2

    if interpolation not in INTERPOLATIONS:
        raise EmojaxError(f"interpolation must be one of {INTERPOLATIONS}, not {interpolation!r}")
    flag = cv2.INTER_CUBIC if interpolation == "cubic" else cv2.INTER_LINEAR
    crops = np.asarray(crops, np.uint8)
    if crops.ndim == 2:
        crops = crops[None]
    out = np.empty((len(crops), size, size, 3), np.uint8)
    for i, c in enumerate(crops):
        out[i] = cv2.resize(c, (size, size), interpolation=flag)[:, :, None]
    return out


def grey_rgb(image: np.ndarray) -> np.ndarray:
    """An RGB (H, W, 3) image as grey replicated to three channels (how FER2013 looks)."""
    import cv2

    img = np.asarray(image, np.uint8)
    grey = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    return np.repeat(grey[:, :, None], 3, axis=2)


# ----------------------------------------------------------------------------------------
# The frozen backbone


class Backbone:
    """dlib's ResNet cut before its fc layer: chips -> ``{"pooled": (N,256), "descriptor": (N,128)}``.

    Batches are zero-padded to a power of two (at most ``batch``), so any face count
    compiles one of a handful of programs. Loaded once per process (:func:`backbone`).
    """

    def __init__(self, path: str | Path | None = None):
        import jax

        from emojax import dlibnet

        module, variables = dlibnet.load_face_recognition_resnet(path)
        if module.layers[-1].type != "fc" or module.layers[-2].type != "avg_pool":
            raise EmojaxError("dlib network: expected avg_pool then fc as its last layers")
        fc_name = f"{len(module.layers) - 1:03d}_fc"
        params = dict(variables["params"])
        fc = params.pop(fc_name)
        self.fc_kernel = np.asarray(fc["kernel"], np.float32)  # (256, 128)
        self.fc_bias = np.asarray(fc["bias"], np.float32) if "bias" in fc else None
        self.trunk = dlibnet.DlibResNet(module.layers[:-1], module.avg_rgb, module.input_size)
        self.variables = {"params": params}
        self._apply = jax.jit(self.trunk.apply)

    def features(self, chips: np.ndarray, batch: int = 32) -> dict[str, np.ndarray]:
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        from emojax.models import padded_batches

        pooled = [np.asarray(self._apply(self.variables, part)).reshape(len(part), -1)[:n]
                  for part, n in padded_batches(chips, batch)]
        p = np.concatenate(pooled).astype(np.float32) if pooled else np.zeros((0, 256), np.float32)
        d = p @ self.fc_kernel
        if self.fc_bias is not None:
            d = d + self.fc_bias
        return {"pooled": p, "descriptor": d.astype(np.float32)}


_BACKBONE: Backbone | None = None


def backbone() -> Backbone:
    global _BACKBONE
    if _BACKBONE is None:
        _BACKBONE = Backbone()
    return _BACKBONE


def crop_features(crops: np.ndarray, interpolation: str = "cubic", batch: int = 32, chunk: int = 512,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, np.ndarray]:
    """Both feature sets for (N, 48, 48) crops, upsampled ``chunk`` at a time (bounded memory)."""
    crops = np.asarray(crops, np.uint8)
    bb = backbone()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in FEATURES}
    for start in range(0, len(crops), chunk):
        f = bb.features(upsample(crops[start:start + chunk], interpolation), batch)
        for k in FEATURES:
            parts[k].append(f[k])
        if progress:
            progress(min(start + chunk, len(crops)), len(crops))
    return {k: (np.concatenate(v) if v else np.zeros((0, FEATURE_DIMS[k]), np.float32))
            for k, v in parts.items()}


# ----------------------------------------------------------------------------------------
# The head


def _init_head(dim: int, hidden: int, classes: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    dims = [dim, hidden, classes] if hidden else [dim, classes]
    head = {}
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        head[f"w{i}"] = (rng.standard_normal((a, b)) * math.sqrt(2.0 / a if i < len(dims) - 2 else 1.0 / a)
                         ).astype(np.float32)
        head[f"b{i}"] = np.zeros(b, np.float32)
    return head


def _logits(head: dict, x, dropout: float = 0.0, key=None):
    """The head's forward pass on standardised features (jax arrays)."""
    import jax
    import jax.numpy as jnp

    if "w1" in head:
        h = jax.nn.relu(x @ head["w0"] + head["b0"])
        if dropout and key is not None:
            keep = jax.random.bernoulli(key, 1.0 - dropout, h.shape)
            h = jnp.where(keep, h / (1.0 - dropout), 0.0)
        return h @ head["w1"] + head["b1"]
    return x @ head["w0"] + head["b0"]


def train_head(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, classes: int,
               hidden: int = 0, epochs: int = 60, lr: float = 1e-3, weight_decay: float = 1e-4,
               dropout: float = 0.0, batch: int = 256, seed: int = 0,
               progress: Callable[[dict], None] | None = None) -> tuple[dict, dict, list[dict], int]:
    """Train a head on raw features; keep the epoch with the best validation accuracy.

    Returns ``(head, norm, history, best_epoch)``: ``norm`` is ``{"mean", "std"}`` of the
    training features; ``history`` has one dict per epoch in the keys
    ``evaluate.plot_learning_curves`` reads.
    """
    import jax
    import jax.numpy as jnp
    import optax

    x = np.asarray(x, np.float32)
    mean = x.mean(0)
    std = x.std(0) + 1e-6
    xs = (x - mean) / std
    xv = (np.asarray(x_val, np.float32) - mean) / std
    y = np.asarray(y, np.int32)
    y_val = np.asarray(y_val, np.int32)
    head = jax.tree_util.tree_map(jnp.asarray, _init_head(x.shape[1], hidden, classes, seed))
    steps = max(1, math.ceil(len(xs) / batch))
    schedule = optax.cosine_decay_schedule(lr, epochs * steps)
    opt = optax.adamw(schedule, weight_decay=weight_decay)
    state = opt.init(head)

    def loss_fn(h, xb, yb, key):
        logits = _logits(h, xb, dropout, key)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean(), logits

    @jax.jit
    def step(h, s, xb, yb, key):
        (loss, logits), g = jax.value_and_grad(loss_fn, has_aux=True)(h, xb, yb, key)
        upd, s = opt.update(g, s, h)
        return optax.apply_updates(h, upd), s, loss, (logits.argmax(-1) == yb).mean()

    @jax.jit
    def score(h, xb, yb):
        logits = _logits(h, xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean(), (logits.argmax(-1) == yb).mean()

    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed)
    history: list[dict] = []
    best, best_epoch, best_acc = head, 0, -1.0
    n_full = (len(xs) // batch) * batch or len(xs)  # whole batches only: one compiled shape
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(xs))[:n_full]
        tl, ta = [], []
        for i in range(0, n_full, batch):
            idx = order[i:i + batch]
            key, sub = jax.random.split(key)
            head, state, loss, acc = step(head, state, xs[idx], y[idx], sub)
            tl.append(float(loss))
            ta.append(float(acc))
        vl, va = (float(v) for v in score(head, xv, y_val))
        rec = {"epoch": epoch, "train_loss": float(np.mean(tl)), "train_accuracy": float(np.mean(ta)),
               "val_loss": vl, "val_accuracy": va, "lr": float(schedule(epoch * steps))}
        history.append(rec)
        if progress:
            progress(rec)
        if va > best_acc:
            best, best_epoch, best_acc = head, epoch, va
    head_np = {k: np.asarray(v, np.float32) for k, v in best.items()}
    return head_np, {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}, history, best_epoch


def head_proba(head: dict, norm: dict, features: np.ndarray) -> np.ndarray:
    """Softmax probabilities of a head on raw features (numpy, float64 softmax)."""
    x = (np.asarray(features, np.float32) - norm["mean"]) / norm["std"]
    if "w1" in head:
        x = np.maximum(x @ head["w0"] + head["b0"], 0.0)
        logits = x @ head["w1"] + head["b1"]
    else:
        logits = x @ head["w0"] + head["b0"]
    logits = logits.astype(np.float64)
    logits -= logits.max(-1, keepdims=True)
    p = np.exp(logits)
    return (p / p.sum(-1, keepdims=True)).astype(np.float32)


# ----------------------------------------------------------------------------------------
# The classifier


class PretrainedClassifier:
    """Frozen dlib ResNet + trained head, with the pipeline's classifier interface.

    ``predict_proba(crops)``: uint8 (N, 48, 48) aligned crops (one crop may skip the N
    axis) -> (N, C) probabilities; each crop is upsampled to 150x150 grey-as-RGB first.
    """

    def __init__(self, head: dict, norm: dict, classes, feature: str = "pooled",
                 interpolation: str = "cubic", info: dict | None = None):
        if feature not in FEATURES:
            raise EmojaxError(f"feature must be one of {FEATURES}, not {feature!r}")
        if interpolation not in INTERPOLATIONS:
            raise EmojaxError(f"interpolation must be one of {INTERPOLATIONS}, not {interpolation!r}")
        self.head = {k: np.asarray(v, np.float32) for k, v in head.items()}
        self.norm = {k: np.asarray(v, np.float32) for k, v in norm.items()}
        self.classes = tuple(classes)
        self.feature = feature
        self.interpolation = interpolation
        self.info = dict(info or {})
        _check_head(self.head, self.norm, FEATURE_DIMS[feature], len(self.classes), "head")

    @property
    def hidden(self) -> int:
        return int(self.head["w0"].shape[1]) if "w1" in self.head else 0

    def features(self, crops: np.ndarray) -> np.ndarray:
        return crop_features(crops, self.interpolation)[self.feature]

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        crops = np.asarray(crops, np.uint8)
        single = crops.ndim == 2
        if single:
            crops = crops[None]
        if crops.ndim != 3 or crops.shape[1:] != (48, 48):
            raise EmojaxError(f"expected 48x48 crops, got shape {crops.shape}")
        if not len(crops):
            return np.zeros((0, len(self.classes)), np.float32)
        p = head_proba(self.head, self.norm, self.features(crops))
        return p[0] if single else p

    def predict(self, crops: np.ndarray) -> np.ndarray:
        return self.predict_proba(crops).argmax(-1)

    def parameters(self) -> int:
        return int(sum(v.size for v in self.head.values()))

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {f"head_{k}": v for k, v in self.head.items()}
        arrays.update({f"norm_{k}": v for k, v in self.norm.items()})
        with atomic_path(folder / _HEAD_FILE) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        meta = {"model": MODEL_KIND, "format": _FORMAT, "classes": list(self.classes),
                "feature": self.feature, "feature_dim": FEATURE_DIMS[self.feature],
                "hidden": self.hidden, "interpolation": self.interpolation, "input": "48x48 grey crop",
                "backbone": "dlib_face_recognition_resnet_model_v1.dat (face_recognition_models)",
                "weights": _HEAD_FILE, "head_parameters": self.parameters(), **self.info}
        with atomic_path(folder / "model.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "PretrainedClassifier":
        folder = Path(folder)
        meta = _read_meta(folder)
        for key in ("classes", "feature", "interpolation"):
            if key not in meta:
                raise EmojaxError(f"{folder / 'model.json'}: missing {key!r}")
        path = folder / str(meta.get("weights", _HEAD_FILE))
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise EmojaxError(f"{path}: head weights are missing") from None
        except (OSError, ValueError, EOFError) as e:
            raise EmojaxError(f"{path}: not a readable head weights file ({e})") from None
        head = {k[5:]: v for k, v in arrays.items() if k.startswith("head_")}
        norm = {k[5:]: v for k, v in arrays.items() if k.startswith("norm_")}
        info = {k: v for k, v in meta.items() if k not in _META_KEYS}
        try:
            return cls(head, norm, meta["classes"], meta["feature"], meta["interpolation"], info)
        except EmojaxError as e:
            raise EmojaxError(f"{folder}: {e}") from None


_META_KEYS = {"model", "format", "classes", "feature", "feature_dim", "hidden", "interpolation", "input",
              "backbone", "weights", "head_parameters"}


def _check_head(head: dict, norm: dict, dim: int, classes: int, where: str) -> None:
    if set(norm) != {"mean", "std"} or any(v.shape != (dim,) for v in norm.values()):
        raise EmojaxError(f"{where}: standardisation must be mean and std of length {dim}")
    layers = 2 if "w1" in head else 1
    if set(head) != {f"{p}{i}" for p in "wb" for i in range(layers)}:
        raise EmojaxError(f"{where}: unexpected head arrays {sorted(head)}")
    d = dim
    for i in range(layers):
        w, b = head[f"w{i}"], head[f"b{i}"]
        if w.ndim != 2 or w.shape[0] != d or b.shape != (w.shape[1],):
            raise EmojaxError(f"{where}: layer {i} has shape {w.shape}/{b.shape}, expected input {d}")
        d = w.shape[1]
    if d != classes:
        raise EmojaxError(f"{where}: the head has {d} outputs for {classes} classes")
    if not all(np.isfinite(v).all() for v in (*head.values(), *norm.values())):
        raise EmojaxError(f"{where}: non-finite weights")


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / "model.json"
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise EmojaxError(f"no model.json in {folder}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EmojaxError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("model") != MODEL_KIND:
        raise EmojaxError(f"{path}: not a {MODEL_KIND} model")
    if meta.get("format", _FORMAT) != _FORMAT:
        raise EmojaxError(f"{path}: unknown format {meta.get('format')!r}")
    return meta


def initial_variables(folder: str | Path) -> dict:
    """A frozen variant's folder as starting ``{"params", "batch_stats"}`` of the
    fine-tunable ``dlib_resnet`` model: dlib's trunk, the standardisation as the batch
    norm's running statistics, the trained head. Its logits equal the frozen model's (up
    to the upsampling: bicubic in the network instead of OpenCV's)."""
    clf = PretrainedClassifier.load(folder)
    if clf.feature != "pooled":
        raise EmojaxError(f"{folder}: only a head on the pooled features can be fine-tuned, not {clf.feature!r}")
    h = clf.head
    layers = [("hidden", "w0", "b0"), ("out", "w1", "b1")] if "w1" in h else [("out", "w0", "b0")]
    import jax

    # Copies: training donates its state, which must not delete the shared backbone's arrays.
    params = {"trunk": jax.tree_util.tree_map(np.array, backbone().variables["params"]),
              "norm": {"scale": np.ones(256, np.float32), "bias": np.zeros(256, np.float32)},
              **{name: {"kernel": h[w], "bias": h[b]} for name, w, b in layers}}
    var = np.maximum(clf.norm["std"] ** 2 - 1e-6, 0)  # BatchNorm adds its epsilon (1e-6) back
    return {"params": params, "batch_stats": {"norm": {"mean": clf.norm["mean"], "var": var}}}


def is_pretrained_folder(folder: str | Path) -> bool:
    """True when ``folder/model.json`` says ``"model": "dlib_resnet_head"`` (no validation
    beyond that: :meth:`PretrainedClassifier.load` reports what else is wrong)."""
    try:
        meta = json.loads((Path(folder) / "model.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("model") == MODEL_KIND


def ms_per_face(classifier: PretrainedClassifier, crops: np.ndarray, repeats: int = 1) -> dict[str, float]:
    """CPU milliseconds per face end to end (upsample, backbone, head): batched, and one face."""
    crops = np.asarray(crops, np.uint8)
    classifier.predict_proba(crops[:32])  # compile the batch shapes used below
    classifier.predict_proba(crops[:1])
    t = time.perf_counter()
    for _ in range(repeats):
        classifier.predict_proba(crops)
    batched = (time.perf_counter() - t) / (repeats * len(crops)) * 1000
    t = time.perf_counter()
    for c in crops[:8]:
        classifier.predict_proba(c[None])
    single = (time.perf_counter() - t) / min(8, len(crops)) * 1000
    return {"batched_ms": batched, "single_ms": single}

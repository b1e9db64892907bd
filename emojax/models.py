"""Flax CNNs for 48x48 grayscale faces, selected by name, and their checkpoint format.

Models take float32 images in [0, 1], shaped (N, 48, 48, 1) (NHWC, the layout XLA's CPU
and GPU convolutions prefer), and return logits. Normalisation lives inside the model so
every caller (training, prediction, attacks) feeds the same thing.

A saved model is a folder holding ``model.json`` (name, keyword arguments, class names)
and ``weights/`` (an orbax checkpoint of ``params`` and ``batch_stats``).
"""
from __future__ import annotations

import contextlib
import io
import json
import time
from functools import partial
from pathlib import Path
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
import numpy as np

from emojax import onednn
from emojax.io import EmojaxError

# nn.Conv with oneDNN's CPU convolutions where they can run (emojax.onednn; XLA's elsewhere).
Conv = partial(nn.Conv, conv_general_dilated=onednn.conv_general_dilated)

# Mean and spread of FER2013 Training pixels (0.508, 0.255 on a 0..1 scale), rounded.
PIXEL_MEAN, PIXEL_STD = 0.5, 0.25
# The median over FER2013 Training crops of each crop's own mean and spread (129.5 and 53.6
# grey levels, experiments/moment_matching.py): what `standardize` rescales every crop to.
CROP_MEAN, CROP_STD = 129.5 / 255, 53.6 / 255


def standardize_crops(x, mean: float = CROP_MEAN, std: float = CROP_STD):
    """Each image (N, H, W, C in [0, 1]; jax or numpy) rescaled to a mean and spread of grey
    levels, by default FER2013's typical crop's, so that a darker, brighter or flatter photo
    reaches the network as a typical crop."""
    own_mean = x.mean((1, 2, 3), keepdims=True)
    own_std = x.std((1, 2, 3), keepdims=True)
    return (x - own_mean) / (own_std + 1 / 255) * std + mean


def hide_rows(x, start: int, stop: int):
    """Rows ``start:stop`` of each image (N, H, W, C) replaced by the mean grey of its other
    rows, so that nothing of them reaches the network: a part expert (e.g. brows and eyes, no
    mouth) that is the same in training and in every front end because the network hides them."""
    rows = jnp.arange(x.shape[1])[None, :, None, None]
    hidden = (rows >= start) & (rows < stop)
    visible = x.shape[2] * x.shape[3] * (~hidden).sum()
    mean = jnp.where(hidden, 0, x).sum((1, 2, 3), keepdims=True) / visible
    return jnp.where(hidden, mean, x)


def max_pool2(x: jax.Array) -> jax.Array:
    """2x2 max-pool, stride 2, as a reshape and a max: same values as ``nn.max_pool``, but
    its gradient is an elementwise mask instead of XLA's select-and-scatter, which is slow
    on CPU (the whole training step runs 20% faster at width 32)."""
    b, h, w, c = x.shape
    return x[:, :h // 2 * 2, :w // 2 * 2].reshape(b, h // 2, 2, w // 2, 2, c).max((2, 4))


def _edge_shift(a: jax.Array, axis: int) -> jax.Array:
    """``a`` moved one pixel back along ``axis``, its last row repeated (edge padding)."""
    n = a.shape[axis]
    return jnp.concatenate([lax.slice_in_dim(a, 1, n, axis=axis), lax.slice_in_dim(a, n - 1, n, axis=axis)], axis)


def _blur_half(m: jax.Array, axis: int) -> jax.Array:
    """A [1, 2, 1] / 4 blur along ``axis`` kept at every second pixel (edge padded): output i
    is (m[2i - 1] + 2 m[2i] + m[2i + 1]) / 4, read from the pairs (2i, 2i + 1) of a reshape."""
    n = m.shape[axis]
    if n % 2:
        m = jnp.concatenate([m, lax.slice_in_dim(m, n - 1, n, axis=axis)], axis)
    pairs = m.reshape(m.shape[:axis] + (m.shape[axis] // 2, 2) + m.shape[axis + 1:])
    even, odd = jnp.take(pairs, 0, axis=axis + 1), jnp.take(pairs, 1, axis=axis + 1)
    k = even.shape[axis]
    before = jnp.concatenate([lax.slice_in_dim(even, 0, 1, axis=axis), lax.slice_in_dim(odd, 0, k - 1, axis=axis)], axis)
    return (before + 2 * even + odd) / 4


def max_blur_pool2(x: jax.Array) -> jax.Array:
    """Anti-aliased 2x2 max-pool (Zhang 2019, "Making convolutional networks shift-invariant
    again"): the max over every 2x2 window at stride 1, then a [1, 2, 1] binomial blur, then
    every second pixel. Plain max-pooling at stride 2 aliases: what survives depends on the
    finest detail, which JPEG, blur and small faces are first to remove. Written as shifts and
    reshapes, elementwise like :func:`max_pool2` (same values at the kept pixels before the
    blur): XLA's CPU gradients of strided slices and edge pads made it 4x as slow."""
    m = jnp.maximum(x, _edge_shift(x, 1))
    m = jnp.maximum(m, _edge_shift(m, 2))
    return _blur_half(_blur_half(m, 1), 2)


def _batch_moments(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean and biased variance as matrix-vector products (see BatchNorm)."""
    rows = x.reshape(-1, x.shape[-1]).astype(jnp.float32)
    avg = jnp.full((rows.shape[0],), 1.0 / rows.shape[0], jnp.float32)
    mean = avg @ rows
    return mean, jnp.maximum(avg @ (rows * rows) - mean * mean, 0.0)


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def batch_norm_relu(x: jax.Array, scale: jax.Array, bias: jax.Array, epsilon: float):
    """relu(batch_norm(x)) in training mode, with batch statistics; returns (y, mean, var).

    Its hand-written gradient makes two passes over the activations where autodiff of the
    composition makes several, and it keeps the reductions as matrix-vector products."""
    return _batch_norm_relu_fwd(x, scale, bias, epsilon)[0]


def _batch_norm_relu_fwd(x, scale, bias, epsilon):
    mean, var = _batch_moments(x)
    rstd = jax.lax.rsqrt(var + epsilon)
    mul = scale * rstd
    y = jnp.maximum(x * mul + (bias - mean * mul), 0.0)
    return (y, mean, var), (x, mean, rstd, scale, bias)


def _batch_norm_relu_bwd(epsilon, res, cotangents):
    x, mean, rstd, scale, bias = res
    dy = cotangents[0]  # mean and var only feed the running averages: no gradient
    xhat = (x - mean) * rstd
    dz = jnp.where(xhat * scale + bias > 0, dy, 0.0)
    rows_dz, rows_xhat = dz.reshape(-1, dz.shape[-1]), xhat.reshape(-1, dz.shape[-1])
    ones = jnp.ones((rows_dz.shape[0],), dz.dtype)
    dbias = ones @ rows_dz
    dscale = ones @ (rows_dz * rows_xhat)
    n = rows_dz.shape[0]
    dx = (scale * rstd) * (dz - (dbias + xhat * dscale) / n)
    return dx, dscale, dbias


batch_norm_relu.defvjp(_batch_norm_relu_fwd, _batch_norm_relu_bwd)


class BatchNorm(nn.Module):
    """Batch norm with the variables and semantics of ``flax.linen.BatchNorm`` (``scale``,
    ``bias``; running ``mean``, ``var``; biased batch variance), so checkpoints and layer
    names are the same. The batch statistics are matrix-vector products instead of
    reductions: XLA's CPU backend runs those multi-threaded, its large reductions on a
    tree of single-threaded pieces (the training step is 9% faster at width 32)."""

    use_running_average: bool = False
    momentum: float = 0.9
    epsilon: float = 1e-5
    dtype: Any = jnp.float32
    relu: bool = False  # relu(batch_norm(x)), fused (one custom gradient) when training
    scale_init: Any = nn.initializers.ones

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = x.shape[-1]
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros(c, jnp.float32))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones(c, jnp.float32))
        scale = self.param("scale", self.scale_init, (c,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (c,), jnp.float32)
        if self.relu and not self.use_running_average and x.dtype == jnp.float32:
            y, mean, var = batch_norm_relu(x, scale, bias, self.epsilon)  # float32-only gradient
        else:
            mean, var = (ra_mean.value, ra_var.value) if self.use_running_average else _batch_moments(x)
            mul = scale * jax.lax.rsqrt(var + self.epsilon)
            y = x * mul + (bias - mean * mul)
            y = nn.relu(y) if self.relu else y
        if not self.use_running_average and not self.is_initializing():
            ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
            ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
        return y.astype(self.dtype)


class Dropout(nn.Module):
    """Dropout whose mask comes from 8 random bits per value instead of flax's 32-bit uniform
    floats: a quarter of the random-number work, which is a visible part of a CPU training
    step. The rate is rounded to a multiple of 1/256 (0.1 -> 0.102)."""

    rate: float
    deterministic: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.deterministic or self.rate == 0:
            return x
        cut = round(self.rate * 256)
        bits = jax.random.bits(self.make_rng("dropout"), x.shape, jnp.uint8)
        return jnp.where(bits >= cut, x * (256 / (256 - cut)), 0).astype(x.dtype)


class ResidualBlock(nn.Module):
    """relu(x + BN(conv(relu(BN(conv(x)))))), the second batch norm's scale starting at zero
    (Goyal et al. 2017): a new block computes the identity on the non-negative activations it
    receives, so blocks added to a trained :class:`VGG` (``blocks``, weights loaded with
    ``train.init_from``) start the fine-tune at the trained net's accuracy."""

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        c = x.shape[-1]
        y = Conv(c, (3, 3), use_bias=False, dtype=self.dtype)(x)
        y = BatchNorm(use_running_average=not train, dtype=self.dtype, relu=True)(y)
        y = Conv(c, (3, 3), use_bias=False, dtype=self.dtype)(y)
        y = BatchNorm(use_running_average=not train, dtype=self.dtype, scale_init=nn.initializers.zeros)(y)
        return nn.relu(x + y)


class VGG(nn.Module):
    """VGG-style net: ``len(stages)`` stages of ``convs`` x (conv3x3-BN-ReLU), 2x2 max-pool
    and dropout after each, then a dense layer and the classifier.

    With the default four stages the 48x48 input reaches 3x3 before the head, which keeps
    enough spatial detail for mouths and brows while the parameter count stays small.
    """

    num_classes: int = 7
    width: int = 32
    stages: Sequence[int] = (1, 2, 4, 8)
    convs: int = 2
    dense: int = 256
    dropout: float = 0.4
    dtype: Any = jnp.float32
    standardize: bool = False  # every crop to FER2013's typical exposure and contrast first
    antialias: bool = False    # max_blur_pool2 in place of max_pool2 (same weights fit both)
    blocks: Sequence[int] = ()  # residual blocks after each stage's convs (ResidualBlock): depth
    hide_rows: Sequence[int] = ()  # (start, stop): rows every crop shows as its own mean grey

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        if self.standardize:
            x = standardize_crops(x)
        if self.hide_rows:
            x = hide_rows(x, *self.hide_rows)
        x = ((x - PIXEL_MEAN) / PIXEL_STD).astype(self.dtype)
        bn = lambda: BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype, relu=True)
        for i, mult in enumerate(self.stages):
            for _ in range(self.convs):
                x = Conv(self.width * mult, (3, 3), use_bias=False, dtype=self.dtype)(x)
                x = bn()(x)
            for _ in range(self.blocks[i] if i < len(self.blocks) else 0):
                x = ResidualBlock(dtype=self.dtype)(x, train)
            x = (max_blur_pool2 if self.antialias else max_pool2)(x)
            x = Dropout(self.dropout / 4, deterministic=not train)(x)
        x = x.reshape(x.shape[0], -1)
        x = nn.Dense(self.dense, use_bias=False, dtype=self.dtype)(x)
        x = bn()(x)
        x = Dropout(self.dropout, deterministic=not train)(x)
        return nn.Dense(self.num_classes, dtype=self.dtype)(x).astype(jnp.float32)


class SmallCNN(nn.Module):
    """Three conv-BN-ReLU-pool stages and a small head: trains in seconds, for tests and
    quick experiments."""

    num_classes: int = 7
    width: int = 8
    dropout: float = 0.2

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        x = (x - PIXEL_MEAN) / PIXEL_STD
        for mult in (1, 2, 4):
            x = Conv(self.width * mult, (3, 3), use_bias=False)(x)
            x = BatchNorm(use_running_average=not train, momentum=0.9, relu=True)(x)
            x = max_pool2(x)
        x = x.reshape(x.shape[0], -1)
        x = Dropout(self.dropout, deterministic=not train)(x)
        return nn.Dense(self.num_classes)(x)


def _dlib_resnet(num_classes: int, **kwargs) -> nn.Module:
    from emojax.dlibnet import expression_resnet  # reads the .dat: only when asked for

    return expression_resnet(num_classes, **kwargs)


MODELS = {"vgg": VGG, "small": SmallCNN, "dlib_resnet": _dlib_resnet}


def create(name: str, num_classes: int, **kwargs) -> nn.Module:
    """Build a model by name (``vgg``, ``small``, or ``dlib_resnet``: dlib's face ResNet
    with an expression head, see :class:`emojax.dlibnet.ExpressionResNet`)."""
    if name not in MODELS:
        raise EmojaxError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    # model.json holds sequences as lists; a module is a static argument of jitted code, so hashable
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    return MODELS[name](num_classes=num_classes, **kwargs)


def init(model: nn.Module, seed: int = 0) -> dict:
    """Initial ``{'params', 'batch_stats'}`` for a 48x48x1 input."""
    return jax.jit(model.init)(jax.random.PRNGKey(seed), jnp.zeros((1, 48, 48, 1)))


def param_count(params) -> int:
    return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(params)))


def architecture_table(model: nn.Module, input_shape: tuple[int, ...] = (1, 48, 48, 1)) -> str:
    """Layer table in the order the data flows through the layers, with output shapes and
    parameter counts (shapes only: nothing is computed)."""
    x = jnp.zeros(input_shape)
    variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), x))
    order: list[tuple[str, tuple]] = []

    def record(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name == "__call__" and len(context.module.path) == 1:  # a layer of the model
            order.append((context.module.name, out.shape[1:]))
        return out

    def forward(v):
        with nn.intercept_methods(record):
            return model.apply(v, x)

    out = jax.eval_shape(forward, variables)
    rows = [("layer", "output shape", "parameters")]
    for name, shape in order:
        n = param_count(variables["params"].get(name, {}))
        rows.append((name, "x".join(map(str, shape)), f"{n:,}"))
    rows.append(("total", "x".join(map(str, out.shape[1:])), f"{param_count(variables['params']):,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}" for r in rows) + "\n"


# --------------------------------------------------------------------------- saving


def save(folder: str | Path, name: str, kwargs: dict, classes: Sequence[str], variables: dict,
         extra: dict | None = None) -> None:
    """Write ``model.json`` and ``weights/`` (orbax); replaces an existing model atomically
    enough for readers: the orbax folder is finalised by rename, model.json last, and Ctrl-C
    waits for both."""
    import orbax.checkpoint as ocp

    from emojax.io import atomic_path, signals_deferred

    folder = Path(folder).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    variables = {k: variables[k] for k in ("params", "batch_stats") if k in variables}
    variables = jax.tree_util.tree_map(np.asarray, variables)
    meta = {"model": name, "kwargs": kwargs, "classes": list(classes), **(extra or {})}
    with signals_deferred(), ocp.StandardCheckpointer() as ckptr:
        ckptr.save(folder / "weights", variables, force=True)
        ckptr.wait_until_finished()
        with atomic_path(folder / "model.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=2))


def average(variables: Sequence[dict], weights: Sequence[float] | None = None) -> dict:
    """The weighted mean of several models' weights (one architecture), batch-norm statistics
    included: for fine-tunes of one model, which lie in one basin, a "model soup" (Wortsman et
    al. 2022); ``weights`` default to equal shares and are normalised to sum to 1."""
    variables = list(variables)
    if not variables:
        raise EmojaxError("nothing to average: no models")
    shapes = lambda v: (jax.tree_util.tree_structure(v), jax.tree_util.tree_map(np.shape, v))
    if any(shapes(v) != shapes(variables[0]) for v in variables[1:]):
        raise EmojaxError("the models have different architectures: their weights cannot be mixed")
    w = np.ones(len(variables)) if weights is None else np.asarray(weights, np.float64)
    if len(w) != len(variables) or (w < 0).any() or not w.sum() > 0:
        raise EmojaxError("one non-negative weight per model, not all zero")
    w = [float(x) for x in w / w.sum()]  # Python floats keep each array's own dtype
    return jax.tree_util.tree_map(lambda *xs: sum(wi * np.asarray(x) for wi, x in zip(w, xs)), *variables)


def interpolate(a: dict, b: dict, alpha: float) -> dict:
    """Weights ``(1 - alpha) * a + alpha * b`` of two models of one architecture: for a
    fine-tune and the model it started from, the points between trade what the fine-tune
    gained against what it lost (WiSE-FT, Wortsman et al. 2022)."""
    return average([a, b], [1 - alpha, alpha])


def widen_vgg(variables: dict, width: int, seed: int = 0) -> dict:
    """A trained :class:`VGG`'s weights at a larger ``width`` that compute the same function
    (Net2WiderNet, Chen et al. 2016): every new channel copies a random old one of its layer,
    conv and batch norm alike, and the next layer's weights from each old channel are split
    among its copies in random shares that sum to one. Equal shares would keep the copies
    identical through training; random ones start them apart. A fine-tune then tests a wider
    net at the trained one's accuracy, without the 160 epochs from scratch."""
    params, stats = variables["params"], variables["batch_stats"]
    convs = sorted((k for k in params if k.startswith("Conv_")), key=lambda k: int(k[5:]))
    old = params[convs[0]]["kernel"].shape[-1]
    if width <= old:
        raise EmojaxError(f"width {width}: the model is already {old} wide; widening needs more")
    rng = np.random.default_rng(seed)
    params = jax.tree_util.tree_map(np.asarray, params)
    stats = jax.tree_util.tree_map(np.asarray, stats)

    def split(w: np.ndarray, source: np.ndarray, axis: int) -> np.ndarray:
        """``w`` with its input ``axis`` indexed by ``source``, each old channel's weights
        shared among its copies."""
        w = np.take(w, source, axis=axis)
        share = rng.uniform(0.5, 1.5, w.shape)
        total = np.zeros(w.shape[:axis] + (source.max() + 1,) + w.shape[axis + 1:])
        np.add.at(np.moveaxis(total, axis, 0), source, np.moveaxis(share, axis, 0))
        return w * share / np.take(total, source, axis=axis)

    source = None  # which old channel each input channel of the next layer copies
    for i, name in enumerate(convs):
        kernel = params[name]["kernel"]
        if source is not None:
            kernel = split(kernel, source, axis=2)
        c = kernel.shape[-1]
        new = c * width // old
        out = np.concatenate([np.arange(c), rng.integers(0, c, new - c)])
        params[name] = {"kernel": kernel[..., out]}
        bn = f"BatchNorm_{i}"
        params[bn] = {k: v[out] for k, v in params[bn].items()}
        stats[bn] = {k: v[out] for k, v in stats[bn].items()}
        source = out
    dense = params["Dense_0"]["kernel"]  # rows: the last stage's (h, w, channel), channel fastest
    c = source.max() + 1
    flat = (np.arange(dense.shape[0] // c)[:, None] * c + source[None, :]).reshape(-1)
    params["Dense_0"] = {"kernel": split(dense, flat, axis=0)}
    return {"params": params, "batch_stats": stats}


def fingerprint(folder: str | Path) -> str:
    """A hash of a saved model's files (``model.json`` and ``weights/``, by content): what
    caches of a model's outputs are keyed by, so a copied model keeps its key and a
    retrained one gets a new one."""
    import hashlib

    folder = Path(folder)
    h = hashlib.sha1()
    for p in [folder / "model.json", *sorted((folder / "weights").rglob("*"))]:
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def read_meta(folder: str | Path) -> dict:
    """``model.json`` of a saved model, validated: a dict with ``model`` (a registered
    architecture), ``kwargs`` (a dict) and ``classes`` (a list of names)."""
    folder = Path(folder)
    path = folder / "model.json"
    if not path.is_file():
        raise EmojaxError(f"{folder} is not a saved emojax model (no model.json)")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EmojaxError(f"{path} is damaged (not valid JSON: {e})") from None
    if not isinstance(meta, dict):
        raise EmojaxError(f"{path} is damaged (not a JSON object)")
    missing = [k for k in ("model", "kwargs", "classes") if k not in meta]
    if missing:
        raise EmojaxError(f"{path} is damaged (missing {', '.join(missing)})")
    if meta["model"] not in MODELS:
        raise EmojaxError(f"{path}: unknown model {meta['model']!r} (known: {', '.join(MODELS)})")
    if not isinstance(meta["kwargs"], dict):
        raise EmojaxError(f"{path} is damaged (kwargs is not an object)")
    classes = meta["classes"]
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise EmojaxError(f"{path} is damaged (classes must be a list of at least two names)")
    return meta


def load(folder: str | Path) -> tuple[nn.Module, dict, dict]:
    """Load a saved model: returns (module, variables, meta from model.json). Every way a
    folder can be damaged (JSON, keys, architecture, keywords, weights that do not fit, a
    truncated orbax file) is one :class:`EmojaxError` naming the folder and the problem."""
    import orbax.checkpoint as ocp

    folder = Path(folder).absolute()
    meta = read_meta(folder)
    if not (folder / "weights").is_dir():
        raise EmojaxError(f"{folder} is not a saved emojax model (no weights/)")
    try:
        model = create(meta["model"], len(meta["classes"]), **meta["kwargs"])
        abstract = jax.eval_shape(lambda: init(model))
    except (TypeError, ValueError) as e:
        raise EmojaxError(f"{folder}/model.json: bad model settings ({str(e).splitlines()[0]})") from None
    # A damaged file fails one of orbax's parallel reads; the others then report into an event
    # loop that is closing and print tracebacks of their own. Those are noise after our one
    # error: they go to a buffer, given a moment to arrive, and are dropped.
    noise = io.StringIO()
    with contextlib.redirect_stderr(noise):
        try:
            with ocp.StandardCheckpointer() as ckptr:
                variables = ckptr.restore(folder / "weights", abstract)
        except Exception as e:  # orbax/tensorstore raise many kinds for damaged or mismatched files
            time.sleep(0.5)
            msg = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise EmojaxError(f"{folder}/weights: cannot be read or do not fit the architecture "
                              f"in model.json ({msg})") from None
    got = jax.tree_util.tree_map(np.shape, variables)
    want = jax.tree_util.tree_map(lambda a: a.shape, abstract)
    if got != want:
        raise EmojaxError(f"{folder}/weights do not match the architecture in model.json")
    # On the device once: numpy weights would be copied to it on every call (2-3 ms a face
    # for the width-48 net, more than its convolutions on one face in a tight loop).
    return model, jax.device_put(variables), meta


def padded_batches(images: np.ndarray, batch_size: int):
    """``(batch, n)`` pairs: ``images`` in chunks of at most ``batch_size``, each zero-padded
    to a power of two rows (``n`` of them real), so that a jitted function sees a handful of
    shapes, not one per face count."""
    for i in range(0, len(images), batch_size):
        chunk = images[i:i + batch_size]
        n = len(chunk)
        size = min(batch_size, 1 << (n - 1).bit_length())
        if size > n:
            chunk = np.concatenate([chunk, np.zeros((size - n, *chunk.shape[1:]), chunk.dtype)])
        yield chunk, n

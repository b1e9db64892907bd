"""dlib's face-recognition ResNet, read from dlib's own file and run in Flax.

Why: dlib's 128-D face descriptor (99.38% on LFW) is a strong, small identity/face
feature, but dlib runs it in C++ outside JAX: no batching on the accelerator, no
gradients, no fine-tuning. This module reads dlib's serialized network with numpy only
(no dlib needed) and rebuilds it as a Flax module whose forward pass matches dlib's.

The model file. ``dlib_face_recognition_resnet_model_v1.dat`` ships in the
``face_recognition_models`` package (0.3.0). Its package metadata says "MIT license",
but its bundled LICENSE file is CC0 1.0 Universal and its README says the models "were
created by Davis King and are licensed in the public domain or under CC0 1.0 Universal".
The source, Davis King's dlib-models repository, says of its models: "I've released them
into the public domain" (this one was trained on ~3 million faces from FaceScrub, VGG
and web images). So the weights may be used, modified and redistributed freely; this
module only reads them where that package installed them. (Not so the 68-landmark
predictor: dlib-models says it inherits iBUG 300-W's no-commercial-use terms; the
5-point predictor dlib pairs with this network is public domain like it.)

The format (dlib's ``serialize``), as far as this network needs it:

* integers: a control byte (low nibble = number of bytes that follow, bit 0x80 = minus
  sign), then the magnitude in that many little-endian bytes;
* floats/doubles: a ``(mantissa, exponent)`` pair of such integers, value
  ``mantissa * 2**exponent`` (exponents 32000/32001/32002 mean +inf/-inf/nan);
* strings: an integer length, then the bytes; bools: one byte, ``'1'`` or ``'0'``;
* tensors: version 2, ``n, k, nr, nc``, then raw little-endian float32 (version 1
  stored every element as a float pair);
* the network, outermost first: ``add_loss_layer`` (version, loss details
  ``loss_metric_2`` margin distance-threshold, subnet); each ``add_layer`` writes its
  version, then its whole subnet, then its own layer details and bookkeeping (3 bools,
  3 tensors), so the versions of all layers come first, top-down, and the details
  follow bottom-up from the input layer (the add_layer on the input is version 3 and
  ends with a sample-expansion factor, 1). ``add_tag_layer`` and ``add_skip_layer`` write
  only ``version 1`` and their subnet: tag ids are template arguments, not in the file.

Because tag ids are not stored, the residual wiring is recovered with the rule that
dlib's ResNet templates (``residual``: ``add_prev1<block<tag1<..>>>``; ``residual_down``:
``add_prev2<avg_pool<skip1<tag2<block<tag1<..>>>>>>``) imply: a tag/skip marker sitting
directly on another marker is a skip, any other one is a tag; tags push the current
output on a stack, a skip continues from the tag under the top one (and drops it), an
``add_prev`` adds the top one (and drops it). A file whose markers do not resolve that
way is refused rather than guessed at.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import flax.linen as nn

from emojax.io import EmojaxError, dlib_model_file

__all__ = [
    "LayerSpec", "DlibResNet", "read_network", "network_to_flax", "load_face_recognition_resnet",
    "face_recognition_model_path", "face_chip", "descriptors", "CHIP_SIZE", "CHIP_PADDING",
]

CHIP_SIZE = 150
CHIP_PADDING = 0.25
_MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
_FLOAT_SPECIAL = {32000: math.inf, 32001: -math.inf, 32002: math.nan}


# ----------------------------------------------------------------------------------------
# Reading dlib's serialization


class _Reader:
    """A cursor over the file's bytes; every short read becomes one EmojaxError line."""

    def __init__(self, data: bytes, name: str):
        self.data, self.pos, self.name = data, 0, name

    def fail(self, what: str) -> EmojaxError:
        return EmojaxError(f"{self.name}: not a readable dlib network: {what} (byte {self.pos})")

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"file ends inside {what}, truncated?")
        view = memoryview(self.data)[self.pos:self.pos + n]
        self.pos += n
        return view

    def int(self, what: str = "an integer") -> int:
        control = self.take(1, what)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            self.pos -= 1
            raise self.fail(f"bad integer control byte 0x{control:02x} in {what}")
        value = int.from_bytes(self.take(size, what), "little")
        return -value if control & 0x80 else value

    def float(self, what: str = "a float") -> float:
        mantissa, exponent = self.int(what), self.int(what)
        if exponent in _FLOAT_SPECIAL:
            return _FLOAT_SPECIAL[exponent]
        return math.ldexp(float(mantissa), exponent) if mantissa else 0.0

    def string(self, what: str = "a string", limit: int = 256) -> str:
        n = self.int(what)
        if not 0 <= n <= limit:
            raise self.fail(f"implausible string length {n} in {what}")
        try:
            return bytes(self.take(n, what)).decode("ascii")
        except UnicodeDecodeError:
            raise self.fail(f"non-ASCII bytes in {what}") from None

    def bool(self, what: str = "a flag") -> bool:
        b = self.take(1, what)[0]
        if b not in (0, 1, 0x30, 0x31):
            self.pos -= 1
            raise self.fail(f"bad bool byte 0x{b:02x} in {what}")
        return b in (1, 0x31)

    def tensor(self, what: str = "a tensor") -> np.ndarray:
        version = self.int(what)
        if version not in (1, 2):
            raise self.fail(f"unknown tensor version {version} in {what}")
        shape = tuple(self.int(what) for _ in range(4))
        if min(shape) < 0 or math.prod(shape) > len(self.data):
            raise self.fail(f"implausible tensor shape {shape} in {what}")
        count = math.prod(shape)
        if version == 2:
            raw = self.take(4 * count, what)
            return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
        return np.array([self.float(what) for _ in range(count)], np.float32).reshape(shape)

    def alias(self, what: str) -> tuple[int, int, int, int]:
        version = self.int(what)
        if version != 1:
            raise self.fail(f"unknown alias_tensor version {version} in {what}")
        return tuple(self.int(what) for _ in range(4))  # type: ignore[return-value]


def _read_details(r: _Reader) -> dict[str, Any]:
    """One layer's own record: its kind, configuration and weights (numpy, dlib layout)."""
    kind = r.string("a layer name")
    if kind == "con_4":
        params = r.tensor("con_ parameters")
        nf, nr, nc = r.int(), r.int(), r.int()
        stride = (r.int(), r.int())
        padding = (r.int(), r.int())
        fshape, bshape = r.alias("con_ filters"), r.alias("con_ biases")
        for _ in range(4):
            r.float("con_ learning-rate multipliers")
        nw = math.prod(fshape)
        if fshape[0] != nf or fshape[2:] != (nr, nc) or params.size != nw + math.prod(bshape):
            raise r.fail("con_ weights do not match its shape")
        flat = params.reshape(-1)
        return {"type": "con", "filters": flat[:nw].reshape(fshape),
                "biases": flat[nw:].copy() if math.prod(bshape) else None,
                "stride": stride, "padding": padding}
    if kind == "affine_":
        params = r.tensor("affine_ parameters")
        gshape, bshape = r.alias("affine_ gamma"), r.alias("affine_ beta")
        mode = r.int("affine_ mode")
        ng = math.prod(gshape)
        if params.size != ng + math.prod(bshape) or ng != math.prod(bshape):
            raise r.fail("affine_ parameters do not match gamma/beta")
        if mode != 0 and gshape[2:] != (1, 1):  # dlib: CONV_MODE = 0, FC_MODE = 1
            raise r.fail("affine_ in fc mode with spatial gamma is not supported")
        flat = params.reshape(-1)
        return {"type": "affine", "gamma": flat[:ng].reshape(gshape), "beta": flat[ng:].reshape(gshape),
                "mode": "conv" if mode == 0 else "fc"}
    if kind == "fc_2":
        num_outputs, num_inputs = r.int(), r.int()
        params = r.tensor("fc_ parameters")
        wshape, bshape = r.alias("fc_ weights"), r.alias("fc_ biases")
        r.int("fc_ bias mode")
        for _ in range(4):
            r.float("fc_ learning-rate multipliers")
        nw = math.prod(wshape)
        if wshape[:2] != (num_inputs, num_outputs) or params.size != nw + math.prod(bshape):
            raise r.fail("fc_ weights do not match its shape")
        flat = params.reshape(-1)
        return {"type": "fc", "weights": flat[:nw].reshape(num_inputs, num_outputs),
                "biases": flat[nw:].copy() if math.prod(bshape) else None}
    if kind in ("max_pool_2", "avg_pool_2"):
        window = (r.int(), r.int())
        stride = (r.int(), r.int())
        padding = (r.int(), r.int())
        return {"type": kind[:-2], "window": window, "stride": stride, "padding": padding}
    if kind == "relu_":
        return {"type": "relu"}
    if kind == "add_prev_":
        return {"type": "add_prev"}
    raise r.fail(f"unsupported layer {kind!r}")


def read_network(path: str | os.PathLike) -> dict[str, Any]:
    """Read a dlib ``loss_metric`` network file into plain numpy records.

    Returns ``{"loss": {...}, "input": {...}, "layers": [...]}``; ``layers`` run from the
    input up (the order data flows), each a dict with a ``"type"`` (``con``, ``affine``,
    ``relu``, ``max_pool``, ``avg_pool``, ``add_prev``, ``tag``, ``skip``, ``fc``) and its
    weights in dlib's layout (filters ``(out, in, h, w)``, fc weights ``(in, out)``).
    Raises :class:`EmojaxError` (one line) for a missing, truncated or foreign file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EmojaxError(f"cannot read dlib network {path}: {e.strerror or e}") from None
    r = _Reader(data, str(path))
    loss_version = r.int("the loss layer version")
    loss_kind = r.string("the loss layer name")
    if loss_version != 1 or loss_kind not in ("loss_metric_", "loss_metric_2"):
        raise r.fail(f"expected a loss_metric network, found {loss_kind!r} version {loss_version}")
    loss = {"type": "loss_metric", "margin": r.float("the margin")}
    loss["distance_threshold"] = r.float("the distance threshold") if loss_kind == "loss_metric_2" else 0.6

    # Versions of the nested layers, top-down, until add_layer-over-input (version 3).
    versions: list[int] = []
    while True:
        v = r.int("a layer version")
        if v == 3:
            break
        if v not in (1, 2) or len(versions) > 10000:
            raise r.fail(f"unexpected layer version {v}")
        versions.append(v)
    if r.string("the input layer name") != "input_rgb_image_sized":
        raise r.fail("only input_rgb_image_sized networks are supported")
    avg = tuple(r.float("the input average colour") for _ in range(3))
    nr, nc = r.int("the input size"), r.int("the input size")
    net_input = {"type": "input_rgb_image_sized", "avg_rgb": avg, "size": (nr, nc)}

    def bookkeeping() -> None:  # add_layer's flags and cached tensors: unused at test time
        for _ in range(3):
            r.bool("layer flags")
        for _ in range(3):
            r.tensor("cached layer tensors")

    layers = [_read_details(r)]
    bookkeeping()
    if r.int("the sample expansion factor") != 1:  # version 3 of add_layer-over-input adds it
        raise r.fail("sample expansion factor other than 1 is not supported")
    ups = versions[::-1]  # bottom-up
    for i, v in enumerate(ups):
        if v == 2:
            layers.append(_read_details(r))
            bookkeeping()
        else:  # tag or skip; see the module docstring for the rule
            layers.append({"type": "skip" if i > 0 and ups[i - 1] == 1 else "tag"})
    if r.pos != len(data):
        raise r.fail(f"{len(data) - r.pos} unexpected bytes after the network")
    _check_wiring(layers, r)
    return {"loss": loss, "input": net_input, "layers": layers}


def _check_wiring(layers: Sequence[dict], r: _Reader) -> None:
    depth = 0
    for layer in layers:
        t = layer["type"]
        if t == "tag":
            depth += 1
        elif t in ("skip", "add_prev"):
            if depth < (2 if t == "skip" else 1):
                raise r.fail(f"a {t} layer with no tag to refer to")
            depth -= 1
    if depth:
        raise r.fail(f"{depth} tag layer(s) never used by a skip or add_prev")


# ----------------------------------------------------------------------------------------
# The Flax port


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """The static (hashable) part of one layer; weights live in the Flax variables."""

    type: str
    features: int = 0
    window: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    bias: bool = False


def _add_prev(a: jax.Array, b: jax.Array) -> jax.Array:
    """dlib's add_prev: tensors of unequal H, W or C are zero-padded (top-left aligned)."""
    shape = [max(x, y) for x, y in zip(a.shape, b.shape)]

    def pad(t: jax.Array) -> jax.Array:
        return jnp.pad(t, [(0, s - d) for s, d in zip(shape, t.shape)])

    return pad(a) + pad(b)


class DlibResNet(nn.Module):
    """dlib's test-time metric ResNet, NHWC: RGB images (0..255) in, 128-D descriptors out.

    ``layers`` is the bottom-up layer list built by :func:`network_to_flax`; ``avg_rgb``
    is the mean colour dlib's ``input_rgb_image_sized`` subtracts (then divides by 256).
    The output is the raw fc output, which is what dlib's ``compute_face_descriptor``
    returns (``loss_metric`` does not normalize at test time).
    """

    layers: tuple[LayerSpec, ...]
    avg_rgb: tuple[float, float, float] = (122.782, 117.001, 104.298)
    input_size: tuple[int, int] = (CHIP_SIZE, CHIP_SIZE)

    @nn.compact
    def __call__(self, images: jax.Array) -> jax.Array:
        x = (jnp.asarray(images, jnp.float32) - jnp.asarray(self.avg_rgb, jnp.float32)) / 256.0
        stack: list[jax.Array] = []
        for i, spec in enumerate(self.layers):
            name = f"{i:03d}_{spec.type}"
            if spec.type == "con":
                x = nn.Conv(spec.features, spec.window, spec.stride,
                            padding=[(spec.padding[0],) * 2, (spec.padding[1],) * 2],
                            use_bias=spec.bias, name=name)(x)
            elif spec.type == "affine":
                x = _Affine(spec.features, name=name)(x)
            elif spec.type == "relu":
                x = jax.nn.relu(x)
            elif spec.type in ("max_pool", "avg_pool"):
                x = _pool(x, spec)
            elif spec.type == "tag":
                stack.append(x)
            elif spec.type == "skip":
                x = stack.pop(-2)
            elif spec.type == "add_prev":
                x = _add_prev(x, stack.pop())
            elif spec.type == "fc":
                flat = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)  # dlib's k,r,c order
                x = nn.Dense(spec.features, use_bias=spec.bias, name=name)(flat)
            else:
                raise EmojaxError(f"DlibResNet: unknown layer type {spec.type!r}")
        return x


class ExpressionResNet(nn.Module):
    """dlib's ResNet trunk with an expression head, for end-to-end fine-tuning on FER2013.

    Takes what every emojax model takes, (N, 48, 48, 1) grey in [0, 1], and upsamples it
    inside the network (bicubic, to ``size``) and replicates it to RGB 0..255, so training,
    attacks and prediction all feed the same 48x48 crops. The head is the frozen variant's:
    a fixed standardisation of the 256-D pooled features (the frozen variant's Training mean
    and std, kept as a batch norm's running statistics that training never updates: batch
    statistics of augmented faces differ from them enough to double the loss at the start),
    Dense(hidden), ReLU, dropout, Dense(classes). ``models.create("dlib_resnet")``
    builds it with the trunk's layers read from face_recognition_models.
    """

    layers: tuple[LayerSpec, ...]
    num_classes: int = 7
    hidden: int = 1024
    dropout: float = 0.5
    size: int = CHIP_SIZE
    avg_rgb: tuple[float, float, float] = (122.782, 117.001, 104.298)

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        b = x.shape[0]
        x = jax.image.resize(x, (b, self.size, self.size, 1), "cubic")
        x = jnp.broadcast_to(jnp.clip(x, 0, 1) * 255, (b, self.size, self.size, 3))
        f = DlibResNet(self.layers, self.avg_rgb, (self.size, self.size), name="trunk")(x).reshape(b, -1)
        f = nn.BatchNorm(use_running_average=True, epsilon=1e-6, name="norm")(f)
        if self.hidden:
            f = nn.relu(nn.Dense(self.hidden, name="hidden")(f))
            f = nn.Dropout(self.dropout, deterministic=not train)(f)
        return nn.Dense(self.num_classes, name="out")(f)


_TRUNK: tuple[tuple[LayerSpec, ...], tuple[float, float, float]] | None = None


def expression_resnet(num_classes: int, hidden: int = 1024, dropout: float = 0.5,
                      size: int = CHIP_SIZE) -> ExpressionResNet:
    """The registry's ``dlib_resnet``: the trunk's layer list is read once per process."""
    global _TRUNK
    if _TRUNK is None:
        module, _ = load_face_recognition_resnet()
        if module.layers[-1].type != "fc" or module.layers[-2].type != "avg_pool":
            raise EmojaxError("dlib network: expected avg_pool then fc as its last layers")
        _TRUNK = (tuple(module.layers[:-1]), tuple(module.avg_rgb))
    return ExpressionResNet(_TRUNK[0], num_classes, hidden, dropout, size, _TRUNK[1])


class _Affine(nn.Module):
    """dlib's affine_ (a frozen batch norm): ``x * scale + bias`` per channel."""

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        scale = self.param("scale", nn.initializers.ones, (self.features,))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return x * scale + bias


def _pool(x: jax.Array, spec: LayerSpec) -> jax.Array:
    """dlib pooling; a 0 window means the whole input (avg_pool_everything)."""
    wh = spec.window[0] or x.shape[1]
    ww = spec.window[1] or x.shape[2]
    (py, px), (sy, sx) = spec.padding, spec.stride
    pads = ((0, 0), (py, py), (px, px), (0, 0))
    if spec.type == "max_pool":
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, wh, ww, 1), (1, sy, sx, 1), pads)
    if py or px:
        raise EmojaxError("DlibResNet: padded avg_pool layers are not supported")
    total = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, wh, ww, 1), (1, sy, sx, 1), pads)
    return total / float(wh * ww)


def network_to_flax(net: dict[str, Any]) -> tuple[DlibResNet, dict]:
    """Turn :func:`read_network` records into ``(DlibResNet, {"params": ...})``."""
    specs: list[LayerSpec] = []
    params: dict[str, dict[str, np.ndarray]] = {}
    for i, layer in enumerate(net["layers"]):
        t = layer["type"]
        name = f"{i:03d}_{t}"
        if t == "con":
            f = layer["filters"]  # (out, in, h, w) -> HWIO
            specs.append(LayerSpec("con", f.shape[0], f.shape[2:], layer["stride"], layer["padding"],
                                   layer["biases"] is not None))
            params[name] = {"kernel": np.ascontiguousarray(f.transpose(2, 3, 1, 0))}
            if layer["biases"] is not None:
                params[name]["bias"] = layer["biases"].reshape(-1)
        elif t == "affine":
            specs.append(LayerSpec("affine", layer["gamma"].size))
            params[name] = {"scale": layer["gamma"].reshape(-1), "bias": layer["beta"].reshape(-1)}
        elif t == "fc":
            w = layer["weights"]
            specs.append(LayerSpec("fc", w.shape[1], bias=layer["biases"] is not None))
            params[name] = {"kernel": w}
            if layer["biases"] is not None:
                params[name]["bias"] = layer["biases"].reshape(-1)
        elif t in ("max_pool", "avg_pool"):
            specs.append(LayerSpec(t, window=layer["window"], stride=layer["stride"], padding=layer["padding"]))
        else:
            specs.append(LayerSpec(t))
    module = DlibResNet(tuple(specs), tuple(float(a) for a in net["input"]["avg_rgb"]),
                        tuple(net["input"]["size"]))
    return module, {"params": jax.tree_util.tree_map(jnp.asarray, params)}


def face_recognition_model_path() -> Path:
    """Where ``face_recognition_models`` put the network (found without importing it)."""
    return dlib_model_file(_MODEL_FILE)


def load_face_recognition_resnet(path: str | os.PathLike | None = None) -> tuple[DlibResNet, dict]:
    """dlib's face-recognition ResNet as ``(module, variables)``: 150x150x3 RGB -> 128-D.

    ``module.apply(variables, chips)`` with ``chips`` of shape ``(N, 150, 150, 3)``
    (uint8 or float, 0..255, RGB, cut by :func:`face_chip`) gives ``(N, 128)`` descriptors;
    two faces are the same person when their Euclidean distance is below 0.6.
    """
    return network_to_flax(read_network(path or face_recognition_model_path()))


def face_chip(image: np.ndarray, landmarks: Any, size: int = CHIP_SIZE,
              padding: float = CHIP_PADDING) -> np.ndarray:
    """Cut the aligned chip dlib's recognizer expects, with dlib itself (exactly the same).

    ``landmarks`` is a ``dlib.full_object_detection`` (5- or 68-point) or an ``(N, 2)``
    array of ``(x, y)`` points in dlib's 5- or 68-point order. ``image`` is RGB uint8
    (H, W, 3) or grey (H, W). Returns ``(size, size, 3)`` uint8 RGB.
    """
    import dlib  # only here: the rest of this module needs no dlib

    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise EmojaxError(f"face_chip: expected an RGB or grey image, got shape {img.shape}")
    img = np.ascontiguousarray(img, dtype=np.uint8)
    shape = landmarks
    if not isinstance(landmarks, dlib.full_object_detection):
        pts = np.asarray(landmarks, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] not in (5, 68):
            raise EmojaxError(f"face_chip: expected 5 or 68 (x, y) landmarks, got shape {pts.shape}")
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        rect = dlib.rectangle(int(lo[0]), int(lo[1]), int(math.ceil(hi[0])), int(math.ceil(hi[1])))
        shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in pts])
    return np.asarray(dlib.get_face_chip(img, shape, size=size, padding=padding))


def descriptors(module: DlibResNet, variables: dict, chips: np.ndarray, batch: int = 32) -> np.ndarray:
    """Descriptors for many chips in fixed-size batches (one compile for any count)."""
    chips = np.asarray(chips)
    if chips.ndim == 3:
        chips = chips[None]
    apply = _jitted_apply(module)
    out = []
    for start in range(0, len(chips), batch):
        part = chips[start:start + batch]
        n = len(part)
        if n < batch and len(chips) > batch:
            part = np.concatenate([part, np.zeros((batch - n,) + part.shape[1:], part.dtype)])
        out.append(np.asarray(apply(variables, part))[:n])
    return np.concatenate(out) if out else np.zeros((0, 128), np.float32)


_JIT_CACHE: dict[int, tuple[DlibResNet, Any]] = {}


def _jitted_apply(module: DlibResNet):
    """One jitted apply per module object, so repeated calls reuse the compiled program."""
    hit = _JIT_CACHE.get(id(module))
    if hit is None or hit[0] is not module:
        hit = _JIT_CACHE[id(module)] = (module, jax.jit(module.apply))
    return hit[1]

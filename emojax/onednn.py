"""oneDNN convolutions for JAX on the CPU, through XLA's foreign-function interface.

XLA's CPU backend computes a convolution's filter gradient as a convolution over the batch
(Eigen), the largest single cost of a training step here, while oneDNN (the library behind
PyTorch's CPU convolutions) has kernels made for all three passes on NHWC data
(``benchmarks/RESULTS.md``). :func:`conv_general_dilated` is a drop-in for
``jax.lax.conv_general_dilated`` (flax's ``nn.Conv`` takes it as ``conv_general_dilated``):
float32 NHWC/HWIO convolutions without dilation or groups run forward and backward in oneDNN;
anything else, and every convolution where oneDNN or a compiler is missing, runs in XLA.
Under ``jax.default_matmul_precision("bfloat16")`` (a training config's ``precision``) the three
passes read bfloat16 copies of their inputs and accumulate in float32: mixed precision, as on a
GPU; on a CPU with AMX the width-48 training step runs 1.5-1.6x as fast (``benchmarks/RESULTS.md``).

The handlers (``emojax/csrc/onednn_conv.cc``) are compiled on first use into
``~/.cache/emojax/onednn`` (``emojax.io.cache_dir``; needs ``g++`` and ``pip install
onednn-cpu-gomp onednn-devel-cpu-gomp``); :func:`available` says whether that worked and :func:`why_not` why not.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from emojax.io import atomic_path, cache_dir

SOURCE = Path(__file__).with_name("csrc") / "onednn_conv.cc"
_TARGETS = {"fwd": "EmojaxConvForward", "dx": "EmojaxConvBackwardData", "dk": "EmojaxConvBackwardWeights"}
_NHWC = ("NHWC", "HWIO", "NHWC")
# Below this batch XLA's convolution is the faster one (one face in the live loop: oneDNN's
# per-call set-up and filter reorders cost more than the convolution itself).
MIN_BATCH = 4


def _find(relative: str) -> Path | None:
    """A file of the oneDNN wheels, which install into the environment's prefix."""
    path = Path(sys.prefix) / relative
    return path if path.exists() else None


@functools.cache
def _library() -> tuple[ctypes.CDLL | None, str]:
    """Compile (once per source and jaxlib version) and load the handlers: (library, why not)."""
    header, lib = _find("include/oneapi/dnnl/dnnl.hpp"), _find("lib/libdnnl.so")
    if header is None or lib is None:
        return None, "oneDNN not found (pip install onednn-cpu-gomp onednn-devel-cpu-gomp)"
    import jaxlib

    tag = hashlib.sha256(SOURCE.read_bytes() + jaxlib.__version__.encode() + str(lib).encode()).hexdigest()[:16]
    so = cache_dir() / "onednn" / f"onednn_conv_{tag}.so"
    if not so.exists():
        cmd = ["g++", "-O2", "-std=c++17", "-shared", "-fPIC", "-fopenmp", "-w", f"-I{header.parents[2]}",
               f"-I{jax.ffi.include_dir()}", str(SOURCE), f"-L{lib.parent}", "-ldnnl", f"-Wl,-rpath,{lib.parent}"]
        try:
            with atomic_path(so) as tmp:  # a concurrent build never loads a half-written file
                subprocess.run([*cmd, "-o", str(tmp)], capture_output=True, text=True, check=True)
        except OSError as e:  # no compiler
            return None, f"cannot compile the oneDNN handlers: {e}"
        except subprocess.CalledProcessError as e:
            return None, "cannot compile the oneDNN handlers: " + (e.stderr.strip().splitlines() or ["g++ failed"])[-1]
    try:
        handle = ctypes.cdll.LoadLibrary(str(so))
    except OSError as e:
        return None, f"cannot load the oneDNN handlers: {e}"
    for name, symbol in _TARGETS.items():
        jax.ffi.register_ffi_target(f"emojax_conv_{name}", jax.ffi.pycapsule(getattr(handle, symbol)), platform="cpu")
    return handle, ""


def available() -> bool:
    """True where the oneDNN convolutions can run (CPU backend, oneDNN and g++ present)."""
    return jax.default_backend() == "cpu" and _library()[0] is not None


def why_not() -> str:
    """Why :func:`available` is False ('' when it is True)."""
    if jax.default_backend() != "cpu":
        return f"the backend is {jax.default_backend()}, not cpu"
    return _library()[1]


def enabled() -> bool:
    """oneDNN convolutions are used where available unless ``EMOJAX_CONV=xla``."""
    return os.environ.get("EMOJAX_CONV", "onednn") != "xla" and available()


def _call(name: str, a: jax.Array, b: jax.Array, out_shape: tuple[int, ...], geometry: tuple[int, ...]) -> jax.Array:
    sh, sw, pt, pl, pb, pr, bf16 = (np.int64(g) for g in geometry)
    return jax.ffi.ffi_call(f"emojax_conv_{name}", jax.ShapeDtypeStruct(out_shape, jnp.float32),
                            vmap_method="sequential")(a, b, sh=sh, sw=sw, pt=pt, pl=pl, pb=pb, pr=pr, bf16=bf16)


def _out_shape(x_shape, k_shape, geometry) -> tuple[int, int, int, int]:
    sh, sw, pt, pl, pb, pr, _ = geometry
    n, h, w, _ = x_shape
    kh, kw, _, co = k_shape
    return n, (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1, co


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_nhwc(x: jax.Array, k: jax.Array, geometry: tuple[int, ...]) -> jax.Array:
    """NHWC x HWIO -> NHWC, ``geometry`` = (stride h, stride w, pad top, left, bottom, right,
    1 for bfloat16 products else 0)."""
    return _call("fwd", x, k, _out_shape(x.shape, k.shape, geometry), geometry)


def _fwd(x, k, geometry):
    return conv_nhwc(x, k, geometry), (x, k)


def _bwd(geometry, saved, dy):
    x, k = saved
    return _call("dx", dy, k, x.shape, geometry), _call("dk", x, dy, k.shape, geometry)


conv_nhwc.defvjp(_fwd, _bwd)


def bfloat16(precision=None) -> bool:
    """Whether a convolution asked for bfloat16 products: ``precision="bfloat16"``, or no
    precision under ``jax.default_matmul_precision("bfloat16")`` (read when it is traced)."""
    return (jax.config.jax_default_matmul_precision if precision is None else precision) == "bfloat16"


def _nhwc(dimension_numbers) -> bool:
    if dimension_numbers is None:
        return False
    if isinstance(dimension_numbers, lax.ConvDimensionNumbers):
        return tuple(dimension_numbers) == ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    return tuple(dimension_numbers) == _NHWC


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1,
                         precision=None, preferred_element_type=None):
    """``jax.lax.conv_general_dilated`` with the float32 NHWC 2-D case in oneDNN (see the module)."""
    plain = (lhs.ndim == 4 and lhs.shape[0] >= MIN_BATCH and lhs.dtype == jnp.float32 and rhs.dtype == jnp.float32
             and _nhwc(dimension_numbers) and feature_group_count == 1 and batch_group_count == 1
             and all(d == 1 for d in (*(lhs_dilation or ()), *(rhs_dilation or ())))
             and preferred_element_type in (None, jnp.float32) and enabled())
    if plain and isinstance(padding, str):
        padding = lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2], window_strides, padding)
    if not plain or min(p for pair in padding for p in pair) < 0:  # oneDNN pads, it does not crop
        return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                        dimension_numbers, feature_group_count, batch_group_count,
                                        precision, preferred_element_type)
    (pt, pb), (pl, pr) = padding
    return conv_nhwc(lhs, rhs, (*map(int, window_strides), int(pt), int(pl), int(pb), int(pr), int(bfloat16(precision))))

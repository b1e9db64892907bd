"""A corruption benchmark in the spirit of ImageNet-C, for 48x48 grey faces.

Webcam frames are noisy and compressed, photos are sharper than FER2013's crops, lighting
varies: a model that is only right on clean FER2013 crops is wrong on a user's face. Each
corruption here is something a camera, a codec or a room does, at a mild level (the
benchmark whose drops we bound) and at a severe one (reported, to see the trend). They use
OpenCV's real codec and filters, not the JAX approximations that training augments with,
so the benchmark does not grade the augmentation against itself.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np


def _f(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def gaussian_noise(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _u8(_f(images) + rng.normal(0, sigma, images.shape))


def jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    enc = lambda im: cv2.imdecode(cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, quality])[1],
                                  cv2.IMREAD_GRAYSCALE)
    return np.stack([enc(im) for im in images])


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([cv2.GaussianBlur(im, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE) for im in images])


def sharpen(images: np.ndarray, amount: float, sigma: float = 1.0) -> np.ndarray:
    """Unsharp mask: what phone cameras do to every photo."""
    x = _f(images)
    return _u8(x + amount * (x - _f(blur(images, sigma))))


def contrast(images: np.ndarray, factor: float) -> np.ndarray:
    x = _f(images)
    mean = x.mean((1, 2), keepdims=True)
    return _u8((x - mean) * factor + mean)


def brightness(images: np.ndarray, delta: float) -> np.ndarray:
    return _u8(_f(images) + delta)


def gamma(images: np.ndarray, g: float) -> np.ndarray:
    return _u8(255 * (_f(images) / 255) ** g)


def low_resolution(images: np.ndarray, side: int) -> np.ndarray:
    """A face that was ``side`` pixels wide, upscaled to 48 (a small face in a wide shot)."""
    h, w = images.shape[1:3]
    return np.stack([cv2.resize(cv2.resize(im, (side, side), interpolation=cv2.INTER_AREA), (w, h),
                                interpolation=cv2.INTER_LINEAR) for im in images])


Corruption = Callable[[np.ndarray], np.ndarray]

# name -> function, at the mild level the robustness goal bounds (at most 2 points lost).
MILD: dict[str, Corruption] = {
    "noise 8": lambda x: gaussian_noise(x, 8),
    "jpeg 30": lambda x: jpeg(x, 30),
    "blur 0.8": lambda x: blur(x, 0.8),
    "contrast 0.7": lambda x: contrast(x, 0.7),
    "brighter +30": lambda x: brightness(x, 30),
    "darker -30": lambda x: brightness(x, -30),
    "gamma 0.7": lambda x: gamma(x, 0.7),
    "gamma 1.4": lambda x: gamma(x, 1.4),
    "sharpen 1.0": lambda x: sharpen(x, 1.0),
    "low-res 32": lambda x: low_resolution(x, 32),
}
# The same kinds, harder: reported beside the benchmark, not part of its bound.
SEVERE: dict[str, Corruption] = {
    "noise 16": lambda x: gaussian_noise(x, 16),
    "jpeg 15": lambda x: jpeg(x, 15),
    "blur 1.5": lambda x: blur(x, 1.5),
    "contrast 0.5": lambda x: contrast(x, 0.5),
    "gamma 2.0": lambda x: gamma(x, 2.0),
    "sharpen 2.0": lambda x: sharpen(x, 2.0),
    "low-res 24": lambda x: low_resolution(x, 24),
}


def accuracy_interval(n: int) -> float:
    """Half-width (points) of a 95% interval on an accuracy near 50% measured on ``n`` items:
    how far apart two models' figures on the same set may be by the items alone."""
    return 100 * 1.96 * (0.25 / n) ** 0.5


def drop_interval(clean_right: np.ndarray, corrupted_right: np.ndarray) -> float:
    """Half-width (points) of a 95% interval on the drop, paired: the same faces are scored
    clean and corrupted, so only those that change (right to wrong or back) carry noise, and
    the drop is known better than either accuracy (PublicTest's +-1.5 points)."""
    d = clean_right.astype(float) - corrupted_right.astype(float)
    return float(100 * 1.96 * d.std() / np.sqrt(len(d))) if len(d) else 0.0


def benchmark(classifier, images: np.ndarray, labels: np.ndarray, severe: bool = True,
              progress: bool = False) -> dict:
    """Accuracy clean and under each corruption, the drop in points against clean and its
    paired 95% half-width: ``{"clean": acc, "mild": {name: {"accuracy", "drop", "drop_ci"}},
    "severe": {...}, "worst_mild": name}``."""
    from tqdm import tqdm

    right = lambda x: classifier.predict_proba(x).argmax(1) == labels
    clean_right = right(images)
    clean = float(clean_right.mean())
    out: dict = {"clean": clean}
    levels = [("mild", MILD)] + ([("severe", SEVERE)] if severe else [])
    todo = [(lvl, n, f) for lvl, table in levels for n, f in table.items()]
    for level, name, fn in tqdm(todo, desc="corruptions", disable=not progress, leave=False):
        r = right(fn(images))
        acc = float(r.mean())
        out.setdefault(level, {})[name] = {"accuracy": acc, "drop": 100 * (clean - acc),
                                           "drop_ci": drop_interval(clean_right, r)}
    out["worst_mild"] = max(out["mild"], key=lambda n: out["mild"][n]["drop"])
    return out


def format_drop(m: dict, signed: bool = False) -> str:
    """One corruption's drop in points, ``+- `` its paired 95% half-width where the result has
    it (results saved before the benchmark reported it have none)."""
    ci = f" +- {m['drop_ci']:.1f}" if "drop_ci" in m else ""
    return f"{m['drop']:{'+' if signed else ''}.1f}{ci}"


def format_benchmark(res: dict) -> str:
    """A Markdown table: corruption, level, accuracy, points lost against clean (+- the paired
    95% half-width, where the result has it)."""
    lines = ["| corruption | level | accuracy | drop (points, 95% paired) |", "|---|---|---:|---:|",
             f"| clean | | {100 * res['clean']:.1f}% | |"]
    for level in ("mild", "severe"):
        for name, m in res.get(level, {}).items():
            lines.append(f"| {name} | {level} | {100 * m['accuracy']:.1f}% | {format_drop(m, signed=True)} |")
    return "\n".join(lines)

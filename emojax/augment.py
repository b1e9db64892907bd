"""The input pipeline inside the training step: a uint8 batch of 48x48 faces becomes what the
network trains on (:func:`inputs`): geometric augmentation, camera-like effects (noise, blur,
JPEG, contrast, gamma, low resolution), a face half hidden, faint expressions, mixup and face
CutMix. All of it is jax, traced into the jitted step, so it costs no host time and one key
gives the same batch on any engine (``train``'s host loop, ``engine``'s scanned epochs).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from emojax import data as data_lib
from emojax.config import Config


# Rows of the two face halves in FER2013's framing (eyes on row 18.4, 18 px apart: emojax.face):
# brows and eyes, then mouth and chin, for 48-pixel crops.
FACE_BANDS = ((6, 27), (29, 48))


def occlude(key: jax.Array, x: jax.Array, p: float) -> jax.Array:
    """Hide, with probability ``p`` per image, one of the :data:`FACE_BANDS` of (B, 48, 48, 1)
    under noise, so that the model must read each expression from either half. Posed anger is
    in the brows while the mouth stays neutral, and a model trained on FER2013's open-mouthed
    anger lets the mouth outvote them (JAFFE: angry recall 0%, 23% with the mouth hidden). As a
    12-epoch fine-tune it did not change that (``results/generalization/runs.md``), and a model
    that sees the brows and eyes only reads JAFFE's anger as neutral too
    (``results/generalization/part_fusion.md``): the brows are weaker, not outvoted."""
    b, h = x.shape[:2]
    k = jax.random.split(key, 3)
    (u0, u1), (l0, l1) = FACE_BANDS
    lower = jax.random.bernoulli(k[0], 0.5, (b, 1))
    rows = jnp.arange(h)[None]
    band = jnp.where(lower, (rows >= l0) & (rows < l1), (rows >= u0) & (rows < u1))
    hide = band & jax.random.bernoulli(k[1], p, (b, 1))
    return jnp.where(hide[:, :, None, None], jax.random.uniform(k[2], x.shape), x)


def augment(key: jax.Array, x: jax.Array, cfg: Config) -> jax.Array:
    """Random affine (shift, zoom, rotation, horizontal flip) and random erasing of a
    batch (B, 48, 48, 1), bilinear, edges replicated; first, if ``cfg.occlude``, a face half
    hidden (before the warp, so the band follows the face)."""
    b, h, w, _ = x.shape
    if cfg.occlude:
        x = occlude(jax.random.fold_in(key, 3), x, cfg.occlude)
    k = jax.random.split(key, 7)
    angle = jnp.deg2rad(cfg.rotate) * jax.random.uniform(k[0], (b,), minval=-1, maxval=1)
    zoom = 1 + cfg.scale * jax.random.uniform(k[1], (b,), minval=-1, maxval=1)
    shift = cfg.shift * h * jax.random.uniform(k[2], (b, 2), minval=-1, maxval=1)
    flip = jnp.where(jax.random.bernoulli(k[3], 0.5, (b,)), -1.0, 1.0)
    yy, xx = jnp.meshgrid(jnp.arange(h) - (h - 1) / 2, jnp.arange(w) - (w - 1) / 2, indexing="ij")

    def warp(img, a, z, s, f):
        cos, sin = jnp.cos(a) / z, jnp.sin(a) / z
        src_y = cos * yy - sin * xx * f + (h - 1) / 2 + s[0]
        src_x = sin * yy + cos * xx * f + (w - 1) / 2 + s[1]
        return jax.scipy.ndimage.map_coordinates(img[..., 0], [src_y, src_x], order=1,
                                                 mode="nearest")[..., None]

    x = jax.vmap(warp)(x, angle, zoom, shift, flip)
    # Random erasing: one rectangle of 2-20% of the area, filled with noise.
    area = jax.random.uniform(k[4], (b,), minval=0.02, maxval=0.2) * h * w
    ratio = jnp.exp(jax.random.uniform(k[5], (b,), minval=-1, maxval=1))
    eh, ew = jnp.sqrt(area * ratio), jnp.sqrt(area / ratio)
    cy, cx = jax.random.uniform(k[6], (2, b)) * jnp.array([[h], [w]])
    inside = ((jnp.abs(yy[None] + (h - 1) / 2 - cy[:, None, None]) < eh[:, None, None] / 2)
              & (jnp.abs(xx[None] + (w - 1) / 2 - cx[:, None, None]) < ew[:, None, None] / 2))
    erase = jax.random.bernoulli(jax.random.fold_in(key, 1), cfg.erase, (b,))[:, None, None]
    noise = jax.random.uniform(jax.random.fold_in(key, 2), (b, h, w))
    return jnp.where((inside & erase)[..., None], noise[..., None], x)


# The IJG luminance quantisation table (JPEG standard, Annex K), for the JPEG augmentation.
_JPEG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float32).reshape(8, 8)


def _dct_matrix(n: int = 8) -> np.ndarray:
    k, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    d = np.cos((2 * i + 1) * k * np.pi / (2 * n)) * np.sqrt(2 / n)
    d[0] /= np.sqrt(2)
    return d.astype(np.float32)


def jpeg_like(x: jax.Array, quality: jax.Array) -> jax.Array:
    """Baseline-JPEG luminance coding of (B, H, W) images in [0, 1] (H, W multiples of 8):
    8x8 DCT, quantisation by the IJG table scaled to ``quality`` (B,), inverse DCT. No
    entropy coding (lossless) and no chroma (grey faces), so this is JPEG's whole loss."""
    b, h, w = x.shape
    d = jnp.asarray(_dct_matrix())
    q = jnp.where(quality < 50, 5000 / quality, 200 - 2 * quality)
    table = jnp.clip(jnp.floor((_JPEG_LUMA[None] * q[:, None, None] + 50) / 100), 1, 255)
    blocks = (x * 255 - 128).reshape(b, h // 8, 8, w // 8, 8)
    coef = jnp.einsum("ki,bmino,lo->bmknl", d, blocks, d)
    coef = jnp.round(coef / table[:, None, :, None, :]) * table[:, None, :, None, :]
    blocks = jnp.einsum("ki,bmknl,lo->bmino", d, coef, d)
    return jnp.clip((blocks.reshape(b, h, w) + 128) / 255, 0, 1)


def _gaussian_blur(x: jax.Array, sigma: jax.Array, radius: int = 4) -> jax.Array:
    """Separable Gaussian blur of (B, H, W), a per-image ``sigma`` (B,), edges replicated."""
    t = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
    k = jnp.exp(-0.5 * (t[None] / jnp.maximum(sigma[:, None], 1e-3)) ** 2)
    k = k / k.sum(1, keepdims=True)
    pad = jnp.pad(x, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    h, w = x.shape[1:]
    rows = sum(k[:, i, None, None] * pad[:, i:i + h, :] for i in range(2 * radius + 1))
    return sum(k[:, i, None, None] * rows[:, :, i:i + w] for i in range(2 * radius + 1))


def photometric(key: jax.Array, x: jax.Array, cfg: Config) -> jax.Array:
    """What cameras and the web do to a face, each with probability ``cfg.photometric``:
    contrast, brightness and gamma (lighting, exposure); a Gaussian blur or an unsharp mask
    (focus: webcams are softer than FER2013, photos sharper); a small face upscaled (one of
    ``cfg.lowres`` sides, area-shrunk, bilinear back); sensor noise; JPEG at a random quality;
    then the 8-bit rounding every stored image has. (B, H, W, 1) in [0, 1]."""
    b = x.shape[0]
    k = jax.random.split(key, 13)
    on = lambda i: jax.random.bernoulli(k[i], cfg.photometric, (b,))
    log_u = lambda i, r: jnp.exp(jax.random.uniform(k[i], (b,), minval=-1, maxval=1) * jnp.log1p(r))
    y = x[..., 0]
    mean = y.mean((1, 2), keepdims=True)
    c = jnp.where(on(0), log_u(1, cfg.contrast), 1.0)[:, None, None]
    d = jnp.where(on(2), cfg.brightness * jax.random.uniform(k[3], (b,), minval=-1, maxval=1), 0.0)
    y = jnp.clip((y - mean) * c + mean + d[:, None, None], 0, 1)
    g = jnp.where(on(4), log_u(5, cfg.gamma), 1.0)[:, None, None]
    y = y ** g
    # amount 1 = blur, -1 = sharpen (unsharp mask) by the same Gaussian
    sigma = jax.random.uniform(k[6], (b,), minval=0.3, maxval=max(cfg.blur, 0.3))
    amount = jnp.where(on(7), jnp.where(jax.random.bernoulli(k[8], 0.6, (b,)), 1.0, -1.0), 0.0)
    y = jnp.clip(y + amount[:, None, None] * (_gaussian_blur(y, sigma) - y), 0, 1)
    if cfg.lowres:
        small = [jax.image.resize(jax.image.resize(y, (b, n, n), "linear", antialias=True),
                                  y.shape, "linear") for n in cfg.lowres]
        pick = jax.random.randint(jax.random.fold_in(key, 4), (b,), 0, len(small))
        small = jnp.stack(small)[pick, jnp.arange(b)]
        y = jnp.where(jax.random.bernoulli(jax.random.fold_in(key, 5), cfg.photometric, (b,))[:, None, None],
                      small, y)
    s = jnp.where(on(9), jax.random.uniform(k[10], (b,)) * cfg.noise / 255, 0.0)
    y = jnp.clip(y + s[:, None, None] * jax.random.normal(jax.random.fold_in(key, 3), y.shape), 0, 1)
    if y.shape[1] % 8 == 0 and y.shape[2] % 8 == 0:
        quality = jax.random.uniform(k[12], (b,), minval=cfg.jpeg[0], maxval=cfg.jpeg[1])
        y = jnp.where(on(11)[:, None, None], jpeg_like(y, quality), y)
    return (jnp.round(y * 255) / 255)[..., None]


Mix = tuple[jax.Array, jax.Array]  # (weight of the batch's own images, scalar or (B, 1); the shuffle)


def mixup(key: jax.Array, x: jax.Array, alpha: float) -> tuple[jax.Array, Mix]:
    """Each image blended with another of the batch, weight ``lam`` ~ Beta(alpha, alpha) for
    its own (at least 0.5, so the label that accuracy counts stays the larger part)."""
    k_lam, k_perm = jax.random.split(key)
    lam = jax.random.beta(k_lam, alpha, alpha)
    lam = jnp.maximum(lam, 1 - lam)
    perm = jax.random.permutation(k_perm, x.shape[0])
    return lam * x + (1 - lam) * x[perm], (lam, perm)


# The row between the eyes and the mouth (the nose) where ``face_cutmix`` joins two faces,
# and the rows over which it fades from one to the other.
CUT_ROW, CUT_FADE = 28, 4


def face_cutmix(key: jax.Array, x: jax.Array, p: float) -> tuple[jax.Array, Mix]:
    """CutMix (Yun et al. 2019) along the face: with probability ``p`` an image of (B, 48, 48, 1)
    keeps its brows and eyes and takes another face's mouth and chin from :data:`CUT_ROW` down,
    or the reverse, faded over :data:`CUT_FADE` rows so that no seam is drawn; its target is
    mixed by the share of rows each face gives (own upper half: 0.58). JAFFE's posed anger is
    angry brows over a still mouth, a face FER2013 hardly has, and hiding the mouth
    (``occlude``) did not teach the model to weigh the brows against a neutral mouth; these
    chimeras show it exactly that face, with the target that says both. As a fine-tune of the
    shipped model they did not teach it posed anger (``results/generalization/runs.md``)."""
    b, h = x.shape[:2]
    k = jax.random.split(key, 3)
    perm = jax.random.permutation(k[0], b)
    below = jnp.clip((jnp.arange(h) - (CUT_ROW - CUT_FADE / 2) + 0.5) / CUT_FADE, 0, 1)
    take_lower = jax.random.bernoulli(k[1], 0.5, (b, 1))
    other = jnp.where(take_lower, below[None], 1 - below[None])
    other = other * jax.random.bernoulli(k[2], p, (b, 1))  # (B, 48): weight of the other face by row
    w = other[:, :, None, None]
    return (1 - w) * x + w * x[perm], (1 - other.mean(1, keepdims=True), perm)


def faint(key: jax.Array, x: jax.Array, labels: jax.Array, neutral: int, p: float,
          share: tuple[float, float]) -> jax.Array:
    """With probability ``p``, each expressive face of a batch (B, 48, 48, 1) blended with a
    neutral face of the same batch drawn at random, the neutral one's share uniform in ``share``,
    and its label kept: a fainter version of the expression. JAFFE's 60 raters read its posed
    anger as anger (80%), every FER2013 model reads it as neutral, and so does one that sees the
    brows alone (``results/generalization/part_fusion.md``): its anger is weaker than FER2013's,
    which mostly shouts. These blends ask the network to name an expression from what is left
    of it over a neutral face. A batch with no neutral face is left as it is. As a 4-epoch
    fine-tune of the shipped model they did not teach posed anger (angry 0%) and made the
    network call more of JAFFE's faces neutral (``fer2013_vgg48_faint``)."""
    k = jax.random.split(key, 3)
    is_neutral = labels == neutral
    partner = jax.random.categorical(k[0], jnp.where(is_neutral, 0.0, -jnp.inf), shape=labels.shape)
    a = jax.random.uniform(k[1], (x.shape[0], 1, 1, 1), minval=share[0], maxval=share[1])
    use = ~is_neutral & is_neutral.any() & jax.random.bernoulli(k[2], p, labels.shape)
    return jnp.where(use[:, None, None, None], (1 - a) * x + a * x[partner], x)


def inputs(key: jax.Array, images: jax.Array, cfg: Config, camera: bool = True,
           labels: jax.Array | None = None) -> tuple[jax.Array, Mix | None]:
    """A uint8 batch (B, 48, 48) as the network trains on it: (B, 48, 48, 1) in [0, 1], with the
    config's augmentation, camera effects (unless ``camera`` is false) and mixing (whose weights
    and shuffle the loss needs); ``labels``, where given, for :func:`faint`. Faint blends and face
    CutMix come first, so that the warp moves each chimera
    as one face. One key gives the same warp and mixing with or without the camera effects."""
    x, mix = images.astype(jnp.float32)[..., None] / 255.0, None
    if cfg.faint and labels is not None:
        neutral = (data_lib.FERPLUS_CLASSES if cfg.labels == "ferplus" else data_lib.FER_CLASSES).index("neutral")
        x = faint(jax.random.fold_in(key, 17), x, labels, neutral, cfg.faint, cfg.faint_share)
    if cfg.cutmix_face:
        x, mix = face_cutmix(jax.random.fold_in(key, 13), x, cfg.cutmix_face)
    if cfg.augment:
        x = augment(key, x, cfg)
    if cfg.photometric and camera:
        x = photometric(jax.random.fold_in(key, 7), x, cfg)
    if cfg.mixup:
        return mixup(jax.random.fold_in(key, 11), x, cfg.mixup)
    return x, mix


def mixed(t: jax.Array, mix: Mix | None) -> jax.Array:
    """Targets mixed as the images were (cross-entropy is linear in its target)."""
    if mix is None:
        return t
    lam, perm = mix
    return lam * t + (1 - lam) * t[perm]

"""Adversarial attacks on the CNN: untargeted FGSM, targeted/untargeted iterative FGSM, and the
smallest perturbation that fools the model.

Every attack returns *valid uint8 images*, because that is what a real attacker can hand to
the classifier (and what a PNG stores). Two details make that hold exactly:

* the budget is enforced in whole grey levels: each pixel may only take the integers within
  ``eps * 255`` of the input and within 0..255 (:func:`_bounds`), so rounding can never
  break it: ``max |adv - x| <= eps * 255`` on the uint8 result;
* the iterative attack evaluates the model on the *rounded* iterate (a straight-through
  estimator: gradient taken there, applied to the continuous iterate), so the success it
  reports is the success of the uint8 image it returns.

Images are batches (N, 48, 48), uint8 or float in [0, 1]; ``eps`` is on the [0, 1] scale
(``4 / 255`` is four grey levels). The model runs in inference mode (batch-norm running
statistics, no dropout), so images in a batch do not interact and one batched gradient is
every image's own gradient.
"""
from __future__ import annotations

import collections
from functools import partial
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

STEPS = 30  # iterations of the iterative attack
STEP = 1 / 8  # its step size, as a fraction of eps: 30 steps can cross the ball nearly four times


def _levels(images: np.ndarray) -> np.ndarray:
    """Grey levels (float64, 0..255) of uint8 images or of floats in [0, 1]."""
    a = np.asarray(images)
    return a.astype(np.float64) if a.dtype == np.uint8 else np.clip(a.astype(np.float64), 0, 1) * 255


def _bounds(levels: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The integer grey levels each output pixel may take: the L-inf ball of radius ``eps``
    intersected with 0..255, rounded inwards so that the uint8 result keeps the budget."""
    lo = np.maximum(np.ceil(levels - eps * 255), 0)
    hi = np.minimum(np.floor(levels + eps * 255), 255)
    if (lo > hi).any():
        raise ValueError(f"eps={eps:g} is too small: no grey level lies within it of some float pixels")
    return lo, hi


def _batch(n: int, batch_size: int) -> int:
    """The one batch size a call runs at (a power of two for short inputs), padding its
    last batch, so that few programs are compiled."""
    return min(batch_size, 1 << max(n - 1, 0).bit_length())


def margin(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Logit of ``labels`` minus the largest other logit (Carlini & Wagner's loss): positive
    exactly when ``labels`` is the prediction, and unlike cross-entropy its gradient does not
    vanish on confidently classified images."""
    own = jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
    others = jnp.where(jax.nn.one_hot(labels, logits.shape[-1], dtype=bool), -jnp.inf, logits)
    return own - others.max(axis=1)


@partial(jax.jit, static_argnums=0)
def _loss_sign(model: nn.Module, variables: dict, x: jax.Array, labels: jax.Array) -> jax.Array:
    loss = lambda x: optax.softmax_cross_entropy_with_integer_labels(
        model.apply(variables, x[..., None]), labels).sum()
    return jnp.sign(jax.grad(loss)(x))


def fgsm(model: nn.Module, variables: dict, images: np.ndarray, labels: np.ndarray,
         eps: float | Sequence[float], batch_size: int = 256) -> np.ndarray:
    """Untargeted fast gradient sign method (Goodfellow et al. 2015): one step of ``eps`` up
    the sign of the cross-entropy gradient of the true ``labels``.

    The gradient does not depend on ``eps``, so a sequence of ``eps`` shares one backward pass;
    the result is then shaped (len(eps), N, 48, 48) instead of (N, 48, 48).
    """
    levels = _levels(images)
    x, y = (levels / 255).astype(np.float32), np.asarray(labels, np.int32)
    size, sign = _batch(len(x), batch_size), np.zeros_like(x)
    for i in range(0, len(x), size):
        k = min(size, len(x) - i)
        xb, yb = (np.pad(a[i:i + k], [(0, size - k)] + [(0, 0)] * (a.ndim - 1)) for a in (x, y))
        sign[i:i + k] = np.asarray(_loss_sign(model, variables, xb, yb))[:k]
    out = [np.clip(np.round(levels + e * 255 * sign), *_bounds(levels, e)).astype(np.uint8)
           for e in np.atleast_1d(eps)]
    return out[0] if np.ndim(eps) == 0 else np.stack(out)


@partial(jax.jit, static_argnums=0)
def _step(model: nn.Module, variables: dict, x: jax.Array, lo: jax.Array, hi: jax.Array,
          labels: jax.Array, direction: float, alpha: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``direction * margin`` at the rounded ``x`` (success where positive) and the next
    iterate: a sign-gradient step of ``alpha`` per image, projected onto [lo, hi]."""

    def objective(x):
        q = x + jax.lax.stop_gradient(jnp.round(x * 255) / 255 - x)  # straight-through rounding
        m = direction * margin(model.apply(variables, q[..., None]), labels)
        return m.sum(), m

    grad, m = jax.grad(objective, has_aux=True)(x)
    return m, jnp.clip(x + alpha[:, None, None] * jnp.sign(grad), lo, hi)


def iterative(model: nn.Module, variables: dict, images: np.ndarray, labels: np.ndarray, eps: float,
              targeted: bool, steps: int = STEPS, step: float = STEP,
              batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Iterative FGSM (Kurakin et al. 2017) with the margin loss, projected onto the L-inf
    ball of radius ``eps`` and onto [0, 1]: up to ``steps`` steps of ``step * eps``, each
    image stopping at its first success (its least perturbed one on the way).

    ``targeted``: make the model predict ``labels`` (the targets); otherwise make it predict
    anything but ``labels`` (the true classes). Returns (uint8 images, success per image),
    success judged on those uint8 images; a failed image is the last iterate.
    """
    found, adv = smallest_eps(model, variables, images, labels, [eps], targeted, steps, step, batch_size)
    return adv, np.isfinite(found)


def smallest_eps(model: nn.Module, variables: dict, images: np.ndarray, labels: np.ndarray,
                 grid: Sequence[float], targeted: bool, steps: int = STEPS, step: float = STEP,
                 batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the smallest ``eps`` of ``grid`` at which :func:`iterative` succeeds: 0 for
    images already classified as wanted, inf for images never fooled. Returns (eps, uint8
    images), a failed image being the last iterate at the largest eps.

    A perturbation within a small ball lies within every larger one, so with true labels
    and ``targeted=False``, ``mean(eps > e)`` is the accuracy under the best attack up to ``e``.

    Each image is attacked at the smallest eps first, and each time it survives ``steps``
    steps, at the next eps from where it got to (10% fewer steps than restarting from the
    clean image, and as strong). These (image, eps) attempts share a batch whose slots are
    refilled as soon as they finish: attempts take from 1 to ``steps + 1`` gradients, and a
    batch that waited for its slowest image would spend most of its time on a few robust ones.
    (A Python loop around one jitted step: XLA's CPU while-loops run these convolutions 4x
    slower; and on a CPU, small batches cost no more per image than large ones.)
    """
    grid, levels, labels = sorted(grid), _levels(images), np.asarray(labels)
    direction = 1.0 if targeted else -1.0
    n, size = len(levels), _batch(len(levels), batch_size)
    found, adv, start = np.full(n, np.inf), np.round(levels).astype(np.uint8), levels.copy()
    queue = collections.deque((i, 0) for i in range(n))
    slot, level, count = np.full(size, -1), np.zeros(size, int), np.zeros(size, int)
    x, lo, hi = (np.zeros((size, *levels.shape[1:]), np.float32) for _ in range(3))
    y, alpha = np.zeros(size, np.int32), np.zeros(size, np.float32)
    while queue or (slot >= 0).any():
        for s in np.flatnonzero(slot < 0)[:len(queue)]:
            i, k = queue.popleft()
            b_lo, b_hi = _bounds(levels[i], grid[k])
            slot[s], level[s], count[s], y[s], alpha[s] = i, k, 0, labels[i], step * grid[k]
            x[s], lo[s], hi[s] = np.clip(start[i], b_lo, b_hi) / 255, b_lo / 255, b_hi / 255
        m, x_next = _step(model, variables, x, lo, hi, y, direction, alpha)
        hit, live, x_next = np.asarray(m) > 0, slot >= 0, np.array(x_next)
        for s in np.flatnonzero(live & (hit | (count >= steps))):
            i = slot[s]
            adv[i] = np.round(x[s] * 255)
            if hit[s]:
                found[i] = grid[level[s]] if count[s] or level[s] else 0.0
            elif level[s] + 1 < len(grid):
                queue.append((i, level[s] + 1))
                start[i] = x_next[s] * 255
            slot[s] = -1
        x, count = x_next, count + 1
    return found, adv


def psnr(images: np.ndarray, adv: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio in dB per image, on the 0..255 scale (inf when identical)."""
    mse = ((_levels(images) - _levels(adv)) ** 2).mean(axis=(1, 2))
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0 ** 2 / mse)

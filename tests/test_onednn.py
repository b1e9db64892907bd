"""The oneDNN convolutions (emojax.onednn) against XLA's own: same values, same gradients, same
training step, and XLA's path wherever oneDNN's does not apply."""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from emojax import models, onednn, train

pytestmark = pytest.mark.skipif(not onednn.available(), reason=f"oneDNN convolutions unavailable: {onednn.why_not()}")

NHWC = ("NHWC", "HWIO", "NHWC")
CPUINFO = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
BF16_CPU = "avx512_bf16" in CPUINFO or "amx_bf16" in CPUINFO  # oneDNN has bfloat16 kernels for it


def _both(fn):
    """fn's value with oneDNN's convolutions and with XLA's (each traced afresh)."""
    return jax.jit(lambda *a: fn(onednn.conv_general_dilated, *a)), jax.jit(lambda *a: fn(lax.conv_general_dilated, *a))


@pytest.mark.parametrize("n, h, w, ci, co, window, stride, padding", [
    (7, 12, 9, 3, 5, (3, 3), (1, 1), "SAME"),        # odd batch: the two slices differ in size
    (8, 11, 11, 4, 6, (3, 3), (2, 2), "SAME"),       # strided, asymmetric padding
    (5, 10, 10, 6, 4, (5, 3), (1, 2), ((2, 1), (0, 2))),
    (4, 6, 6, 8, 8, (1, 1), (1, 1), "VALID"),
])
def test_values_and_both_gradients_match_xla(n, h, w, ci, co, window, stride, padding):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(n, h, w, ci)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(*window, ci, co)), jnp.float32)

    def f(conv, x, k):
        y = conv(x, k, stride, padding, dimension_numbers=NHWC)
        loss = lambda x, k: jnp.sum(jnp.sin(conv(x, k, stride, padding, dimension_numbers=NHWC)))
        return y, jax.grad(loss, argnums=(0, 1))(x, k)

    mine, xla = _both(f)
    jaxpr = str(jax.make_jaxpr(lambda x, k: f(onednn.conv_general_dilated, x, k))(x, k))
    assert "emojax_conv_fwd" in jaxpr and "emojax_conv_dx" in jaxpr and "emojax_conv_dk" in jaxpr
    for a, b in zip(jax.tree.leaves(mine(x, k)), jax.tree.leaves(xla(x, k))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(jnp.abs(b).max()))


def test_what_onednn_does_not_take_runs_in_xla():
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(8, 6, 6, 4)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(3, 3, 4, 4)), jnp.float32)
    cases = {
        "one face": (x[:1], k, {}),
        "dilated": (x, k, {"rhs_dilation": (2, 2)}),
        "grouped": (x, k[:, :, :2], {"feature_group_count": 2}),
        "bfloat16": (x.astype(jnp.bfloat16), k.astype(jnp.bfloat16), {}),
        "cropping": (x, k, {"padding": ((-1, 0), (1, 1))}),
    }
    for name, (a, b, kw) in cases.items():
        kw = {"padding": "SAME", **kw}
        jaxpr = str(jax.make_jaxpr(lambda a, b: onednn.conv_general_dilated(
            a, b, (1, 1), dimension_numbers=NHWC, **kw))(a, b))
        assert "emojax_conv" not in jaxpr and "conv_general_dilated" in jaxpr, name
        want = lax.conv_general_dilated(a, b, (1, 1), dimension_numbers=NHWC, **kw)
        got = onednn.conv_general_dilated(a, b, (1, 1), dimension_numbers=NHWC, **kw)
        np.testing.assert_array_equal(np.asarray(got, np.float32), np.asarray(want, np.float32))


def test_xla_switch(monkeypatch):
    monkeypatch.setenv("EMOJAX_CONV", "xla")
    assert not onednn.enabled()
    x = jnp.ones((8, 6, 6, 2)), jnp.ones((3, 3, 2, 3))
    assert "emojax_conv" not in str(jax.make_jaxpr(lambda a, b: onednn.conv_general_dilated(
        a, b, (1, 1), "SAME", dimension_numbers=NHWC))(*x))


def test_the_vgg_training_gradient_matches_xla(monkeypatch):
    """The whole network (flax's nn.Conv with emojax.models.Conv): loss and every parameter's
    gradient, in training mode with batch norm, as with XLA's convolutions; and under vmap (the
    many-models engine stacks models on a leading axis)."""
    model = models.create("vgg", 7, width=8)
    variables = models.init(model)
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.random((16, 48, 48, 1)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 7, 16))

    def loss(params):
        logits, _ = model.apply({"params": params, "batch_stats": variables["batch_stats"]}, x, train=True,
                                rngs={"dropout": jax.random.PRNGKey(0)}, mutable=["batch_stats"])
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(16), y])

    grad = lambda: jax.jit(jax.value_and_grad(loss))(variables["params"])
    stacked = jax.tree.map(lambda p: jnp.stack([p, 0.5 * p]), variables["params"])
    many = lambda: jax.jit(jax.vmap(jax.value_and_grad(loss)))(stacked)
    assert "emojax_conv_dk" in str(jax.make_jaxpr(jax.grad(loss))(variables["params"]))
    mine, mine_many = grad(), many()
    monkeypatch.setenv("EMOJAX_CONV", "xla")
    xla, xla_many = grad(), many()
    for a, b in zip(jax.tree.leaves((mine, mine_many)), jax.tree.leaves((xla, xla_many))):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-5)


def test_bfloat16_products_when_asked():
    """Under ``jax.default_matmul_precision("bfloat16")`` (``Config.precision``) the three passes
    read bfloat16 copies of their inputs: float32's values to within bfloat16's rounding (8
    significant bits), and not exactly them; the same jitted function outside it is float32 again."""
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.normal(size=(8, 12, 12, 16)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(3, 3, 16, 32)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(8, 12, 12, 32)), jnp.float32)

    def f(conv, x, k):
        loss = lambda x, k: jnp.sum(w * conv(x, k, (1, 1), "SAME", dimension_numbers=NHWC))
        return conv(x, k, (1, 1), "SAME", dimension_numbers=NHWC), jax.grad(loss, argnums=(0, 1))(x, k)

    mine, xla = _both(f)
    with jax.default_matmul_precision("bfloat16"):
        assert "('bf16', np.int64(1))" in str(jax.make_jaxpr(lambda x, k: f(onednn.conv_general_dilated, x, k))(x, k))
        half = mine(x, k)
    full, want = mine(x, k), xla(x, k)
    for h, f32, r in zip(jax.tree.leaves(half), jax.tree.leaves(full), jax.tree.leaves(want)):
        np.testing.assert_allclose(f32, r, rtol=1e-4, atol=1e-4 * float(jnp.abs(r).max()))
        err = float(jnp.linalg.norm(h - r) / jnp.linalg.norm(r))
        assert err < 1e-2
        if BF16_CPU:
            assert err > 1e-4  # bfloat16 really ran (elsewhere oneDNN may stay in float32)


def test_a_bfloat16_training_step_follows_the_float32_one():
    """``Config(precision="bfloat16")``: the VGG's training step, its loss and its update close
    to float32's. Not closer: from a random start, batch norm's backward pass subtracts nearly
    equal terms, so bfloat16's rounding moves the first layers' updates by a few degrees (cosine
    0.93-0.97 here, 0.97 over all parameters), far less than the next batch would."""
    rng = np.random.default_rng(4)
    images = jnp.asarray(rng.integers(0, 256, (16, 48, 48)), jnp.uint8)
    labels = jnp.asarray(rng.integers(0, 7, 16), jnp.int32)
    steps = {}
    for precision in (None, "bfloat16"):
        cfg = train.Config(model_kwargs={"width": 8}, batch_size=16, precision=precision)
        state = train.create_state(cfg, 7, steps_per_epoch=10)
        before = jax.tree.map(np.asarray, state.params)  # the step donates the state
        state, m = train.train_step(state, images, labels, None, jax.random.PRNGKey(0), cfg)
        steps[precision] = (float(m["loss"]), jax.tree.map(lambda a, b: a - b, state.params, before))
    (loss32, d32), (loss16, d16) = steps[None], steps["bfloat16"]
    assert abs(loss16 - loss32) < 0.01 * loss32
    cosine = lambda a, b: float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    flat = lambda d: [np.ravel(a) for a in jax.tree.leaves(d)]
    assert cosine(np.concatenate(flat(d32)), np.concatenate(flat(d16))) > 0.95
    assert min(cosine(a, b) for a, b in zip(flat(d32), flat(d16))) > 0.85

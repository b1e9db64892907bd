"""Training, checkpoints, resume, data parallelism and evaluation, on real FER2013 rows."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import REPO, assert_clean_error, run_cli, with_ctrl_c
from emojax import augment, models, pipeline, train
from emojax.data import FER_CLASSES
from emojax.io import EmojaxError
from emojax.pipeline import CNNClassifier

ARTEFACTS = ("model.json", "weights", "ckpt", "tb", "architecture.txt", "learning_curves.png", "metrics.json")


def test_one_epoch_on_2000_images_from_the_command_line(fer_path, tmp_path):
    out = tmp_path / "run"
    proc = run_cli("experiments/train_cnn.py", "--data", str(fer_path), "--subset", "2000", "--epochs", "1",
                   "--width", "8", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "PrivateTest accuracy" in proc.stdout
    for name in ARTEFACTS:
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["command"].startswith("python experiments/train_cnn.py --data")
    assert metrics["epochs_run"] == 1 and len(metrics["history"]) == 1
    assert 0 < metrics["test_accuracy"] < 1 and set(metrics["test_per_class"]) == {
        "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert "Conv_0" in (out / "architecture.txt").read_text()
    assert list((out / "tb").glob("events.out.tfevents.*"))
    # The saved model evaluates from the command line.
    ev = run_cli("-m", "emojax.evaluate", "--checkpoint", str(out), "--data", str(fer_path))
    assert ev.returncode == 0, ev.stderr
    acc = float(ev.stdout.split("Accuracy on test set: ")[1].split("%")[0])
    assert acc == pytest.approx(100 * metrics["test_accuracy"], abs=0.051)
    assert "precision" in ev.stdout and (out / "confusion_test.png").stat().st_size > 1000


def _args(csv, out, *extra, epochs: int = 4):
    return ("experiments/train_cnn.py", "--data", str(csv), "--config", "demo_small", "--epochs", str(epochs),
            "--patience", "10", "--out", str(out), "--no-progress", *extra)


def test_killed_run_resumes_to_the_same_history(small_csv, tmp_path):
    full = run_cli(*_args(small_csv, tmp_path / "full"))
    assert full.returncode == 0, full.stderr
    # Kill a second run with SIGKILL as soon as its second epoch checkpoint is on disk.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, *_args(small_csv, tmp_path / "killed")], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (tmp_path / "killed" / "ckpt" / "2").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "metrics.json").exists(), "the run finished before it was killed"
    resumed = run_cli(*_args(small_csv, tmp_path / "killed", "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch" in resumed.stderr
    a = json.loads((tmp_path / "full" / "metrics.json").read_text())
    b = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    assert b["epochs_run"] == a["epochs_run"] == 4
    for ha, hb in zip(a["history"], b["history"], strict=True):
        for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
            assert hb[k] == pytest.approx(ha[k], rel=1e-5), (ha["epoch"], k)
    assert b["test_accuracy"] == a["test_accuracy"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_during_a_checkpoint_keeps_it_whole(small_csv, tmp_path, signum):
    """Ctrl-C or ``kill`` that lands while an epoch's checkpoint is being written waits for it:
    the run stops with one line saying how to continue, no half-written checkpoint is left,
    and ``--resume`` goes on from that epoch."""
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = _args(small_csv, out, epochs=40)
    proc = subprocess.Popen([*with_ctrl_c(args[0]), *args[1:]], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline, writing = time.time() + 240, []
    while not writing and proc.poll() is None and time.time() < deadline:
        writing = [p.name for p in (out / "ckpt").glob("*.orbax-checkpoint-tmp") if int(p.name.split(".")[0]) >= 3]
        time.sleep(0.002)
    proc.send_signal(signum)  # while an epoch's checkpoint (the third or a later one) is being written
    _, stderr = proc.communicate(timeout=120)
    assert writing and proc.returncode == 130, stderr
    epoch = writing[0].split(".")[0]
    assert "Traceback" not in stderr and "ERROR" not in stderr, stderr
    assert stderr.rstrip().endswith(f"stopped after epoch {epoch}, whose checkpoint is in {out / 'ckpt'}; "
                                    "--resume continues it"), stderr
    assert sorted(p.name for p in (out / "ckpt").iterdir()) == [epoch]  # whole, and nothing half-written
    assert not (out / "metrics.json").exists()
    if signum == signal.SIGINT:
        return  # the same files as for SIGTERM: resumed once, below
    resumed = run_cli(*_args(small_csv, out, "--resume", epochs=int(epoch) + 1))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after epoch {epoch}" in resumed.stderr and "WARNING" not in resumed.stderr


def test_signals_wait_for_a_write_and_an_ignored_one_stays_ignored():
    from emojax.io import signals_deferred

    before = signal.getsignal(signal.SIGINT)
    reached = []
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with pytest.raises(KeyboardInterrupt):
            with signals_deferred():
                with signals_deferred():  # nested: a model saved inside an epoch's checkpoint
                    os.kill(os.getpid(), signal.SIGINT)
                    reached.append("inner")
                reached.append("outer")
        assert reached == ["inner", "outer"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a background job of a script
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)

def test_a_fine_tune_draws_fresh_batches_and_keeps_them_on_resume(small_fer, tiny_cnn, tmp_path, monkeypatch):
    """A run started from a saved model does not replay the batches and augmentation its parent
    drew with the same seed, and a resumed one keeps its stream even when the saved model it
    started from has changed since (a new model shipped in its place)."""
    init = tmp_path / "init"
    shutil.copytree(tiny_cnn, init)
    cfg = train.Config(model="small", model_kwargs={"width": 8}, epochs=3, batch_size=64, subset=256,
                       patience=10, init=str(init))
    stream = train.stream_of(cfg)
    assert stream != 0 and train.stream_of(dataclasses.replace(cfg, init=None)) == 0
    assert not np.array_equal(train.epoch_order(cfg, stream, 1, 256), train.epoch_order(cfg, 0, 1, 256))
    assert not np.array_equal(train.run_key(cfg, stream), train.run_key(cfg, 0))
    full = train.train(cfg, small_fer, tmp_path / "full", progress=False)
    assert full["stream"] == stream
    real, calls = train.evaluate_split, []

    def killed_in_epoch_3(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return real(*a, **k)

    monkeypatch.setattr(train, "evaluate_split", killed_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, small_fer, tmp_path / "killed", progress=False)
    monkeypatch.setattr(train, "evaluate_split", real)
    meta = json.loads((init / "model.json").read_text())
    (init / "model.json").write_text(json.dumps({**meta, "note": "replaced since"}))
    assert train.stream_of(cfg) != stream
    resumed = train.train(cfg, small_fer, tmp_path / "killed", resume=True, progress=False)
    assert resumed["stream"] == stream
    for ha, hb in zip(full["history"], resumed["history"], strict=True):
        for k in ("train_loss", "val_loss", "val_accuracy"):
            assert hb[k] == pytest.approx(ha[k], rel=1e-5), (ha["epoch"], k)


def test_a_run_records_the_models_it_started_from_and_learnt_from(small_fer, tiny_cnn, tmp_path, monkeypatch):
    """A config names its start and teachers by path, and the model at a path changes when a
    new one ships: metrics.json keeps the hash of each as the run read it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the teachers' probabilities
    init = tmp_path / "init"
    shutil.copytree(tiny_cnn, init, ignore=shutil.ignore_patterns("ckpt"))
    cfg = train.Config(model="small", model_kwargs={"width": 8}, epochs=1, batch_size=64, subset=256,
                       patience=10, init=str(init), teacher=(str(init), str(tiny_cnn)), distill=0.5)
    assert list(train.sources_of(cfg)) == [str(init), str(tiny_cnn)]  # each once, start first
    assert train.sources_of(train.Config()) == {}
    before = models.fingerprint(init)
    res = train.train(cfg, small_fer, tmp_path / "run", progress=False)
    assert res["sources"] == {str(init): before, str(tiny_cnn): models.fingerprint(tiny_cnn)}
    meta = json.loads((init / "model.json").read_text())
    (init / "model.json").write_text(json.dumps({**meta, "note": "replaced since"}))
    assert train.sources_of(cfg)[str(init)] != before
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["sources"][str(init)] == before


def test_replayed_batches_table(small_csv, tmp_path):
    """The replay check measures a finished run's model on the batches of its own stream and
    on fresh ones, and refuses a folder that holds no finished run."""
    assert run_cli(*_args(small_csv, tmp_path / "run", epochs=2)).returncode == 0
    out = tmp_path / "replay.md"
    proc = run_cli("experiments/replayed_batches.py", str(tmp_path / "run"), "--data", str(small_csv),
                   "--epochs", "1", "2", "--batches", "3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.with_suffix(".json").read_text())
    assert [(r["epoch"], r["batches"]) for r in rows] == [(1, "own"), (1, "fresh"), (2, "own"), (2, "fresh")]
    assert all(np.isfinite(r["loss"]) and 0 <= r["accuracy"] <= 1 for r in rows)
    assert rows[0]["loss"] != rows[1]["loss"]  # another stream: other batches
    bad = run_cli("experiments/replayed_batches.py", str(tmp_path), "--data", str(small_csv))
    assert_clean_error(bad)
    assert "is not a finished training run" in bad.stderr


def test_two_host_devices_match_one(small_csv, tmp_path):
    """The data-parallel step on a 2-device mesh computes what one device computes."""
    runs = {}
    for n in (1, 2):
        out = tmp_path / f"dev{n}"
        proc = run_cli(*_args(small_csv, out, epochs=2),
                       env={"XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"})
        assert proc.returncode == 0, proc.stderr
        runs[n] = json.loads((out / "metrics.json").read_text())["history"]
    for h1, h2 in zip(runs[1], runs[2], strict=True):
        for k in ("train_loss", "val_loss", "val_accuracy"):
            assert h2[k] == pytest.approx(h1[k], rel=2e-3, abs=2e-3), k


def test_batch_sharded_over_the_data_axis():
    code = ("import jax, numpy as np; from emojax.train import data_mesh, shard_batch;"
            "m = data_mesh(); (x,) = shard_batch(m, np.zeros((8, 48, 48), np.uint8));"
            "print(m.axis_names, len(x.sharding.device_set), x.addressable_shards[0].data.shape)")
    proc = run_cli("-c", code, env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["('data',)", "2", "(4,", "48,", "48)"]


def test_augmentation_keeps_images_valid_and_flip_is_a_mirror():
    x = jax.random.uniform(jax.random.PRNGKey(0), (16, 48, 48, 1))
    cfg = train.Config()
    y = augment.augment(jax.random.PRNGKey(1), x, cfg)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    assert float(jnp.abs(y - x).mean()) > 0.05
    # With every other transform off, each image is either itself or its mirror image.
    flip_only = dataclasses.replace(cfg, shift=0.0, scale=0.0, rotate=0.0, erase=0.0)
    y = augment.augment(jax.random.PRNGKey(2), x, flip_only)
    same = jnp.abs(y - x).max(axis=(1, 2, 3)) < 1e-5
    mirrored = jnp.abs(y - x[:, :, ::-1]).max(axis=(1, 2, 3)) < 1e-5
    assert bool((same | mirrored).all()) and 0 < int(mirrored.sum()) < 16


def test_occlusion_hides_one_face_half_at_the_given_rate():
    x = jnp.full((400, 48, 48, 1), 0.5)
    y = np.asarray(augment.occlude(jax.random.PRNGKey(0), x, 0.5))[..., 0]
    changed = np.abs(y - 0.5) > 1e-6  # noise in [0, 1) is never exactly the grey it replaces
    rows = changed.any(2)  # (B, 48): which rows of each image were hidden
    (u0, u1), (l0, l1) = augment.FACE_BANDS
    upper, lower = np.zeros(48, bool), np.zeros(48, bool)
    upper[u0:u1], lower[l0:l1] = True, True
    kinds = [tuple(r) for r in rows]
    assert set(kinds) == {tuple(np.zeros(48, bool)), tuple(upper), tuple(lower)}  # whole bands, one at most
    assert rows.any() and changed[rows].all()  # a hidden row is hidden across its width
    hidden = rows.any(1)
    assert 0.4 < hidden.mean() < 0.6 and 0.35 < rows[hidden][:, l0].mean() < 0.65
    assert train.Config().occlude == 0.0  # off by default: earlier recipes are unchanged


def test_mixup_blends_images_and_targets_alike(small_fer):
    x = jax.random.uniform(jax.random.PRNGKey(0), (32, 48, 48, 1))
    y, (lam, perm) = augment.mixup(jax.random.PRNGKey(1), x, 0.4)
    assert 0.5 <= float(lam) <= 1 and sorted(np.asarray(perm).tolist()) == list(range(32))
    np.testing.assert_allclose(y, lam * x + (1 - lam) * x[perm], atol=1e-6)
    labels = jnp.arange(32) % 7
    t = augment.mixed(jax.nn.one_hot(labels, 7), (lam, perm))
    np.testing.assert_allclose(t.sum(1), 1, atol=1e-6)
    moved = np.asarray(labels != labels[perm])
    assert moved.any() and np.allclose(t[jnp.arange(32), labels][moved], lam)
    # In a training step: the same keys give another loss than without mixup.
    cfg = train.Config(model="small", model_kwargs={"width": 4}, augment=False, mixup=0.4)
    images, lab = small_fer.train.images[:64], small_fer.train.labels[:64]
    losses = []
    for c in (cfg, dataclasses.replace(cfg, mixup=0.0)):
        state = train.create_state(c, 7, steps_per_epoch=10)
        _, m = train.train_step(state, jnp.asarray(images), jnp.asarray(lab), None, jax.random.PRNGKey(3), c)
        losses.append(float(m["loss"]))
    assert np.isfinite(losses).all() and abs(losses[0] - losses[1]) > 1e-3
    bad = dataclasses.replace(cfg, labels="ferplus", ferplus_mode="multilabel")
    with pytest.raises(EmojaxError, match="mixup"):
        train.training_data(bad, small_fer)


def test_faint_lays_expressive_faces_over_neutral_ones_and_keeps_labels(small_fer):
    """Real faces: neutral ones stay; about ``p`` of the others become (1 - a) x + a n for a
    neutral face n of the batch and a in the share range; the step's labels are the batch's."""
    images, labels = small_fer.train.images[:512], small_fer.train.labels[:512]
    x = jnp.asarray(images, jnp.float32)[..., None] / 255
    neutral = FER_CLASSES.index("neutral")
    y = np.asarray(augment.faint(jax.random.PRNGKey(0), x, jnp.asarray(labels), neutral, 0.5, (0.2, 0.5)))
    x = np.asarray(x)
    same = np.abs(y - x).reshape(len(x), -1).max(1) < 1e-6
    is_neutral = labels == neutral
    assert same[is_neutral].all()
    assert abs((~same[~is_neutral]).mean() - 0.5) < 0.08
    pool = x[is_neutral].reshape(is_neutral.sum(), -1)
    for i in np.flatnonzero(~same)[:20]:
        d = (x[i].ravel() - pool)  # x - n for each neutral face n
        a = (d * (x[i] - y[i]).ravel()).sum(1) / (d * d).sum(1)
        err = np.abs((x[i].ravel() - a[:, None] * d) - y[i].ravel()).max(1)
        j = err.argmin()
        assert err[j] < 1e-5 and 0.2 - 1e-4 <= a[j] <= 0.5 + 1e-4
    cfg = train.Config(model="small", model_kwargs={"width": 4}, augment=False, faint=0.5)
    nothing = np.asarray(augment.inputs(jax.random.PRNGKey(0), jnp.asarray(images), cfg)[0])
    assert np.allclose(nothing, x)  # no labels given: no blends
    with_labels = np.asarray(augment.inputs(jax.random.PRNGKey(0), jnp.asarray(images), cfg,
                                          labels=jnp.asarray(labels))[0])
    assert not np.allclose(with_labels, x)
    no_neutral = np.asarray(augment.faint(jax.random.PRNGKey(0), jnp.asarray(x), jnp.zeros(512, int), neutral,
                                        1.0, (0.2, 0.5)))
    assert np.allclose(no_neutral, x)


def test_face_cutmix_joins_two_faces_at_the_nose_and_mixes_targets_by_rows(small_fer):
    x = jnp.asarray(small_fer.train.images[:200]).astype(jnp.float32)[..., None] / 255.0
    y, (lam, perm) = augment.face_cutmix(jax.random.PRNGKey(0), x, 0.5)
    y, lam, perm, x = np.asarray(y), np.asarray(lam)[:, 0], np.asarray(perm), np.asarray(x)
    top, bottom = slice(0, augment.CUT_ROW - augment.CUT_FADE // 2), slice(augment.CUT_ROW + augment.CUT_FADE // 2, 48)
    kept = np.isclose(lam, 1)
    lower_taken = np.isclose(lam, 28 / 48)
    upper_taken = np.isclose(lam, 20 / 48)
    assert (kept | lower_taken | upper_taken).all() and 0.35 < 1 - kept.mean() < 0.65
    assert lower_taken.any() and upper_taken.any()
    np.testing.assert_array_equal(y[kept], x[kept])
    np.testing.assert_allclose(y[lower_taken][:, top], x[lower_taken][:, top])
    np.testing.assert_allclose(y[lower_taken][:, bottom], x[perm[lower_taken]][:, bottom])
    np.testing.assert_allclose(y[upper_taken][:, top], x[perm[upper_taken]][:, top])
    np.testing.assert_allclose(y[upper_taken][:, bottom], x[upper_taken][:, bottom])
    labels = jnp.asarray(small_fer.train.labels[:200])
    t = np.asarray(augment.mixed(jax.nn.one_hot(labels, 7), (jnp.asarray(lam)[:, None], perm)))
    np.testing.assert_allclose(t.sum(1), 1, atol=1e-6)
    moved = lower_taken & (np.asarray(labels) != np.asarray(labels)[perm])
    assert moved.any() and np.allclose(t[moved, np.asarray(labels)[moved]], 28 / 48)
    # In a training step it changes the loss; beside mixup it is refused (both mix targets).
    cfg = train.Config(model="small", model_kwargs={"width": 4}, augment=False, cutmix_face=0.5)
    losses = []
    for c in (cfg, dataclasses.replace(cfg, cutmix_face=0.0)):
        state = train.create_state(c, 7, steps_per_epoch=10)
        _, m = train.train_step(state, jnp.asarray(small_fer.train.images[:64]),
                                jnp.asarray(small_fer.train.labels[:64]), None, jax.random.PRNGKey(3), c)
        losses.append(float(m["loss"]))
    assert np.isfinite(losses).all() and abs(losses[0] - losses[1]) > 1e-3
    with pytest.raises(EmojaxError, match="one at a time"):
        train.training_data(dataclasses.replace(cfg, mixup=0.2), small_fer)


def test_subtle_faces_come_back_each_epoch(fer_path):
    """The faces FER2013 labels with an emotion and FER+'s taggers call neutral appear
    ``subtle_repeat`` times per epoch, labels unchanged and the votes not used as targets;
    without FER+'s votes the option is refused."""
    if not (fer_path.parent / "fer2013new.csv").exists():
        pytest.skip("fer2013new.csv not found beside FER2013")
    from emojax import data

    ds = data.load(fer_path, ferplus_soft=True, verbose=False)
    ds = dataclasses.replace(ds, train=ds.train.subset(slice(0, 3000)))
    subtle = train.subtle_faces(ds.train, ds.classes)
    neutral = ds.classes.index("neutral")
    emotional = ds.train.labels != neutral
    assert 0.1 < subtle.sum() / emotional.sum() < 0.35 and not subtle[~emotional].any()
    cfg = train.Config(model="small", model_kwargs={"width": 4}, subtle_repeat=3)
    split, _, _, steps, soft = train.training_data(cfg, ds)
    assert soft is None and len(split) == 3000 + 2 * subtle.sum() and steps == len(split) // cfg.batch_size
    np.testing.assert_array_equal(split.images[:3000], ds.train.images)
    extra = split.subset(slice(3000, None))
    assert (extra.labels != neutral).all() and (extra.targets.argmax(1) == neutral).all()
    np.testing.assert_array_equal(extra.images[:subtle.sum()], ds.train.images[subtle])
    plain = data.load(fer_path, verbose=False)
    with pytest.raises(EmojaxError, match="FER\\+ vote"):
        train.training_data(cfg, dataclasses.replace(plain, train=plain.train.subset(slice(0, 3000))))


def test_sam_steps_from_the_worst_nearby_weights_and_learns(small_fer):
    """A SAM step reports the loss of the weights themselves (the same as a plain step's), moves
    them differently, and repeated steps fit a fixed batch."""
    cfg = train.Config(model="small", model_kwargs={"width": 4}, augment=False, sam=0.05, lr=0.05)
    images, labels = jnp.asarray(small_fer.train.images[:64]), jnp.asarray(small_fer.train.labels[:64])
    key = jax.random.PRNGKey(3)
    results = []
    for c in (cfg, dataclasses.replace(cfg, sam=0.0)):
        state = train.create_state(c, 7, steps_per_epoch=10)
        state, m = train.train_step(state, images, labels, None, key, c)
        results.append((float(m["loss"]), jax.tree_util.tree_leaves(state.params)))
    (loss_sam, p_sam), (loss_plain, p_plain) = results
    assert loss_sam == pytest.approx(loss_plain, rel=1e-5)
    assert max(float(jnp.abs(a - b).max()) for a, b in zip(p_sam, p_plain)) > 1e-5
    state = train.create_state(cfg, 7, steps_per_epoch=10)
    losses = []
    for i in range(30):
        state, m = train.train_step(state, images, labels, None, jax.random.fold_in(key, i), cfg)
        losses.append(float(m["loss"]))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


def test_consistency_pairs_each_face_with_and_without_its_camera_effects(small_fer):
    """The plain view is the camera view's face before the camera (same warp, same erasing);
    the Jensen-Shannon term is zero for equal predictions, at most ln 2, and adds to the loss;
    without camera effects there is nothing to compare and the option is refused."""
    cfg = train.Config(model="small", model_kwargs={"width": 4}, photometric=1.0, consistency=12.0)
    images, labels = jnp.asarray(small_fer.train.images[:64]), jnp.asarray(small_fer.train.labels[:64])
    key = jax.random.PRNGKey(5)
    plain = np.asarray(augment.inputs(key, images, cfg, camera=False)[0])
    camera = np.asarray(augment.inputs(key, images, cfg)[0])
    warped = np.asarray(augment.augment(key, images.astype(jnp.float32)[..., None] / 255.0, cfg))
    np.testing.assert_array_equal(plain, warped)
    assert np.abs(camera - plain).mean() > 0.01
    logits = jax.random.normal(key, (64, 7)) * 3
    assert float(train.jensen_shannon(logits, logits)) == pytest.approx(0.0, abs=1e-6)
    far = float(train.jensen_shannon(logits, -logits))
    assert 0.1 < far <= np.log(2) + 1e-6
    losses = []
    for c in (cfg, dataclasses.replace(cfg, consistency=0.0)):
        state = train.create_state(c, 7, steps_per_epoch=10)
        _, m = train.train_step(state, images, labels, None, key, c)
        losses.append(float(m["loss"]))
    assert np.isfinite(losses).all() and losses[0] != pytest.approx(losses[1], rel=1e-4)
    with pytest.raises(EmojaxError, match="photometric"):
        train.training_data(dataclasses.replace(cfg, photometric=0.0), small_fer)


@pytest.mark.parametrize("mode", ["majority", "crossentropy", "pld", "multilabel"])
def test_ferplus_training_modes_learn(mode):
    """Each FER+ target mode lowers the loss on a fixed batch of soft targets."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 48, 48), dtype=np.uint8)
    soft = rng.dirichlet(np.ones(8) * 0.3, 32).astype(np.float32)
    labels = soft.argmax(1).astype(np.int32)
    cfg = train.Config(model="small", model_kwargs={"width": 4}, labels="ferplus", ferplus_mode=mode,
                       epochs=1, lr=3e-3, optimizer="adamw", augment=False, warmup_epochs=0)
    state = train.create_state(cfg, 8, steps_per_epoch=40)
    losses = []
    for i in range(40):
        state, m = train.train_step(state, images, labels, None if mode == "majority" else soft,
                                    jax.random.PRNGKey(i), cfg)
        losses.append(float(m["loss"]))
    assert np.isfinite(losses).all() and np.mean(losses[-5:]) < np.mean(losses[:5])


def test_saved_model_round_trip(tiny_cnn, small_fer):
    model, variables, meta = models.load(tiny_cnn)
    assert meta["classes"] == list(small_fer.classes) and meta["model"] == "small"
    clf = CNNClassifier(tiny_cnn)
    p = clf.predict_proba(small_fer.test.images[:10])
    assert p.shape == (10, 7) and np.allclose(p.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(clf.predict_proba(small_fer.test.images[3]), p[3], atol=1e-6)
    # Better than always answering the largest class on unseen PublicTest images.
    acc = (clf.predict(small_fer.val.images) == small_fer.val.labels).mean()
    assert acc > np.bincount(small_fer.val.labels).max() / len(small_fer.val)


def test_init_from_a_saved_model_keeps_matching_layers(tiny_cnn):
    """Transfer to FER+: every layer of the 7-class FER2013 model is copied into an 8-class
    net except the classifier, which starts fresh."""
    _, saved, _ = models.load(tiny_cnn)
    cfg = train.Config(model="small", model_kwargs={"width": 8}, labels="ferplus")
    state, fresh = train.init_from(train.create_state(cfg, 8, steps_per_epoch=10), tiny_cnn)
    assert fresh == ["params/Dense_0"]
    for layer in ("Conv_0", "Conv_2", "BatchNorm_1"):
        for k, v in saved["params"][layer].items():
            np.testing.assert_array_equal(state.params[layer][k], v)
    np.testing.assert_array_equal(state.batch_stats["BatchNorm_2"]["mean"], saved["batch_stats"]["BatchNorm_2"]["mean"])
    assert state.params["Dense_0"]["kernel"].shape[-1] == 8
    # The optimizer starts afresh on the copied weights and a step runs.
    x = np.zeros((4, 48, 48), np.uint8)
    state, m = train.train_step(state, x, np.zeros(4, np.int32), None, jax.random.PRNGKey(0), cfg)
    assert np.isfinite(float(m["loss"]))


def test_batch_norm_matches_flax():
    """Our matrix-vector BatchNorm computes what flax.linen.BatchNorm does, in training
    (batch statistics, running-average update) and in inference."""
    import flax.linen as nn

    x = jax.random.normal(jax.random.PRNGKey(0), (16, 6, 6, 5)) * 3 + 1
    ours, theirs = models.BatchNorm(momentum=0.9), nn.BatchNorm(momentum=0.9)
    v = theirs.init(jax.random.PRNGKey(1), x, use_running_average=False)
    v = jax.tree_util.tree_map(lambda a: a + jax.random.uniform(jax.random.PRNGKey(2), a.shape), v)
    assert jax.tree_util.tree_structure(ours.init(jax.random.PRNGKey(1), x)) == jax.tree_util.tree_structure(v)
    y1, s1 = ours.apply(v, x, mutable=["batch_stats"])
    y2, s2 = theirs.apply(v, x, use_running_average=False, mutable=["batch_stats"])
    np.testing.assert_allclose(y1, y2, atol=1e-4)
    for k in ("mean", "var"):
        np.testing.assert_allclose(s1["batch_stats"][k], s2["batch_stats"][k], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(models.BatchNorm(use_running_average=True).apply(v, x),
                               theirs.apply(v, x, use_running_average=True), atol=1e-5)


def test_fused_batch_norm_relu_matches_flax_and_autodiff():
    """BatchNorm(relu=True) in training is relu(flax BatchNorm) in value, running averages
    and gradient (its backward pass is written by hand)."""
    import flax.linen as nn

    x = jax.random.normal(jax.random.PRNGKey(0), (16, 6, 6, 5)) * 3 + 1
    w = jax.random.normal(jax.random.PRNGKey(3), x.shape)
    theirs = nn.BatchNorm(momentum=0.9)
    v = theirs.init(jax.random.PRNGKey(1), x, use_running_average=False)
    v = jax.tree_util.tree_map(lambda a: a + jax.random.uniform(jax.random.PRNGKey(2), a.shape) - 0.5, v)

    def loss(params, x, module, **kw):
        y, s = module.apply({**v, "params": params}, x, mutable=["batch_stats"], **kw)
        return jnp.sum(w * (y if module is not theirs else nn.relu(y))), s

    (l1, s1), g1 = jax.value_and_grad(loss, (0, 1), has_aux=True)(v["params"], x, models.BatchNorm(relu=True))
    (l2, s2), g2 = jax.value_and_grad(loss, (0, 1), has_aux=True)(v["params"], x, theirs, use_running_average=False)
    np.testing.assert_allclose(l1, l2, rtol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves((g1, s1)), jax.tree_util.tree_leaves((g2, s2))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_antialiased_pool_is_a_blurred_dense_max_and_steadier_under_shifts():
    """max_blur_pool2 is the 2x2 max at stride 1, blurred by [1, 2, 1] x [1, 2, 1] / 16 and
    subsampled, its gradient that definition's; on a face moved by one pixel its output changes half as much as max_pool2's;
    a VGG with it takes the same weights as one without."""
    def reference(a):  # the definition, written plainly (edge pads, a 3x3 kernel, strided slices)
        h, w = a.shape[1:3]
        p = jnp.pad(a, ((0, 0), (0, 1), (0, 1), (0, 0)), mode="edge")
        dense = jnp.maximum(jnp.maximum(p[:, :-1, :-1], p[:, 1:, :-1]), jnp.maximum(p[:, :-1, 1:], p[:, 1:, 1:]))
        k = np.outer([1, 2, 1], [1, 2, 1]) / 16
        q = jnp.pad(dense, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        return sum(k[i, j] * q[:, i:i + h, j:j + w] for i in range(3) for j in range(3))[:, ::2, ::2]

    x = np.random.default_rng(0).random((8, 49, 49, 1)).astype(np.float32)
    a = x[:, :48, :48]
    for face in (a, x[:, :7, :5]):  # odd sides too: the last row or column is repeated
        np.testing.assert_allclose(models.max_blur_pool2(face), reference(face), atol=1e-6)
        weights = np.random.default_rng(1).random(reference(face).shape)
        grad = lambda f: jax.grad(lambda v: jnp.sum(weights * f(v)))(jnp.asarray(face))
        np.testing.assert_allclose(grad(models.max_blur_pool2), grad(reference), atol=1e-6)
    moved = x[:, 1:, 1:]
    change = {f: np.abs(np.asarray(f(a)) - np.asarray(f(moved))).mean()
              for f in (models.max_pool2, models.max_blur_pool2)}
    assert change[models.max_blur_pool2] < 0.6 * change[models.max_pool2], change
    plain, smooth = models.VGG(width=4), models.VGG(width=4, antialias=True)
    v = models.init(plain)
    faces = jnp.asarray(a)
    assert jax.tree_util.tree_structure(v) == jax.tree_util.tree_structure(models.init(smooth))
    assert not np.allclose(plain.apply(v, faces), smooth.apply(v, faces))


def test_cpu_xla_defaults_and_opt_out():
    """`import emojax` turns YNNPACK fusion off (single-threaded convolutions on CPU) unless
    the user opts out or sets it themselves."""
    code = "import os, emojax; print(repr(os.environ.get('XLA_FLAGS', '')))"
    on = run_cli("-c", code, env={"XLA_FLAGS": "--xla_cpu_enable_fast_math=false"})
    assert on.stdout.strip() == repr("--xla_cpu_enable_fast_math=false --xla_cpu_experimental_ynn_fusion_type=")
    off = run_cli("-c", code, env={"XLA_FLAGS": "", "EMOJAX_XLA_DEFAULTS": "0"})
    assert off.stdout.strip() == "''"
    mine = run_cli("-c", code, env={"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_DOT"})
    assert "ynn_fusion_type=LIBRARY_FUSION_TYPE_DOT'" in mine.stdout and mine.stdout.count("ynn") == 1


def test_test_time_views():
    x = jnp.asarray(np.random.default_rng(0).random((3, 48, 48, 1)), jnp.float32)
    assert pipeline.tta_views(x, 1).shape == (1, 3, 48, 48, 1)
    v = pipeline.tta_views(x, 10)
    assert v.shape == (10, 3, 48, 48, 1)
    np.testing.assert_array_equal(v[0], x)
    np.testing.assert_array_equal(v[5], x[:, :, ::-1])     # each placement also mirrored
    np.testing.assert_array_equal(v[1][:, 2:], x[:, :-2])  # moved down 2 px, top row repeated
    np.testing.assert_array_equal(v[1][:, :2], np.repeat(x[:, :1], 2, axis=1))
    np.testing.assert_array_equal(v[4][:, :, :-2], x[:, :, 2:])  # moved left 2 px


def test_tta_is_chosen_on_publictest_and_used_by_evaluate(tiny_cnn, small_csv, tmp_path):
    import shutil

    ckpt = tmp_path / "model"
    shutil.copytree(tiny_cnn, ckpt, ignore=shutil.ignore_patterns("ckpt", "tb"))
    proc = run_cli("experiments/choose_tta.py", "--checkpoint", str(ckpt), "--data", str(small_csv))
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((ckpt / "model.json").read_text())
    scores = {int(k): v for k, v in meta["views_val_accuracy"].items()}
    assert set(scores) == {1, 2, 10} and scores[meta["views"]] == max(scores.values())
    assert "<- chosen" in proc.stdout and "PrivateTest" not in proc.stdout
    proc = run_cli("-m", "emojax.evaluate", "--checkpoint", str(ckpt), "--data", str(small_csv), "--split", "val")
    assert proc.returncode == 0, proc.stderr
    assert f"{100 * scores[meta['views']]:.1f}%" in proc.stdout.splitlines()[0]


def test_model_card_says_what_was_measured(tiny_cnn, tmp_path):
    """The shipped model's card is what its evaluation files say now (regenerated whenever they
    change); a model with no evaluation files gets a card that says how to make them."""
    from experiments import model_card

    shipped = REPO / "results" / "model"
    text = model_card.card(shipped)
    assert text == (shipped / "README.md").read_text(), "results/model/README.md is stale: rerun model_card.py"
    test = json.loads((shipped / "eval_test.json").read_text())
    jaffe = json.loads((shipped / "eval_photos_jaffe.json").read_text())
    assert f"| **{100 * test['accuracy']:.1f}%** |" in text and f"| **{100 * jaffe['accuracy']:.1f}%** |" in text
    weak = [c for c, r in jaffe["per_class"].items() if r["recall"] < model_card.LOW]
    assert all(f"{c} {100 * jaffe['per_class'][c]['recall']:.0f}% (of " in text for c in weak)
    assert ("seldom named right" in text) == bool(weak)
    bare = tmp_path / "bare"
    shutil.copytree(tiny_cnn, bare, ignore=shutil.ignore_patterns("ckpt", "tb"))
    assert model_card.main([str(bare)]) == 0
    card = (bare / "README.md").read_text()
    assert "PrivateTest not measured" in card and "Corruptions not measured" in card
    assert f"{100 * json.loads((bare / 'metrics.json').read_text())['test_accuracy']:.1f}%" in card
    assert models.fingerprint(bare) == models.fingerprint(tiny_cnn)  # the card is not part of the model
    assert "FER+ (Barsoum" in model_card.card(REPO / "results" / "ferplus" / "multilabel")  # its own labels
    (bare / "eval_test.json").write_text('{"accuracy": 0.5}')
    with pytest.raises(EmojaxError, match="lacks what the card reads"):
        model_card.main([str(bare)])


def test_tensorboard_scalars_are_read_back_and_plotted(tiny_cnn, tmp_path):
    from experiments.plot_tensorboard import read_scalars

    history = json.loads((tiny_cnn / "metrics.json").read_text())["history"]
    scalars = read_scalars(tiny_cnn / "tb")
    assert {"train/loss", "val/accuracy", "lr"} <= set(scalars)
    assert sorted(scalars["val/accuracy"]) == [h["epoch"] for h in history]
    np.testing.assert_allclose([scalars["val/accuracy"][h["epoch"]] for h in history],
                               [h["val_accuracy"] for h in history], rtol=1e-6)
    proc = run_cli("experiments/plot_tensorboard.py", str(tiny_cnn), "--out", str(tmp_path / "tb.png"))
    assert proc.returncode == 0 and (tmp_path / "tb.png").stat().st_size > 10_000, proc.stderr
    assert_clean_error(run_cli("experiments/plot_tensorboard.py", str(tmp_path)))
    run_dir = tmp_path / "copied_back"  # a run whose figures stayed on the machine that trained it
    shutil.copytree(tiny_cnn / "tb", run_dir / "tb")
    shutil.copy(tiny_cnn / "metrics.json", run_dir)
    proc = run_cli("experiments/plot_tensorboard.py", str(run_dir), "--learning-curves")
    assert proc.returncode == 0 and (run_dir / "learning_curves.png").stat().st_size > 10_000, proc.stderr


def test_runs_table_marks_the_best_run_on_publictest(tiny_cnn, tmp_path):
    m = json.loads((tiny_cnn / "metrics.json").read_text())
    for mode, val in (("majority", 0.5), ("pld", 0.6)):
        (tmp_path / mode).mkdir()
        (tmp_path / mode / "metrics.json").write_text(json.dumps({**m, "val_accuracy": val}))
    proc = run_cli("experiments/runs_table.py", str(tmp_path / "majority"), str(tmp_path / "pld"))
    assert proc.returncode == 0, proc.stderr
    table = (tmp_path / "modes.md").read_text()
    assert "| pld (best on PublicTest) |" in table and "| majority |" in table
    assert f"{100 * m['test_accuracy']:.1f}%" in table
    assert_clean_error(run_cli("experiments/runs_table.py", str(tmp_path / "none")))


def test_no_dataset_trains_the_synthetic_demo(tmp_path):
    env = {"EMOJAX_DATA": ""}
    proc = run_cli(str(REPO / "experiments" / "train_cnn.py"), "--epochs", "1", "--no-progress",
                   "--out", str(tmp_path / "demo"), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "No FER2013 found" in proc.stderr and "Kaggle" in proc.stderr and "SYNTHETIC" in proc.stderr
    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert metrics["synthetic"] and "synthetic" in metrics["dataset"]


def test_bad_input_to_the_commands(tmp_path):
    assert_clean_error(run_cli("experiments/train_cnn.py", "--data", str(tmp_path / "none.csv")))
    assert_clean_error(run_cli("experiments/train_cnn.py", "--init", str(tmp_path), "--out", str(tmp_path / "run")))
    assert not (tmp_path / "run").exists()
    assert_clean_error(run_cli("-m", "emojax.evaluate", "--checkpoint", str(tmp_path)))
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    assert_clean_error(run_cli("experiments/train_cnn.py", "--data", str(tmp_path / "bad.csv")))


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
            for p in sorted(folder.rglob("*"))}


def test_training_never_replaces_a_run_without_being_told(small_csv, tmp_path):
    """A finished run's folder: a new run there without --resume or --overwrite is a one-line
    error and nothing in the folder changes; --overwrite replaces it."""
    out = tmp_path / "run"
    assert run_cli(*_args(small_csv, out, epochs=1)).returncode == 0
    before = _snapshot(out)
    proc = run_cli(*_args(small_csv, out, epochs=1))
    assert_clean_error(proc)
    assert "--overwrite" in proc.stderr and "--resume" in proc.stderr
    assert _snapshot(out) == before
    again = run_cli(*_args(small_csv, out, "--overwrite", epochs=2))
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 2
    # a file where the run folder should be
    (tmp_path / "file").write_text("mine")
    assert_clean_error(run_cli(*_args(small_csv, tmp_path / "file", epochs=1)))
    assert (tmp_path / "file").read_text() == "mine"


def test_photometric_augmentation_imitates_the_benchmark_corruptions(small_fer):
    """The JAX JPEG and low-resolution augmentations do what OpenCV's real codec and
    resize do to FER2013 faces (the benchmark grades with those), to within a few grey levels."""
    from emojax import robustness

    faces = small_fer.val.images[:32]
    x = jnp.asarray(faces, jnp.float32) / 255
    ours = np.asarray(augment.jpeg_like(x, jnp.full(32, 30.0))) * 255
    theirs = robustness.jpeg(faces, 30).astype(np.float32)
    assert np.abs(ours - theirs).mean() < 1.0 < 5.0 < np.abs(faces - theirs).mean()
    cfg = dataclasses.replace(train.Config(), photometric=1.0, contrast=0.0, brightness=0.0, gamma=0.0,
                              blur=0.0, noise=0.0, jpeg=(100, 100), lowres=(32,))
    y = np.asarray(augment.photometric(jax.random.PRNGKey(0), x[..., None], cfg))[..., 0] * 255
    small = robustness.low_resolution(faces, 32).astype(np.float32)
    assert np.abs(y - small).mean() < 2.0 < 5.0 < np.abs(faces - small).mean()
    # Everything on at once keeps valid 8-bit images.
    z = augment.photometric(jax.random.PRNGKey(1), x[..., None],
                          dataclasses.replace(train.Config(), photometric=1.0, lowres=(24, 32, 40)))
    assert z.shape == (32, 48, 48, 1) and float(z.min()) >= 0 and float(z.max()) <= 1
    np.testing.assert_allclose(np.asarray(z) * 255, np.round(np.asarray(z) * 255), atol=1e-3)


def test_distillation_targets_are_the_teachers_probabilities(tiny_cnn, small_fer, tmp_path, monkeypatch):
    """With a teacher, the soft targets are its probabilities on the clean Training faces,
    mixed with the one-hot label at the distill weight; half a setting is refused. The
    probabilities are cached, and a changed teacher file invalidates the cache."""
    from emojax.io import EmojaxError

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    sub = dataclasses.replace(small_fer, train=small_fer.train.subset(slice(0, 256)))
    cfg = train.Config(model="small", model_kwargs={"width": 4}, teacher=(str(tiny_cnn),), distill=0.5,
                       batch_size=64)
    *_, soft = train.training_data(cfg, sub)
    np.testing.assert_allclose(soft, CNNClassifier(tiny_cnn).predict_proba(sub.train.images), atol=1e-6)
    t = train._targets(jax.random.PRNGKey(0), jnp.asarray(sub.train.labels[:4]), jnp.asarray(soft[:4]), 7, cfg)
    np.testing.assert_allclose(t, 0.5 * jax.nn.one_hot(sub.train.labels[:4], 7) + 0.5 * soft[:4], atol=1e-6)
    with pytest.raises(EmojaxError, match="distillation"):
        train.training_data(dataclasses.replace(cfg, distill=0.0), sub)
    with pytest.raises(EmojaxError, match="ema"):
        train.training_data(dataclasses.replace(cfg, ema=1.0), sub)
    (cached,) = (tmp_path / "cache" / "emojax" / "teachers").glob("*.npy")
    np.testing.assert_array_equal(np.load(cached), soft)
    np.save(cached, np.full_like(soft, 1 / 7))  # a resume reads the cache, not the teachers
    np.testing.assert_array_equal(train.training_data(cfg, sub)[-1], np.full_like(soft, 1 / 7))
    teacher = Path(tmp_path / "teacher")
    shutil.copytree(tiny_cnn, teacher, ignore=shutil.ignore_patterns("ckpt"))
    cfg2 = dataclasses.replace(cfg, teacher=(str(teacher),))
    # A copy of the teacher is the same teacher (the key is the files' content) ...
    np.testing.assert_array_equal(train.training_data(cfg2, sub)[-1], np.full_like(soft, 1 / 7))
    meta = json.loads((teacher / "model.json").read_text())
    (teacher / "model.json").write_text(json.dumps({**meta, "epoch": 99}))
    # ... and a changed one is computed again.
    np.testing.assert_allclose(train.training_data(cfg2, sub)[-1], soft, atol=1e-6)
    assert len(list(cached.parent.glob("*.npy"))) == 2


def test_moving_average_of_the_weights_is_what_is_evaluated_and_saved(tiny_cnn, small_fer, tmp_path):
    """With ``ema``, each step moves the average by (1 - decay) towards the new weights, and
    the saved model is the average: at a decay of 0.999999 it stays at the initial weights
    while the trained ones move away."""
    sub = dataclasses.replace(small_fer, train=small_fer.train.subset(slice(0, 256)),
                              val=small_fer.val.subset(slice(0, 64)), test=small_fer.test.subset(slice(0, 64)))
    cfg = train.Config(model="small", model_kwargs={"width": 8}, epochs=1, batch_size=64, augment=False,
                       init=str(tiny_cnn), ema=0.9)
    state, _ = train.init_from(train.create_state(cfg, 7, 4), tiny_cnn)
    before = jax.tree_util.tree_map(np.asarray, state.ema["params"])
    x, y = jnp.asarray(sub.train.images[:64]), jnp.asarray(sub.train.labels[:64])
    state, _ = train.train_step(state, x, y, None, jax.random.PRNGKey(0), cfg)
    jax.tree_util.tree_map(lambda e, b, p: np.testing.assert_allclose(e, 0.9 * b + 0.1 * p, rtol=1e-5, atol=1e-7),
                           state.ema["params"], before, state.params)
    assert train.averaged(state).params is state.ema["params"]
    _, init_vars, _ = models.load(tiny_cnn)
    for decay, same in ((0.999999, True), (0.0, False)):
        out = tmp_path / f"ema{decay}"
        train.train(dataclasses.replace(cfg, ema=decay), sub, out, progress=False)
        _, saved, _ = models.load(out)
        diff = max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(
            jax.tree_util.tree_leaves(saved["params"]), jax.tree_util.tree_leaves(init_vars["params"])))
        assert (diff < 1e-4) == same, (decay, diff)


def test_ensemble_averages_members_and_refuses_mixed_classes(tiny_cnn, small_fer, tmp_path):
    """The ensemble's probabilities are its members' mean; members must share classes.
    experiments/ensemble.py needs two of them."""
    from emojax.io import EmojaxError
    from emojax.pipeline import Ensemble, shipped

    a, b = CNNClassifier(tiny_cnn), CNNClassifier(tiny_cnn, views=2)
    crops = small_fer.val.images[:8]
    np.testing.assert_allclose(Ensemble([a, b]).predict_proba(crops),
                               (a.predict_proba(crops) + b.predict_proba(crops)) / 2, atol=1e-6)
    with pytest.raises(EmojaxError, match="classes"):  # FER+'s 8 classes against FER2013's 7
        Ensemble([a, CNNClassifier(shipped("ferplus") / "multilabel")])
    # A product of experts: weighted log probabilities, renormalised; weight 0 leaves a member out.
    pa, pb = a.predict_proba(crops), b.predict_proba(crops)
    q = pa * pb ** 0.5
    np.testing.assert_allclose(Ensemble([a, b], [1, 0.5], rule="product").predict_proba(crops),
                               q / q.sum(1, keepdims=True), rtol=1e-4)
    np.testing.assert_allclose(Ensemble([a, b], [1, 0], rule="product").predict_proba(crops), pa, rtol=1e-4)
    np.testing.assert_allclose(Ensemble([a, b], [3, 1]).predict_proba(crops), (3 * pa + pb) / 4, atol=1e-6)
    for bad in ({"weights": [1]}, {"weights": [0, 0]}, {"weights": [1, -1]}, {"rule": "max"}):
        with pytest.raises(EmojaxError):
            Ensemble([a, b], **bad)
    script = Path(__file__).resolve().parents[1] / "experiments" / "ensemble.py"
    proc = subprocess.run([sys.executable, str(script), str(tiny_cnn)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error:") and "two" in proc.stderr


def test_snapshots_keep_the_last_epochs_and_their_average_gets_its_own_batch_statistics(
        small_fer, small_csv, tmp_path):
    """A run keeps its last ``snapshots`` epochs as models. Their weight average (SWA) gets
    batch-norm statistics recomputed as the plain mean of each layer's batch moments over the
    Training faces, which ``interpolate_weights.py --recalibrate`` writes."""
    cfg = train.Config(model="small", model_kwargs={"width": 4}, epochs=3, batch_size=64, augment=False,
                       snapshots=2)
    run = tmp_path / "run"
    train.train(cfg, small_fer, run, progress=False)
    snaps = sorted((run / "snapshots").iterdir())
    assert [p.name for p in snaps] == ["002", "003"]
    assert [models.read_meta(p)["epoch"] for p in snaps] == [2, 3]
    train.export_checkpoint(run, tmp_path / "last")
    same = lambda a, b: jax.tree_util.tree_all(jax.tree_util.tree_map(lambda x, y: bool((x == y).all()), a, b))
    assert same(models.load(snaps[-1])[1], models.load(tmp_path / "last")[1])

    model, variables, _ = models.load(snaps[0])
    faces = small_fer.train.images[:512]
    fresh = train.recalibrate_batch_norm(model, variables, faces, batch_size=256)
    x = faces[np.random.default_rng(0).permutation(512)].astype(np.float32)[..., None] / 255
    _, seen = model.apply(variables, x, capture_intermediates=True)
    conv = np.asarray(seen["intermediates"]["Conv_0"]["__call__"][0]).reshape(2, 256 * 48 * 48, -1)
    stats = fresh["batch_stats"]["BatchNorm_0"]
    np.testing.assert_allclose(stats["mean"], conv.mean(1).mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(stats["var"], conv.var(1).mean(0), rtol=1e-4, atol=1e-5)
    assert np.abs(variables["batch_stats"]["BatchNorm_0"]["mean"] - stats["mean"]).max() > 1e-3
    assert same(fresh["params"], variables["params"])

    swa = tmp_path / "swa"
    proc = run_cli("experiments/interpolate_weights.py", *map(str, snaps), "--out", str(swa),
                   "--recalibrate", str(small_csv))
    assert proc.returncode == 0, proc.stderr
    plain = models.average([models.load(p)[1] for p in snaps])
    _, mixed, meta = models.load(swa)
    assert meta["batch_stats_from"] == str(small_csv)
    assert max(jax.tree_util.tree_leaves(jax.tree_util.tree_map(
        lambda p, q: float(np.abs(p - q).max()), plain["params"], mixed["params"]))) < 1e-6
    assert not same(plain["batch_stats"], mixed["batch_stats"])
    missing = run_cli("experiments/interpolate_weights.py", *map(str, snaps), "--out", str(tmp_path / "x"),
                      "--recalibrate", str(tmp_path / "nowhere.csv"))
    assert_clean_error(missing)
    assert not (tmp_path / "x").exists()


def test_last_checkpoint_exported_as_a_model(small_fer, tmp_path):
    """One epoch: the last checkpoint is the best epoch, so its export is the run's own model."""
    cfg = train.Config(model="small", model_kwargs={"width": 4}, epochs=1, batch_size=64, augment=False,
                       ema=0.9)
    run_dir, out = tmp_path / "run", tmp_path / "last"
    train.train(cfg, small_fer, run_dir, progress=False)
    proc = run_cli("experiments/export_checkpoint.py", str(run_dir), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    _, ours, meta = models.load(out)
    _, theirs, _ = models.load(run_dir)
    assert meta["epoch"] == 1 and meta["exported_from"] == str(run_dir) and meta["weights"] == "average"
    same = lambda a, b: jax.tree_util.tree_all(jax.tree_util.tree_map(lambda x, y: bool((x == y).all()), a, b))
    assert same(ours, theirs)
    proc = run_cli("experiments/export_checkpoint.py", str(run_dir), "--out", str(tmp_path / "raw"), "--raw")
    assert proc.returncode == 0, proc.stderr
    _, raw, meta = models.load(tmp_path / "raw")
    assert meta["weights"] == "raw" and not same(raw["params"], ours["params"])  # ema 0.9: not the average
    again = run_cli("experiments/export_checkpoint.py", str(run_dir), "--out", str(out))
    assert_clean_error(again)
    assert "--overwrite" in again.stderr
    none = run_cli("experiments/export_checkpoint.py", str(tmp_path), "--out", str(tmp_path / "x"))
    assert_clean_error(none)
    assert "not a saved emojax model" in none.stderr
    assert not (tmp_path / "x").exists()

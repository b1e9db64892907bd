"""The generalization runs table: clean PublicTest, the corruption benchmark and a labelled
photo set through the face pipeline, per model; ``--reuse`` keeps an unchanged model's row."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import JAFFE, REPO, assert_clean_error, run_cli, three_jaffe_women


@pytest.fixture()
def photo_set(tmp_path):
    """Nine JAFFE photos in a folder per emotion: three emotions, three photos each, all of one woman (KA)."""
    if not JAFFE.is_dir():
        pytest.skip(f"JAFFE not found at {JAFFE}")
    from emojax import photoset

    chosen = {}
    for ph in photoset.read(JAFFE):
        if ph.emotion in ("happy", "surprise", "neutral") and len(chosen.setdefault(ph.emotion, [])) < 3:
            chosen[ph.emotion].append(ph.path)
    for emotion, paths in chosen.items():
        (tmp_path / "set" / emotion).mkdir(parents=True)
        for p in paths:
            shutil.copy(p, tmp_path / "set" / emotion / p.name)
    return tmp_path / "set"


@pytest.fixture()
def flat(tmp_path):
    """JAFFE's file names in one folder: two photos of three poses by each of three people."""
    folder = tmp_path / "flat"
    folder.mkdir()
    for path in three_jaffe_women():
        shutil.copy(path, folder / path.name)
    return folder


def test_drop_interval_is_paired_and_matches_a_bootstrap(tiny_cnn, small_fer):
    """A trained model on 500 real PublicTest faces: each drop's 95% half-width agrees with
    resampling the faces, and it is narrower than the clean accuracy's own, because the same
    faces are scored clean and corrupted."""
    import numpy as np

    from emojax import pipeline, robustness

    clf = pipeline.load_classifier(tiny_cnn)
    faces, labels = small_fer.val.images, small_fer.val.labels
    res = robustness.benchmark(clf, faces, labels, severe=False)
    clean = clf.predict_proba(faces).argmax(1) == labels
    rng = np.random.default_rng(0)
    for name in ("noise 8", "jpeg 30", "blur 0.8"):
        corrupted = clf.predict_proba(robustness.MILD[name](faces)).argmax(1) == labels
        m = res["mild"][name]
        assert m["drop"] == pytest.approx(100 * (clean.mean() - corrupted.mean()))
        idx = rng.integers(0, len(labels), (2000, len(labels)))
        drops = 100 * (clean[idx].mean(1) - corrupted[idx].mean(1))
        boot = (np.percentile(drops, 97.5) - np.percentile(drops, 2.5)) / 2
        assert m["drop_ci"] == pytest.approx(boot, rel=0.2), name
        unpaired = 196 * np.sqrt(clean.mean() * (1 - clean.mean()) / len(labels))
        assert 0 < m["drop_ci"] < unpaired, name
    assert robustness.drop_interval(clean, clean) == 0.0
    assert "+- " in robustness.format_benchmark(res)


def test_runs_table_and_reuse(tiny_cnn, fer_path, photo_set, tmp_path):
    out = tmp_path / "runs.md"
    base = ("experiments/generalization_table.py", "--data", str(fer_path), "--photos", str(photo_set),
            "--limit", "64", "--out", str(out))
    first = run_cli(*base, f"tiny={tiny_cnn}")
    assert first.returncode == 0, first.stderr
    rows = json.loads(out.with_suffix(".json").read_text())
    assert [r["model"] for r in rows] == ["tiny"] and {"happy", "surprise", "neutral"} <= set(rows[0]["photos"]["recall"])
    assert "noise 8" in rows[0]["corruptions"]["mild"] and "| `tiny` |" in out.read_text()
    n = len(list(photo_set.glob("*/*")))  # the header says how far the photo set's figures can be trusted
    assert f"over {n} photos is known to about +-{196 * (0.25 / n) ** 0.5:.1f} points" in out.read_text()
    # A copy of the model is the same model; a changed one is measured again.
    copy = tmp_path / "copy"
    shutil.copytree(tiny_cnn, copy, ignore=shutil.ignore_patterns("ckpt"))
    meta = json.loads((copy / "model.json").read_text())
    changed = tmp_path / "changed"
    shutil.copytree(copy, changed)
    (changed / "model.json").write_text(json.dumps({**meta, "note": "retrained"}))
    second = run_cli(*base, "--reuse", str(out.with_suffix(".json")), f"again={copy}", f"changed={changed}")
    assert second.returncode == 0, second.stderr
    assert "again: unchanged" in second.stderr and "changed: unchanged" not in second.stderr
    again, other = json.loads(out.with_suffix(".json").read_text())
    assert again["model"] == "again" and again["corruptions"] == rows[0]["corruptions"]
    assert other["corruptions"]["clean"] == rows[0]["corruptions"]["clean"]  # same weights, same figures
    # A run folder gone from disk (a new machine) keeps its row; one never measured is an error.
    shutil.rmtree(changed)
    third = run_cli(*base, "--reuse", str(out.with_suffix(".json")), f"again={copy}", f"gone={changed}")
    assert third.returncode == 0, third.stderr
    assert f"gone: {changed} is not here" in third.stderr
    assert json.loads(out.with_suffix(".json").read_text())[1]["corruptions"] == other["corruptions"]
    missing = run_cli(*base, f"never={tmp_path / 'never'}")
    assert_clean_error(missing)


def test_runs_figure(tmp_path):
    """The runs table's JSON on one figure: the runs no other beats on both axes are found
    (ties beat nobody), the shipped run is ringed, and what is not a table's JSON is refused."""
    import numpy as np

    from emojax.io import EmojaxError
    from experiments import plot_runs

    x, y = np.array([1, 2, 3, 2, 1]), np.array([3, 2, 1, 1, 3])
    assert plot_runs.front(x, y).tolist() == [True, True, True, False, True]
    assert plot_runs.short("sam_aa, last-step weights of epoch 3") == "sam_aa, epoch 3"
    runs = REPO / "results" / "generalization" / "runs.json"
    out = tmp_path / "runs.png"
    assert plot_runs.main([str(runs), "--mark", "scratch_aa_seed1_distill", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(EmojaxError, match="no run of that name"):
        plot_runs.main([str(runs), "--mark", "nope", "--out", str(tmp_path / "x.png")])
    with pytest.raises(EmojaxError, match="no run reaches"):
        plot_runs.main([str(runs), "--min-publictest", "99", "--out", str(tmp_path / "x.png")])
    (tmp_path / "bad.json").write_text('{"model": 1}')
    with pytest.raises(EmojaxError, match="not a generalization table"):
        plot_runs.main([str(tmp_path / "bad.json"), "--out", str(tmp_path / "y.png")])
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_occlusion_sensitivity_table(tiny_cnn, photo_set, tmp_path):
    """Whole crops and each face half hidden, per class: the whole-face row is the photo set's own
    evaluation, and hiding a half changes what the model sees."""
    from emojax import photoset
    from emojax.pipeline import load_classifier
    from experiments.occlusion_sensitivity import hide

    out = tmp_path / "occlusion.md"
    proc = run_cli("experiments/occlusion_sensitivity.py", f"tiny={tiny_cnn}", "--photos", str(photo_set),
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.with_suffix(".json").read_text())
    assert [r["view"].split(" (")[0] for r in rows] == ["whole face", "brows and eyes hidden", "mouth and chin hidden"]
    whole = photoset.evaluate(load_classifier(tiny_cnn), photoset.read(photo_set))
    assert rows[0]["accuracy"] == whole["accuracy"]
    crops, _ = photoset.crops(photoset.read(photo_set))
    hidden = hide(crops, (29, 48))
    assert (hidden[:, :29] == crops[:, :29]).all() and (hidden[:, 29:] != crops[:, 29:]).any()
    assert "experiments/occlusion_sensitivity.py" in out.read_text()


def test_fit_offsets_finds_a_class_the_scores_underrate():
    """Class 0's faces score 1.5 below where they should: the offsets lift it back, and the
    accuracy they give is never below the scores' own (coordinate ascent starts at zero)."""
    import numpy as np

    from experiments.decision_offsets import fit_offsets

    rng = np.random.default_rng(0)
    labels = np.arange(300) % 3
    log_p = rng.normal(0, 0.5, (300, 3)) + 2 * np.eye(3)[labels]
    log_p[:, 0] -= 1.5
    b = fit_offsets(log_p, labels)
    assert b[-1] == 0 and b[0] > 0.8
    assert np.mean((log_p + b).argmax(1) == labels) > np.mean(log_p.argmax(1) == labels) + 0.1


def test_decision_offsets_table(tiny_cnn, fer_path, flat, tmp_path):
    """The photo set's own evaluation is the first row; offsets chosen on it never score it
    lower; named people (JAFFE's file names) add the leave-one-person-out row; the figure is written."""
    from emojax import photoset
    from emojax.pipeline import load_classifier

    out = tmp_path / "offsets.md"
    proc = run_cli("experiments/decision_offsets.py", str(tiny_cnn), "--data", str(fer_path), "--photos", str(flat),
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.with_suffix(".json").read_text())["rules"]
    names = list(rows)
    assert names[:3] == ["as trained", "offsets chosen on the photo set (optimistic)",
                         "offsets chosen on the other people (leave one person out)"]
    assert rows["as trained"]["photos"] == photoset.evaluate(load_classifier(tiny_cnn), photoset.read(flat))["accuracy"]
    assert rows[names[1]]["photos"] >= rows["as trained"]["photos"]
    assert rows[names[2]]["publictest"] is None and 0 <= rows[names[2]]["photos"] <= 1
    assert out.with_suffix(".png").stat().st_size > 0 and "experiments/decision_offsets.py" in out.read_text()


def test_linear_probe_table(fer_path, flat, tmp_path):
    """The network's own rule is the first row and scores what the photo pipeline scores; its
    features' logits are the model's; every probe is scored on every photo, leave one person out;
    the neighbour table has a row per class of the photo set, each a distribution."""
    import numpy as np

    from emojax import models, photoset
    from emojax.data import FER_CLASSES
    from emojax.pipeline import load_classifier
    from experiments.linear_probe import vgg_features

    vgg = tmp_path / "vgg"  # untrained: the table's mechanics, not its figures
    kwargs = {"width": 4, "dense": 16}
    model = models.create("vgg", 7, **kwargs)
    models.save(vgg, "vgg", kwargs, FER_CLASSES, models.init(model, seed=3))
    m, v, _ = models.load(vgg)
    crops, _ = photoset.crops(photoset.read(flat))
    f = vgg_features(m, v, crops, batch=5)
    np.testing.assert_allclose(f["logits"], np.asarray(m.apply(v, crops[..., None] / 255.0)), atol=1e-5)
    assert f["conv"].shape == (len(crops), 3 * 3 * 4 * 8) and f["penultimate"].shape == (len(crops), 16)
    out = tmp_path / "probe.md"
    proc = run_cli("experiments/linear_probe.py", str(vgg), "--data", str(fer_path), "--photos", str(flat),
                   "--limit", "2000", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.with_suffix(".json").read_text())
    rows = result["rules"]
    first = list(rows)[0]
    assert first == "the network's own rule (as trained)"
    assert rows[first]["accuracy"] == photoset.evaluate(load_classifier(vgg), photoset.read(flat))["accuracy"]
    assert sum(name.startswith("probe on ") for name in rows) == 7
    assert all(0 <= r["accuracy"] <= 1 for r in rows.values())
    near = result["neighbours"]
    assert set(near) == {"FER2013 labels", "FER+ votes"}  # fer2013new.csv lies beside the data
    for by_class in near.values():
        assert set(by_class) == {"happy", "surprise", "neutral"}
        assert all(abs(sum(d) - 1) < 1e-6 for d in by_class.values())
    assert "experiments/linear_probe.py" in out.read_text()
    proc = run_cli("experiments/linear_probe.py", str(vgg), "--photos", str(JAFFE / "nowhere"))
    assert_clean_error(proc)


def test_interpolated_weights_run_from_one_model_to_the_other(tiny_cnn, small_fer, tmp_path):
    """Alpha 0 is the start's model, 1 the fine-tune's, 0.5 their mean weight by weight (batch
    statistics too); models of other architectures, shares outside [0, 1] and a model already
    in the way are refused with one error line."""
    import jax
    import numpy as np

    from emojax import models
    from emojax.train import Config, train

    other = tmp_path / "finetune"
    train(Config(model="small", model_kwargs={"width": 8}, epochs=1, augment=False, seed=1, init=str(tiny_cnn)),
          small_fer, other, progress=False)
    out = tmp_path / "wise"
    proc = run_cli("experiments/interpolate_weights.py", str(tiny_cnn), str(other), "--alpha", "0", "0.5", "1",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    x = small_fer.val.images[:64].astype(np.float32)[..., None] / 255
    logits = lambda folder: np.asarray((lambda m, v, _: m.apply(v, x))(*models.load(folder)))
    np.testing.assert_allclose(logits(f"{out}_a0"), logits(tiny_cnn), atol=1e-5)
    np.testing.assert_allclose(logits(f"{out}_a1"), logits(other), atol=1e-5)
    a, b, mid = (models.load(f)[1] for f in (tiny_cnn, other, f"{out}_a0.5"))
    diffs = jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda p, q, m: float(np.abs((p + q) / 2 - m).max()), a, b, mid))
    assert max(diffs) < 1e-6
    assert max(jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda p, q: float(np.abs(p - q).max()), a, b))) > 1e-4
    assert_clean_error(run_cli("experiments/interpolate_weights.py", str(tiny_cnn), str(other), "--alpha", "0.5",
                               "--out", str(out)))
    assert_clean_error(run_cli("experiments/interpolate_weights.py", str(tiny_cnn), str(other), "--alpha", "1.5",
                               "--out", str(tmp_path / "bad")))
    narrow = tmp_path / "narrow"
    train(Config(model="small", model_kwargs={"width": 4}, epochs=1, augment=False), small_fer, narrow, progress=False)
    assert_clean_error(run_cli("experiments/interpolate_weights.py", str(tiny_cnn), str(narrow), "--alpha", "0.5",
                               "--out", str(tmp_path / "mixed")))
    assert not (tmp_path / "bad_a1.5").exists() and not (tmp_path / "mixed_a0.5").exists()
    # without --alpha: the mean of any number of models (a soup)
    soup = tmp_path / "soup"
    proc = run_cli("experiments/interpolate_weights.py", str(tiny_cnn), str(other), f"{out}_a0.5", "--out", str(soup))
    assert proc.returncode == 0, proc.stderr
    s = models.load(soup)[1]
    diffs = jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda p, q, m: float(np.abs((p + q) / 2 - m).max()), a, b, s))
    assert max(diffs) < 1e-6  # the mean of a, b and their midpoint is the midpoint
    assert_clean_error(run_cli("experiments/interpolate_weights.py", str(tiny_cnn), str(other), str(narrow),
                               "--out", str(tmp_path / "mixed_soup")))
    assert_clean_error(run_cli("experiments/interpolate_weights.py", str(tiny_cnn), str(other), str(soup),
                               "--alpha", "0.5", "--out", str(tmp_path / "three")))
    assert not (tmp_path / "mixed_soup").exists() and not (tmp_path / "three_a0.5").exists()
    # A mix of cross-fitted models keeps their held-out fold only where they all held out that one.
    from experiments.interpolate_weights import load_one_architecture, save_mixed

    held = {}
    for name, folder, fold in (("a", tiny_cnn, [0, 2]), ("b", other, [0, 2]), ("c", other, [1, 2])):
        shutil.copytree(folder, tmp_path / name, ignore=shutil.ignore_patterns("ckpt", "tb"))
        meta = json.loads((tmp_path / name / "model.json").read_text())
        (tmp_path / name / "model.json").write_text(json.dumps({**meta, "holdout": fold}))
    for pair in ("ab", "ac"):
        module, meta, variables = load_one_architecture([tmp_path / n for n in pair])
        save_mixed(tmp_path / f"mix_{pair}", module, meta, models.average(variables), {})
        held[pair] = models.read_meta(tmp_path / f"mix_{pair}").get("holdout")
    assert held == {"ab": [0, 2], "ac": None}


def test_seen_faces_splits_training_by_what_a_model_held_out(tiny_cnn, small_csv, tmp_path):
    """``seen_faces.py``: a model without a fold is scored on all the Training faces it trained
    on; one with ``holdout`` (k, K) on the others and, apart, on rows k mod K."""
    held = tmp_path / "held"
    shutil.copytree(tiny_cnn, held, ignore=shutil.ignore_patterns("ckpt", "tb"))
    meta = json.loads((held / "model.json").read_text())
    (held / "model.json").write_text(json.dumps({**meta, "holdout": [1, 3]}))
    out = tmp_path / "seen.md"
    proc = run_cli("experiments/seen_faces.py", str(tiny_cnn), f"held={held}", "--data", str(small_csv),
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    plain, fold = json.loads(out.with_suffix(".json").read_text())
    assert (plain["trained_on"]["faces"], plain["held_out"]["faces"]) == (600, 0)
    assert (fold["model"], fold["trained_on"]["faces"], fold["held_out"]["faces"]) == ("held", 400, 200)
    # The same weights: the two parts of the fold model's Training make up the plain model's whole.
    whole = (fold["trained_on"]["accuracy"] * 400 + fold["held_out"]["accuracy"] * 200) / 600
    assert whole == pytest.approx(plain["trained_on"]["accuracy"])
    assert fold["publictest"] == plain["publictest"] and plain["publictest"]["faces"] == 200


def test_residual_blocks_added_to_a_trained_vgg_start_as_the_identity(small_fer, tmp_path):
    """A trained VGG started deeper (``blocks``, through ``train.init_from`` as a config's
    ``init`` does) gives the same logits on real faces, in evaluation and in training mode, and
    the new blocks' weights still learn: one training step moves them."""
    import jax
    import numpy as np

    from emojax import models
    from emojax.train import Config, create_state, init_from, train, train_step

    shallow = tmp_path / "shallow"
    train(Config(model="vgg", model_kwargs={"width": 4, "dense": 16}, epochs=1, augment=False),
          small_fer, shallow, progress=False)
    cfg = Config(model="vgg", model_kwargs={"width": 4, "dense": 16, "blocks": (0, 1, 1)}, augment=False)
    state, fresh = init_from(create_state(cfg, 7, 10), shallow)
    assert {f.split("/")[1] for f in fresh} == {"ResidualBlock_0", "ResidualBlock_1"}
    assert state.params["ResidualBlock_1"]["Conv_0"]["kernel"].shape == (3, 3, 16, 16)
    x = small_fer.val.images[:128].astype(np.float32)[..., None] / 255
    m0, v0, _ = models.load(shallow)
    deep = {"params": state.params, "batch_stats": state.batch_stats}
    np.testing.assert_allclose(np.asarray(state.apply_fn(deep, x)), np.asarray(m0.apply(v0, x)), atol=1e-5)
    models.save(tmp_path / "deep", "vgg", cfg.model_kwargs, small_fer.classes, deep)
    from emojax.pipeline import predict_proba
    crops = small_fer.val.images[:128]
    np.testing.assert_allclose(predict_proba(*models.load(tmp_path / "deep")[:2], crops),
                               predict_proba(m0, v0, crops), atol=1e-5)
    train_out = lambda m, v: np.asarray(m.apply(v, x, train=True, rngs={"dropout": jax.random.PRNGKey(0)},
                                                mutable=["batch_stats"])[0])
    np.testing.assert_allclose(train_out(models.create("vgg", 7, **cfg.model_kwargs), deep),
                               train_out(m0, v0), atol=1e-4)
    before = np.asarray(state.params["ResidualBlock_0"]["BatchNorm_1"]["scale"])  # the step donates state
    assert not before.any()
    state = train_step(state, small_fer.train.images[:64], small_fer.train.labels[:64], None,
                       jax.random.PRNGKey(1), cfg)[0]
    assert np.abs(np.asarray(state.params["ResidualBlock_0"]["BatchNorm_1"]["scale"])).max() > 0


def test_widened_vgg_computes_what_the_narrow_one_did(small_fer, fer_path, tiny_cnn, tmp_path):
    """Net2WiderNet: a trained VGG at width 4 widened to 6 gives the same probabilities on real
    faces, its new channels copy old ones with split outgoing weights (not equal shares, which
    would keep the copies identical), and a narrower width or a non-VGG model is one error line."""
    import numpy as np

    from emojax import models
    from emojax.train import Config, train

    narrow, wide = tmp_path / "narrow", tmp_path / "wide"
    train(Config(model="vgg", model_kwargs={"width": 4, "dense": 16}, epochs=1, augment=False),
          small_fer, narrow, progress=False)
    proc = run_cli("experiments/widen_model.py", str(narrow), "--width", "6", "--out", str(wide),
                   "--data", str(fer_path), "--limit", "200")
    assert proc.returncode == 0, proc.stderr
    x = small_fer.val.images[:128].astype(np.float32)[..., None] / 255
    (m0, v0, _), (m1, v1, meta) = models.load(narrow), models.load(wide)
    assert meta["kwargs"]["width"] == 6 and v1["params"]["Conv_7"]["kernel"].shape == (3, 3, 48, 48)
    np.testing.assert_allclose(np.asarray(m1.apply(v1, x)), np.asarray(m0.apply(v0, x)), atol=1e-4)
    first0, first1 = v0["params"]["Conv_0"]["kernel"], v1["params"]["Conv_0"]["kernel"]
    np.testing.assert_array_equal(first1[..., :4], first0)
    source = np.array([next(c for c in range(4) if np.array_equal(first1[..., j], first0[..., c])) for j in range(6)])
    k0, k1 = v0["params"]["Conv_1"]["kernel"], v1["params"]["Conv_1"]["kernel"]
    total = np.zeros((3, 3, 4, 6))
    np.add.at(np.moveaxis(total, 2, 0), source, np.moveaxis(k1, 2, 0))
    np.testing.assert_allclose(total[..., :4], k0, rtol=1e-5, atol=1e-7)  # each old channel's weights, split
    copied = source[4]
    ratio = k1[:, :, copied] / k1[:, :, 4]
    assert ratio.std() > 0.05  # shares differ weight by weight: the copies can drift apart
    assert_clean_error(run_cli("experiments/widen_model.py", str(wide), "--width", "6", "--out",
                               str(tmp_path / "same"), "--data", str(fer_path), "--limit", "10"))
    assert_clean_error(run_cli("experiments/widen_model.py", str(narrow), "--width", "6", "--out", str(wide),
                               "--data", str(fer_path), "--limit", "10"))
    assert_clean_error(run_cli("experiments/widen_model.py", str(tiny_cnn), "--width", "16", "--out",
                               str(tmp_path / "small"), "--data", str(fer_path), "--limit", "10"))
    assert not (tmp_path / "same").exists() and not (tmp_path / "small").exists()


def test_a_part_expert_never_sees_the_hidden_rows(small_fer, tmp_path):
    """``VGG(hide_rows=...)``: a saved expert gives the same probabilities through the pipeline
    whatever the hidden rows (the mouth) hold, and other rows still matter; the product of
    experts table pools it with a whole-face model at each weight and chooses on PublicTest."""
    import numpy as np

    from emojax.pipeline import load_classifier
    from emojax.augment import FACE_BANDS
    from emojax.train import Config, train

    out = tmp_path / "brows"
    train(Config(model="vgg", model_kwargs={"width": 4, "dense": 16, "hide_rows": FACE_BANDS[1]}, epochs=1,
                 augment=False), small_fer, out, progress=False)
    clf = load_classifier(out)
    crops = small_fer.val.images[:64].copy()
    (u0, u1), (l0, l1) = FACE_BANDS
    other = crops.copy()
    other[:, l0:l1] = np.random.default_rng(0).integers(0, 256, other[:, l0:l1].shape)
    np.testing.assert_allclose(clf.predict_proba(other), clf.predict_proba(crops), atol=1e-6)
    brows = crops.copy()
    brows[:, u0:u1] = 255 - brows[:, u0:u1]
    assert np.abs(clf.predict_proba(brows) - clf.predict_proba(crops)).max() > 1e-3


def test_part_fusion_table(tiny_cnn, fer_path, tmp_path):
    """Weight 0 is the whole-face model itself; the weight chosen is the best on PublicTest."""
    from emojax import data, pipeline

    table = tmp_path / "fusion.md"
    proc = run_cli("experiments/part_fusion.py", str(tiny_cnn), str(tiny_cnn), "--weights", "0", "1",
                   "--data", str(fer_path), "--out", str(table))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(table.with_suffix(".json").read_text())
    assert [r["model"] for r in rows] == ["whole + 0 x expert", "whole + 1 x expert", "expert alone"]
    val = data.load(fer_path, verbose=False).val
    acc = float((pipeline.load_classifier(tiny_cnn).predict(val.images) == val.labels).mean())
    assert rows[0]["publictest"] == pytest.approx(acc) and rows[2]["publictest"] == pytest.approx(acc)
    chosen = [r for r in rows if r.get("chosen")]
    assert len(chosen) == 1 and chosen[0]["publictest"] == max(r["publictest"] for r in rows[:2])
    assert_clean_error(run_cli("experiments/part_fusion.py", str(tiny_cnn), str(tmp_path / "none"),
                               "--data", str(fer_path)))


def test_jaffe_raters_beside_the_model(tiny_cnn, tmp_path):
    """JAFFE's semantic ratings parse for its photos; the table's recall is the photo set's own
    evaluation, and 'raters' top = posed' is read from the ratings themselves."""
    import numpy as np

    if not (JAFFE / "DATASET_README.txt").is_file():
        pytest.skip(f"JAFFE with its DATASET_README.txt not found at {JAFFE}")
    from emojax import photoset
    from emojax.pipeline import load_classifier
    from experiments.jaffe_raters import ADJECTIVES, read_ratings

    ratings = read_ratings(JAFFE / "DATASET_README.txt")
    photos = photoset.read(JAFFE)
    key = lambda ph: (ph.person, ph.emotion, ph.repetition)
    assert sum(key(ph) in ratings for ph in photos) >= 0.95 * len(photos)
    values = np.stack(list(ratings.values()))
    assert values.shape[1] == len(ADJECTIVES) and values.min() >= 1 and values.max() <= 5
    chosen = [ph for ph in photos if key(ph) in ratings and ph.emotion in ("angry", "fear", "neutral")][::6]
    subset = tmp_path / "jaffe"
    subset.mkdir()
    shutil.copy(JAFFE / "DATASET_README.txt", subset)
    for ph in chosen:
        shutil.copy(ph.path, subset)
    out = tmp_path / "raters.md"
    proc = run_cli("experiments/jaffe_raters.py", str(tiny_cnn), "--photos", str(subset), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = {r["posed"]: r for r in json.loads(out.with_suffix(".json").read_text())["per_class"]}
    assert set(rows) == {"angry", "fear", "neutral"} and rows["neutral"]["raters_top_is_posed"] is None
    rep = photoset.evaluate(load_classifier(tiny_cnn), photoset.read(subset))
    for emo in rows:
        assert rows[emo]["recall"] == pytest.approx(rep["per_class"][emo]["recall"])
    fear = [ratings[key(ph)] for ph in chosen if ph.emotion == "fear"]
    assert rows["fear"]["raters_top_is_posed"] == pytest.approx(
        np.mean([ADJECTIVES[int(r.argmax())] == "fear" for r in fear]))
    (subset / "DATASET_README.txt").write_text("no ratings here\n")
    assert_clean_error(run_cli("experiments/jaffe_raters.py", str(tiny_cnn), "--photos", str(subset)))


def test_views_table(tiny_cnn, fer_path, photo_set, tmp_path):
    """A row per model and views; each is that setting's own evaluation, and a model that
    records no choice is marked at one view."""
    import numpy as np

    from emojax import data, photoset
    from emojax.pipeline import CNNClassifier

    table = tmp_path / "views.md"
    proc = run_cli("experiments/views_table.py", f"tiny={tiny_cnn}", "--data", str(fer_path),
                   "--photos", str(photo_set), "--limit", "300", "--out", str(table))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(table.with_suffix(".json").read_text())
    assert [(r["views"], r["chosen"]) for r in rows] == [(1, True), (2, False), (10, False)]
    val = data.load(fer_path, verbose=False).val.subset(slice(0, 300))
    ten = CNNClassifier(tiny_cnn, views=10)
    assert rows[2]["publictest"] == pytest.approx(float(np.mean(ten.predict(val.images) == val.labels)))
    assert rows[2]["photos"]["accuracy"] == photoset.evaluate(ten, photoset.read(photo_set))["accuracy"]


def test_weakened_geometry_moves_the_landmarks_and_their_pixels(small_fer):
    """Real FER2013 faces warped all the way to the neutral shape: the pixels that sat at each
    landmark now sit where the landmark moved, the crop's corners stay put, and share 0 is the
    face itself."""
    import numpy as np

    from emojax.geometry import crop_landmarks, fixed_box
    from experiments.weaken_geometry import mean_shape, neutral_target, weaken

    crops = small_fer.train.images[:30]
    points = crop_landmarks(crops, fixed_box(crops), progress=False)
    neutral = mean_shape(points)
    sample = lambda img, pts: img[np.clip(np.rint(pts[:, 1]).astype(int), 0, 47),
                                  np.clip(np.rint(pts[:, 0]).astype(int), 0, 47)].astype(float)
    followed, stayed, moved = [], [], []
    for c, q in zip(crops, points):
        same, none = weaken(c, q, neutral, 0.0)
        assert same is c and none == 0.0
        w, px = weaken(c, q, neutral, 1.0)
        corners = ([0, 0, -1, -1], [0, -1, 0, -1])
        assert (w[corners] == c[corners]).all()
        target = neutral_target(q, neutral)
        far = np.linalg.norm(target - q, axis=1) >= 1.5  # landmarks that moved well over a pixel
        if far.sum() >= 5:
            followed.append(np.abs(sample(w, target[far]) - sample(c, q[far])).mean())
            stayed.append(np.abs(sample(c, target[far]) - sample(c, q[far])).mean())
            moved.append(px)
    assert len(moved) > 10 and np.mean(moved) > 1
    assert np.mean(followed) < 0.6 * np.mean(stayed)


def test_amplified_photos_move_away_from_their_person(tiny_cnn, flat, photo_set, tmp_path):
    """JAFFE photos through the face pipeline, each made 3x plainer against the same person's
    other photos: dlib, run again on the warped crops, finds them about that much further from
    their person's average shape; the texture step doubles how far the grey levels are from the
    person's usual look. Photos with no person (a folder per emotion) stay as they
    are; the command line says how many faces it changed."""
    import numpy as np

    from emojax import geometry, photoset
    from emojax.pipeline import load_classifier

    photos = photoset.read(flat)
    images, points, found, _ = photoset.located(photos)
    names = [p.person for p in photos]
    assert found.all() and len({p.person for p in photos}) == 3
    amplified, _ = photoset.amplified(names, images, points, found, 3.0, texture=1.0)  # the shape only
    box = geometry.fixed_box(images)
    plain = geometry.crop_landmarks(images, box, progress=False)
    references = geometry.own_references(plain, [p.person for p in photos])

    def spread(pts):  # brows, eyes, nose and mouth: the jaw line runs along the crop's edge
        return np.linalg.norm(geometry.normalised(pts) - references, axis=-1)[:, 17:].mean(1)

    assert np.median(spread(geometry.crop_landmarks(amplified, box, progress=False)) / spread(plain)) > 1.8
    # The texture alone (strength 1): grey levels twice as far from the person's usual look, clipped.
    looks = geometry.own_looks(images, points, [p.person for p in photos])
    textured, _ = photoset.amplified(names, images, points, found, 1.0, texture=2.0)
    wanted = 2.0 * images - looks
    inside = (wanted > 0) & (wanted < 255)
    assert inside.mean() > 0.85 and np.abs(textured - wanted)[inside].max() <= 0.5 + 1e-6
    assert (textured[~inside] % 255 == 0).all()  # the rest clipped to black or white

    unnamed = photoset.read(photo_set)  # no names: who is who is found by face
    clf = load_classifier(tiny_cnn)
    rep = photoset.evaluate(clf, unnamed, amplify=3.0)
    assert (rep["people"], rep["people_by"], rep["amplified"]) == (1, "face", len(unnamed))

    proc = run_cli("-m", "emojax.evaluate", "--model", str(tiny_cnn), "--photos", str(flat), "--amplify", "3",
                   "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert f"3x plainer against the same person's other photos: {len(photos)} faces" in proc.stdout
    assert json.loads((tmp_path / "eval_photos_flat.json").read_text())["amplified"] == len(photos)


def test_people_found_by_face_are_jaffes_people_and_predict_amplifies_a_folder(tiny_cnn, flat, tmp_path):
    """Who is who without names. dlib's descriptors of three JAFFE women, grouped at 0.35, are
    the file names' three people, so a set scored by face is scored as by name; at dlib's own
    0.6 the three look-alike women are one person. ``predict --amplify`` on the folder (photos
    read once each, people found by face) gives every face the probabilities the library gives
    its amplified crop, and says how many faces it changed."""
    import numpy as np

    from emojax import photoset
    from emojax.pipeline import load_classifier

    photos = photoset.read(flat)
    images, points, found, described = photoset.located(photos, describe=True)
    names = [p.person for p in photos]

    def partition(people):
        return sorted(sorted(i for i, w in enumerate(people) if w == x) for x in set(people))

    assert found.all() and len(set(names)) == 3
    assert partition(photoset.who(photos, found, described, tolerance=0.35)) == partition(names)
    assert len(set(photoset.who(photos, found, described, tolerance=0.6))) == 1
    clf = load_classifier(tiny_cnn)
    by_name = photoset.evaluate(clf, photos, amplify=3.0)
    by_face = photoset.evaluate(clf, photos, amplify=3.0, tolerance=0.35)
    assert (by_face["people_by"], by_name["people_by"]) == ("face", "name")
    for key in ("accuracy", "amplified", "people", "confusion"):
        assert by_face[key] == by_name[key], key

    expected = clf.predict_proba(photoset.amplified(names, images, points, found, 3.0)[0])
    proc = run_cli("-m", "emojax.predict", str(flat), "--model", str(tiny_cnn), "--views", "1", "--amplify", "3",
                   "--tolerance", "0.35", "--json")
    assert proc.returncode == 0, proc.stderr
    assert f"{len(photos)} of {len(photos)} faces made 3x plainer" in proc.stderr and "3 people found by face" in proc.stderr
    rows = {json.loads(line)["file"]: json.loads(line) for line in proc.stdout.splitlines()}
    assert len(rows) == len(photos)
    assert all(r["amplified"] is True for r in rows.values())
    for i, p in enumerate(photos):
        got = rows[str(p.path)]["probabilities"]
        assert np.allclose([got[c] for c in clf.classes], expected[i], atol=1e-4), p.path.name
    plain = run_cli("-m", "emojax.predict", str(flat), "--model", str(tiny_cnn), "--views", "1", "--json")
    assert plain.returncode == 0 and plain.stdout != proc.stdout and '"amplified"' not in plain.stdout
    few = tmp_path / "few"  # three photos of one woman: too few to compare with, classified as they are
    few.mkdir()
    for p in photos[:3]:
        shutil.copy(p.path, few / p.path.name)
    both = [run_cli("-m", "emojax.predict", str(few), "--model", str(tiny_cnn), "--views", "1", "--json", *extra)
            for extra in ((), ("--amplify", "3"))]
    assert [json.loads(line)["amplified"] for line in both[1].stdout.splitlines()] == [False] * 3
    assert [json.loads(line)["probabilities"] for line in both[1].stdout.splitlines()] == \
        [json.loads(line)["probabilities"] for line in both[0].stdout.splitlines()]
    assert "0 of 3 faces made 3x plainer" in both[1].stderr
    bad = run_cli("-m", "emojax.predict", str(flat), "--tolerance", "0.35")
    assert bad.returncode == 2 and "error: --tolerance says who is who for --amplify" in bad.stderr


def test_people_by_face_measures_the_groups_against_the_names(tiny_cnn, flat, photo_set, tmp_path):
    """experiments/people_by_face.py on three JAFFE women: two photos of one woman are closer
    than two of different women; the rows agree with the library (the names' row is evaluate's
    own amplified score); a set that names nobody is refused with one error line."""
    from emojax import photoset
    from emojax.pipeline import load_classifier

    out = tmp_path / "people.md"
    proc = run_cli("experiments/people_by_face.py", "--photos", str(flat), "--model", str(tiny_cnn),
                   "--tolerances", "0.35,0.6", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(out.with_suffix(".json").read_text())
    assert rep["distances"]["same person"][2] < rep["distances"]["two people"][2]
    by_name, tight, loose = rep["rows"]
    assert (by_name["groups"], tight["groups"], loose["groups"]) == (3, 3, 1)
    assert tight["photos"] == by_name["photos"] and loose["purity"] < 0.5 and loose["completeness"] == 1.0
    expected = photoset.evaluate(load_classifier(tiny_cnn), photoset.read(flat), amplify=3.0)
    assert by_name["photos"]["accuracy"] == expected["accuracy"]
    assert "| face, tolerance 0.35 | 3 | 100.0% | 100.0% |" in out.read_text()
    bad = run_cli("experiments/people_by_face.py", "--photos", str(photo_set), "--out", str(tmp_path / "x.md"))
    assert bad.returncode == 2 and "does not name the person of every photo" in bad.stderr
    assert not (tmp_path / "x.md").exists()


def test_amplify_strangers_counts_groups_and_costs_per_tolerance(tiny_cnn, fer_path, tmp_path):
    """experiments/amplify_strangers.py on 60 real PublicTest faces written as photos: a looser
    tolerance finds fewer, larger groups; the faces as they are score the same at every
    tolerance, and a tolerance that amplifies nothing changes nothing."""
    out = tmp_path / "strangers.md"
    proc = run_cli("experiments/amplify_strangers.py", "--data", str(fer_path), "--model", str(tiny_cnn),
                   "--limit", "60", "--tolerances", "0.2,0.6,0.9", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.with_suffix(".json").read_text())
    assert [r["tolerance"] for r in rows] == [0.2, 0.6, 0.9]
    assert rows[0]["groups"] >= rows[1]["groups"] >= rows[2]["groups"]
    assert rows[0]["largest group"] <= rows[1]["largest group"] <= rows[2]["largest group"] and rows[2]["amplified"] > 0
    assert len({r["all"][0] for r in rows}) == 1
    for r in rows:
        assert (r["amplified faces"] is None) == (r["amplified"] == 0)
        if r["amplified"] == 0:
            assert r["all"][0] == r["all"][1]
    assert "| 0.9 |" in out.read_text()


def test_evaluate_scores_the_shipped_model_from_any_folder(photo_set, tmp_path):
    """A user outside the checkout, with no --model: the shipped CNN, named as the checkout names it."""
    from emojax.pipeline import DEFAULT_MODEL

    if not (DEFAULT_MODEL / "model.json").exists():
        pytest.skip(f"shipped model not found at {DEFAULT_MODEL}")
    (tmp_path / "elsewhere").mkdir()
    proc = run_cli("-m", "emojax.evaluate", "--photos", str(photo_set), "--views", "1", "--out", str(tmp_path / "o"),
                   cwd=tmp_path / "elsewhere")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads((tmp_path / "o" / "eval_photos_set.json").read_text())
    assert rep["model"] == str(DEFAULT_MODEL) and rep["faces_found"] == 9
    assert f"Accuracy on {photo_set}: {100 * rep['accuracy']:.1f}% of 9 photos (1 view)" in proc.stdout


def test_snapshot_table_scores_each_kept_epoch_and_the_weight_average_of_the_last_ones(
        small_fer, fer_path, photo_set, tmp_path):
    """Every K-th snapshot back from the last and each average of the last K is scored on
    PublicTest and the photo set; the averages it keeps have the mean weights (of every
    snapshot) and score as the table says."""
    import jax
    import numpy as np

    from emojax import data as data_lib
    from emojax import models, photoset
    from emojax.pipeline import load_classifier
    from emojax.train import Config, train

    run = tmp_path / "run"
    train(Config(model="small", model_kwargs={"width": 4}, epochs=3, batch_size=64, augment=False, snapshots=3),
          small_fer, run, progress=False)
    out, keep = tmp_path / "table" / "snapshots.md", tmp_path / "swa"
    base = ("experiments/snapshot_table.py", "--data", str(fer_path), "--photos", str(photo_set), "--limit", "64")
    proc = run_cli(*base, str(run), "--swa", "2", "3", "--every", "2", "--keep", str(keep), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.with_suffix(".json").read_text())
    assert [r.get("epoch", r.get("swa")) for r in rows] == [1, 3, 2, 3]
    assert (rows[2]["first"], rows[2]["last"]) == (2, 3) and out.with_suffix(".png").stat().st_size > 5000
    # the figures are the classifier's own on the first 64 PublicTest faces and on the photos
    faces = data_lib.load(fer_path, verbose=False).val.subset(slice(0, 64))
    photos = photoset.read(photo_set)
    for row, folder in ((rows[0], run / "snapshots" / "001"), (rows[3], keep / "swa3")):
        clf = load_classifier(folder)
        assert row["publictest"] == pytest.approx(float((clf.predict_proba(faces.images).argmax(1) == faces.labels).mean()))
        assert row["photos"] == pytest.approx(photoset.evaluate(clf, photos)["accuracy"])
    mean = models.average([models.load(run / "snapshots" / f"00{e}")[1] for e in (1, 2, 3)])
    kept = models.load(keep / "swa3")[1]
    gap = lambda k: max(jax.tree_util.tree_leaves(jax.tree_util.tree_map(
        lambda a, b: float(np.abs(a - b).max()), mean[k], kept[k])))
    assert gap("params") < 1e-6 and gap("batch_stats") > 1e-4  # the mean weights, their own statistics
    # A kept average is not replaced without --overwrite; a run without snapshots, or a K
    # beyond them, is one error line and writes nothing.
    before = (keep / "swa2" / "model.json").read_text()
    assert_clean_error(run_cli(*base, str(run), "--swa", "2", "--keep", str(keep)))
    assert (keep / "swa2" / "model.json").read_text() == before
    other = tmp_path / "other.md"
    assert_clean_error(run_cli(*base, str(run), "--swa", "4", "--out", str(other)))
    assert_clean_error(run_cli(*base, str(run), "--every", "0", "--out", str(other)))
    assert_clean_error(run_cli(*base, str(tmp_path / "nowhere"), "--out", str(other)))
    assert not other.exists()


def test_specialist_trains_and_chooses_on_corrupted_faces_and_keeps_finished_runs(tiny_cnn, fer, fer_path, tmp_path):
    """Each specialist is fine-tuned and chosen on faces that carry its corruption, the control
    on clean ones, every figure the saved models' own; a second call reads the finished runs
    instead of training again, and refuses those of another recipe; bad input is one error line
    and writes nothing."""
    import numpy as np

    from emojax import robustness
    from emojax.pipeline import load_classifier

    runs, out = tmp_path / "runs", tmp_path / "table" / "specialists.md"
    base = ("experiments/specialist.py", "--model", str(tiny_cnn), "--config", "demo_small", "--epochs", "1",
            "--subset", "256", "--data", str(fer_path), "--runs", str(runs), "--no-progress")
    proc = run_cli(*base, "blur 1.5", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.with_suffix(".json").read_text())
    blurred = robustness.SEVERE["blur 1.5"](fer.val.images)
    acc = lambda folder, faces: float((load_classifier(folder).predict_proba(faces).argmax(1) == fer.val.labels).mean())
    assert res["clean"] == pytest.approx(acc(tiny_cnn, fer.val.images))
    assert res["corruptions"]["blur 1.5"]["model"] == pytest.approx(acc(tiny_cnn, blurred))
    assert res["control"] == pytest.approx(acc(runs / "control", fer.val.images), abs=1e-3)
    special = res["corruptions"]["blur 1.5"]["specialist"]
    assert special == pytest.approx(acc(runs / "blur_1_5", blurred), abs=1e-3)
    # the epoch's PublicTest loss is the saved specialist's on the blurred faces, not on the clean ones
    loss = lambda folder, faces: float(-np.log(load_classifier(folder).predict_proba(faces)[
        np.arange(len(faces)), fer.val.labels]).mean())
    logged = json.loads((runs / "blur_1_5" / "metrics.json").read_text())["history"][0]["val_loss"]
    assert logged == pytest.approx(loss(runs / "blur_1_5", blurred), rel=1e-3)
    assert logged != pytest.approx(loss(runs / "blur_1_5", fer.val.images), rel=1e-3)
    assert "| blur 1.5 |" in out.read_text()
    stamp = (runs / "blur_1_5" / "metrics.json").stat().st_mtime_ns
    again = tmp_path / "again.md"
    assert run_cli(*base, "blur 1.5", "--out", str(again)).returncode == 0
    assert (runs / "blur_1_5" / "metrics.json").stat().st_mtime_ns == stamp
    assert json.loads(again.with_suffix(".json").read_text()) == res
    # a finished run of another recipe (here 2 epochs, not 1) is not read as this one's
    for bad in (("blur 9",), ("blur 1.5", "--model", str(tmp_path)), ("blur 1.5", "--epochs", "2")):
        assert_clean_error(run_cli(*base, *bad, "--out", str(tmp_path / "bad.md")))
    assert not (tmp_path / "bad.md").exists()


def test_prior_shift_divides_out_fer2013s_frequencies(tiny_cnn, fer_path, flat, tmp_path):
    """experiments/prior_shift.py: at exponent 0 the photo set scores what ``evaluate --photos``
    (with and without ``--amplify``) says; dividing by a larger power of the prior can only move
    faces towards the rarest class (disgust) and away from the commonest (happy)."""
    from emojax import photoset
    from emojax.pipeline import load_classifier

    out = tmp_path / "prior.md"
    proc = run_cli("experiments/prior_shift.py", "--data", str(fer_path), "--model", str(tiny_cnn), "--photos",
                   str(flat), "--limit", "500", "--exponents", "0,1,2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    saved = json.loads(out.with_suffix(".json").read_text())
    rows = saved["rows"]
    assert {c: sum(v["ranks"]) for c, v in saved["ranks"].items()} == {"happy": 6, "surprise": 6, "neutral": 6}
    assert [(r["exponent"], r["set"]) for r in rows[:3]] == [(0, "PublicTest"), (0, "flat"), (0, "flat, --amplify 3")]
    clf, photos = load_classifier(tiny_cnn), photoset.read(flat)
    assert rows[1]["accuracy"] == photoset.evaluate(clf, photos)["accuracy"]
    assert rows[2]["accuracy"] == photoset.evaluate(clf, photos, amplify=3.0)["accuracy"]
    for k in range(3):
        counts = [r["predicted"] for r in rows[k::3]]
        assert sum(counts[0]) == sum(counts[-1]) and counts[0] != counts[-1]
        assert [c[1] for c in counts] == sorted(c[1] for c in counts)  # disgust: 1.5% of Training
        assert [c[3] for c in counts] == sorted((c[3] for c in counts), reverse=True)  # happy: 25%
    assert_clean_error(run_cli("experiments/prior_shift.py", "--photos", str(flat), "--exponents", "-1"))

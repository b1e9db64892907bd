"""A head on dlib's frozen ResNet: trained on real FER2013 rows, saved, loaded, used on a real face."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SHARED

pytest.importorskip("dlib")
if not (SHARED / "fer2013.csv.gz").exists() or not (SHARED / "faces" / "angry_man.jpg").exists():
    pytest.skip(f"needs the real data in {SHARED} (fer2013.csv.gz and faces/angry_man.jpg)", allow_module_level=True)

from emojax import dlibnet, face, pretrained  # noqa: E402
from emojax.io import EmojaxError  # noqa: E402


@pytest.fixture(scope="module")
def backbone():
    try:
        dlibnet.face_recognition_model_path()
    except EmojaxError as e:
        pytest.skip(str(e))
    return pretrained.backbone()


@pytest.fixture(scope="module")
def trained(backbone, fer):
    """A linear head trained on the features of 256 real Training rows, checked on 64 PublicTest ones."""
    tr, va = fer.train.subset(slice(0, 256)), fer.val.subset(slice(0, 64))
    f_tr = pretrained.crop_features(tr.images)
    f_va = pretrained.crop_features(va.images)
    head, norm, hist, best = pretrained.train_head(f_tr["pooled"], tr.labels, f_va["pooled"], va.labels,
                                                   len(fer.classes), epochs=8, batch=64)
    return pretrained.PretrainedClassifier(head, norm, fer.classes, "pooled"), f_tr, hist, best


def test_features_match_dlib_descriptors(backbone, fer):
    """The trunk + fc split gives the port's own 128-D descriptors; the upsampled input is grey RGB."""
    chips = pretrained.upsample(fer.val.images[:4])
    assert chips.shape == (4, 150, 150, 3) and (chips[..., 0] == chips[..., 2]).all()
    module, variables = dlibnet.load_face_recognition_resnet()
    ref = dlibnet.descriptors(module, variables, chips)
    got = backbone.features(chips)["descriptor"]
    np.testing.assert_allclose(got, ref, atol=1e-4 * np.abs(ref).max())


def test_head_learns_and_round_trips(trained, tmp_path):
    clf, f_tr, hist, best = trained
    assert 1 <= best <= len(hist)
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]  # it fits the training features
    img = face.load_image(SHARED / "faces" / "angry_man.jpg")
    faces = face.detect_faces(img)
    assert faces, "the face pipeline found no face in angry_man.jpg"
    crops = np.stack([f.crop for f in faces])
    p = clf.predict_proba(crops)
    assert p.shape == (len(faces), 7) and np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(clf.predict(crops), p.argmax(1))
    one = clf.predict_proba(crops[0])  # one crop without the batch axis
    np.testing.assert_allclose(one, p[0], atol=1e-5)

    folder = clf.save(tmp_path / "model")
    meta = json.loads((folder / "model.json").read_text())
    assert meta["model"] == "dlib_resnet_head" and meta["classes"] == list(clf.classes)
    assert pretrained.is_pretrained_folder(folder)
    loaded = pretrained.PretrainedClassifier.load(folder)
    assert loaded.classes == clf.classes and loaded.feature == "pooled"
    np.testing.assert_allclose(loaded.predict_proba(crops), p, rtol=0, atol=1e-6)


def test_broken_model_json_is_one_clean_error(trained, tmp_path):
    clf = trained[0]
    folder = clf.save(tmp_path / "model")
    assert not pretrained.is_pretrained_folder(tmp_path)  # no model.json there
    meta_path = folder / "model.json"
    good = meta_path.read_text()

    meta_path.write_text(good[: len(good) // 2])  # truncated JSON
    assert not pretrained.is_pretrained_folder(folder)
    with pytest.raises(EmojaxError, match="not valid JSON"):
        pretrained.PretrainedClassifier.load(folder)

    meta = json.loads(good)
    meta_path.write_text(json.dumps({**meta, "model": "vgg"}))
    with pytest.raises(EmojaxError, match="not a dlib_resnet_head"):
        pretrained.PretrainedClassifier.load(folder)

    meta_path.write_text(json.dumps({**meta, "classes": meta["classes"][:5]}))  # head has 7 outputs
    with pytest.raises(EmojaxError, match="7 outputs for 5 classes"):
        pretrained.PretrainedClassifier.load(folder)

    meta_path.write_text(good)
    (folder / "head.npz").write_bytes(b"not an npz")
    with pytest.raises(EmojaxError, match="head weights"):
        pretrained.PretrainedClassifier.load(folder)


def test_fine_tunable_network_starts_as_the_frozen_model_and_trains(trained, fer, tmp_path):
    """Variant (b): ``dlib_resnet`` initialised from a frozen-variant folder gives that
    model's answers (the upsampling differs: bicubic in the network, OpenCV's outside), a
    training step with the robust augmentation moves it, and it saves and loads as any
    emojax CNN (so predict, live and the web server take it with --model)."""
    import dataclasses

    import jax

    from emojax import models, train
    from emojax.pipeline import load_classifier

    clf = trained[0]
    clf.save(tmp_path / "frozen")
    cfg = train.Config(model="dlib_resnet", model_kwargs={"hidden": 0}, optimizer="adamw", lr=1e-5,
                       photometric=0.5, lowres=(32,), epochs=1)
    state, fresh = train.init_from(train.create_state(cfg, 7, steps_per_epoch=4), tmp_path / "frozen")
    assert fresh == []
    crops = fer.val.images[:16]
    ours = jax.nn.softmax(train.eval_step(state, crops))
    theirs = clf.predict_proba(crops)
    assert (np.asarray(ours).argmax(1) == theirs.argmax(1)).mean() >= 0.8
    assert np.abs(np.asarray(ours) - theirs).max() < 0.25
    before = jax.tree_util.tree_map(np.array, state.params)
    state, m = train.train_step(state, fer.train.images[:8], fer.train.labels[:8].astype(np.int32), None,
                                jax.random.PRNGKey(0), dataclasses.replace(cfg))
    assert np.isfinite(float(m["loss"]))
    moved = jax.tree_util.tree_map(lambda a, b: float(np.abs(np.asarray(a) - b).max()), state.params, before)
    assert moved["trunk"]["000_con"]["kernel"] > 0 and moved["out"]["kernel"] > 0
    models.save(tmp_path / "tuned", "dlib_resnet", {"hidden": 0}, fer.classes,
                {"params": state.params, "batch_stats": state.batch_stats})
    loaded = load_classifier(tmp_path / "tuned")
    np.testing.assert_allclose(loaded.predict_proba(crops), np.asarray(jax.nn.softmax(train.eval_step(state, crops))),
                               atol=1e-5)
    # A frozen folder whose head reads the 128-D descriptors cannot start the fine-tune.
    desc = pretrained.PretrainedClassifier({"w0": np.zeros((128, 7), np.float32), "b0": np.zeros(7, np.float32)},
                                           {"mean": np.zeros(128, np.float32), "std": np.ones(128, np.float32)},
                                           fer.classes, "descriptor")
    desc.save(tmp_path / "desc")
    with pytest.raises(EmojaxError, match="pooled"):
        train.init_from(state, tmp_path / "desc")

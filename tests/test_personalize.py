"""Personal fine-tuning: a labelled folder in, a fine-tuned model out; crops captured by
``live --collect`` from a video of a real photo; the JAFFE round trip on one real person."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import jax
import numpy as np
import pytest

from conftest import REPO, SHARED, assert_clean_error, run_cli
from emojax import models, personal, photoset
from emojax.pipeline import CNNClassifier, predict_proba

JAFFE = SHARED / "jaffe"
PHOTO = SHARED / "faces" / "angry_man.jpg"
SHIPPED = REPO / "results" / "model"


def test_personalize_round_trip(tiny_cnn, small_fer, tmp_path):
    folder = tmp_path / "me"
    folder.mkdir()
    rows = ["file,emotion"]
    for i in range(120):  # real FER2013 faces standing in for one person's crops
        cv2.imwrite(str(folder / f"{i}.png"), small_fer.val.images[i])
        rows.append(f"{i}.png,{small_fer.classes[small_fer.val.labels[i]]}")
    if (SHARED / "faces" / "angry_man.jpg").exists():  # a photo goes through the face pipeline
        shutil.copy(SHARED / "faces" / "angry_man.jpg", folder)
        rows.append("angry_man.jpg,angry")
    cv2.imwrite(str(folder / "wall.png"), np.full((100, 100), 90, np.uint8))
    rows.append("wall.png,3")
    (folder / "label.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "personal"
    proc = run_cli("experiments/personalize.py", "--images", str(folder), "--model", str(tiny_cnn),
                   "--out", str(out), "--epochs", "150", "--lr", "3e-3")
    assert proc.returncode == 0, proc.stderr
    assert "wall.png: no face found" in proc.stderr
    report = json.loads((out / "personalize.json").read_text())
    assert report["images"] == len(rows) - 2 and report["heldout_images"] > 20
    assert "held-out accuracy" in proc.stdout
    # Only the head moved; the tuned model fits the person's training images better.
    m0, v0, _ = models.load(tiny_cnn)
    m1, v1, meta = models.load(out)
    assert meta["personalized_from"] == str(tiny_cnn)
    for name in v0["params"]:
        same = all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(v0["params"][name]),
                                                        jax.tree_util.tree_leaves(v1["params"][name])))
        assert same == (not name.startswith("Dense")), name
    images, labels = small_fer.val.images[:120], small_fer.val.labels[:120]
    acc = lambda m, v: (predict_proba(m, v, images).argmax(1) == labels).mean()
    assert acc(m1, v1) > acc(m0, v0) + 0.05


def test_personalize_bad_input(tiny_cnn, tmp_path):
    assert_clean_error(run_cli("experiments/personalize.py", "--images", str(tmp_path), "--model", str(tiny_cnn)))
    (tmp_path / "label.csv").write_text("a.png,ecstatic\n")
    proc = run_cli("experiments/personalize.py", "--images", str(tmp_path), "--model", str(tiny_cnn))
    assert_clean_error(proc)
    assert "unknown emotion 'ecstatic'" in proc.stderr


def photo_video(photo: Path, path: Path, seconds: int = 3, fps: int = 10) -> Path:
    """A 640x480 MJPG clip of a real photo, gently rocking and drifting."""
    from experiments.live_screenshot import rocking_video

    return rocking_video(cv2.imread(str(photo)), path, seconds, fps)


def live(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emojax.live", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=180)


def test_live_collect_makes_a_personal_set(tiny_cnn, tmp_path):
    if not PHOTO.exists():
        pytest.skip(f"no real photo at {PHOTO}")
    video = photo_video(PHOTO, tmp_path / "me.avi")
    folder = tmp_path / "me"
    proc = live("--video", str(video), "--model", str(tiny_cnn), "--collect", str(folder), "--label", "anger",
                "--collect-rate", "2")
    assert proc.returncode == 0, proc.stderr
    pngs = sorted(folder.glob("*.png"))
    assert 5 <= len(pngs) <= 7, pngs  # 3 s of video, one face, at most 2 crops a second
    assert "saved" in proc.stderr and "labelled angry" in proc.stderr
    for f in pngs:
        crop = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        assert crop.shape == (48, 48) and crop.dtype == np.uint8 and crop.std() > 10  # a real face, not blank
    with open(folder / "label.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["file", "emotion"] and sorted(r[0] for r in rows[1:]) == [f.name for f in pngs]
    assert {r[1] for r in rows[1:]} == {"angry"}
    assert not list(folder.glob(".*"))  # no temporary file left behind
    # photoset and personalize read the folder; a second session adds crops and keeps the first ones.
    first = {f.name: f.read_bytes() for f in pngs}
    proc = live("--video", str(video), "--model", str(tiny_cnn), "--collect", str(folder), "--label", "happy",
                "--collect-rate", "1", "--max-frames", "12")
    assert proc.returncode == 0, proc.stderr
    photos = photoset.read(folder)
    assert len(photos) == len(first) + 2 and {p.emotion for p in photos} == {"angry", "happy"}
    assert all(p.path.exists() for p in photos)
    assert all((folder / name).read_bytes() == data for name, data in first.items())
    crops, labels, _, skipped = personal.labelled_crops(personal.read_photos(folder, photoset.FER_CLASSES),
                                                        photoset.FER_CLASSES)
    assert not skipped and crops.shape == (len(photos), 48, 48)
    out = tmp_path / "personal"
    proc = run_cli("experiments/personalize.py", "--images", str(folder), "--model", str(tiny_cnn),
                   "--out", str(out), "--steps", "5")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "personalize.json").read_text())["images"] == len(photos)
    # A label.csv that is not ours is refused rather than mixed into.
    other = tmp_path / "other"
    other.mkdir()
    (other / "label.csv").write_text("name;what\n")
    proc = live("--video", str(video), "--model", str(tiny_cnn), "--collect", str(other), "--label", "happy")
    assert proc.returncode == 2 and "header file,emotion" in proc.stderr, proc.stderr
    assert (other / "label.csv").read_text() == "name;what\n"
    proc = live("--video", str(video), "--collect", str(other), "--label", "ecstatic")
    assert proc.returncode == 2 and "unknown emotion 'ecstatic'" in proc.stderr, proc.stderr


def test_layers_are_found_by_call_order():
    vgg = models.create("vgg", 7, width=8)
    assert personal.trainable_layers(vgg, "head") == ("Dense_0", "BatchNorm_8", "Dense_1")
    assert personal.trainable_layers(vgg, "last_stage")[:4] == ("Conv_6", "BatchNorm_6", "Conv_7", "BatchNorm_7")
    assert len(personal.trainable_layers(vgg, "all")) == 19
    small = models.create("small", 7, width=8)
    assert personal.trainable_layers(small, "head") == ("Dense_0",)
    assert personal.trainable_layers(small, "last_stage") == ("Conv_2", "BatchNorm_2", "Dense_0")


def test_jaffe_person_round_trip(tmp_path):
    """One real person of JAFFE: train the shipped model's head on repetitions 1-2, test on 3+."""
    if not JAFFE.exists() or not (SHIPPED / "model.json").exists():
        pytest.skip(f"needs JAFFE at {JAFFE} and the shipped model at {SHIPPED}")
    photos = [p for p in photoset.read(JAFFE) if p.person == "KL"]
    crops, found = photoset.crops(photos)
    assert found.all()
    loaded = models.load(SHIPPED)
    model, generic, meta = loaded
    labels = np.array([meta["classes"].index(p.emotion) for p in photos])
    train = np.array([p.repetition <= 2 for p in photos])
    res = personal.fine_tune(SHIPPED, crops[train], labels[train], "head", steps=60, loaded=loaded)
    assert res.trainable == ("Dense_0", "BatchNorm_8", "Dense_1") and res.losses[-1] < res.losses[0]
    for name in generic["params"]:
        same = all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(generic["params"][name]),
                                                        jax.tree_util.tree_leaves(res.variables["params"][name])))
        assert same == (name not in res.trainable), name
    before = personal.accuracy(model, generic, crops[~train], labels[~train])
    after = personal.accuracy(model, res.variables, crops[~train], labels[~train])
    assert after > before, (before, after)  # KL: 3/8 right before
    # Saved as an ordinary model that the classifiers (predict --model, live --model) load.
    out = tmp_path / "kl"
    personal.save(out, SHIPPED, res.variables)
    clf = CNNClassifier(out)
    assert clf.classes == tuple(meta["classes"])
    assert json.loads((out / "model.json").read_text())["personalized_from"] == str(SHIPPED)
    assert np.isclose((clf.predict(crops[~train]) == labels[~train]).mean(), after)

"""Personal fine-tuning round trip: a labelled folder in, a fine-tuned model out."""
from __future__ import annotations

import json
import shutil

import cv2
import jax
import numpy as np

from conftest import SHARED, assert_clean_error, run_cli
from emojax import models
from emojax.pipeline import predict_proba


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

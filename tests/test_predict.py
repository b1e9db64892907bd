"""``python -m emojax.predict`` and ``Predictor`` on real photos with a real trained CNN."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from conftest import SHARED, assert_clean_error, run_cli
from emojax.pipeline import Predictor

FACES = SHARED / "faces"
needs_faces = pytest.mark.skipif(not FACES.is_dir(), reason=f"test photos not found in {FACES}")


def test_predictor_on_the_astronaut(tiny_cnn):
    preds = Predictor(tiny_cnn).predict(skdata.astronaut())
    assert len(preds) == 1
    p = preds[0]
    assert p.crop.shape == (48, 48) and set(p.probabilities) == {
        "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert sum(p.probabilities.values()) == pytest.approx(1, abs=1e-4)
    l, t, r, b = p.box
    assert 150 < (l + r) / 2 < 250 and 50 < (t + b) / 2 < 150  # her face, not the mission patch
    assert Predictor(tiny_cnn).predict(np.full((200, 200), 128, np.uint8)) == []


@needs_faces
def test_cli_on_the_photo_folder(tiny_cnn, tmp_path):
    folder = tmp_path / "photos"
    shutil.copytree(FACES, folder)
    cv2.imwrite(str(folder / "wall.png"), np.full((120, 160, 3), 200, np.uint8))  # no face
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    (folder / "empty.png").write_bytes(b"")
    proc = run_cli("-m", "emojax.predict", str(folder), "--model", str(tiny_cnn), "--json",
                   "--upsample", "0", "--annotate", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    per_file = {}
    for r in rows:
        per_file.setdefault(r["file"].rsplit("/", 1)[1], []).append(r)
        assert r["emotion"] == max(r["probabilities"], key=r["probabilities"].get)
    assert len(per_file["angry_man.jpg"]) == 1 and len(per_file["group_selfie.jpg"]) == 6
    assert "wall.png: no face found" in proc.stderr
    assert "broken.jpg" in proc.stderr and "empty.png" in proc.stderr and "Traceback" not in proc.stderr
    annotated = cv2.imread(str(tmp_path / "out" / "group_selfie_annotated.png"))
    assert annotated is not None and annotated.shape == cv2.imread(str(FACES / "group_selfie.jpg")).shape
    text = run_cli("-m", "emojax.predict", str(FACES / "angry_man.jpg"), "--model", str(tiny_cnn))
    assert text.returncode == 0 and text.stdout.count("\n") == 1 and "%" in text.stdout


def test_cli_nothing_processable(tiny_cnn, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_clean_error(run_cli("-m", "emojax.predict", str(tmp_path / "empty"), "--model", str(tiny_cnn)))
    (tmp_path / "bad.png").write_bytes(b"garbage")
    assert_clean_error(run_cli("-m", "emojax.predict", str(tmp_path / "bad.png"), "--model", str(tiny_cnn)))
    assert_clean_error(run_cli("-m", "emojax.predict", str(tmp_path / "bad.png"), "--model", str(tmp_path)))

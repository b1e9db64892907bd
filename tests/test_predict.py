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


def test_predictor_uses_the_models_chosen_views(tiny_cnn, tmp_path):
    """A photo gets the test-time views its model was chosen with (model.json); a model that
    records none gets one view, and so does live (one forward pass per face per frame)."""
    from emojax.pipeline import CNNClassifier

    model = tmp_path / "chosen"
    shutil.copytree(tiny_cnn, model)
    meta = json.loads((model / "model.json").read_text())
    (model / "model.json").write_text(json.dumps({**meta, "views": 10}))
    [f] = Predictor(model).predict(skdata.astronaut())
    ten, one = (CNNClassifier(model, views=v).predict_proba(f.crop) for v in (10, 1))
    assert not np.allclose(ten, one, atol=1e-4)  # the views change this model's answer
    np.testing.assert_allclose(list(f.probabilities.values()), ten, atol=1e-5)
    assert Predictor(tiny_cnn).classifier.views == 1


@needs_faces
def test_cli_on_the_photo_folder(tiny_cnn, tmp_path):
    folder = tmp_path / "photos"
    shutil.copytree(FACES, folder)
    cv2.imwrite(str(folder / "wall.png"), np.full((120, 160, 3), 200, np.uint8))  # no face
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    (folder / "empty.png").write_bytes(b"")
    proc = run_cli("-m", "emojax.predict", str(folder), "--model", str(tiny_cnn), "--json",
                   "--upsample", "0", "--annotate", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stderr  # some inputs failed, the rest were processed
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    per_file = {}
    for r in rows:
        per_file.setdefault(r["file"].rsplit("/", 1)[1], []).append(r)
        assert r["emotion"] == max(r["probabilities"], key=r["probabilities"].get)
    assert len(per_file["angry_man.jpg"]) == 1 and len(per_file["group_selfie.jpg"]) == 6
    assert "wall.png: no face found" in proc.stderr
    assert "broken.jpg" in proc.stderr and "empty.png" in proc.stderr and "Traceback" not in proc.stderr
    annotated = cv2.imread(str(tmp_path / "out" / "group_selfie_annotated.png"))
    h, w = cv2.imread(str(FACES / "group_selfie.jpg")).shape[:2]
    # several faces: the photo untouched outside the boxes, plus a legend panel on its right
    assert annotated is not None and annotated.shape[0] >= h and annotated.shape[1] > w
    assert (annotated[:h, :w] != 30).any(axis=2).mean() > 0.9  # the photo is there, not covered
    text = run_cli("-m", "emojax.predict", str(FACES / "angry_man.jpg"), "--model", str(tiny_cnn))
    assert text.returncode == 0 and text.stdout.count("\n") == 1 and "%" in text.stdout


def test_cli_nothing_processable(tiny_cnn, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_clean_error(run_cli("-m", "emojax.predict", str(tmp_path / "empty"), "--model", str(tiny_cnn)))
    (tmp_path / "bad.png").write_bytes(b"garbage")
    assert_clean_error(run_cli("-m", "emojax.predict", str(tmp_path / "bad.png"), "--model", str(tiny_cnn)))
    assert_clean_error(run_cli("-m", "emojax.predict", str(tmp_path / "bad.png"), "--model", str(tmp_path)))


@needs_faces
def test_predict_on_a_video_writes_lines_csv_and_timeline(tiny_cnn, tmp_path):
    """A 4-second clip of a real photo: a line per second, JSON lines with the time, and with
    --out a CSV and the emotion timeline plot."""
    from experiments.live_screenshot import rocking_video

    clip = rocking_video(cv2.imread(str(FACES / "angry_man.jpg")), tmp_path / "clip.avi", seconds=4)
    proc = run_cli("-m", "emojax", "predict", str(clip), "--model", str(tiny_cnn), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert [line.split(" : ")[0] for line in lines] == ["00:00:00", "00:00:01", "00:00:02", "00:00:03"]
    assert all(line.split(" : ")[1].split(" , ")[0].lower() in Predictor(tiny_cnn).classes for line in lines)
    rows = (tmp_path / "out" / "clip_emotions.csv").read_text().splitlines()
    assert rows[0].startswith("time_s,face,emotion,probability,angry") and len(rows) == 5
    assert cv2.imread(str(tmp_path / "out" / "clip_timeline.png")).shape[1] > 400
    js = run_cli("-m", "emojax.predict", str(clip), "--model", str(tiny_cnn), "--json")
    recs = [json.loads(line) for line in js.stdout.splitlines()]
    assert [r["time"] for r in recs] == [0.0, 1.0, 2.0, 3.0] and all(r["face"] == 0 for r in recs)
    assert sum(recs[0]["probabilities"].values()) == pytest.approx(1, abs=1e-3)


@needs_faces
def test_exit_status_rule_and_output_paths(tiny_cnn, tmp_path):
    """0 all processed, 1 some inputs failed, 2 nothing could be done; a bad output path is an
    error before any work."""
    good = FACES / "angry_man.jpg"
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    assert run_cli("-m", "emojax.predict", str(good), "--model", str(tiny_cnn)).returncode == 0
    some = run_cli("-m", "emojax.predict", str(good), str(bad), "--model", str(tiny_cnn))
    assert some.returncode == 1 and some.stderr.count("error:") == 1 and "face 0" in some.stdout
    assert_clean_error(run_cli("-m", "emojax.predict", str(bad), str(tmp_path / "missing.jpg"),
                               "--model", str(tiny_cnn)))
    afile = tmp_path / "afile"
    afile.write_text("keep")
    for flag, target in (("--annotate", afile), ("--annotate", afile / "sub"), ("--out", afile)):
        proc = run_cli("-m", "emojax.predict", str(good), flag, str(target), "--model", str(tiny_cnn))
        assert_clean_error(proc)
        assert "not a folder" in proc.stderr and proc.stdout == ""
    assert afile.read_text() == "keep"


def test_a_decompression_bomb_is_refused_from_its_header(tiny_cnn, tmp_path):
    """A 30000x30000 PNG of ~110 KB would take 2.7 GB decoded: refused before decoding."""
    from conftest import png_bomb

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb())
    proc = run_cli("-m", "emojax.predict", str(bomb), "--model", str(tiny_cnn))
    assert_clean_error(proc)
    assert "too large" in proc.stderr and "900 megapixels" in proc.stderr

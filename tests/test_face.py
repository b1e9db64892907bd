"""The face pipeline on real photos with the real dlib models (no mocks)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from emojax.io import EmojaxError
from emojax.face import (LEFT_EYE, RIGHT_EYE, align, detect_faces, face_landmarks, face_locations, load_image,
                         to_gray)

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "data" / "faces"
needs_faces = pytest.mark.skipif(not FACES.is_dir(), reason=f"test photos not found in {FACES}")


def photo(name: str) -> np.ndarray:
    return data.astronaut() if name == "astronaut" else load_image(FACES / name)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    return np.array([landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0)])


@pytest.mark.parametrize("name, upsample, count", [
    pytest.param("angry_man.jpg", 1, 1, marks=needs_faces),
    ("astronaut", 1, 1),
    # Six people: five standing in a row and the one taking the selfie in front. Their faces
    # are 88-450 px wide; in the doubled image's pyramid alone dlib scores the man in the cap just
    # below 0, so upsample=1 also scans the image as it is, and finds each face once.
    pytest.param("group_selfie.jpg", 0, 6, marks=needs_faces),
    pytest.param("group_selfie.jpg", 1, 6, marks=needs_faces),
])
def test_finds_every_face(name: str, upsample: int, count: int) -> None:
    image = photo(name)
    faces = detect_faces(image, upsample=upsample)
    assert len(faces) == count
    assert [f.box for f in faces] == sorted(face_locations(image, upsample=upsample))  # left to right
    h, w = image.shape[:2]
    for f in faces:
        left, top, right, bottom = f.box
        assert 0 <= left < right <= w and 0 <= top < bottom <= h
        assert f.landmarks.shape == (68, 2)
        assert (f.landmarks[:, 0].mean() - (left + right) / 2) ** 2 < ((right - left) / 4) ** 2  # landmarks on the face
        assert f.crop.shape == (48, 48) and f.crop.dtype == np.uint8


def test_any_input_type_gives_the_same_crop() -> None:
    rgb = data.astronaut()
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    gray = to_gray(rgb)
    assert gray.shape == rgb.shape[:2] and gray.dtype == np.uint8
    assert np.array_equal(to_gray(bgr, bgr=True), gray)
    assert not np.array_equal(to_gray(bgr), gray)  # the flag matters
    variants = {
        "rgb": rgb,
        "bgr": to_gray(bgr, bgr=True),
        "rgba": np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]),
        "gray": gray,
        "gray_hw1": gray[:, :, None],
        "uint16": rgb.astype(np.uint16) * 257,
        "float": rgb / 255.0,
    }
    (reference,) = detect_faces(rgb)
    for kind, image in variants.items():
        faces = detect_faces(image)
        assert len(faces) == 1, kind
        assert faces[0].crop.shape == (48, 48) and faces[0].crop.dtype == np.uint8, kind
        assert np.abs(faces[0].crop.astype(int) - reference.crop).max() <= 1, kind


@pytest.mark.parametrize("name, degrees", [
    ("astronaut", 0),
    ("astronaut", 15),
    pytest.param("angry_man.jpg", 0, marks=needs_faces),
    pytest.param("angry_man.jpg", 15, marks=needs_faces),
    pytest.param("angry_man.jpg", -15, marks=needs_faces),
])
def test_eyes_land_on_target_and_level(name: str, degrees: float) -> None:
    image = rotate(photo(name), degrees)
    (face,) = detect_faces(image)
    dx, dy = np.diff(eye_centres(face.landmarks), axis=0)[0]
    assert abs(np.degrees(np.arctan2(dy, dx)) + degrees) < 5  # the input really is tilted

    # Align at 4x the size with the same framing and find the landmarks again from scratch, the
    # way experiments/fer_eye_positions.py measured FER2013 (replicate-padded for the detector).
    pad = 24
    big = cv2.copyMakeBorder(align(image, face.landmarks, size=192), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    boxes = face_locations(big, upsample=0)
    assert len(boxes) == 1
    eyes = (eye_centres(face_landmarks(big, boxes)[0] - pad) + 0.5) / 4 - 0.5  # in 48x48 coordinates
    assert np.abs(eyes - np.array([LEFT_EYE, RIGHT_EYE])).max() <= 2
    assert abs(eyes[0, 1] - eyes[1, 1]) <= 1  # level


@pytest.mark.parametrize("image", [
    np.full((480, 640, 3), 128, np.uint8),
    np.random.default_rng(0).integers(0, 256, (480, 640), dtype=np.uint8),
], ids=["flat_grey", "noise"])
def test_no_face(image: np.ndarray) -> None:
    assert detect_faces(image) == []
    assert face_locations(image) == []


def test_load_image_formats(tmp_path: Path) -> None:
    rgb = data.astronaut()
    files = {
        "rgb.png": rgb[:, :, ::-1],
        "gray16.png": to_gray(rgb).astype(np.uint16) * 257,
        "rgba.png": np.dstack([rgb[:, :, ::-1], np.full(rgb.shape[:2], 255, np.uint8)]),
    }
    for name, pixels in files.items():
        cv2.imwrite(str(tmp_path / name), pixels)
        image = load_image(tmp_path / name)
        assert image.shape == rgb.shape and image.dtype == np.uint8, name
        assert np.abs(to_gray(image).astype(int) - to_gray(rgb)).max() <= 1, name


def test_load_image_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + np.random.default_rng(0).bytes(5000))
    empty = tmp_path / "empty.png"
    empty.touch()
    for path, words in [(corrupt, "cannot decode"), (empty, "empty"), (tmp_path / "missing.png", "no such")]:
        with pytest.raises(EmojaxError, match=words) as e:
            load_image(path)
        assert "\n" not in str(e.value) and str(path) in str(e.value)


SCRIPT = REPO / "experiments" / "preprocess_video.py"


def test_preprocess_video(tmp_path: Path) -> None:
    # 20 s at 10 fps of the astronaut's head and shoulders, gently rocking and drifting.
    base = cv2.resize(data.astronaut()[:300, 56:456], (640, 480), interpolation=cv2.INTER_AREA)
    video = tmp_path / "head.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    assert writer.isOpened()
    for i in range(200):
        m = cv2.getRotationMatrix2D((320, 240), 4 * np.sin(2 * np.pi * i / 37), 1.0)
        m[:, 2] += 15 * np.sin(2 * np.pi * i / 23), 10 * np.sin(2 * np.pi * i / 29)
        writer.write(cv2.warpAffine(base, m, (640, 480), borderMode=cv2.BORDER_REPLICATE)[:, :, ::-1])
    writer.release()
    out = tmp_path / "crops"
    out.mkdir()
    (out / "image99.png").write_bytes(b"stale")

    proc = subprocess.run([sys.executable, str(SCRIPT), str(video), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.iterdir())
    assert len(names) in (20, 21)
    assert names == sorted(f"image{i}.png" for i in range(len(names)))
    (reference,) = detect_faces(base)
    for name in names:
        crop = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        assert crop.shape == (48, 48) and crop.dtype == np.uint8, name
        assert np.abs(crop.astype(int) - reference.crop).mean() < 6, name  # the same face, framed the same


@pytest.mark.parametrize("content", [np.random.default_rng(1).bytes(20000), b""], ids=["corrupt", "empty"])
def test_preprocess_video_bad_file(tmp_path: Path, content: bytes) -> None:
    video = tmp_path / "bad.avi"
    video.write_bytes(content)
    proc = subprocess.run([sys.executable, str(SCRIPT), str(video), "--out", str(tmp_path / "crops")],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "crops").exists()

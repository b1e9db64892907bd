"""The Flax port of dlib's face-recognition ResNet gives dlib's descriptors on real faces."""
from __future__ import annotations

import glob

import numpy as np
import pytest

from conftest import SHARED

dlib = pytest.importorskip("dlib")

from emojax import dlibnet  # noqa: E402
from emojax.io import EmojaxError  # noqa: E402

PHOTOS = sorted(glob.glob(str(SHARED / "faces" / "*.jpg")))
JAFFE = sorted(glob.glob(str(SHARED / "jaffe" / "**" / "*.tiff"), recursive=True))
PER_SUBJECT = 3  # JAFFE photos per person: enough for every face to have a true neighbour


def _model_path():
    try:
        return dlibnet.face_recognition_model_path()
    except EmojaxError as e:
        pytest.skip(str(e))


def _images() -> list[tuple[str, np.ndarray]]:
    from PIL import Image

    by_subject: dict[str, list[str]] = {}
    for f in JAFFE:
        by_subject.setdefault(f.rsplit("/", 1)[-1].split(".")[0], []).append(f)
    files = PHOTOS + [f for fs in by_subject.values() for f in fs[:PER_SUBJECT]]
    return [(f, np.asarray(Image.open(f).convert("RGB"))) for f in files]


@pytest.fixture(scope="module")
def faces():
    """Chips of every detected face, with dlib's and the Flax port's descriptors."""
    if not PHOTOS or not JAFFE:
        pytest.skip(f"no face photos under {SHARED}/faces or JAFFE under {SHARED}/jaffe")
    path = _model_path()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(path.parent / "shape_predictor_5_face_landmarks.dat"))
    chips, names = [], []
    for name, img in _images():
        for k, rect in enumerate(detector(img, 0)):
            shape = predictor(img, rect)
            chips.append(dlibnet.face_chip(img, shape))
            names.append(f"{name.rsplit('/', 1)[-1]}#{k}")
            if len(chips) == 1:  # landmarks as a plain (5, 2) array cut the same chip
                points = np.array([(p.x, p.y) for p in shape.parts()])
                np.testing.assert_array_equal(dlibnet.face_chip(img, points), chips[0])
    chips = np.stack(chips)
    reference = np.array(dlib.face_recognition_model_v1(str(path)).compute_face_descriptor(list(chips)))
    module, variables = dlibnet.load_face_recognition_resnet(path)
    ours = dlibnet.descriptors(module, variables, chips, batch=len(chips))  # one compile
    return names, chips, reference, ours


def test_descriptors_match_dlib(faces):
    names, chips, reference, ours = faces
    assert len(names) >= 20 and chips.shape[1:] == (150, 150, 3)
    assert ours.shape == reference.shape == (len(names), 128)
    cos = (ours * reference).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(reference, axis=1)
    worst = int(np.argmin(cos))
    print(f"{len(names)} faces: cosine min {cos.min():.8f} mean {cos.mean():.8f}, "
          f"max |diff| {np.abs(ours - reference).max():.2e}")
    assert cos.min() >= 0.9999, f"{names[worst]}: cosine {cos[worst]}"
    # dlib returns the raw fc output (no normalization): lengths must agree too
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), np.linalg.norm(reference, axis=1), rtol=1e-4)


def test_nearest_neighbours_match_dlib(faces):
    names, _, reference, ours = faces

    def nearest(d: np.ndarray) -> np.ndarray:
        dist = np.linalg.norm(d[:, None] - d[None], axis=-1)
        np.fill_diagonal(dist, np.inf)
        return dist.argmin(1)

    theirs, mine = nearest(reference), nearest(ours)
    wrong = [(names[i], names[theirs[i]], names[mine[i]]) for i in np.flatnonzero(theirs != mine)]
    assert not wrong, wrong
    # and the descriptor does its job: each JAFFE face's neighbour is the same person
    jaffe = [i for i, n in enumerate(names) if n.endswith(".tiff#0")]
    same = [names[i].split(".")[0] == names[mine[i]].split(".")[0] for i in jaffe]
    assert sum(same) >= 0.9 * len(jaffe)


def test_reads_the_network_records():
    net = dlibnet.read_network(_model_path())
    assert net["loss"]["margin"] == pytest.approx(0.04) and net["input"]["size"] == (150, 150)
    kinds = [layer["type"] for layer in net["layers"]]
    assert kinds.count("con") == 29 and kinds.count("fc") == 1 and kinds[-1] == "fc"
    assert net["layers"][0]["filters"].shape == (32, 3, 7, 7)
    assert net["layers"][-1]["weights"].shape == (256, 128)


@pytest.mark.parametrize("keep", [0, 3, 40, 300, 5_000_000, -1])
def test_truncated_file_is_one_clean_error(tmp_path, keep):
    data = _model_path().read_bytes()
    bad = tmp_path / "truncated.dat"
    bad.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(EmojaxError) as info:
        dlibnet.read_network(bad)
    message = str(info.value)
    assert "\n" not in message and str(bad) in message


def test_foreign_file_is_one_clean_error(tmp_path):
    bad = tmp_path / "noise.dat"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(EmojaxError) as info:
        dlibnet.read_network(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(EmojaxError):
        dlibnet.read_network(tmp_path / "missing.dat")

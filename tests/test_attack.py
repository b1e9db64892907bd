"""Adversarial attacks on a real (tiny) trained CNN and real PrivateTest faces: the budget
holds exactly on the uint8 output, the attacks work, and experiments/hack_cnn.py delivers."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import assert_clean_error, run_cli
from emojax import attack, models
from emojax.pipeline import predict_proba

SAD = 4


@pytest.fixture(scope="module")
def cnn(tiny_cnn):
    model, variables, meta = models.load(tiny_cnn)
    assert meta["classes"][SAD] == "sad"
    return model, variables


@pytest.fixture(scope="module")
def faces(fer):
    """64 PrivateTest faces and their labels."""
    return fer.test.images[:64], fer.test.labels[:64]


def predict(cnn, images: np.ndarray) -> np.ndarray:
    return predict_proba(*cnn, images)


@pytest.mark.parametrize("eps_levels", [0.5, 1, 2.5, 4])
def test_the_budget_holds_exactly_on_valid_uint8_images(cnn, faces, eps_levels):
    x, y = faces[0][:16], faces[1][:16]
    eps = eps_levels / 255
    fgsm = attack.fgsm(*cnn, x, y, eps)
    fooled, ok = attack.iterative(*cnn, x, np.full(len(x), SAD), eps, targeted=True)
    for adv in (fgsm, fooled):
        assert adv.dtype == np.uint8 and adv.shape == x.shape
        assert np.abs(adv.astype(int) - x).max() <= eps * 255
    assert np.abs(fgsm.astype(int) - x).max() == int(eps_levels)  # whole levels of it are used
    # success is judged on the uint8 images returned
    assert ((predict(cnn, fooled).argmax(1) == SAD) == ok).all()


def test_float_inputs_keep_the_budget_after_rounding(cnn, faces):
    x = np.clip(faces[0][:8] / 255 + np.random.default_rng(0).uniform(-0.3, 0.3, (8, 48, 48)) / 255, 0, 1)
    for eps_levels in (1, 3):
        adv, _ = attack.iterative(*cnn, x, np.full(len(x), SAD), eps_levels / 255, targeted=True)
        assert adv.dtype == np.uint8
        assert np.abs(adv - x * 255).max() <= eps_levels + 1e-9


def test_the_targeted_attack_makes_faces_sad(cnn, faces):
    x = faces[0][:32]
    before = predict(cnn, x)
    adv, ok = attack.iterative(*cnn, x, np.full(len(x), SAD), 4 / 255, targeted=True)
    after = predict(cnn, adv)
    assert after[:, SAD].mean() > before[:, SAD].mean() + 0.05
    assert ok.mean() >= 0.75, ok.mean()
    assert (after[ok].argmax(1) == SAD).all()


def test_fgsm_and_the_iterative_attack_reduce_accuracy(cnn, faces):
    x, y = faces
    clean = (predict(cnn, x).argmax(1) == y).mean()
    fgsm = attack.fgsm(*cnn, x, y, [1 / 255, 4 / 255])
    assert fgsm.shape == (2, *x.shape)
    acc_fgsm = [(predict(cnn, a).argmax(1) == y).mean() for a in fgsm]
    adv, ok = attack.iterative(*cnn, x, y, 4 / 255, targeted=False)
    acc_iter = (predict(cnn, adv).argmax(1) == y).mean()
    assert clean - 0.1 > acc_fgsm[0] >= acc_fgsm[1] >= acc_iter
    assert acc_iter == 1 - ok.mean()  # every image it did not fool is still classified right


def test_smallest_eps(cnn, faces):
    x = faces[0][:16]
    grid = np.arange(1, 9) / 255
    target = np.full(len(x), SAD)
    found, adv = attack.smallest_eps(*cnn, x, target, grid, targeted=True)
    already = predict(cnn, x).argmax(1) == SAD
    assert (found[already] == 0).all() and (adv[already] == x[already]).all()
    assert np.isin(found[~already], grid).all()  # the tiny CNN gives way well before 8/255
    assert (np.abs(adv.astype(int) - x).max(axis=(1, 2)) <= found * 255).all()
    assert (predict(cnn, adv).argmax(1) == SAD).all()
    assert attack.psnr(x, x).tolist() == [np.inf] * len(x)


def test_hack_cnn_script(tiny_cnn, fer_path, tmp_path):
    out = tmp_path / "hack"
    proc = run_cli("experiments/hack_cnn.py", "--model", str(tiny_cnn), "--data", str(fer_path),
                   "--limit", "200", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    for name in ("input_image.png", "hacked_image.png", "perturbation.png"):
        assert cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED).shape == (48, 48)
    for name in ("side_by_side.png", "robustness.png"):
        assert cv2.imread(str(out / name)).shape[1] > 300
    x = cv2.imread(str(out / "input_image.png"), cv2.IMREAD_UNCHANGED)
    hacked = cv2.imread(str(out / "hacked_image.png"), cv2.IMREAD_UNCHANGED)
    assert report["success"] and report["image"].startswith("PrivateTest[")
    assert report["source"] == "happy" and report["target"] == "sad"
    assert np.abs(hacked.astype(int) - x).max() == report["linf_levels"] <= report["eps_levels"] <= 8
    assert 0 < report["linf"] <= report["eps"] and report["psnr_db"] > 30 and report["l2"] > 0
    cnn = models.load(tiny_cnn)[:2]
    assert max(report["probabilities_before"], key=report["probabilities_before"].get) == "happy"
    assert max(report["probabilities_after"], key=report["probabilities_after"].get) == "sad"
    assert predict(cnn, hacked[None]).argmax() == SAD  # the saved PNG itself fools the CNN
    assert report["command"].startswith("python experiments/hack_cnn.py --model")
    rob = report["robustness"]
    assert rob["images"] == 200 and rob["eps_levels"] == list(range(9))
    assert rob["fgsm_accuracy"][0] == rob["iterative_accuracy"][0] > rob["iterative_accuracy"][4]
    tgt = report["targeted_success"]
    assert tgt["eps_levels"] == 4 and tgt["images"] > 0 and tgt["success_rate"] > 0.5
    assert tgt["psnr_min_db"] >= 10 * np.log10(255 ** 2 / 16)  # nothing worse than +-4 everywhere
    table = (out / "robustness.md").read_text()
    assert "| 4/255 |" in table and "FGSM" in table


@pytest.mark.parametrize("args, message", [
    (["--image", "missing.png"], "no such image file"),
    (["--image", "no_face.png"], "no face found"),
    (["--source", "disgust", "--limit", "50"], "is predicted disgust"),  # the tiny CNN never says disgust
])
def test_bad_input_is_a_one_line_error(tiny_cnn, fer_path, tmp_path, args, message):
    cv2.imwrite(str(tmp_path / "no_face.png"), np.full((120, 160, 3), 200, np.uint8))
    args = [str(tmp_path / a) if a.endswith(".png") else a for a in args]
    proc = run_cli("experiments/hack_cnn.py", "--model", str(tiny_cnn), "--data", str(fer_path),
                   *args, "--out", str(tmp_path / "out"))
    assert_clean_error(proc)
    assert message in proc.stderr.splitlines()[-1] and not (tmp_path / "out").exists()

"""The HOG+SVM baseline and the SVM-vs-CNN comparison, on real FER2013 rows."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli
from skimage.feature import hog as skimage_hog

from emojax.baseline import HogFeatures, HogSVM, hog
from emojax.io import EmojaxError
from emojax.pipeline import load_classifier

# Small but real: 2,000 Training faces, a 300-dimensional kernel approximation (seconds).
SMALL = {"pca": 60, "landmarks": 300, "gamma": 1.5e-3}


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (20, 48, 48), dtype=np.uint8)


@pytest.fixture(scope="module")
def small_svm(small_fer) -> HogSVM:
    model = HogSVM(small_fer.classes, **SMALL).fit(small_fer.train.images, small_fer.train.labels)
    model.calibrate(small_fer.val.images, small_fer.val.labels)
    return model


@pytest.fixture(scope="module")
def saved_svm(small_svm, tmp_path_factory):
    path = tmp_path_factory.mktemp("svm") / "svm.joblib"
    small_svm.save(path)
    return path


@pytest.mark.parametrize("cell, block", [(6, 2), (8, 2), (12, 2), (5, 3)])
def test_hog_equals_skimage(crops, cell, block):
    expected = np.stack([skimage_hog(c, 9, (cell, cell), (block, block), block_norm="L2-Hys") for c in crops])
    np.testing.assert_allclose(hog(crops, cell, block), expected, atol=1e-5)


def test_features_shape_and_determinism(crops):
    f = HogFeatures().transform(crops.reshape(len(crops), -1))
    # HOG 6 px: 7x7 blocks of 2x2 cells x 9 bins; 12 px: 3x3 blocks; pixels 24x24.
    assert f.shape == (len(crops), 7 * 7 * 36 + 3 * 3 * 36 + 24 * 24)
    assert f.dtype == np.float64 and np.isfinite(f).all()
    np.testing.assert_array_equal(f, HogFeatures().transform(crops))
    np.testing.assert_array_equal(f, HogFeatures(chunk=7).transform(crops))  # chunking changes nothing


def test_train_and_evaluate_on_real_rows(small_svm, small_fer):
    val = small_fer.val
    majority = np.bincount(val.labels).max() / len(val)
    accuracy = (small_svm.predict(val.images) == val.labels).mean()
    assert accuracy > majority + 0.1, (accuracy, majority)
    p = small_svm.predict_proba(val.images)
    assert p.shape == (len(val), 7)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-6)
    # One crop or a batch: the same numbers (float32 inside Nystroem once broke this).
    np.testing.assert_allclose(small_svm.predict_proba(val.images[3]), p[3], rtol=1e-9)
    assert 0 < small_svm.temperature < 10


def test_fit_needs_every_class(small_fer):
    happy = small_fer.train.labels == 3
    with pytest.raises(EmojaxError, match="no training examples"):
        HogSVM(**SMALL).fit(small_fer.train.images[~happy], small_fer.train.labels[~happy])


def test_save_load_round_trip(small_svm, saved_svm, small_fer):
    images = small_fer.test.images
    loaded = HogSVM.load(saved_svm)
    np.testing.assert_array_equal(loaded.predict_proba(images), small_svm.predict_proba(images))
    assert loaded.classes == small_svm.classes
    assert saved_svm.stat().st_size < 5e6


def test_load_classifier_routes_joblib(small_svm, saved_svm, small_fer):
    clf = load_classifier(saved_svm)
    assert isinstance(clf, HogSVM)
    np.testing.assert_array_equal(clf.predict(small_fer.test.images), small_svm.predict(small_fer.test.images))


def test_bad_files_are_clean_errors(tmp_path):
    import joblib

    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"not a model at all")
    foreign = tmp_path / "foreign.joblib"
    joblib.dump({"a": 1}, foreign)
    for path, match in [(garbage, "cannot load"), (foreign, "not a HogSVM"),
                        (tmp_path / "missing.joblib", "no model")]:
        with pytest.raises(EmojaxError, match=match):
            load_classifier(path)


def test_compare_help():
    proc = run_cli("experiments/compare.py", "--help")
    assert proc.returncode == 0, proc.stderr
    for flag in ("--svm", "--cnn", "--out-dir", "--limit", "--repeats", "--data"):
        assert flag in proc.stdout


def test_compare_writes_table_and_chart(saved_svm, tiny_cnn, fer_path, tmp_path):
    from experiments import compare

    argv = ["--data", str(fer_path), "--svm", str(saved_svm), "--cnn", str(tiny_cnn),
            "--out-dir", str(tmp_path), "--limit", "200", "--repeats", "3"]
    assert compare.main(argv) == 0
    md = (tmp_path / "comparison.md").read_text()
    assert "python experiments/compare.py --data" in md
    for row in ("accuracy", "macro-F1", "recall: disgust", "training time", "one face", "size on disk"):
        assert row in md
    assert "n/a (no metrics.json)" in md  # the test SVM was saved without its metrics.json
    assert (tmp_path / "comparison.png").stat().st_size > 10_000
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind

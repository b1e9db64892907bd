"""The data layer on real FER2013 rows, in every distribution format we read."""
from __future__ import annotations

import gzip
import http.server
import threading
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FERPLUS, assert_clean_error, run_cli
from emojax import data
from emojax.io import EmojaxError


def rows_to_arrays(rows: list[str]):
    """Ground truth straight from the CSV text, parsed the obvious (slow) way."""
    images, labels, usage = [], [], []
    for line in rows[1:]:
        e, pixels, u = line.strip().split(",")
        images.append(np.array(pixels.split(), np.uint8).reshape(48, 48))
        labels.append(int(e))
        usage.append(u)
    return np.stack(images), np.array(labels), np.array(usage)


def test_full_fer2013_splits(fer):
    assert (len(fer.train), len(fer.val), len(fer.test)) == (28709, 3589, 3589)
    assert fer.classes == data.FER_CLASSES and fer.skipped == {}
    for split in (fer.train, fer.val, fer.test):
        assert split.images.dtype == np.uint8 and split.images.shape[1:] == (48, 48)
        assert set(np.unique(split.labels)) == set(range(7))
    # happy is the largest class of FER2013, disgust the smallest
    counts = np.bincount(fer.train.labels)
    assert counts.argmax() == 3 and counts.argmin() == 1


def test_kaggle_csv_plain_gz_and_cache(fer_rows, tmp_path):
    images, labels, usage = rows_to_arrays(fer_rows)
    plain = tmp_path / "fer2013.csv"
    plain.write_text("".join(fer_rows))
    gz = tmp_path / "fer2013.csv.gz"
    with gzip.open(gz, "wt") as f:
        f.write("".join(fer_rows))
    for path in (plain, gz):
        ds = data.load(path, verbose=False)
        np.testing.assert_array_equal(ds.train.images, images[usage == "Training"])
        np.testing.assert_array_equal(ds.val.labels, labels[usage == "PublicTest"])
        np.testing.assert_array_equal(ds.test.images, images[usage == "PrivateTest"])
    caches = sorted(tmp_path.glob(".fer2013.csv*.npz"))
    assert len(caches) == 2  # one per source, beside it
    # A changed source (new size/mtime) is parsed again, not served from the stale cache.
    plain.write_text("".join(fer_rows[:101]))
    ds = data.load(plain, verbose=False)
    assert len(ds.train) + len(ds.val) == 100


def test_icml_face_data_format(fer_rows, tmp_path):
    images, labels, usage = rows_to_arrays(fer_rows)
    path = tmp_path / "icml_face_data.csv"
    lines = ["emotion, Usage, pixels\n"] + [
        f"{e}, {u}, {p}\n" for e, p, u in (r.strip().split(",") for r in fer_rows[1:])]
    path.write_text("".join(lines))
    ds = data.load(path, verbose=False)
    np.testing.assert_array_equal(ds.test.images, images[usage == "PrivateTest"])
    np.testing.assert_array_equal(ds.train.labels, labels[usage == "Training"])


def test_train_csv_with_unlabelled_test_csv(fer_rows, tmp_path):
    images, labels, usage = rows_to_arrays(fer_rows)
    train = [r.rsplit(",", 1)[0] + "\n" for r in fer_rows[1:] if r.strip().endswith("Training")]
    test = [r.split(",")[1] + "\n" for r in fer_rows[1:] if r.strip().endswith("PrivateTest")]
    (tmp_path / "train.csv").write_text("emotion,pixels\n" + "".join(train))
    (tmp_path / "test.csv").write_text("pixels\n" + "".join(test))
    ds = data.load(tmp_path / "train.csv", verbose=False)
    # No PublicTest in this distribution: 10% of Training is held out, stratified.
    assert len(ds.train) + len(ds.val) == 600 and 55 <= len(ds.val) <= 65
    np.testing.assert_array_equal(ds.test.images, images[usage == "PrivateTest"])
    assert not ds.test.labelled and (ds.test.labels == -1).all()
    with pytest.raises(EmojaxError, match="no labels"):
        data.require(ds.test, "test")


def test_image_folder_layout(fer_rows, tmp_path):
    images, labels, usage = rows_to_arrays(fer_rows)
    for sub, u in (("train", "Training"), ("test", "PrivateTest")):
        for i in np.flatnonzero(usage == u):
            d = tmp_path / sub / data.FER_CLASSES[labels[i]]
            d.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d / f"{i:05d}.png"), images[i])
    ds = data.load(tmp_path, verbose=False)
    assert len(ds.test) == 200 and len(ds.train) + len(ds.val) == 600
    # Same multiset of (image, label) pairs as the CSV rows.
    key = lambda im, y: sorted(zip(y.tolist(), (x.tobytes() for x in im)))
    assert key(ds.test.images, ds.test.labels) == key(images[usage == "PrivateTest"], labels[usage == "PrivateTest"])


def test_ferplus_majority_and_distributions(fer_path):
    if not FERPLUS.exists():
        pytest.skip(f"FER+ labels not found at {FERPLUS}")
    ds = data.load(fer_path, labels="ferplus", verbose=False)
    assert ds.classes == data.FERPLUS_CLASSES
    assert 24000 < len(ds.train) < 26000 and 3000 < len(ds.test) < 3300
    for split in (ds.train, ds.test):
        np.testing.assert_allclose(split.targets.sum(1), 1, atol=1e-5)
        assert (split.targets.argmax(1) == split.labels).all()
        assert (split.targets[np.arange(len(split)), split.labels] > 0.5).all()  # majority
    # Rows FER+ marks as not-a-face or unknown are dropped, with the count reported.
    assert sum(ds.skipped.values()) == 35887 - len(ds.train) - len(ds.val) - len(ds.test)


def test_ferplus_vote_rules():
    votes = np.array([[6, 0, 0, 1, 3, 0, 0, 0, 0, 0],   # neutral, the single sadness vote removed
                      [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face: dropped
                      [4, 4, 0, 0, 0, 0, 0, 0, 2, 0],   # no majority: dropped
                      [0, 0, 0, 0, 0, 0, 0, 0, 7, 3]], np.float32)
    keep, labels, dist = data.ferplus_targets(votes)
    assert keep.tolist() == [True, False, False, False]
    assert labels[0] == 0 and dist[0, 3] == 0 and dist[0, 0] == pytest.approx(6 / 9)


@pytest.mark.parametrize("content, message", [
    ("emotion,pixels,Usage\n0,1 2 3,Training\n", "pixel count"),
    ("emotion,pixels,Usage\n0," + " ".join(["a"] * 2304) + ",Training\n", "non-numeric"),
    ("emotion,pixels,Usage\n9," + " ".join(["1"] * 2304) + ",Training\n", "unknown emotion code"),
    ("emotion,pixls,Usage\n0,1,Training\n", "no 'pixels' column"),
    ("pixels, pixels ,Usage\n0,1,Training\n", "names the column 'pixels' twice"),  # found by test_fuzz
    ("emotion,pixels,Usage\n", "no rows"),
    ("", "empty"),
])
def test_bad_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "fer2013.csv"
    path.write_text(content)
    with pytest.raises(EmojaxError, match=message):
        data.load(path, verbose=False)
    proc = run_cli("-m", "emojax.data", "info", "--data", str(path))
    assert_clean_error(proc)
    assert message in proc.stderr


def test_bad_rows_are_skipped_and_reported(fer_rows, tmp_path):
    bad = ["3,1 2 3,Training\n", "3," + " ".join(["x"] * 2304) + ",Training\n",
           "8," + " ".join(["7"] * 2304) + ",Training\n", "3," + " ".join(["300"] * 2304) + ",Training\n"]
    path = tmp_path / "fer2013.csv"
    path.write_text("".join(fer_rows[:51] + bad))
    ds = data.load(path, verbose=False)
    assert len(ds.train) + len(ds.val) == 50
    assert ds.skipped == {"non-numeric pixels": 1, "pixel count not 2304 or value out of 0..255": 2,
                          "unknown emotion code": 1}
    assert "skipped 4 rows" in ds.summary()


def test_missing_and_empty_splits(tmp_path, fer_rows):
    with pytest.raises(EmojaxError, match="no such dataset"):
        data.load(tmp_path / "nope.csv")
    only_test = [fer_rows[0]] + [r for r in fer_rows if r.strip().endswith("PrivateTest")]
    (tmp_path / "fer2013.csv").write_text("".join(only_test))
    ds = data.load(tmp_path / "fer2013.csv", verbose=False)
    with pytest.raises(EmojaxError, match="training split is empty"):
        data.require(ds.train, "training")


def test_search_order(tmp_path, small_csv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOJAX_DATA", raising=False)
    assert data.find_data() is None
    assert "Kaggle" in data.where_to_get_data()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "fer2013.csv").write_text("x")
    assert data.find_data() == Path("data/fer2013.csv")
    monkeypatch.setenv("EMOJAX_DATA", str(small_csv))
    assert data.find_data() == small_csv
    assert data.find_data(small_csv.parent) == small_csv.parent


def test_demo_set_is_synthetic_and_learnable():
    ds = data.make_demo(n_per_class=40)
    assert ds.synthetic and "synthetic" in ds.source
    assert ds.train.images.shape[1:] == (48, 48) and ds.train.images.dtype == np.uint8
    assert np.bincount(np.concatenate([ds.train.labels, ds.val.labels, ds.test.labels])).tolist() == [40] * 7
    # Expressions differ where they should: happy and sad mouths differ more than two happy faces.
    happy = ds.train.images[ds.train.labels == 3].astype(float).mean(0)
    sad = ds.train.images[ds.train.labels == 4].astype(float).mean(0)
    assert np.abs(happy[32:42] - sad[32:42]).mean() > 3


@pytest.fixture()
def http_server(tmp_path):
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_unpacks_and_verifies(fer_rows, tmp_path, http_server):
    with zipfile.ZipFile(tmp_path / "fer.zip", "w") as z:
        z.writestr("fer2013/fer2013.csv", "".join(fer_rows))
    proc = run_cli("-m", "emojax.data", "download", f"{http_server}/fer.zip", "--to", str(tmp_path / "data"))
    assert proc.returncode == 0, proc.stderr
    assert len(data.load(tmp_path / "data" / "fer2013.csv", verbose=False).test) == 200


def test_download_errors(tmp_path, http_server):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "other.zip").write_bytes(zipfile.ZipFile.__doc__.encode())
    for url in (f"{http_server}/missing.zip", "http://127.0.0.1:9/fer.zip", f"{http_server}/other.zip"):
        proc = run_cli("-m", "emojax.data", "download", url, "--to", str(tmp_path / "data"))
        assert_clean_error(proc)
    assert not any((tmp_path / "data").iterdir())  # nothing half-written left behind


def test_pack_and_unpack_are_lossless(small_csv, tmp_path):
    """experiments/pack_fer2013.py (for GPU machines behind a narrow copy) gives back a CSV
    that loads to the same images, labels and splits, in the same order."""
    packed, back = tmp_path / "fer.npz", tmp_path / "back" / "fer2013.csv"
    assert run_cli("experiments/pack_fer2013.py", "pack", str(small_csv), str(packed)).returncode == 0
    assert packed.stat().st_size < 0.5 * small_csv.stat().st_size
    assert run_cli("experiments/pack_fer2013.py", "unpack", str(packed), str(back)).returncode == 0
    a, b = data.read_pixels(small_csv), data.read_pixels(back)
    for k in ("images", "labels", "splits", "rows"):
        np.testing.assert_array_equal(a[k], b[k])
    (tmp_path / "votes.csv").write_text("a,b\n1,2\n")
    assert_clean_error(run_cli("experiments/pack_fer2013.py", "pack", str(tmp_path / "votes.csv"), str(tmp_path / "x.npz")))
    assert not (tmp_path / "x.npz").exists()
    assert_clean_error(run_cli("experiments/pack_fer2013.py", "unpack", str(tmp_path / "none.npz"), str(back)))
    (tmp_path / "garbage.npz").write_text("not a packed file")
    assert_clean_error(run_cli("experiments/pack_fer2013.py", "unpack", str(tmp_path / "garbage.npz"),
                               str(tmp_path / "out.csv")))
    assert not (tmp_path / "out.csv").exists()


def test_ferplus_votes_as_soft_targets_for_fer2013(fer_path):
    """FER2013's images and labels with FER+'s votes over the 7 FER2013 classes as targets
    (contempt counted as disgust; the one-hot label where FER+ drops the row)."""
    if not (fer_path.parent / "fer2013new.csv").exists():
        pytest.skip("fer2013new.csv not found beside FER2013")
    plain = data.load(fer_path, verbose=False)
    ds = data.load(fer_path, ferplus_soft=True, verbose=False)
    assert len(ds.train) == len(plain.train) and (ds.train.labels == plain.train.labels).all()
    t = ds.train.targets
    assert t.shape == (len(ds.train), 7) and np.allclose(t.sum(1), 1, atol=1e-5)
    agree = (t.argmax(1) == ds.train.labels).mean()
    assert 0.6 < agree < 0.9  # FER+ relabelled many faces: cleaner, not the same
    dist = np.zeros((1, 8), np.float32)
    dist[0, data.FERPLUS_CLASSES.index("contempt")] = 0.5
    dist[0, data.FERPLUS_CLASSES.index("happy")] = 0.5
    fer = data.ferplus_as_fer(dist)[0]
    assert fer[data.FER_CLASSES.index("disgust")] == 0.5 and fer[data.FER_CLASSES.index("happy")] == 0.5

"""FER2013 / FER+ data layer: find, parse, validate and cache the dataset.

Reads every common distribution of FER2013, detecting the format from the file itself:

* Kaggle ``fer2013.csv`` (``emotion,pixels,Usage``), plain or ``.gz``;
* ``icml_face_data.csv`` (same columns, other order, leading spaces in the header);
* ``train.csv`` (+ ``test.csv`` beside it, which may have no labels: then it is unlabelled);
* an image folder ``train/<emotion>/*.png|jpg`` and ``test/<emotion>/...``.

FER+ (``fer2013new.csv``, Barsoum et al. 2016) vote counts are joined by row order.

Splits follow the FER2013 protocol: Training to train, PublicTest to choose epochs and
hyper-parameters, PrivateTest only to report. Parsed pixels are cached as an ``.npz``
keyed by the source's path, size and mtime, so a second load takes well under a second.

Also ``python -m emojax.data download URL`` and a procedurally generated demo set for
machines without the dataset.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from emojax.io import EmojaxError, atomic_path, cache_dir

log = logging.getLogger(__name__)

FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FERPLUS_CLASSES = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt")
FERPLUS_VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust",
                        "fear", "contempt", "unknown", "NF")
SPLITS = ("Training", "PublicTest", "PrivateTest")
IMAGE_SIZE = 48
KAGGLE_URL = "https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge/data"
_DEFAULT_NAMES = ("fer2013.csv", "fer2013.csv.gz", "icml_face_data.csv", "train.csv", "train")
_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp")


@dataclasses.dataclass
class Split:
    """One split: uint8 images (N, 48, 48), int32 labels (-1 = unlabelled), optional
    float32 soft targets (N, C) such as FER+ vote distributions, and optionally each face's
    row in the split it was cut from (-1: a face made in training), which cross-fitting needs."""

    images: np.ndarray
    labels: np.ndarray
    targets: np.ndarray | None = None
    rows: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    @property
    def labelled(self) -> bool:
        return len(self) > 0 and bool((self.labels >= 0).all())

    def subset(self, idx: np.ndarray | slice) -> "Split":
        return Split(self.images[idx], self.labels[idx],
                     None if self.targets is None else self.targets[idx],
                     None if self.rows is None else self.rows[idx])


@dataclasses.dataclass
class Dataset:
    train: Split
    val: Split
    test: Split
    classes: tuple[str, ...]
    source: str
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return self.source.startswith("synthetic")

    def summary(self) -> str:
        skipped = sum(self.skipped.values())
        why = ", ".join(f"{n} {r}" for r, n in self.skipped.items())
        return (f"{self.source}: {len(self.train):,} train / {len(self.val):,} val / "
                f"{len(self.test):,} test images, {len(self.classes)} classes"
                + (f"; skipped {skipped:,} rows ({why})" if skipped else ""))


# --------------------------------------------------------------------------- finding


def find_data(path: str | os.PathLike | None = None) -> Path | None:
    """Where to look, in order: ``path`` (``--data``), ``$EMOJAX_DATA``, ``data/...``."""
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise EmojaxError(f"no such dataset file or folder: {p}")
        return p
    if os.environ.get("EMOJAX_DATA"):
        return find_data(os.environ["EMOJAX_DATA"])
    for name in _DEFAULT_NAMES:
        p = Path("data") / name
        if p.exists():
            return p
    return None


def where_to_get_data() -> str:
    return ("No FER2013 found. Looked at --data, $EMOJAX_DATA and "
            + ", ".join(f"data/{n}" for n in _DEFAULT_NAMES) + ".\n"
            f"Get fer2013.csv from Kaggle ({KAGGLE_URL}), put it in data/ or pass --data PATH, "
            "or run `python -m emojax.data download URL` with a URL of an archive you may use.")


# --------------------------------------------------------------------------- parsing


def _read_csv(path: Path):
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
            EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise EmojaxError(f"cannot read {path} as a CSV file: {str(e).splitlines()[0]}") from None
    df.columns = df.columns.str.strip()
    twice = df.columns[df.columns.duplicated()]
    if len(twice):  # pandas renames a repeat ("pixels.1"), but not one that differs by spaces
        raise EmojaxError(f"cannot read {path}: its header names the column {twice[0]!r} twice")
    for col in df.columns:
        df[col] = df[col].str.strip()
    return df


def parse_pixels(pixels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse space-separated pixel strings. Returns (images, ok, non_numeric) where ``ok``
    marks rows with exactly 2304 values in 0..255."""
    n = len(pixels)
    images = np.zeros((n, IMAGE_SIZE * IMAGE_SIZE), np.uint8)
    ok = np.zeros(n, bool)
    # Only digits, spaces and tabs: Python's \s also takes control characters numpy does not.
    non_numeric = np.asarray(pixels.str.contains(r"[^0-9 \t]", regex=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for i, p in enumerate(pixels):
            if non_numeric[i]:
                continue
            a = np.fromstring(p, dtype=np.int32, sep=" ")
            if a.size == IMAGE_SIZE * IMAGE_SIZE and a.min() >= 0 and a.max() <= 255:
                images[i] = a
                ok[i] = True
    return images.reshape(n, IMAGE_SIZE, IMAGE_SIZE), ok, non_numeric


def _parse_table(df, path: Path, split: str | None) -> dict[str, np.ndarray | dict]:
    """Validate a Kaggle-style table; returns images, labels, split codes, kept row ids."""
    if "pixels" not in df.columns:
        raise EmojaxError(f"{path}: no 'pixels' column (columns: {', '.join(df.columns)}); "
                          "expected Kaggle's emotion,pixels,Usage")
    n = len(df)
    if n == 0:
        raise EmojaxError(f"{path}: the file has a header but no rows")
    skipped: dict[str, int] = {}
    images, ok, non_numeric = parse_pixels(df["pixels"])
    if non_numeric.any():
        skipped["non-numeric pixels"] = int(non_numeric.sum())
    if (~ok & ~non_numeric).any():
        skipped["pixel count not 2304 or value out of 0..255"] = int((~ok & ~non_numeric).sum())
    if "emotion" in df.columns:
        em = df["emotion"]
        valid = em.str.fullmatch(r"\d+") & em.isin([str(i) for i in range(len(FER_CLASSES))])
        valid = np.asarray(valid, bool)
        if (ok & ~valid).any():
            skipped["unknown emotion code"] = int((ok & ~valid).sum())
        ok &= valid
        labels = np.where(valid, np.asarray(em.where(valid, "-1"), dtype=np.int64), -1)
    else:
        labels = np.full(n, -1)
    if "Usage" in df.columns:
        codes = np.asarray(df["Usage"].map({s: i for i, s in enumerate(SPLITS)}).fillna(-1), int)
        if (ok & (codes < 0)).any():
            skipped["unknown Usage"] = int((ok & (codes < 0)).sum())
        ok &= codes >= 0
    else:
        codes = np.full(n, SPLITS.index(split) if split else 0)
    if not ok.any():
        raise EmojaxError(f"{path}: none of the {n:,} rows is a valid 48x48 image "
                          f"({', '.join(f'{c} {r}' for r, c in skipped.items())})")
    return dict(images=images[ok], labels=labels[ok].astype(np.int32),
                splits=codes[ok].astype(np.int8), rows=np.flatnonzero(ok).astype(np.int32),
                skipped=skipped)


def _read_folder(root: Path) -> dict:
    """Image-folder layout: ``root/{train,test}/<emotion>/*.png``; val from ``val/`` or
    ``validation/`` when present."""
    import cv2

    parts = {"train": "Training", "val": "PublicTest", "validation": "PublicTest",
             "test": "PrivateTest"}
    images, labels, splits, skipped = [], [], [], {}
    for sub, split in parts.items():
        if not (root / sub).is_dir():
            continue
        for c, name in enumerate(FER_CLASSES):
            d = root / sub / name
            files = sorted(f for f in d.glob("*") if f.suffix.lower() in _IMAGE_EXTS) if d.is_dir() else []
            for f in files:
                buf = np.fromfile(f, np.uint8)
                img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if buf.size else None
                if img is None:
                    skipped["unreadable image"] = skipped.get("unreadable image", 0) + 1
                    continue
                if img.shape != (IMAGE_SIZE, IMAGE_SIZE):
                    img = cv2.resize(img, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
                images.append(img)
                labels.append(c)
                splits.append(SPLITS.index(split))
    if not images:
        raise EmojaxError(f"{root}: no images found in train/<emotion>/ "
                          f"(emotions: {', '.join(FER_CLASSES)})")
    return dict(images=np.stack(images), labels=np.array(labels, np.int32),
                splits=np.array(splits, np.int8), rows=np.arange(len(images), dtype=np.int32),
                skipped=skipped)


def _read_source(path: Path) -> dict:
    if path.is_dir():
        return _read_folder(path)
    if path.stat().st_size == 0:
        raise EmojaxError(f"{path} is empty (0 bytes)")
    df = _read_csv(path)
    if "Usage" in df.columns:
        return _parse_table(df, path, None)
    # No Usage column: train.csv, with test.csv beside it (possibly unlabelled)
    out = _parse_table(df, path, "Training")
    test = path.with_name("test.csv")
    if path.name == "train.csv" and test.exists():
        t = _parse_table(_read_csv(test), test, "PrivateTest")
        t["rows"] = t["rows"] + len(df)
        for k in ("images", "labels", "splits", "rows"):
            out[k] = np.concatenate([out[k], t[k]])
        for r, c in t["skipped"].items():
            out["skipped"][r] = out["skipped"].get(r, 0) + c
    return out


def _cache_path(path: Path) -> Path:
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|v1".encode()).hexdigest()[:12]
    name = f".{path.name}.emojax-{key}.npz"
    if os.access(path.parent, os.W_OK):
        return path.parent / name
    return cache_dir() / name


def read_pixels(path: str | os.PathLike) -> dict:
    """Parse (or load from cache) images, labels, split codes and source row numbers."""
    path = Path(path)
    if not path.exists():
        raise EmojaxError(f"no such dataset file or folder: {path}")
    if path.is_dir():
        return _read_source(path)
    cache = _cache_path(path)
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as z:
                out = {k: z[k] for k in ("images", "labels", "splits", "rows")}
                out["skipped"] = dict(zip(z["skip_reasons"].tolist(), z["skip_counts"].tolist()))
                return out
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            pass  # stale or corrupt cache: parse again
    out = _read_source(path)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **{k: out[k] for k in ("images", "labels", "splits", "rows")},
                         skip_reasons=np.array(list(out["skipped"]), dtype=str),
                         skip_counts=np.array(list(out["skipped"].values()), dtype=np.int64))
    except OSError:
        pass  # caching is an optimisation only
    return out


# --------------------------------------------------------------------------- FER+


def read_ferplus_votes(path: str | os.PathLike) -> np.ndarray:
    """FER+ vote counts (N, 10) in the order of :data:`FERPLUS_VOTE_COLUMNS`."""
    path = Path(path)
    if not path.exists():
        raise EmojaxError(f"no such FER+ label file: {path}")
    df = _read_csv(path)
    missing = [c for c in FERPLUS_VOTE_COLUMNS if c not in df.columns]
    if missing:
        raise EmojaxError(f"{path}: not a FER+ label file (missing columns {', '.join(missing)})")
    try:
        return df[list(FERPLUS_VOTE_COLUMNS)].replace("", "0").astype(np.float32).to_numpy()
    except ValueError:
        raise EmojaxError(f"{path}: non-numeric vote counts") from None


def ferplus_targets(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn FER+ votes into (keep, majority label, vote distribution over 8 emotions).

    As in the FER+ reference code: a single vote for an emotion is an outlier and is
    removed; rows where 'unknown' or 'not a face' gets the most votes, or where no emotion
    has more than half of the remaining votes (no majority), are dropped.
    """
    v = np.where(votes <= 1, 0, votes).astype(np.float32)
    total = v.sum(1)
    emotions = v[:, :len(FERPLUS_CLASSES)]
    keep = (total > 0) & (v.argmax(1) < len(FERPLUS_CLASSES)) & (emotions.max(1) > 0.5 * total)
    dist = emotions / np.maximum(emotions.sum(1, keepdims=True), 1e-9)
    return keep, emotions.argmax(1).astype(np.int32), dist.astype(np.float32)


# --------------------------------------------------------------------------- loading


def _split_val(images, labels, targets, frac: float = 0.1, seed: int = 0):
    """Hold out a stratified ``frac`` of Training when a source has no PublicTest."""
    rng = np.random.default_rng(seed)
    val = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        val[rng.choice(idx, int(round(frac * len(idx))), replace=False)] = True
    pick = lambda m: Split(images[m], labels[m], None if targets is None else targets[m])
    return pick(~val), pick(val)


# FER+'s emotions in FER2013's order; contempt has no FER2013 class and its votes go to disgust,
# the nearest one (FER2013's disgust faces are where FER+ taggers put most contempt votes).
_FERPLUS_TO_FER = [FERPLUS_CLASSES.index(c) for c in FER_CLASSES]


def ferplus_as_fer(dist: np.ndarray) -> np.ndarray:
    """FER+ vote distributions (N, 8) as FER2013's 7 classes (N, 7), contempt into disgust."""
    out = dist[:, _FERPLUS_TO_FER].copy()
    out[:, FER_CLASSES.index("disgust")] += dist[:, FERPLUS_CLASSES.index("contempt")]
    return out


def load(path: str | os.PathLike | None = None, labels: str = "fer2013",
         ferplus: str | os.PathLike | None = None, verbose: bool = True,
         ferplus_soft: bool = False) -> Dataset:
    """Load FER2013 (``labels='fer2013'``, 7 classes) or FER+ (``'ferplus'``, 8 classes).

    ``path`` is searched as described in :func:`find_data`. For FER+, ``ferplus`` is the
    ``fer2013new.csv`` path (default: beside the pixels file). ``ferplus_soft`` keeps
    FER2013's images and labels and adds FER+'s vote distributions over the 7 FER2013
    classes as ``targets`` (the one-hot label where FER+ drops a row): cleaner soft targets
    for the same faces.
    """
    src = find_data(path)
    if src is None:
        raise EmojaxError(where_to_get_data().splitlines()[0])
    raw = read_pixels(src)
    skipped = dict(raw["skipped"])
    images, y, splits, targets = raw["images"], raw["labels"], raw["splits"], None
    classes = FER_CLASSES
    if labels not in ("fer2013", "ferplus"):
        raise EmojaxError(f"unknown label set {labels!r}: choose fer2013 or ferplus")
    if labels == "ferplus" or ferplus_soft:
        fp = Path(ferplus) if ferplus else src.with_name("fer2013new.csv")
        votes = read_ferplus_votes(fp)
        n_rows = int(raw["rows"].max()) + 1
        if len(votes) < n_rows:
            raise EmojaxError(f"{fp} has {len(votes):,} rows but {src} has at least {n_rows:,}")
        keep, fp_labels, dist = ferplus_targets(votes[raw["rows"]])
    if labels == "ferplus":
        y, targets = fp_labels, dist
        if (~keep).any():
            skipped["FER+ unknown, not a face or no majority"] = int((~keep).sum())
        images, y, splits, targets = images[keep], y[keep], splits[keep], targets[keep]
        classes = FERPLUS_CLASSES
    elif ferplus_soft:
        targets = np.eye(len(FER_CLASSES), dtype=np.float32)[np.maximum(y, 0)]
        targets[keep] = ferplus_as_fer(dist[keep])
    part = {s: splits == i for i, s in enumerate(SPLITS)}
    sub = lambda m: Split(images[m], y[m], None if targets is None else targets[m])
    train, val, test = sub(part["Training"]), sub(part["PublicTest"]), sub(part["PrivateTest"])
    if len(val) == 0 and train.labelled:
        train, val = _split_val(train.images, train.labels, train.targets)
    ds = Dataset(train, val, test, classes, f"{src}" + (" + FER+ votes" if targets is not None else ""),
                 skipped)
    if verbose:
        log.info(ds.summary())
    return ds


def require(split: Split, name: str, labelled: bool = True) -> Split:
    """Fail with a one-line message on an empty (or unlabelled) split."""
    if len(split) == 0:
        raise EmojaxError(f"the {name} split is empty")
    if labelled and not split.labelled:
        raise EmojaxError(f"the {name} split has no labels")
    return split


# --------------------------------------------------------------------------- demo set


def make_demo(n_per_class: int = 300, seed: int = 0) -> Dataset:
    """A procedurally generated, clearly synthetic set of cartoon faces, one expression per
    FER class (mouth curve, brows, eye size), so the training job can be tried without
    FER2013. Never mixed with real results: its runs go to ``results/demo/``."""
    import cv2

    rng = np.random.default_rng(seed)
    # (mouth curvature, mouth openness, brow slant, eye size) per class
    style = {"angry": (-0.3, 0.1, 0.6, 0.8), "disgust": (-0.5, 0.0, 0.3, 0.6),
             "fear": (-0.2, 0.6, -0.5, 1.3), "happy": (0.8, 0.2, 0.0, 1.0),
             "sad": (-0.8, 0.0, -0.4, 0.9), "surprise": (0.0, 1.0, -0.8, 1.4),
             "neutral": (0.0, 0.0, 0.0, 1.0)}
    n = n_per_class * len(FER_CLASSES)
    images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    labels = np.repeat(np.arange(len(FER_CLASSES)), n_per_class).astype(np.int32)
    for i, c in enumerate(labels):
        curve, openness, brow, eye = np.array(style[FER_CLASSES[c]]) + rng.normal(0, 0.12, 4)
        s = 4  # draw at 4x then downsample, for anti-aliasing
        img = np.full((IMAGE_SIZE * s, IMAGE_SIZE * s), rng.integers(20, 90), np.uint8)
        cx, cy = (24 + rng.normal(0, 1.5)) * s, (25 + rng.normal(0, 1.5)) * s
        skin = int(rng.integers(140, 220))
        cv2.ellipse(img, (int(cx), int(cy)), (int(17 * s), int(22 * s)), 0, 0, 360, skin, -1)
        for side in (-1, 1):
            ex, ey = cx + side * 7 * s, cy - 5 * s
            cv2.circle(img, (int(ex), int(ey)), max(1, int(2 * eye * s)), 30, -1)
            y_in, y_out = ey - 4 * s + brow * 2 * s * 1, ey - 4 * s - brow * 2 * s
            cv2.line(img, (int(ex - side * 1 * s), int(y_in)), (int(ex + side * 5 * s), int(y_out)), 40, s)
        mx, my, w = cx, cy + 9 * s, 7 * s
        xs = np.linspace(-1, 1, 21)
        top = np.stack([mx + xs * w, my - curve * 4 * s * (1 - xs ** 2)], 1)
        bottom = np.stack([mx + xs[::-1] * w, my - curve * 4 * s * (1 - xs[::-1] ** 2)
                           + openness * 5 * s * (1 - xs[::-1] ** 2)], 1)
        cv2.fillPoly(img, [np.concatenate([top, bottom]).astype(np.int32)], 50)
        cv2.polylines(img, [top.astype(np.int32)], False, 50, s)
        img = cv2.resize(img, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
        images[i] = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    perm = rng.permutation(n)
    images, labels = images[perm], labels[perm]
    a, b = int(0.7 * n), int(0.85 * n)
    return Dataset(Split(images[:a], labels[:a]), Split(images[a:b], labels[a:b]),
                   Split(images[b:], labels[b:]), FER_CLASSES, "synthetic demo faces (not FER2013)")


# --------------------------------------------------------------------------- download


def download(url: str, dest: str | os.PathLike = "data") -> Path:
    """Fetch a dataset archive (zip, tar[.gz] or a csv[.gz]) into ``dest``, unpack it and
    check that it parses. Returns the dataset path found there."""
    from tqdm import tqdm

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    name = Path(urllib.parse.urlparse(url).path).name or "download"
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        archive = Path(tmp) / name
        try:
            with urllib.request.urlopen(url, timeout=30) as r, open(archive, "wb") as f:
                total = int(r.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=name) as bar:
                    while chunk := r.read(1 << 20):
                        f.write(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise EmojaxError(f"cannot download {url}: {reason} (offline? "
                              f"get the data by hand from {KAGGLE_URL})") from None
        out = Path(tmp) / "unpacked"
        out.mkdir()
        try:
            if zipfile.is_zipfile(archive):
                with zipfile.ZipFile(archive) as z:
                    z.extractall(out)
            elif tarfile.is_tarfile(archive):
                with tarfile.open(archive) as t:
                    t.extractall(out, filter="data")
            else:
                shutil.move(archive, out / name)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
            raise EmojaxError(f"{url}: corrupt archive ({e})") from None
        found = next((p for n in ("fer2013.csv", "fer2013.csv.gz", "icml_face_data.csv",
                                   "train.csv", "train") for p in sorted(out.rglob(n))), None)
        if found is None:
            raise EmojaxError(f"{url}: no fer2013.csv, icml_face_data.csv, train.csv or "
                              "train/ folder in the download")
        read_pixels(found)  # verify it parses before it lands in data/
        for p in found.parent.iterdir():
            if (dest / p.name).exists():
                raise EmojaxError(f"{dest / p.name} already exists; remove it first")
        for p in found.parent.iterdir():
            shutil.move(str(p), dest / p.name)
    return dest / found.name


if __name__ == "__main__":  # python -m emojax.data: the front door's 'emojax data'
    from emojax.commands.data import cli

    cli()

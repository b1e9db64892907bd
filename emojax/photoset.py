"""Labelled photo sets: real photos with one known expression each, read in any of the usual
layouts, and cut into the crops the classifiers see through the same face pipeline as
``predict`` (detect, landmarks, align). This is how a model is measured on faces that are
not FER2013's.

Layouts (:func:`read`):

* a folder per emotion: ``DIR/happy/*.jpg``, ``DIR/sad/...`` (any depth below each);
* a CSV of ``file,emotion`` (``DIR/label.csv`` or the CSV itself; files relative to it);
* JAFFE's file names: ``KA.AN1.39.tiff`` = person KA, angry (AN), repetition 1.

Emotion names may be FER2013's (angry, ..., neutral), common synonyms (anger, happiness,
sadness, surprised) or JAFFE's two-letter codes.
"""
from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from emojax.data import FER_CLASSES
from emojax.io import EmojaxError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
ALIASES = {"anger": "angry", "mad": "angry", "disgusted": "disgust", "afraid": "fear", "fearful": "fear",
           "scared": "fear", "happiness": "happy", "joy": "happy", "sadness": "sad", "surprised": "surprise",
           "neutrality": "neutral", "calm": "neutral",
           "an": "angry", "di": "disgust", "fe": "fear", "ha": "happy", "sa": "sad", "su": "surprise",
           "ne": "neutral"}
_JAFFE = re.compile(r"^(?P<person>[A-Z]{2})\.(?P<code>[A-Z]{2})(?P<rep>\d+)\.\d+\.(tiff?|png|jpe?g)$", re.I)


@dataclasses.dataclass
class Photo:
    path: Path
    emotion: str          # one of FER_CLASSES
    person: str = ""      # who, where the layout says it (JAFFE), else ""
    repetition: int = 0   # JAFFE's repetition number of the pose, else 0


def emotion_name(name: str) -> str | None:
    """A FER2013 class name for ``name`` (case-insensitive, synonyms, JAFFE codes), or None."""
    n = name.strip().lower()
    n = ALIASES.get(n, n)
    return n if n in FER_CLASSES else None


def _images(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTS)


def _from_csv(path: Path) -> list[Photo]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise EmojaxError(f"cannot read {path}: {e}") from None
    if not rows or not {"file", "emotion"} <= set(k.strip() for k in rows[0] if k):
        raise EmojaxError(f"{path}: expected a CSV with the columns file,emotion")
    photos = []
    for i, row in enumerate(rows, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        emotion = emotion_name(row["emotion"])
        if emotion is None:
            raise EmojaxError(f"{path}, line {i}: unknown emotion {row['emotion']!r} "
                              f"(use one of {', '.join(FER_CLASSES)})")
        photos.append(Photo(path.parent / row["file"], emotion, row.get("person", "")))
    return photos


def read(path: str | Path) -> list[Photo]:
    """The labelled photos of a set, in a stable order; an :class:`EmojaxError` if the layout
    is not recognised or the set is empty."""
    path = Path(path)
    if not path.exists():
        raise EmojaxError(f"no such photo set: {path}")
    if path.is_file():
        return _from_csv(path)
    if (path / "label.csv").is_file():
        return _from_csv(path / "label.csv")
    folders = [d for d in sorted(path.iterdir()) if d.is_dir() and emotion_name(d.name)]
    photos = [Photo(f, emotion_name(d.name)) for d in folders for f in _images(d)]
    if not folders:
        for f in _images(path):
            m = _JAFFE.match(f.name)
            if m and emotion_name(m["code"]):
                photos.append(Photo(f, emotion_name(m["code"]), m["person"].upper(), int(m["rep"])))
    if not photos:
        raise EmojaxError(f"{path}: no labelled photos (expected a folder per emotion, a label.csv "
                          "of file,emotion, or JAFFE file names like KA.AN1.39.tiff)")
    return photos


def located(photos: list[Photo], upsample: int = 1, progress: bool = False, describe: bool = False
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The aligned 48x48 crop of the largest face in each photo and its 68 landmarks in the
    crop's coordinates (found at full resolution): ``(crops (N, 48, 48) uint8, points (N, 68, 2),
    found (N,) bool, descriptors)``; a photo with no face gets a blank crop, zero points and
    ``found`` False. ``describe``: also each face's identity descriptor (``identity.descriptors``,
    (N, 128), zeros where no face), else None."""
    from tqdm import tqdm

    from emojax import face, identity

    out = np.zeros((len(photos), 48, 48), np.uint8)
    points = np.zeros((len(photos), 68, 2))
    found = np.zeros(len(photos), bool)
    described = np.zeros((len(photos), 128), np.float32) if describe else None
    for i, p in enumerate(tqdm(photos, desc="faces", disable=not progress, leave=False)):
        image = face.load_image(p.path)
        faces = face.detect_faces(image, upsample=upsample)
        if faces:
            largest = face.largest(faces)
            out[i], points[i], found[i] = largest.crop, face.aligned_landmarks(largest.landmarks), True
            if describe:
                described[i] = identity.descriptors(image, [largest.landmarks])[0]
    return out, points, found, described


def crops(photos: list[Photo], upsample: int = 1, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`located` without the landmarks: ``(crops, found)``."""
    images, _, found, _ = located(photos, upsample, progress)
    return images, found


def amplified(people: Sequence[str], images: np.ndarray, points: np.ndarray, found: np.ndarray,
              strength: float = 3.0, region: np.ndarray | None = None,
              texture: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The crops with each face's expression made ``strength`` times plainer in shape, and
    ``texture`` times in grey levels (``geometry.TEXTURE`` by default; 1: shape only), against
    the same person's other photos in the set (``people``: who each photo shows, "" for nobody
    known; ``geometry.amplified``, on the ``region`` landmarks, the whole face by default), and
    which photos that changed: those of an unknown person, or of one with fewer than
    ``geometry.MIN_OTHERS`` other faces found, stay as they are."""
    from emojax import geometry

    out, changed = images.copy(), np.zeros(len(found), bool)
    out[found], changed[found] = geometry.amplified_by_person(
        images[found], points[found], [w for w, f in zip(people, found) if f], strength,
        geometry.WHOLE_FACE if region is None else region, geometry.TEXTURE if texture is None else texture)
    return out, changed


def who(photos: list[Photo], found: np.ndarray, descriptors: np.ndarray | None = None,
        tolerance: float | None = None) -> list[str]:
    """Who each photo shows: the set's own names without ``descriptors`` (from :func:`located`),
    else the people dlib's face recognition finds among the faces (``identity.people`` at
    ``tolerance``); "" where nobody is known or no face was found."""
    from emojax import identity

    if descriptors is None:
        return [p.person for p in photos]
    labels = identity.people(descriptors[found], tolerance)
    out = [""] * len(photos)
    for i, label in zip(np.flatnonzero(found), labels):
        out[i] = f"person {label + 1}"
    return out


def evaluate(classifier, photos: list[Photo], images: np.ndarray | None = None,
             found: np.ndarray | None = None, upsample: int = 1, progress: bool = False,
             amplify: float | None = None, tolerance: float | None = None) -> dict:
    """Accuracy over the whole set (a photo whose face is not found counts as wrong),
    per-class recall, the confusion matrix, and the photos with no face. ``images`` and
    ``found`` (from :func:`crops`) skip the face pipeline when scoring several models.
    ``amplify``: score the crops of :func:`amplified` at that strength (the face pipeline runs),
    against the people of :func:`who`: found by face where ``tolerance`` is given or the set
    names nobody, else the set's names."""
    from emojax.metrics import report

    if amplify is not None:
        by_face = tolerance is not None or not any(p.person for p in photos)
        images, points, found, described = located(photos, upsample, progress, describe=by_face)
        people = who(photos, found, described, tolerance)
        images, changed = amplified(people, images, points, found, amplify)
    elif images is None:
        images, found = crops(photos, upsample, progress)
    classes = tuple(classifier.classes)
    missing = [c for c in {p.emotion for p in photos} if c not in classes]
    if missing:
        raise EmojaxError(f"the model has no class {missing[0]!r} (its classes: {', '.join(classes)})")
    labels = np.array([classes.index(p.emotion) for p in photos])
    pred = np.full(len(photos), -1)
    if found.any():
        pred[found] = classifier.predict_proba(images[found]).argmax(1)
    rep = report(labels, pred, classes)  # -1 (no face) is wrong and in no column
    rep["faces_found"] = int(found.sum())
    if amplify is not None:
        rep["amplified"] = int(changed.sum())
        rep["people"] = len({w for w in people if w})
        rep["people_by"] = "face" if by_face else "name"
    rep["no_face"] = [str(p.path) for p, f in zip(photos, found) if not f]
    return rep


def scores(rep: dict) -> dict:
    """What a results table keeps of :func:`evaluate`: ``{"accuracy", "recall": {class: r}}``."""
    return {"accuracy": rep["accuracy"], "recall": {c: m["recall"] for c, m in rep["per_class"].items()}}


def score_cells(s: dict, classes) -> list[str]:
    """A table row's photo-set cells: accuracy (%, one decimal), then recall per class (%)."""
    return [f"{100 * s['accuracy']:.1f}%", *[f"{100 * s['recall'][c]:.0f}" for c in classes]]

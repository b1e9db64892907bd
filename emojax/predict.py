"""Emotion prediction on photos: faces found, aligned and classified.

    python -m emojax.predict photo.jpg folder/ [--annotate OUT] [--json] [--model svm]

The library side is two small pieces shared by every front end (this CLI, the live
predictor, the attack and comparison scripts):

* a *classifier* maps 48x48 uint8 crops to class probabilities: ``predict_proba`` and
  ``predict``, like a scikit-learn estimator. :class:`CNNClassifier` wraps a saved Flax
  model; ``emojax.baseline.HogSVM`` is the classical baseline with the same interface;
* :class:`Predictor` runs the face pipeline and a classifier on whole images.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from emojax.cli import EmojaxError, atomic_path, run

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "results" / "model"
DEFAULT_SVM = Path(__file__).resolve().parents[1] / "results" / "svm" / "svm.joblib"
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class Classifier(Protocol):
    classes: tuple[str, ...]

    def predict_proba(self, crops: np.ndarray) -> np.ndarray: ...

    def predict(self, crops: np.ndarray) -> np.ndarray: ...


class CNNClassifier:
    """A saved Flax model (folder with model.json and weights/) as a classifier.

    ``views`` > 1 averages test-time augmentation views (see ``evaluate.tta_views``); the
    default of one view keeps live prediction at one forward pass per face."""

    def __init__(self, folder: str | Path = DEFAULT_MODEL, views: int = 1):
        from emojax import models

        self.model, self.variables, self.meta = models.load(folder)
        self.classes = tuple(self.meta["classes"])
        self.views = views

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities (N, C) for uint8 crops (N, 48, 48); one crop may skip the N axis."""
        from emojax.evaluate import predict_proba

        crops = np.asarray(crops, np.uint8)
        single = crops.ndim == 2
        p = predict_proba(self.model, self.variables, crops[None] if single else crops, views=self.views)
        return p[0] if single else p

    def predict(self, crops: np.ndarray) -> np.ndarray:
        return self.predict_proba(crops).argmax(-1)


def load_classifier(model: str | Path | None = None) -> Classifier:
    """``None`` -> the shipped CNN (results/model); ``'svm'`` -> the shipped HOG+SVM
    baseline; a folder -> a saved CNN; a ``.joblib`` file -> a saved SVM."""
    if model is None:
        model = DEFAULT_MODEL
    if str(model) == "svm":
        model = DEFAULT_SVM
    path = Path(model)
    if not path.exists():
        raise EmojaxError(f"no model at {path} (train one with experiments/train_cnn.py or train_svm.py)")
    if path.suffix == ".joblib":
        from emojax.baseline import HogSVM

        return HogSVM.load(path)
    return CNNClassifier(path)


@dataclasses.dataclass
class FacePrediction:
    box: tuple[int, int, int, int]  # left, top, right, bottom
    probabilities: dict[str, float]
    crop: np.ndarray

    @property
    def emotion(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    @property
    def probability(self) -> float:
        return self.probabilities[self.emotion]


class Predictor:
    """Faces in, emotions out: ``Predictor().predict(image)`` -> one FacePrediction per face."""

    def __init__(self, model: str | Path | Classifier | None = None, upsample: int = 1,
                 detect_width: int | None = None):
        self.classifier = model if hasattr(model, "predict_proba") else load_classifier(model)
        self.classes = self.classifier.classes
        self.upsample, self.detect_width = upsample, detect_width

    def predict(self, image: np.ndarray) -> list[FacePrediction]:
        from emojax import face

        faces = face.detect_faces(image, upsample=self.upsample, detect_width=self.detect_width)
        return self.classify(faces)

    def classify(self, faces) -> list[FacePrediction]:
        if not faces:
            return []
        probs = self.classifier.predict_proba(np.stack([f.crop for f in faces]))
        return [FacePrediction(tuple(int(v) for v in f.box),
                               {c: float(p) for c, p in zip(self.classes, row)}, f.crop)
                for f, row in zip(faces, probs)]


# --------------------------------------------------------------------------- drawing


def annotate(image: np.ndarray, predictions: Sequence[FacePrediction], fps: float | None = None,
             ids: Sequence[int] | None = None) -> np.ndarray:
    """A BGR copy of ``image`` (RGB or gray) with boxes, labels and probability bars; faces
    are numbered by ``ids`` (default: their order) when there are several."""
    import cv2

    img = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    img = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2BGR)
    scale = max(img.shape[1] / 800, 0.5)
    ids = range(len(predictions)) if ids is None else ids
    for i, p in zip(ids, predictions):
        l, t, r, b = p.box
        cv2.rectangle(img, (l, t), (r, b), (0, 220, 0), max(1, int(2 * scale)))
        label = f"{p.emotion.capitalize()} {100 * p.probability:.0f}%"
        label = f"{i}: {label}" if len(predictions) > 1 else label
        cv2.putText(img, label, (l, max(t - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                    (0, 220, 0), max(1, int(2 * scale)), cv2.LINE_AA)
        bar_h, x0 = max(int(10 * scale), 8), r + 4
        for j, (c, v) in enumerate(p.probabilities.items()):
            y = t + j * (bar_h + 2)
            cv2.rectangle(img, (x0, y), (x0 + int(60 * scale * v), y + bar_h), (0, 180, 255), -1)
            cv2.putText(img, c[:3], (x0 + int(62 * scale), y + bar_h - 1), cv2.FONT_HERSHEY_SIMPLEX,
                        0.35 * scale, (255, 255, 255), 1, cv2.LINE_AA)
    if fps is not None:
        cv2.putText(img, f"{fps:.1f} FPS", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 255), 2)
    return img


# --------------------------------------------------------------------------- CLI


def _expand(paths: Sequence[str]) -> tuple[list[Path], list[str]]:
    files, errors = [], []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTS)
            files += found
            if not found:
                errors.append(f"{p}: no images in this folder")
        elif p.exists():
            files.append(p)
        else:
            errors.append(f"{p}: no such file or folder")
    return files, errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emojax.predict",
                                 description="Find faces in images and predict their emotion.")
    ap.add_argument("paths", nargs="+", help="image files or folders (searched recursively)")
    ap.add_argument("--model", help="saved CNN folder, a .joblib SVM, or 'svm' for the shipped "
                    "baseline (default: the shipped CNN in results/model)")
    ap.add_argument("--annotate", metavar="OUT", help="folder for copies with boxes, labels and "
                    "probability bars drawn")
    ap.add_argument("--json", action="store_true", help="one JSON object per face instead of text")
    ap.add_argument("--upsample", type=int, default=1,
                    help="times the face detector upsamples the image: finds smaller faces, slower")
    args = ap.parse_args(argv)
    import cv2

    from emojax import face

    files, errors = _expand(args.paths)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    predictor = Predictor(args.model, upsample=args.upsample)
    done = 0
    for f in files:
        try:
            image = face.load_image(f)
        except EmojaxError as e:
            print(f"error: {e}", file=sys.stderr)
            continue
        done += 1
        preds = predictor.predict(image)
        if not preds:
            print(f"{f}: no face found", file=sys.stderr)
        for i, p in enumerate(preds):
            if args.json:
                print(json.dumps({"file": str(f), "face": i, "box": list(p.box), "emotion": p.emotion,
                                  "probability": round(p.probability, 4),
                                  "probabilities": {k: round(v, 4) for k, v in p.probabilities.items()}}))
            else:
                print(f"{f}\tface {i}\tbox {p.box}\t{p.emotion}\t{100 * p.probability:.0f}%")
        if args.annotate:
            out = Path(args.annotate) / f"{f.stem}_annotated.png"
            with atomic_path(out) as tmp:
                if not cv2.imwrite(str(tmp), annotate(image, preds)):
                    raise EmojaxError(f"cannot write {out}")
    if done == 0:
        raise EmojaxError("no image could be processed")
    return 0


def cli() -> None:
    run(main)


if __name__ == "__main__":
    cli()

"""The one prediction pipeline: images in, faces with boxes and probabilities out.

Every front end (``predict``, ``live``, the attack demo, the evaluation of photo sets)
goes through it, so a face is cut and classified the same way everywhere.

Colour convention: images are **RGB** (or grey) numpy arrays, uint8 (H, W[, 3]); OpenCV
frames are BGR and are converted once, where they are read (``live``).

* a *classifier* maps 48x48 uint8 crops to class probabilities: ``predict_proba`` and
  ``predict``, like a scikit-learn estimator. :class:`CNNClassifier` wraps a saved Flax
  model; ``emojax.baseline.HogSVM`` is the classical baseline with the same interface;
* test-time views (:func:`tta_views`) are an explicit choice of the CNN classifier;
* :class:`Predictor` runs the face pipeline and a classifier on whole images.
"""
from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from emojax.io import EmojaxError
from emojax.models import padded_batches



def shipped(name: str) -> Path:
    """A shipped artefact: ``results/NAME`` in a checkout, ``emojax/shipped/NAME`` in a wheel."""
    here = Path(__file__).resolve().parent
    repo = here.parent / "results" / name
    return repo if repo.exists() else here / "shipped" / name


DEFAULT_MODEL = shipped("model")
DEFAULT_SVM = shipped("svm/svm.joblib")

VIEWS = (1, 2, 10)


def tta_views(x: jax.Array, views: int, shift: int = 2) -> jax.Array:
    """Test-time augmentation views of a batch (B, 48, 48, 1), stacked on a new first axis:
    1 = the face, 2 = and its mirror image, 10 = five placements (centred and moved by
    ``shift`` pixels up/down/left/right, edges replicated) each with its mirror: the
    ten-crop recipe for a model trained with random shifts instead of random crops."""
    if views not in VIEWS:
        raise EmojaxError(f"test-time views must be one of {VIEWS}, not {views}")
    out = [x]
    if views == 10:
        h, w = x.shape[1:3]
        pad = jnp.pad(x, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="edge")
        for dy, dx in ((-shift, 0), (shift, 0), (0, -shift), (0, shift)):
            out.append(pad[:, shift + dy:shift + dy + h, shift + dx:shift + dx + w])
    if views >= 2:
        out += [v[:, :, ::-1] for v in out]
    return jnp.stack(out)


@partial(jax.jit, static_argnums=(0, 3))
def _probs(model, variables, images: jax.Array, views: int) -> jax.Array:
    x = tta_views(images.astype(jnp.float32)[..., None] / 255.0, views)
    logits = model.apply(variables, x.reshape(-1, *x.shape[2:]))
    return jax.nn.softmax(logits).reshape(len(x), -1, logits.shape[-1]).mean(0)


def predict_proba(model, variables, images: np.ndarray, batch_size: int = 256,
                  views: int = 1) -> np.ndarray:
    """Class probabilities for uint8 images (N, 48, 48), averaged over ``views`` test-time
    views (see ``tta_views``). Batches are zero-padded to a power of two (at most
    ``batch_size``), so a live stream with 1, 2, 3... faces compiles a handful of programs,
    not one per face count."""
    out = [np.asarray(_probs(model, variables, chunk, views))[:n]
           for chunk, n in padded_batches(images, batch_size)]
    return np.concatenate(out) if out else np.zeros((0, model.num_classes), np.float32)



class Classifier(Protocol):
    classes: tuple[str, ...]

    def predict_proba(self, crops: np.ndarray) -> np.ndarray: ...

    def predict(self, crops: np.ndarray) -> np.ndarray: ...


class CNNClassifier:
    """A saved Flax model (folder with model.json and weights/) as a classifier.

    ``views`` > 1 averages test-time augmentation views (see :func:`tta_views`); ``None`` takes
    the model's own setting (``views`` in its model.json, chosen on PublicTest by
    ``experiments/choose_tta.py``; 1 where it has none). The default of one view keeps live
    prediction at one forward pass per face."""

    def __init__(self, folder: str | Path = DEFAULT_MODEL, views: int | None = 1):
        from emojax import models

        self.model, self.variables, self.meta = models.load(folder)
        self.classes = tuple(self.meta["classes"])
        self.views = int(self.meta.get("views", 1)) if views is None else views

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities (N, C) for uint8 crops (N, 48, 48); one crop may skip the N axis."""
        crops = np.asarray(crops, np.uint8)
        single = crops.ndim == 2
        p = predict_proba(self.model, self.variables, crops[None] if single else crops, views=self.views)
        return p[0] if single else p

    def predict(self, crops: np.ndarray) -> np.ndarray:
        return self.predict_proba(crops).argmax(-1)


class Ensemble:
    """Classifiers with the same classes, pooled: the teacher that a single shipped model is
    distilled from, the generalization issue's ensemble figure, and part experts beside a
    whole-face model. ``rule='mean'`` averages probabilities (weighted); ``'product'`` adds
    weighted log probabilities and renormalises (a product of experts: a class must be
    plausible to every member, and a confident expert can overrule a hesitant one)."""

    def __init__(self, members: Sequence[Classifier], weights: Sequence[float] | None = None,
                 rule: str = "mean"):
        if not members:
            raise EmojaxError("an ensemble needs at least one model")
        if rule not in ("mean", "product"):
            raise EmojaxError(f"unknown pooling rule {rule!r}: choose mean or product")
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if len(weights) != len(members) or min(weights) < 0 or not sum(weights) > 0:
            raise EmojaxError("an ensemble needs one non-negative weight per model, not all zero")
        self.classes = tuple(members[0].classes)
        for m in members[1:]:
            if tuple(m.classes) != self.classes:
                raise EmojaxError(f"ensemble members disagree on classes: {list(self.classes)} vs {list(m.classes)}")
        self.members, self.weights, self.rule = list(members), np.array(weights), rule

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        p = np.stack([m.predict_proba(crops) for m in self.members])
        w = self.weights.reshape(-1, *[1] * (p.ndim - 1))
        if self.rule == "mean":
            return (w * p).sum(0) / w.sum()
        logp = (w * np.log(np.clip(p, 1e-12, 1))).sum(0)
        q = np.exp(logp - logp.max(-1, keepdims=True))
        return q / q.sum(-1, keepdims=True)

    def predict(self, crops: np.ndarray) -> np.ndarray:
        return self.predict_proba(crops).argmax(-1)


def load_classifier(model: str | Path | None = None, views: int | None = 1) -> Classifier:
    """``None`` -> the shipped CNN (results/model); ``'svm'`` -> the shipped HOG+SVM
    baseline; ``'pretrained'`` -> the dlib-ResNet model (results/pretrained); a folder -> a
    saved CNN or pretrained-backbone model (as its model.json says); a ``.joblib`` -> an SVM.
    ``views``: a CNN's test-time views, ``None`` for the model's chosen setting."""
    if model is None:
        model = DEFAULT_MODEL
    if str(model) == "svm":
        model = DEFAULT_SVM
    if str(model) == "pretrained":
        model = shipped("pretrained")
    path = Path(model)
    if not path.exists():
        raise EmojaxError(f"no model at {path} (train one with experiments/train_cnn.py or train_svm.py)")
    if path.suffix == ".joblib":
        from emojax.baseline import HogSVM

        return HogSVM.load(path)
    from emojax import pretrained

    if pretrained.is_pretrained_folder(path):
        return pretrained.PretrainedClassifier.load(path)
    return CNNClassifier(path, views=views)


@dataclasses.dataclass
class FacePrediction:
    box: tuple[int, int, int, int]  # left, top, right, bottom
    probabilities: dict[str, float]
    crop: np.ndarray
    amplified: bool | None = None  # with amplify: whether the crop was made plainer before it was classified

    @property
    def emotion(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    @property
    def probability(self) -> float:
        return self.probabilities[self.emotion]

    def to_dict(self) -> dict:
        """JSON-ready: box, top emotion and its probability, all probabilities (4 decimals)."""
        out = {"box": list(self.box), "emotion": self.emotion, "probability": round(self.probability, 4),
               "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()}}
        return out if self.amplified is None else {**out, "amplified": self.amplified}


class Predictor:
    """Faces in, emotions out: ``Predictor().predict(image)`` -> one FacePrediction per face.

    A model given by name or folder is loaded with the test-time views chosen for it on
    PublicTest (``model.json``; the shipped CNN's: 2, the face and its mirror image), what a
    photo deserves: a few forward passes a face cost little against the detector's hundreds of
    milliseconds. Live video passes a one-view classifier instead."""

    def __init__(self, model: str | Path | Classifier | None = None, upsample: int = 1,
                 detect_width: int | None = None, detector: str = "hog"):
        from emojax import face

        if detector not in face.DETECTORS:
            raise EmojaxError(f"unknown face detector {detector!r}: choose one of {', '.join(face.DETECTORS)}")
        self.classifier = model if hasattr(model, "predict_proba") else load_classifier(model, views=None)
        self.classes = self.classifier.classes
        self.upsample, self.detect_width, self.detector = upsample, detect_width, detector

    def detect(self, image: np.ndarray) -> list:
        """The faces (``face.Face``: box, landmarks, aligned crop) in an RGB (or grey) image."""
        from emojax import face

        return face.detect_faces(image, upsample=self.upsample, detect_width=self.detect_width,
                                 detector=self.detector)

    def predict(self, image: np.ndarray) -> list[FacePrediction]:
        """One FacePrediction per face in an RGB (or grey) image, left to right."""
        return self.classify(self.detect(image))

    def classify(self, faces, crops: np.ndarray | None = None) -> list[FacePrediction]:
        """``faces`` classified from their own crops, or from ``crops`` (one per face) instead."""
        if not faces:
            return []
        crops = np.stack([f.crop for f in faces]) if crops is None else crops
        probs = self.classifier.predict_proba(crops)
        return [FacePrediction(tuple(int(v) for v in f.box),
                               {c: float(p) for c, p in zip(self.classes, row)}, crop)
                for f, row, crop in zip(faces, probs, crops)]

    def predict_amplified(self, images: Iterable[np.ndarray], strength: float, tolerance: float | None = None
                          ) -> tuple[list[list[FacePrediction]], dict]:
        """The faces of several photos, each face's expression made ``strength`` times plainer
        against the same person's other faces among them before it is classified (what
        ``evaluate --photos --amplify`` measures): who is who is found by dlib's face
        recognition (``identity.people`` at ``tolerance``). A face whose person has fewer than
        ``geometry.MIN_OTHERS`` other faces here is classified as it is. ``images`` is read
        once, one photo at a time. Returns the predictions per photo and ``{"faces", "people",
        "amplified"}``: how many faces, people, and faces changed."""
        from emojax import face, geometry, identity

        per_photo, described = [], []
        for image in images:
            faces = self.detect(image)
            per_photo.append(faces)
            described.append(identity.descriptors(image, [f.landmarks for f in faces]))
        faces = [f for fs in per_photo for f in fs]
        if not faces:
            return [[] for _ in per_photo], {"faces": 0, "people": 0, "amplified": 0}
        people = identity.people(np.concatenate(described), tolerance)
        crops = np.stack([f.crop for f in faces])
        points = np.stack([face.aligned_landmarks(f.landmarks) for f in faces])
        crops, changed = geometry.amplified_by_person(crops, points, people.tolist(), strength)
        preds, start = [], 0
        for fs in per_photo:
            preds.append([dataclasses.replace(p, amplified=bool(c)) for p, c in
                          zip(self.classify(fs, crops[start:start + len(fs)]), changed[start:start + len(fs)])])
            start += len(fs)
        people_seen = len(set(people.tolist()))
        return preds, {"faces": len(faces), "people": people_seen, "amplified": int(changed.sum())}

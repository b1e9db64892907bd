"""Who is who among faces: dlib's face-recognition descriptors, grouped into people.

Why: making an expression plainer against the person's usual face (``geometry.amplified``,
``--amplify``) needs to know which faces are the same person. A labelled set may say so
(JAFFE's file names); a folder of someone's photos does not. dlib's face-recognition ResNet
(shipped by ``face_recognition_models``, the network :mod:`emojax.dlibnet` reads for the
pretrained backbone) maps each face to a 128-D descriptor in which two faces closer than
:data:`TOLERANCE` are the same person, and dlib's Chinese-whispers clustering turns those
pairs into people: what ``face_recognition`` and dlib's own ``face_clustering.py`` do.

The tolerance is dlib's, calibrated on LFW's mostly Western adults. On sets of look-alike
people it is too loose: JAFFE's ten Japanese women are all within 0.6 of each other (the
median distance between two different women is 0.47, between two photos of one woman 0.26),
so 0.6 makes them one person; 0.35 separates them exactly, 0.3 makes 14 groups, 0.4
three groups (``results/generalization/people_by_face.md``). Lower it for such sets.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

TOLERANCE = 0.6  # dlib's: two faces closer than this are one person (99.38% on LFW)


def _recognizer():
    import dlib

    from emojax import dlibnet, face

    return face.per_thread("recognizer", lambda: dlib.face_recognition_model_v1(
        str(dlibnet.face_recognition_model_path())))


def descriptors(image: np.ndarray, landmarks: Sequence[np.ndarray]) -> np.ndarray:
    """(N, 128) float32: dlib's descriptor of each face of ``image`` (RGB or grey), given by
    its 68 landmarks in the image's coordinates, cut into dlib's aligned chip by dlib itself."""
    from emojax import dlibnet

    if not len(landmarks):
        return np.zeros((0, 128), np.float32)
    chips = [dlibnet.face_chip(image, pts) for pts in landmarks]
    return np.asarray(_recognizer().compute_face_descriptor(chips), np.float32)


def people(descriptors: np.ndarray, tolerance: float = TOLERANCE) -> np.ndarray:
    """(N,) int: one label per face, the same for faces of one person (Chinese whispers over
    the pairs closer than ``tolerance``); a face like no other has a label of its own."""
    import dlib

    d = np.asarray(descriptors, np.float64)
    if len(d) == 0:
        return np.zeros(0, int)
    return np.asarray(dlib.chinese_whispers_clustering([dlib.vector(v) for v in d], float(tolerance)), int)

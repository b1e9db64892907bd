"""Who is who among faces: dlib's face-recognition descriptors, grouped into people.

Why: making an expression plainer against the person's usual face (``geometry.amplified``,
``--amplify``) needs to know which faces are the same person. A labelled set may say so
(JAFFE's file names); a folder of someone's photos does not. dlib's face-recognition ResNet
(shipped by ``face_recognition_models``, the network :mod:`emojax.dlibnet` reads for the
pretrained backbone) maps each face to a 128-D descriptor, and dlib's Chinese-whispers
clustering groups the faces closer than a tolerance into people: what ``face_recognition``
and dlib's own ``face_clustering.py`` do.

The tolerance is not dlib's. dlib's 0.6, calibrated on LFW's pairs, is too loose for grouping
a whole folder: JAFFE's ten Japanese women are all within 0.6 of each other (the median
distance between two different women is 0.47, between two photos of one woman 0.26), and
2,714 FER2013 PublicTest faces, mostly of different people, chain into a group of 1,792; a face grouped
with strangers is then "made plainer" against them, and PublicTest loses 16.5 points. A
tolerance too tight only leaves faces as they are. :data:`TOLERANCE` is the loosest of 0.35,
0.4, 0.5, 0.6 that neither merges JAFFE's women (0.35 finds exactly their ten) nor groups
PublicTest's strangers beyond a few (8 groups of 4-10 faces, 0.3 points;
``results/generalization/people_by_face.md``, ``amplify_strangers.md``). A folder of one
person's photos taken apart in time can take a looser one.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

TOLERANCE = 0.35  # faces closer than this are one person (dlib's pair rule says 0.6: too loose for a folder)


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


def people(descriptors: np.ndarray, tolerance: float | None = None) -> np.ndarray:
    """(N,) int: one label per face, the same for faces of one person (Chinese whispers over
    the pairs closer than ``tolerance``, :data:`TOLERANCE` by default); a face like no other has
    a label of its own."""
    import dlib

    tolerance = TOLERANCE if tolerance is None else tolerance
    d = np.asarray(descriptors, np.float64)
    if len(d) == 0:
        return np.zeros(0, int)
    return np.asarray(dlib.chinese_whispers_clustering([dlib.vector(v) for v in d], float(tolerance)), int)

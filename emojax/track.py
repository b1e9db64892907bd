"""Faces followed across the frames of one stream: detection every few frames, landmark
tracking in between, one classifier batch per frame, smoothed probabilities, and (optionally)
each face's expression made plainer against its own usual look. The live predictor, videos
given to ``predict`` and the web page's webcam streams all go through :class:`FaceTracker`.

Speed: dlib's HOG detector is the slow step (about 17 ms on a 640x480 frame), so it runs on
a copy shrunk to ``detect_width`` and only every ``detect_every`` frames, or on a frame that
comes more than a quarter of a second after the last (a stalled camera or server: the face may
have moved further than its landmarks can follow). In between, each face is followed by
refitting the 68 landmarks inside its previous box (dlib's shape predictor, about 1 ms) and
moving the box with them. Landmarks and crops always come from
the full-resolution frame, so the crops are those that detection on every frame would give.

Tracking and smoothing: a detection continues the track whose box it overlaps most
(IoU >= 0.3); left over, it continues the nearest left-over track whose centre is within
0.75 of its width, or within 3 widths a second since the last frame where frames come further
apart (a face that moved faster than its landmarks could follow: a head turned quickly, or a
slow server that sees a frame a second); else it starts a new track with the smallest free
index. So a face keeps its index while it stays in view. A track that the detector misses is still followed by its landmarks
through two such detections and dropped at the third, which rides out brief detector misses.
Each track's probabilities are an exponential moving average: the old value keeps weight
``smoothing`` per 1/30 s of stream time (so the same setting behaves alike at any frame
rate), which stops labels from flickering without lagging by more than a fraction of a second.

Amplification (``amplify=K``): the network hardly moves for a posed face's quieter expression.
Each track keeps its face's usual look (the mean normalised 68-landmark shape and the mean crop
of its frames older than ``AMPLIFY_LAG`` seconds); once a face has been followed
``AMPLIFY_AFTER`` seconds, its grey levels are moved twice as far from that mean look and its
crop is warped so that its landmarks lie K times as far from that shape (``geometry.amplified``)
before it is classified: who the person is drops out, their expression is exaggerated. The
track's own crop stays as it is. Measured by ``experiments/amplify_live.py``.
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import time

import cv2
import numpy as np

from emojax import face, geometry
from emojax.pipeline import Classifier, FacePrediction

MIN_IOU = 0.3  # a detection continues the track its box overlaps at least this much
MAX_JUMP = 0.75  # or, failing that, one whose centre is this many of the detection's widths away
REDETECT_AFTER = 0.25  # seconds between two frames past which the next one is a detection frame
MAX_SPEED = MAX_JUMP / REDETECT_AFTER  # or this many widths a second since the last frame, where that is further
PATIENCE = 2  # detections a track may miss in a row before it is dropped
REFERENCE_FPS = 30.0  # smoothing is the weight of the past per frame at this rate
AMPLIFY_LAG = 2.0  # seconds before a frame's shape joins its face's reference (amplify)
AMPLIFY_AFTER = 4.0  # seconds a face is followed before amplify= changes its crops


@dataclasses.dataclass
class Track:
    """One face followed across frames."""

    id: int
    box: face.Box  # the box its landmarks were fitted in (may extend past the frame)
    landmarks: np.ndarray
    crop: np.ndarray
    probs: np.ndarray | None = None  # smoothed class probabilities
    missed: int = 0  # detections in a row that did not find it
    usual: Usual | None = None  # its usual look so far (with amplify)
    amplified: bool = False  # whether the classifier saw its crop amplified on the last frame


class Usual:
    """A face's usual look, for ``--amplify``: the mean normalised shape (``geometry.normalised``)
    and the mean crop (warped into the shape of the face's first frame) of its frames older than
    ``lag`` seconds, so that an expression held for a moment is not yet part of what it is
    measured against."""

    def __init__(self, lag: float = AMPLIFY_LAG):
        self.lag, self.count, self.first = lag, 0, None
        self.shape, self.look = np.zeros((68, 2)), np.zeros((48, 48), np.float32)
        self.canvas: np.ndarray | None = None  # the crop points the mean look is kept in
        self.recent: collections.deque[tuple[float, np.ndarray, np.ndarray]] = collections.deque()

    def add(self, crop: np.ndarray, points: np.ndarray, t: float) -> None:
        """One frame's crop and its landmarks in the crop's coordinates (``face.aligned_landmarks``)."""
        if self.first is None:
            self.first, self.canvas = t, points
        self.recent.append((t, crop, points))
        while self.recent and self.recent[0][0] <= t - self.lag:
            _, c, q = self.recent.popleft()
            self.shape += geometry.normalised(q[None])[0]
            self.look += geometry.warp(c.astype(np.float32), q, self.canvas)
            self.count += 1

    def ready(self, t: float) -> bool:
        """Whether the face has been followed ``AMPLIFY_AFTER`` seconds (and has a reference)."""
        return self.count > 0 and t - self.first >= AMPLIFY_AFTER

    def amplified(self, crop: np.ndarray, points: np.ndarray, strength: float) -> np.ndarray:
        """The crop made ``strength`` times plainer against this usual look (``geometry.amplified``)."""
        look = geometry.warp(self.look / self.count, self.canvas, points)
        return geometry.amplified(crop[None], points[None], (self.shape / self.count)[None], strength,
                                  looks=look[None])[0]


def jump(track_box: face.Box, detected: face.Box) -> float:
    """How far apart the boxes' centres are, in widths of the detected box."""
    shift = (np.add(track_box[:2], track_box[2:]) - np.add(detected[:2], detected[2:])) / 2
    return float(np.linalg.norm(shift) / max(detected[2] - detected[0], 1))


def follow(gray: np.ndarray, track: Track) -> None:
    """Refit the landmarks inside the previous box, then move and scale the box as they moved."""
    (new,) = face.face_landmarks(gray, [track.box])
    old = track.landmarks
    c0, c1 = old.mean(axis=0), new.mean(axis=0)
    s = np.sqrt(((new - c1) ** 2).sum(axis=1).mean() / max(((old - c0) ** 2).sum(axis=1).mean(), 1e-9))
    l, t, r, b = track.box
    centre = c1 + s * (np.array([(l + r) / 2, (t + b) / 2]) - c0)
    half = s * np.array([(r - l) / 2, (b - t) / 2])
    track.box = tuple(int(round(v)) for v in (*(centre - half), *(centre + half)))
    track.landmarks, track.crop = new, face.align(gray, new)


class FaceTracker:
    """Frames in, tracked faces with smoothed probabilities out (see the module docstring)."""

    def __init__(self, classifier: Classifier, smoothing: float = 0.9, detect_every: int = 3,
                 detect_width: int | None = 640, upsample: int = 0, amplify: float | None = None,
                 timings: dict[str, list[float]] | None = None, warm: bool = True):
        self.classifier, self.classes = classifier, tuple(classifier.classes)
        self.smoothing, self.detect_every, self.amplify = smoothing, detect_every, amplify
        self.detect_width, self.upsample = detect_width, upsample
        self.timings = timings  # stage -> seconds per frame, recorded when given (benchmarks)
        self.tracks: list[Track] = []
        self.frames = 0
        self.last_t: float | None = None
        if warm:  # load dlib's landmark model and compile the classifier now, not on the first face
            face.face_landmarks(np.zeros((64, 64), np.uint8), [(0, 0, 64, 64)])
            classifier.predict_proba(np.zeros((1, 48, 48), np.uint8))
            if amplify:
                geometry.warm_up()

    def _lap(self, stage: str, start: float) -> float:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings.setdefault(stage, []).append(now - start)
        return now

    def step(self, frame: np.ndarray, t: float) -> list[Track]:
        """Process one BGR frame taken at time ``t`` (seconds); returns the tracks, by index."""
        start = time.perf_counter()
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        start = self._lap("grey", start)
        dt = 0.0 if self.last_t is None else max(t - self.last_t, 0.0)
        detecting = self.frames % self.detect_every == 0 or not self.tracks or dt > REDETECT_AFTER
        if detecting:
            self._match(gray, face.detect_faces(gray, upsample=self.upsample, detect_width=self.detect_width),
                        max(MAX_JUMP, MAX_SPEED * dt))
        else:
            for track in self.tracks:
                follow(gray, track)
        start = self._lap("detect" if detecting else "track", start)
        if self.tracks:
            crops = [tr.crop for tr in self.tracks]
            for tr in self.tracks:
                tr.amplified = False
            if self.amplify:
                crops = [self._amplified(tr, t) for tr in self.tracks]
                start = self._lap("amplify", start)
            probs = self.classifier.predict_proba(np.stack(crops))
            start = self._lap("classify", start)
            keep = self.smoothing ** (dt * REFERENCE_FPS)
            for track, p in zip(self.tracks, probs):
                track.probs = p if track.probs is None else keep * track.probs + (1 - keep) * p
            self._lap("smooth", start)
        self.frames += 1
        self.last_t = t
        return self.tracks

    def _amplified(self, track: Track, t: float) -> np.ndarray:
        """The crop with its expression made ``amplify`` times plainer against the face's usual
        look (the same crop until the face has been followed long enough)."""
        points = face.aligned_landmarks(track.landmarks)
        track.usual = track.usual or Usual()
        track.amplified = track.usual.ready(t)
        crop = track.usual.amplified(track.crop, points, self.amplify) if track.amplified else track.crop
        track.usual.add(track.crop, points, t)
        return crop

    def _match(self, gray: np.ndarray, faces: list[face.Face], reach: float) -> None:
        """Continue tracks with the detections that overlap them most, then the nearest of the
        rest within ``reach`` widths; start, keep or drop the others."""
        overlap = [(-face.iou(tr.box, f.box), i, j) for i, tr in enumerate(self.tracks) for j, f in enumerate(faces)]
        near = [(jump(tr.box, f.box), i, j) for i, tr in enumerate(self.tracks) for j, f in enumerate(faces)]
        matched: dict[int, int] = {}  # track position -> face position
        for pairs, limit in ((overlap, -MIN_IOU), (near, reach)):
            for score, i, j in sorted(pairs):
                if score > limit:
                    break
                if i not in matched and j not in matched.values():
                    matched[i] = j
        kept = []
        for i, track in enumerate(self.tracks):
            if i in matched:
                f = faces[matched[i]]
                track.box, track.landmarks, track.crop, track.missed = f.box, f.landmarks, f.crop, 0
                kept.append(track)
            elif track.missed < PATIENCE and all(face.iou(track.box, f.box) < MIN_IOU for f in faces):
                track.missed += 1  # missed by the detector (or gone): follow it a little longer
                follow(gray, track)
                kept.append(track)
        used = {tr.id for tr in kept}
        for j, f in enumerate(faces):
            if j not in matched.values():
                new_id = next(k for k in itertools.count() if k not in used)
                used.add(new_id)
                kept.append(Track(new_id, f.box, f.landmarks, f.crop))
        self.tracks = sorted(kept, key=lambda tr: tr.id)

    def predictions(self, shape: tuple[int, ...]) -> list[FacePrediction]:
        """The tracks as FacePredictions (boxes clipped to a frame of ``shape``) for drawing."""
        h, w = shape[:2]
        return [FacePrediction((max(tr.box[0], 0), max(tr.box[1], 0), min(tr.box[2], w), min(tr.box[3], h)),
                               dict(zip(self.classes, map(float, tr.probs))), tr.crop) for tr in self.tracks]

"""Live emotion prediction on a webcam or a video, one line per face every second.

    python -m emojax.live                          # default webcam (--camera N for another)
    python -m emojax.live --video clip.mp4 --save annotated.mp4
    python -m emojax.live --show                   # window with boxes, bars and FPS; q or Esc quits
    python -m emojax.live --collect me/ --label happy   # also save the face crops for personal fine-tuning
    python -m emojax.live --amplify 3              # quiet expressions made plainer against your usual face

Printed lines (stdout), for every face at least once per ``--every`` seconds::

    11:11:12 : Happy , 93%              one face in view
    11:11:12 : face 1 : Happy , 93%     several faces (stable indices, see below)
    11:11:12 : no face

The time is the wall clock for a camera, and the position in the video (HH:MM:SS from its
start) for a file or stream, so a file gives the same lines however fast it is processed.

Speed: dlib's HOG detector is the slow step (about 17 ms on a 640x480 frame), so it runs on
a copy shrunk to ``--detect-width`` and only every ``--detect-every`` frames. In between,
each face is followed by refitting the 68 landmarks inside its previous box (dlib's shape
predictor, about 1 ms) and moving the box with them. Landmarks and crops always come from
the full-resolution frame, so the crops are those that detection on every frame would give.
The faces of a frame are classified in one batch.

Tracking and smoothing: a detection continues the track whose box it overlaps most
(IoU >= 0.3), else starts a new one with the smallest free index, so a face keeps its index
while it stays in view. A track that the detector misses is still followed by its landmarks
through two such detections and dropped at the third, which rides out brief detector misses.
Each track's probabilities are an exponential moving average: the old value keeps weight
``--smoothing`` per 1/30 s of video or wall time (so the same setting behaves alike at
any frame rate), which stops labels from flickering without lagging by more than a fraction
of a second.

Amplification (``--amplify K``): the network hardly moves for a posed face's quieter expression.
Each track keeps its face's usual look (the mean normalised 68-landmark shape and the mean crop
of its frames older than ``AMPLIFY_LAG`` seconds); once a face has been followed
``AMPLIFY_AFTER`` seconds, its grey levels are moved twice as far from that mean look and its
crop is warped so that its landmarks lie K times as far from that shape (``geometry.amplified``)
before it is classified: who the person is drops out, their expression is exaggerated. Saved
crops (``--collect``) and drawn faces stay as they are. Measured by ``experiments/amplify_live.py``.

Capture (``--collect DIR --label EMOTION``): each tracked face's aligned 48x48 crop (the
one the classifier sees) is saved as ``DIR/EMOTION_NNNNN.png``, at most ``--collect-rate``
per face per second (video time for a file, wall time for a camera), and a row
``file,emotion`` is appended to ``DIR/label.csv``: the folder ``experiments/personalize.py
--images DIR`` and ``photoset.read`` take. Existing crops are never overwritten (numbering
continues after them) and every file is written to a temporary name and renamed, so a
reader never sees a half-written PNG or CSV.

Exit status: 0 when the video ends, after ``--max-frames``, on q/Esc in the window, or on
Ctrl-C (the usual way to stop a camera: ``--save`` is finalized with the frames handled so
far; Ctrl-C before the first frame exits 130 and saves nothing). 2 with a one-line
``error: ...`` for no camera, a camera that stops delivering frames (``--save`` keeps the
video up to then), or an unreadable video.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import itertools
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from emojax import face, geometry
from emojax.io import EmojaxError, atomic_path, check_out_dir, positive_float, run
from emojax.pipeline import Classifier, FacePrediction, load_classifier
from emojax.predict import annotate

MIN_IOU = 0.3  # a detection continues a track only if their boxes overlap at least this much
PATIENCE = 2  # detections a track may miss in a row before it is dropped
REFERENCE_FPS = 30.0  # --smoothing is the weight of the past per frame at this rate
AMPLIFY_LAG = 2.0  # seconds before a frame's shape joins its face's reference (--amplify)
AMPLIFY_AFTER = 4.0  # seconds a face is followed before --amplify changes its crops
WINDOW = "emojax live"


@dataclasses.dataclass
class Track:
    """One face followed across frames."""

    id: int
    box: face.Box  # the box its landmarks were fitted in (may extend past the frame)
    landmarks: np.ndarray
    crop: np.ndarray
    probs: np.ndarray | None = None  # smoothed class probabilities
    missed: int = 0  # detections in a row that did not find it
    usual: Usual | None = None  # its usual look so far (with --amplify)


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


def iou(a: face.Box, b: face.Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


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
                 timings: dict[str, list[float]] | None = None):
        self.classifier, self.classes = classifier, tuple(classifier.classes)
        self.smoothing, self.detect_every, self.amplify = smoothing, detect_every, amplify
        self.detect_width, self.upsample = detect_width, upsample
        self.timings = timings  # stage -> seconds per frame, recorded when given (benchmarks)
        self.tracks: list[Track] = []
        self.frames = 0
        self.last_t: float | None = None
        # Load dlib's landmark model and compile the classifier now, not on the first face.
        face.face_landmarks(np.zeros((64, 64), np.uint8), [(0, 0, 64, 64)])
        classifier.predict_proba(np.zeros((1, 48, 48), np.uint8))
        if amplify:  # scipy's first triangulation loads its linear algebra: about a second
            points = np.random.default_rng(0).uniform(8, 40, (68, 2))
            geometry.warp(np.zeros((48, 48), np.uint8), points, points + 0.5)

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
        detecting = self.frames % self.detect_every == 0 or not self.tracks
        if detecting:
            self._match(gray, face.detect_faces(gray, upsample=self.upsample, detect_width=self.detect_width))
        else:
            for track in self.tracks:
                follow(gray, track)
        start = self._lap("detect" if detecting else "track", start)
        if self.tracks:
            crops = [tr.crop for tr in self.tracks]
            if self.amplify:
                crops = [self._amplified(tr, t) for tr in self.tracks]
                start = self._lap("amplify", start)
            probs = self.classifier.predict_proba(np.stack(crops))
            start = self._lap("classify", start)
            dt = 0.0 if self.last_t is None else max(t - self.last_t, 0.0)
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
        crop = track.usual.amplified(track.crop, points, self.amplify) if track.usual.ready(t) else track.crop
        track.usual.add(track.crop, points, t)
        return crop

    def _match(self, gray: np.ndarray, faces: list[face.Face]) -> None:
        """Continue tracks with the detections that overlap them most; start, keep or drop the rest."""
        pairs = sorted(((iou(tr.box, f.box), i, j) for i, tr in enumerate(self.tracks) for j, f in enumerate(faces)),
                       reverse=True)
        matched: dict[int, int] = {}  # track position -> face position
        for overlap, i, j in pairs:
            if overlap < MIN_IOU:
                break
            if i not in matched and j not in matched.values():
                matched[i] = j
        kept = []
        for i, track in enumerate(self.tracks):
            if i in matched:
                f = faces[matched[i]]
                track.box, track.landmarks, track.crop, track.missed = f.box, f.landmarks, f.crop, 0
                kept.append(track)
            elif track.missed < PATIENCE and all(iou(track.box, f.box) < MIN_IOU for f in faces):
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


# --------------------------------------------------------------------------- input and output


def open_source(camera: int, video: str | None) -> cv2.VideoCapture:
    """Open the camera or the video file/stream URL, or raise a one-line EmojaxError."""
    if video is not None and "://" not in video:
        if not os.path.isfile(video):
            raise EmojaxError(f"no such video file: {video}")
        if os.path.getsize(video) == 0:
            raise EmojaxError(f"video file is empty (0 bytes): {video}")
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # our message replaces OpenCV's warnings
    try:
        cap = cv2.VideoCapture(video if video is not None else camera)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not cap.isOpened():
        if video is None:
            raise EmojaxError(f"no camera at index {camera} (none connected, in use, or no permission); "
                              f"try another --camera N or --video FILE")
        raise EmojaxError(f"cannot open video (corrupt, unsupported format or unreachable stream): {video}")
    return cap


def clock(t: float, camera: bool) -> str:
    """HH:MM:SS: local wall-clock time for a camera, time since the start for a video."""
    if camera:
        return time.strftime("%H:%M:%S", time.localtime(t))
    s = int(t)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


def report_lines(tracks: list[Track], classes: tuple[str, ...], stamp: str) -> list[str]:
    """The printed lines for one moment: ``11:11:12 : Happy , 93%`` (``face N : `` with several faces)."""
    if not tracks:
        return [f"{stamp} : no face"]
    lines = []
    for tr in tracks:
        k = int(np.argmax(tr.probs))
        who = f"face {tr.id} : " if len(tracks) > 1 else ""
        lines.append(f"{stamp} : {who}{classes[k].capitalize()} , {100 * tr.probs[k]:.0f}%")
    return lines


def show(image: np.ndarray, wait: float) -> bool:
    """Display a frame for at least ``wait`` seconds; False once the user pressed q/Esc or closed the window."""
    cv2.imshow(WINDOW, image)
    key = cv2.waitKey(max(1, int(1000 * wait))) & 0xFF
    return key not in (ord("q"), 27) and cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) >= 1


def open_writer(path: Path, fps: float, shape: tuple[int, ...]) -> cv2.VideoWriter:
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, fps, (shape[1], shape[0]))
    if not writer.isOpened():
        raise EmojaxError(f"cannot write a video to {path} (use a .mp4 or .avi name)")
    return writer


class Collector:
    """Saves tracked faces' crops and their label for personal fine-tuning (``--collect``)."""

    def __init__(self, folder: Path, label: str, rate: float = 2.0):
        from emojax.photoset import emotion_name

        emotion = emotion_name(label)
        if emotion is None:
            raise EmojaxError(f"unknown emotion {label!r} for --label (angry, disgust, fear, happy, sad, surprise "
                              f"or neutral)")
        self.folder, self.emotion, self.period = Path(folder), emotion, 1.0 / rate
        if self.folder.exists() and not self.folder.is_dir():
            raise EmojaxError(f"--collect {folder} is a file, not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.csv = self.folder / "label.csv"
        self.text = self.csv.read_text(encoding="utf-8") if self.csv.exists() else "file,emotion\n"
        header = self.text.splitlines()[0].replace(" ", "").lower().split(",") if self.text.strip() else []
        if header[:2] != ["file", "emotion"]:
            raise EmojaxError(f"{self.csv} exists and does not start with the header file,emotion; "
                              f"use another --collect folder")
        if not self.text.endswith("\n"):
            self.text += "\n"
        self.last: dict[int, float] = {}  # track id -> time of its last saved crop
        self.number, self.saved = 0, 0

    def add(self, tracks: list[Track], t: float) -> None:
        rows = []
        for tr in tracks:
            if t - self.last.get(tr.id, -np.inf) < self.period:
                continue
            while (self.folder / f"{self.emotion}_{self.number:05d}.png").exists():
                self.number += 1  # never overwrite an earlier session's crop
            path = self.folder / f"{self.emotion}_{self.number:05d}.png"
            ok, png = cv2.imencode(".png", tr.crop)
            if not ok:
                raise EmojaxError(f"cannot encode a crop as PNG for {path}")
            with atomic_path(path) as tmp:
                tmp.write_bytes(png.tobytes())
            self.last[tr.id] = t
            rows.append(f"{path.name},{self.emotion}\n")
        if rows:  # the whole CSV again, renamed into place: a reader never sees half a row
            self.text += "".join(rows)
            with atomic_path(self.csv) as tmp:
                tmp.write_text(self.text, encoding="utf-8")
            self.saved += len(rows)


# --------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m emojax.live", description=__doc__.split("\n\n")[0],
                                 epilog="Prints '11:11:12 : Happy , 93%' per face ('11:11:12 : face 1 : Happy , "
                                        "93%' when there are several, '11:11:12 : no face' when none); the time is "
                                        "the wall clock for a camera and the position in the video for a file. "
                                        "Exit 0 at the end of the video, --max-frames, q/Esc or Ctrl-C; 2 with "
                                        "'error: ...' for a missing camera or an unreadable video.")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, default=0, metavar="N",
                     help="index of the webcam to read (default: %(default)s)")
    src.add_argument("--video", metavar="PATH", help="video file or stream URL to read instead of a webcam")
    ap.add_argument("--show", action="store_true",
                    help="show a window with boxes, labels, probability bars and the processing FPS (q or Esc "
                         "quits); a video file then plays no faster than real time")
    ap.add_argument("--save", type=Path, metavar="OUT",
                    help="write the annotated video to OUT (.mp4 or .avi; written to a temporary file and "
                         "renamed when done, also after Ctrl-C)")
    ap.add_argument("--every", type=float, default=1.0, metavar="SECONDS",
                    help="seconds between printed lines: video time for a file, wall time for a camera "
                         "(default: %(default)s)")
    ap.add_argument("--model", help="'svm' for the HOG+SVM baseline, a saved CNN folder or a .joblib SVM "
                                    "(default: the shipped CNN in results/model)")
    ap.add_argument("--smoothing", type=float, default=0.9, metavar="F",
                    help="weight the smoothed probabilities keep per 1/30 s, 0 to 1 (0 = no smoothing; "
                         "default: %(default)s, a half-life of about 0.2 s)")
    ap.add_argument("--detect-every", type=int, default=3, metavar="N",
                    help="run the face detector every N frames and follow faces by their landmarks in between "
                         "(1 = detect on every frame; default: %(default)s)")
    ap.add_argument("--detect-width", type=int, default=640, metavar="PX",
                    help="shrink frames to this width for the detector only; landmarks and crops use the full "
                         "frame (default: %(default)s)")
    ap.add_argument("--upsample", type=int, default=0, metavar="K",
                    help="times the detector doubles its frame: each finds faces half as wide at about 4x the "
                         "cost (default: %(default)s; at 0 faces narrower than about 55 px at --detect-width "
                         "are missed)")
    ap.add_argument("--amplify", type=positive_float, metavar="K",
                    help="make each face's expression K times plainer against its own usual face (its mean "
                         "shape and look over its frames so far) before classifying: helps quiet, posed "
                         f"expressions (3 is a good value; starts once a face has been followed {AMPLIFY_AFTER:g} s)")
    ap.add_argument("--collect", type=Path, metavar="DIR",
                    help="save each tracked face's 48x48 crop as a PNG in DIR and its --label in DIR/label.csv "
                         "(material for experiments/personalize.py --images DIR)")
    ap.add_argument("--label", metavar="EMOTION", help="the expression being posed, with --collect (e.g. happy)")
    ap.add_argument("--collect-rate", type=float, default=2.0, metavar="N",
                    help="crops saved per face per second at most, with --collect (default: %(default)s)")
    ap.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames (for tests)")
    args = ap.parse_args(argv)
    if args.every <= 0:
        ap.error("--every must be positive")
    if not 0 <= args.smoothing < 1:
        ap.error("--smoothing must be in [0, 1)")
    if args.detect_every < 1 or args.detect_width < 80 or args.upsample < 0:
        ap.error("--detect-every must be >= 1, --detect-width >= 80 and --upsample >= 0")
    if args.max_frames is not None and args.max_frames < 1:
        ap.error("--max-frames must be >= 1")
    if (args.collect is None) != (args.label is None):
        ap.error("--collect DIR and --label EMOTION go together")
    if args.collect_rate <= 0:
        ap.error("--collect-rate must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.save:
        check_out_dir(Path(args.save).absolute().parent, "--save")
    if args.show and sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or
                                                               os.environ.get("WAYLAND_DISPLAY")):
        raise EmojaxError("--show needs a display, and DISPLAY is not set (use --save OUT.mp4 instead)")
    # FFmpeg would print its own complaints about a bad file next to our one-line error (set
    # OPENCV_FFMPEG_LOGLEVEL=24 to see its warnings); this must precede the first VideoCapture.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    camera = args.video is None
    collector = Collector(args.collect, args.label, args.collect_rate) if args.collect else None
    cap = open_source(args.camera, args.video)
    try:
        # one view, one forward pass per face per frame: the smoothing averages frames instead
        tracker = FaceTracker(load_classifier(args.model, views=1), args.smoothing, args.detect_every,
                              args.detect_width, args.upsample, args.amplify)
        with (atomic_path(args.save) if args.save else contextlib.nullcontext()) as out:
            problem = _loop(cap, tracker, args, camera, out, collector)
    finally:
        cap.release()
        if args.show:
            cv2.destroyAllWindows()
    if problem:
        raise EmojaxError(problem)
    return 0


def _loop(cap: cv2.VideoCapture, tracker: FaceTracker, args: argparse.Namespace, camera: bool,
          out: Path | None, collector: Collector | None = None) -> str | None:
    """Read, track, print, draw and save until the input ends; returns an error to report, if any."""
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if 0 < fps < 1000 else 30.0
    writer, next_print, frames, shown = None, -np.inf, 0, None
    stamps: collections.deque[float] = collections.deque(maxlen=31)  # FPS over the last 30 frames
    if args.show:
        cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
    wall0 = time.perf_counter()
    try:
        while args.max_frames is None or frames < args.max_frames:
            ok, frame = cap.read()
            if not ok:
                if frames == 0:  # raised, so that --save leaves no empty file behind
                    raise EmojaxError(f"camera {args.camera} opened but delivered no frame" if camera
                                      else f"no frame could be decoded from {args.video}")
                if camera:
                    return f"camera {args.camera} stopped delivering frames after {frames} frames"
                break
            t = time.time() if camera else cap.get(cv2.CAP_PROP_POS_MSEC) / 1000
            if not camera and t <= 0 and frames:  # a backend without timestamps
                t = frames / fps
            tracks = tracker.step(frame, t)
            if collector is not None:
                collector.add(tracks, t)
            stamps.append(time.perf_counter())
            if args.show or out:
                rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else None
                image = annotate(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), tracker.predictions(frame.shape), rate,
                                 ids=[tr.id for tr in tracker.tracks], legend=False)
            if out:
                if writer is None:
                    writer = open_writer(out, fps, frame.shape)
                writer.write(image)
            frames += 1  # right after the write, so that --save holds exactly `frames` frames after Ctrl-C
            if t >= next_print:
                next_print = (t // args.every + 1) * args.every  # on whole multiples, skipping gaps
                print("\n".join(report_lines(tracks, tracker.classes, clock(t, camera))), flush=True)
            if args.show:  # a file plays no faster than real time (but does not rush to catch up)
                ahead = 0.0 if camera or shown is None else (t - shown[0]) - (time.perf_counter() - shown[1])
                if not show(image, ahead):
                    break
                shown = t, time.perf_counter()
    except KeyboardInterrupt:
        if not frames:
            raise  # nothing to keep: exit 130 and leave no empty --save file
        print("stopped (Ctrl-C)", file=sys.stderr)
    finally:
        if writer is not None:
            writer.release()
    elapsed = time.perf_counter() - wall0
    print(f"{frames} frames in {elapsed:.1f} s ({frames / max(elapsed, 1e-9):.1f} FPS)", file=sys.stderr)
    if collector is not None:
        print(f"saved {collector.saved} crops labelled {collector.emotion} in {collector.folder}", file=sys.stderr)
    return None


def cli() -> None:
    run(main)


if __name__ == "__main__":
    cli()

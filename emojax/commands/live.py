"""``emojax live`` (``python -m emojax.live``): the live predictor's flags and its loop, which
reads frames, tracks faces, prints a line per face every ``--every`` seconds and draws and
saves the annotated video. What the lines mean: :mod:`emojax.live`.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from emojax import live
from emojax.io import EmojaxError, atomic_path, check_out_dir, positive_float, run
from emojax.live import WINDOW, Collector, open_writer, report_lines, show
from emojax.pipeline import load_classifier
from emojax.predict import annotate
from emojax.track import AMPLIFY_AFTER, FaceTracker
from emojax.video import clock, open_source


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m emojax.live", description=live.__doc__.split("\n\n")[0],
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
                    help="run the face detector every N frames (and on a frame that comes over 0.25 s after the "
                         "last) and follow faces by their landmarks in between (1 = detect on every frame; "
                         "default: %(default)s)")
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


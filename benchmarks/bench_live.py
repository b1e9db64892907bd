"""End-to-end speed of the live predictor on a 640x480 video with one face.

The video is made from skimage's astronaut photo (head and shoulders, face about 150 px
wide, gently rocking and drifting; MJPG like most webcams deliver) and run through exactly
what ``python -m emojax.live`` does per frame: decode, grey, detect (HOG at 640 px,
upsample 0, plus landmarks and alignment of what it finds) or track (landmark refit and
alignment in the previous box), with ``--amplify`` the warp against the face's usual shape,
classify, smooth. Printing and drawing are left out.

For each --detect-every setting it prints the FPS, the median milliseconds of each stage
over the frames where it ran (and how many did), and how close the crops come to those of
detection on every frame: mean absolute difference in grey levels and the share of frames
whose top class (unsmoothed) agrees.

    python benchmarks/bench_live.py [--frames 300] [--detect-every 1 3 5] [--model svm] [--amplify 3]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # emojax and experiments/ from this checkout
from emojax.track import FaceTracker  # noqa: E402
from emojax.pipeline import load_classifier  # noqa: E402
from experiments.live_screenshot import astronaut_video  # noqa: E402

STAGES = ["decode", "grey", "detect", "track", "amplify", "classify", "smooth"]


def run(video: Path, classifier, detect_every: int, frames: int,
        amplify: float | None = None) -> tuple[dict[str, list[float]], list[float], list]:
    """Per-stage seconds, per-frame total seconds, and each frame's crop (None without a face)."""
    timings: dict[str, list[float]] = {}
    tracker = FaceTracker(classifier, detect_every=detect_every, detect_width=640, upsample=0, amplify=amplify,
                          timings=timings)
    cap = cv2.VideoCapture(str(video))
    totals, crops = [], []
    for _ in range(frames):
        start = time.perf_counter()
        ok, frame = cap.read()
        if not ok:
            break
        timings.setdefault("decode", []).append(time.perf_counter() - start)
        tracks = tracker.step(frame, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000)
        totals.append(time.perf_counter() - start)
        crops.append(tracks[0].crop if tracks else None)
    cap.release()
    return timings, totals, crops


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=300, help="frames of 30 FPS video per setting (default: %(default)s)")
    p.add_argument("--detect-every", type=int, nargs="+", default=[1, 3, 5], help="settings to time (default: 1 3 5)")
    p.add_argument("--model", help="as for emojax.live (default: the shipped CNN)")
    p.add_argument("--amplify", type=float, metavar="K", help="as for emojax.live: time the warp too")
    args = p.parse_args()
    classifier = load_classifier(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        video = astronaut_video(Path(tmp) / "astronaut.avi", seconds=-(-args.frames // 30), fps=30)
        results = {n: run(video, classifier, n, args.frames, args.amplify) for n in sorted(set(args.detect_every) | {1})}
    reference = results[1][2]
    ref_top = classifier.predict_proba(np.stack([c for c in reference if c is not None])).argmax(1)
    print("detect_every   FPS  total_med  total_p90  " + "  ".join(f"{s:>13}" for s in STAGES)
          + "  crop_diff  top_agree")
    for n in args.detect_every:
        timings, totals, crops = results[n]
        both = [(a, b) for a, b in zip(crops, reference) if a is not None and b is not None]
        diff = np.mean([np.abs(a.astype(int) - b).mean() for a, b in both])
        top = classifier.predict_proba(np.stack([c for c in crops if c is not None])).argmax(1)
        agree = np.mean(top == ref_top) if len(top) == len(ref_top) else float("nan")
        stages = "  ".join(f"{1000 * np.median(timings[s]):6.2f} ({len(timings[s]):3d})" if s in timings
                           else f"{'-':>13}" for s in STAGES)
        print(f"{n:12d}  {len(totals) / sum(totals):5.1f}  {1000 * np.median(totals):9.1f}  "
              f"{1000 * np.percentile(totals, 90):9.1f}  {stages}  {diff:9.2f}  {agree:9.1%}")
    print("stage columns: median ms (frames it ran on); crop_diff and top_agree against detect_every=1")


if __name__ == "__main__":
    main()

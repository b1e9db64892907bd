"""Time the live face pipeline (detect + landmarks + align) on a 640x480 frame, one core.

The frame is skimage's astronaut photo scaled to 640 px wide and cropped to 480 rows, a
face about 115 px wide, like a person at arm's length from a webcam. The HOG detector's
window is 80 px, so a configuration nominally finds faces down to
80 * (640 / detect_width) / 2**upsample px wide (the table's nominal_min_face; in practice
boxes down to about 0.7 of that are found).

    python benchmarks/bench_face.py [--repeat 30]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

try:
    import emojax  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from emojax.face import detect_faces

CONFIGS = [(0, None), (0, 480), (0, 320), (1, 480), (1, 320), (1, 240), (1, None)]  # (upsample, detect_width)


def frame_640x480() -> np.ndarray:
    """The astronaut scaled to 640x640 and cropped to the top 480 rows (the face is near the top)."""
    return cv2.resize(data.astronaut(), (640, 640), interpolation=cv2.INTER_AREA)[:480]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=30, help="timed runs per configuration (default: %(default)s)")
    args = p.parse_args()
    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    frame = frame_640x480()
    detect_faces(frame)  # load the models outside the timings
    print("upsample  detect_width  nominal_min_face  faces  median_ms  p90_ms")
    for upsample, width in CONFIGS:
        times, n = [], 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            n = len(detect_faces(frame, upsample=upsample, detect_width=width))
            times.append((time.perf_counter() - t) * 1000)
        min_face = 80 * 640 / (width or 640) / 2 ** upsample
        print(f"{upsample:8d}  {width or 640:12d}  {min_face:16.0f}  {n:5d}  "
              f"{np.median(times):9.1f}  {np.percentile(times, 90):6.1f}")


if __name__ == "__main__":
    main()

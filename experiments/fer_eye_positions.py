"""Measure where the eyes sit in FER2013 faces, to frame our crops the same way.

Each 48x48 image is upsampled (dlib's detector needs faces of 80 px or more), padded a
little (the faces fill the frame; without context the detector misses more of them), then
detected and landmarked by the same dlib models emojax.face uses. Images with no or several
detections are skipped. Prints the median eye centres in 48x48 pixel coordinates and the
levelled values used for emojax.face.LEFT_EYE/RIGHT_EYE.

    python experiments/fer_eye_positions.py --rows 300
"""
from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from emojax import face  # noqa: E402
from emojax.io import run  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", type=Path, default=ROOT.parent / "shared" / "data" / "fer2013.csv.gz",
                   help="FER2013 in Kaggle format (emotion,pixels,Usage), gzipped (default: %(default)s)")
    p.add_argument("--split", default="PublicTest", help="Usage value of the rows to measure (default: %(default)s)")
    p.add_argument("--rows", type=int, default=300,
                   help="how many rows of that split to measure (default: %(default)s)")
    p.add_argument("--scale", type=int, default=4, help="upsampling factor before detection (default: %(default)s)")
    args = p.parse_args(argv)

    with gzip.open(args.csv, "rt", newline="") as f:
        rows = csv.reader(f)
        next(rows)
        pixels = list(itertools.islice((px for _, px, usage in rows if usage == args.split), args.rows))

    pad = 6 * args.scale
    eyes = []
    for px in pixels:
        img = np.array(px.split(), np.uint8).reshape(48, 48)
        big = cv2.resize(img, (48 * args.scale,) * 2, interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        boxes = face.face_locations(big, upsample=0)
        if len(boxes) != 1:
            continue
        lm = face.face_landmarks(big, boxes)[0] - pad
        centres = np.array([lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)])
        eyes.append((centres + 0.5) / args.scale - 0.5)  # pixel centres back to 48x48 coordinates

    eyes = np.array(eyes)
    (lx, ly), (rx, ry) = np.median(eyes, axis=0)
    q1, q3 = np.percentile(eyes, [25, 75], axis=0)
    print(f"{len(eyes)} of {len(pixels)} {args.split} faces detected")
    print(f"median left eye  ({lx:.2f}, {ly:.2f})  IQR x {q3[0, 0] - q1[0, 0]:.2f} y {q3[0, 1] - q1[0, 1]:.2f}")
    print(f"median right eye ({rx:.2f}, {ry:.2f})  IQR x {q3[1, 0] - q1[1, 0]:.2f} y {q3[1, 1] - q1[1, 1]:.2f}")
    y = (ly + ry) / 2  # level eyes: the crops should not carry a tilt
    print(f"LEFT_EYE = ({lx:.1f}, {y:.1f})\nRIGHT_EYE = ({rx:.1f}, {y:.1f})")


if __name__ == "__main__":
    run(main)

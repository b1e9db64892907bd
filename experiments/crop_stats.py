"""Do the crops our face pipeline cuts from real photos look like FER2013's training crops?

Compares, per crop: mean grey level (exposure), standard deviation (contrast), sharpness
(mean absolute Laplacian), and where the eyes land after alignment (dlib re-run on the
upsampled crop), for FER2013 Training rows against a labelled photo set (JAFFE) cut by
``emojax.photoset.crops``. Writes a Markdown table.

    python experiments/crop_stats.py --data ../shared/data/fer2013.csv.gz \
        --photos ../shared/data/jaffe --out results/generalization/crop_stats.md
"""
from __future__ import annotations

import argparse
import shlex
import sys

import cv2
import numpy as np

from emojax import data as data_lib
from emojax import face, photoset
from emojax.io import atomic_path, run


def stats(crops: np.ndarray) -> dict[str, np.ndarray]:
    x = crops.astype(np.float32)
    lap = np.stack([np.abs(cv2.Laplacian(c, cv2.CV_32F)) for c in x])[:, 4:-4, 4:-4].mean((1, 2))
    eyes = []
    for c in crops:  # eye centres as the landmark predictor sees them in the 48x48 crop
        big = cv2.copyMakeBorder(cv2.resize(c, (192, 192), interpolation=cv2.INTER_CUBIC),
                                 48, 48, 48, 48, cv2.BORDER_REPLICATE)
        faces = face.detect_faces(big, upsample=0)
        if len(faces) == 1:
            lm = faces[0].landmarks
            eyes.append(np.r_[lm[36:42].mean(0), lm[42:48].mean(0)] / 4 - 12)
    return {"mean": x.mean((1, 2)), "std": x.std((1, 2)), "sharpness": lap,
            "eyes": np.array(eyes).reshape(-1, 4)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--photos", required=True, help="labelled photo set (e.g. JAFFE)")
    p.add_argument("--limit", type=int, default=500, help="FER2013 Training rows to measure (default 500)")
    p.add_argument("--out", help="Markdown file to write (default: print only)")
    args = p.parse_args(argv)
    ds = data_lib.load(args.data, verbose=False)
    fer = stats(ds.train.images[:args.limit])
    crops, found = photoset.crops(photoset.read(args.photos), progress=True)
    ours = stats(crops[found])
    med = lambda a: f"{np.median(a):.1f} (IQR {np.subtract(*np.percentile(a, [75, 25])):.1f})"
    rows = [("mean grey level", "mean"), ("contrast (std)", "std"), ("sharpness (mean abs Laplacian)", "sharpness")]
    lines = [f"| measure (median, IQR) | FER2013 Training ({args.limit}) | {args.photos} ({found.sum()}) |",
             "|---|---:|---:|"]
    lines += [f"| {label} | {med(fer[k])} | {med(ours[k])} |" for label, k in rows]
    for j, label in enumerate(("left eye x", "left eye y", "right eye x", "right eye y")):
        lines.append(f"| {label} (px, re-detected) | {med(fer['eyes'][:, j])} | {med(ours['eyes'][:, j])} |")
    lines.append(f"\nEyes re-detected in {len(fer['eyes'])} FER2013 and {len(ours['eyes'])} photo-set crops.")
    text = "\n".join(lines) + f"\n\n`python experiments/crop_stats.py {shlex.join(argv or sys.argv[1:])}`\n"
    print(text)
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(text)
    return 0


if __name__ == "__main__":
    run(main)

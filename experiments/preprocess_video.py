"""Cut aligned 48x48 face crops out of a video, one per second of video time.

A quick way to see what the emotion models will be fed from a recording: every --every
seconds (by the video's timestamps, not wall-clock) the largest face of the frame is
aligned like FER2013 and written as OUT/image0.png, image1.png, ... Frames without a face
are skipped and counted; stale imageN.png files from an earlier, longer run are removed.

    python experiments/preprocess_video.py VIDEO --out results/preprocessing_test
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import cv2
from tqdm import tqdm

try:
    import emojax  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from emojax.io import EmojaxError, atomic_path, run
from emojax.face import detect_faces, largest as largest_face


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("video", type=Path, help="video file to read (anything this OpenCV/FFmpeg decodes)")
    p.add_argument("--out", type=Path, default=Path("results/preprocessing_test"),
                   help="folder for the crops image0.png, image1.png, ... (created if missing)")
    p.add_argument("--every", type=float, default=1.0, help="seconds of video time between sampled frames")
    p.add_argument("--upsample", type=int, default=1,
                   help="times the face detector doubles the frame: 0 is fastest and finds faces of about 55 px "
                        "or more, each step halves the smallest face found and costs about 4x the time")
    args = p.parse_args(argv)
    if args.every <= 0:
        p.error("--every must be positive")

    if not args.video.is_file():
        raise EmojaxError(f"no such video file: {args.video}")
    if args.video.stat().st_size == 0:
        raise EmojaxError(f"video file is empty (0 bytes): {args.video}")
    cap = cv2.VideoCapture(str(args.video))
    if not cap.isOpened():
        raise EmojaxError(f"cannot open video (corrupt or unsupported format): {args.video}")
    fps = cap.get(cv2.CAP_PROP_FPS)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))

    frames = sampled = written = 0
    next_t = 0.0
    with tqdm(total=total if total > 0 else None, unit="frame", desc=args.video.name) as bar:
        while cap.grab():
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000  # timestamp of the grabbed frame
            if t <= 0 and frames and fps > 0:  # a backend without timestamps
                t = frames / fps
            frames += 1
            bar.update()
            if t < next_t - 1e-3:
                continue
            next_t = (t // args.every + 1) * args.every  # skip ahead over gaps instead of bunching up
            ok, frame = cap.retrieve()
            if not ok:
                continue
            sampled += 1
            faces = detect_faces(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), upsample=args.upsample)
            if not faces:
                continue
            largest = largest_face(faces)
            with atomic_path(args.out / f"image{written}.png") as tmp:
                if not cv2.imwrite(str(tmp), largest.crop):
                    raise EmojaxError(f"cannot write {args.out / f'image{written}.png'}")
            written += 1
    cap.release()
    if frames == 0:
        raise EmojaxError(f"no frame could be decoded from {args.video}")

    for stale in args.out.glob("image*.png"):
        m = re.fullmatch(r"image(\d+)\.png", stale.name)
        if m and int(m[1]) >= written:
            stale.unlink()
    print(f"wrote {written} crops to {args.out}; {sampled - written} of {sampled} sampled frames "
          f"(of {frames}) had no face")


if __name__ == "__main__":
    run(main)

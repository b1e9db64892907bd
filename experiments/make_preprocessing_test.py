"""Make ``results/preprocessing_test/``: a 20-second input video with a real face and the
crops the face pipeline cuts from it, one a second (image0.png ... image20.png).

The face is skimage's astronaut photo (Eileen Collins, NASA, public domain), gently rocking
and drifting, so the video can be committed; the crops come from
``experiments/preprocess_video.py``, exactly as a user's video would be cut.

    python -m experiments.make_preprocessing_test --out results/preprocessing_test
"""
from __future__ import annotations

import argparse
from pathlib import Path

from emojax.io import check_out_dir, run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("results/preprocessing_test"), help="output folder")
    args = p.parse_args(argv)
    check_out_dir(args.out)
    from experiments import live_screenshot, preprocess_video

    args.out.mkdir(parents=True, exist_ok=True)
    video = live_screenshot.astronaut_video(args.out / "input.mp4", seconds=20, fps=10, fourcc="mp4v")
    return preprocess_video.main([str(video), "--out", str(args.out)]) or 0


if __name__ == "__main__":
    run(main)

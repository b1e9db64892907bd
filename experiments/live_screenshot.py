"""Screenshot of the live predictor's ``--show`` window, taken under a virtual X display.

A manual check that the window really shows boxes, labels, probability bars and the FPS,
and the way tests/test_live.py checks ``--show`` on machines without a screen: starts Xvfb
on a free display, runs ``python -m emojax.live --show`` there on a video (default: 20 s
made from skimage's astronaut photo, gently rocking), grabs the window with xwd while it
plays and writes the last grab that shows a drawn frame as a PNG.

    python experiments/live_screenshot.py            # -> results/live/show_screenshot.png
    python experiments/live_screenshot.py --video clip.mp4 --model svm --out shot.png

Needs Xvfb and xwd (Debian/Ubuntu: apt-get install xvfb x11-apps). Exit status: the live
predictor's; 2 with ``error: ...`` if Xvfb is missing or the window never showed.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

try:
    import emojax  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from emojax.io import EmojaxError, atomic_path, run
from emojax.live import WINDOW

REPO = Path(__file__).resolve().parents[1]


def rocking_video(base: np.ndarray, path: Path, seconds: int = 20, fps: int = 10, fourcc: str = "MJPG") -> Path:
    """A 640x480 clip of a BGR image ``base`` (any size: letterboxed onto grey), gently
    rocking and drifting like a head in front of a webcam."""
    h, w = base.shape[:2]
    scale = min(640 / w, 480 / h)
    small = cv2.resize(base, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 127, np.uint8)
    y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
    frame[y:y + small.shape[0], x:x + small.shape[1]] = small
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (640, 480))
    for i in range(seconds * fps):
        m = cv2.getRotationMatrix2D((320, 240), 4 * np.sin(2 * np.pi * i / 37), 1.0)
        m[:, 2] += 15 * np.sin(2 * np.pi * i / 23), 10 * np.sin(2 * np.pi * i / 29)
        writer.write(cv2.warpAffine(frame, m, (640, 480), borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return path


def astronaut_video(path: Path, seconds: int = 20, fps: int = 10, fourcc: str = "MJPG") -> Path:
    """A 640x480 clip of the astronaut's head and shoulders, gently rocking and drifting."""
    from skimage import data

    base = cv2.resize(data.astronaut()[:300, 56:456], (640, 480), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    return rocking_video(np.ascontiguousarray(base), path, seconds, fps, fourcc)


@contextlib.contextmanager
def xvfb(size: str = "1024x768x24") -> Iterator[str]:
    """Run Xvfb on a display number it picks itself (-displayfd: free, and ready once reported)."""
    if not shutil.which("Xvfb"):
        raise EmojaxError("Xvfb is not installed (apt-get install xvfb)")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as f:
            number = f.readline().strip()  # written when the server accepts connections
        if not number:
            raise EmojaxError("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)


def read_xwd(raw: bytes) -> np.ndarray:
    """Decode an xwd dump of a TrueColor window (the usual 24/32-bit case) to RGB uint8."""
    h = np.frombuffer(raw[:100], ">u4")
    header_size, width, height, byte_order, bpp, bytes_per_line = h[0], h[4], h[5], h[7], h[11], h[12]
    masks, ncolors = h[14:17], h[19]
    if bpp != 32:
        raise EmojaxError(f"xwd dump with {bpp} bits per pixel; only 32 is supported")
    start = int(header_size + 12 * ncolors)
    rows = np.frombuffer(raw, np.uint8, int(height * bytes_per_line), start).reshape(height, bytes_per_line)
    px = rows[:, :width * 4].copy().view("<u4" if byte_order == 0 else ">u4")
    shifts = [int(m).bit_length() - 8 for m in masks]
    return np.dstack([(px & m) >> s for m, s in zip(masks, shifts)]).astype(np.uint8)


def grab(display: str, name: str = WINDOW) -> np.ndarray | None:
    """The window titled ``name`` as RGB, or None while it is not (or no longer) on screen."""
    proc = subprocess.run(["xwd", "-silent", "-display", display, "-name", name], capture_output=True)
    return read_xwd(proc.stdout) if proc.returncode == 0 and len(proc.stdout) > 100 else None


def show_and_grab(live_args: list[str], every: float = 0.2) -> tuple[int, np.ndarray | None]:
    """Run ``python -m emojax.live --show LIVE_ARGS`` under Xvfb; its exit status and last screenshot."""
    if not shutil.which("xwd"):
        raise EmojaxError("xwd is not installed (apt-get install x11-apps)")
    with xvfb() as display:
        live = subprocess.Popen([sys.executable, "-m", "emojax.live", "--show", *live_args], cwd=REPO,
                                env={**os.environ, "DISPLAY": display})
        shot = None
        while live.poll() is None:
            time.sleep(every)
            latest = grab(display)
            # A window being mapped or torn down can grab as one flat colour: keep the last drawn one.
            if latest is not None and latest.std() > 1:
                shot = latest
        return live.wait(), shot


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--video", type=Path, help="video to play (default: a 20 s astronaut clip made on the fly)")
    p.add_argument("--model", help="passed to emojax.live (default: the shipped CNN)")
    p.add_argument("--max-frames", type=int, default=50, help="frames to play (at the video's frame rate)")
    p.add_argument("--out", type=Path, default=REPO / "results" / "live" / "show_screenshot.png", help="PNG to write")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or astronaut_video(Path(tmp) / "astronaut.avi")
        live_args = (["--video", str(video), "--max-frames", str(args.max_frames)]
                     + (["--model", args.model] if args.model else []))
        code, shot = show_and_grab(live_args)
        if shot is None and code == 0:
            # Now and then (a loaded machine) every grab of Qt's window under Xvfb comes back
            # black although the predictor ran: one more run, then an error.
            code, shot = show_and_grab(live_args)
    if shot is None:
        raise EmojaxError(f"the --show window never appeared (emojax.live exited with {code})")
    with atomic_path(args.out) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(shot, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise EmojaxError(f"cannot write {args.out}")
    print(f"wrote {args.out} ({shot.shape[1]}x{shot.shape[0]}); emojax.live exited with {code}")
    return code


if __name__ == "__main__":
    run(main)

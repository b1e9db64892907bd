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

Tracking, smoothing and ``--amplify`` are :class:`emojax.track.FaceTracker`'s: the HOG
detector runs on a copy shrunk to ``--detect-width`` every ``--detect-every`` frames and faces
are followed by their landmarks in between; a face keeps its index while it stays in view; its
probabilities are smoothed (``--smoothing``: the weight the past keeps per 1/30 s of video or
wall time); with ``--amplify K`` its expression is made K times plainer against its own usual
look once it has been followed a few seconds (saved crops and drawn faces stay as they are).

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

from pathlib import Path

import cv2
import numpy as np

from emojax.io import EmojaxError, atomic_path
from emojax.track import Track

WINDOW = "emojax live"

# --------------------------------------------------------------------------- input and output


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


if __name__ == "__main__":  # python -m emojax.live: the front door's 'emojax live'
    from emojax.commands.live import cli

    cli()

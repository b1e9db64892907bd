"""Videos as inputs like photos: every tracked face's smoothed emotion once per ``every``
seconds of video time, the same lines the live predictor prints, plus a CSV and an
emotion timeline plot (probability of each emotion over time, one panel per face).

Frames go through the live predictor's tracker (``emojax.track.FaceTracker``: detection,
landmark tracking, one classifier batch per frame, smoothing), so a file gives exactly
what ``live --video`` prints for it.
"""
from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from emojax.io import EmojaxError, atomic_path, save_figure

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTS


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


def tracked(path: str | Path, classifier, amplify: float | None = None, progress: bool = False
            ) -> Iterator[tuple[float, list]]:
    """``(time in seconds, the live tracker's tracks)`` for each frame of the video, the time
    from the frame's number and the video's rate (so a file gives the same times however fast
    it is read). ``amplify``: the live predictor's ``--amplify``."""
    from tqdm import tqdm

    from emojax import track

    cap = open_source(0, str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if 0 < fps < 1000 else 30.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    tracker = track.FaceTracker(classifier, amplify=amplify)
    frames = 0
    try:
        with tqdm(total=total, desc=Path(path).name, unit="frame", disable=not progress, leave=False) as bar:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                t = frames / fps
                yield t, tracker.step(frame, t)
                frames += 1
                bar.update()
    finally:
        cap.release()
    if frames == 0:
        raise EmojaxError(f"no frames could be read from {path}")


def track(path: str | Path, classifier, every: float = 1.0, progress: bool = False,
          amplify: float | None = None) -> list[dict]:
    """Rows ``{"time", "face", "emotion", "probability", "probabilities"}``: one per face at
    each multiple of ``every`` seconds (a row with ``face`` None where no face is in view).
    ``amplify``: the live predictor's ``--amplify`` (each face against its own usual look)."""
    classes = tuple(classifier.classes)
    rows, next_t = [], 0.0
    for t, tracks in tracked(path, classifier, amplify, progress):
        if t + 1e-9 < next_t:
            continue
        next_t = (t // every + 1) * every
        if not tracks:
            rows.append({"time": round(t, 3), "face": None, "emotion": None, "probability": None,
                         "probabilities": {}})
        for tr in tracks:
            k = int(np.argmax(tr.probs))
            rows.append({"time": round(t, 3), "face": tr.id, "emotion": classes[k],
                         "probability": round(float(tr.probs[k]), 4),
                         "probabilities": {c: round(float(p), 4) for c, p in zip(classes, tr.probs)}})
    return rows


def lines(rows: list[dict]) -> list[str]:
    """The live predictor's lines: ``00:00:03 : Happy , 93%`` (``face N : `` with several)."""
    out = []
    by_time: dict[float, list[dict]] = {}
    for r in rows:
        by_time.setdefault(r["time"], []).append(r)
    for t, group in by_time.items():
        faces = [r for r in group if r["face"] is not None]
        if not faces:
            out.append(f"{clock(t, camera=False)} : no face")
        for r in faces:
            who = f"face {r['face']} : " if len(faces) > 1 else ""
            out.append(f"{clock(t, camera=False)} : {who}{r['emotion'].capitalize()} , {100 * r['probability']:.0f}%")
    return out


def write_csv(rows: list[dict], classes, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time_s", "face", "emotion", "probability", *classes])
        for r in rows:
            w.writerow([r["time"], "" if r["face"] is None else r["face"], r["emotion"] or "",
                        "" if r["probability"] is None else r["probability"],
                        *(r["probabilities"].get(c, "") for c in classes)])


def plot_timeline(rows: list[dict], classes, path: Path, title: str = "") -> None:
    """Probability of each emotion over time, one panel per tracked face."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    faces = sorted({r["face"] for r in rows if r["face"] is not None})
    fig, axes = plt.subplots(max(len(faces), 1), 1, figsize=(9, 2.6 * max(len(faces), 1)), squeeze=False,
                             sharex=True)
    for ax, fid in zip(axes[:, 0], faces or [None]):
        mine = [r for r in rows if r["face"] == fid and fid is not None]
        t = [r["time"] for r in mine]
        for c in classes:
            ax.plot(t, [r["probabilities"][c] for r in mine], marker=".", label=c)
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        ax.set_title(f"face {fid}" if fid is not None else "no face found")
    axes[0, 0].legend(ncol=len(classes), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 1.45))
    axes[-1, 0].set_xlabel("video time (s)")
    if title:
        fig.suptitle(title, y=1.02 + 0.1 / max(len(faces), 1))
    save_figure(fig, path)

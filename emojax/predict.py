"""Emotion prediction on photos and videos: faces found, aligned and classified.

    python -m emojax.predict photo.jpg folder/ [--annotate OUT] [--json] [--model svm]
    python -m emojax.predict clip.mp4 [--json] [--out DIR]   # a line per face per second
    python -m emojax.predict album/ --amplify 3   # each face plainer against its person's other faces

Exit status: 0 when every input was processed, 1 when some inputs failed (each one an
``error:`` line) and the rest were processed, 2 when nothing could be done.

The faces are found and classified by ``emojax.pipeline.Predictor``, the pipeline every
front end shares; this module draws the results (live and serve draw with it too), and
``emojax.commands.predict`` holds the command line.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from emojax.pipeline import FacePrediction


# --------------------------------------------------------------------------- drawing


def _bars(img: np.ndarray, probabilities: dict[str, float], x0: int, y0: int, scale: float) -> None:
    import cv2

    bar_h = max(int(10 * scale), 8)
    for j, (c, v) in enumerate(probabilities.items()):
        y = y0 + j * (bar_h + 2)
        cv2.rectangle(img, (x0, y), (x0 + int(60 * scale * v), y + bar_h), (0, 180, 255), -1)
        cv2.putText(img, c[:3], (x0 + int(62 * scale), y + bar_h - 1), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35 * scale, (255, 255, 255), 1, cv2.LINE_AA)


def _with_legend(img: np.ndarray, predictions: Sequence[FacePrediction], ids: Sequence[int],
                 scale: float) -> np.ndarray:
    """``img`` with a dark panel on its right: each face's number, emotion and bars."""
    import cv2

    bar_h = max(int(10 * scale), 8)
    row_h = int(32 * scale) + len(predictions[0].probabilities) * (bar_h + 2)
    panel = np.full((max(img.shape[0], row_h * len(predictions)), int(150 * scale), 3), 30, np.uint8)
    for k, (i, p) in enumerate(zip(ids, predictions)):
        y = k * row_h + int(18 * scale)
        cv2.putText(panel, f"{i}: {p.emotion.capitalize()} {100 * p.probability:.0f}%", (int(6 * scale), y),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (0, 220, 0), max(1, int(scale)), cv2.LINE_AA)
        _bars(panel, p.probabilities, int(6 * scale), y + int(6 * scale), scale)
    img = cv2.copyMakeBorder(img, 0, panel.shape[0] - img.shape[0], 0, 0, cv2.BORDER_CONSTANT)
    return np.concatenate([img, panel], axis=1)


def annotate(image: np.ndarray, predictions: Sequence[FacePrediction], fps: float | None = None,
             ids: Sequence[int] | None = None, legend: bool = True) -> np.ndarray:
    """A BGR copy of ``image`` (RGB or gray) with boxes, labels and probability bars.

    One face: its label above the box and its bars beside it. Several faces (a group photo,
    where beside-the-box text would run over a neighbour): each box gets only its number,
    and a legend panel to the right of the image lists every face's emotion and bars. With
    ``legend=False`` (video frames, which must keep their size) each box gets its number and
    emotion above it, without bars."""
    import cv2

    img = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    img = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2BGR)
    scale = max(img.shape[1] / 800, 0.5)
    thick = max(1, int(2 * scale))
    ids = list(range(len(predictions)) if ids is None else ids)
    green = (0, 220, 0)
    if len(predictions) == 1:
        p = predictions[0]
        l, t, r, b = p.box
        cv2.rectangle(img, (l, t), (r, b), green, thick)
        cv2.putText(img, f"{p.emotion.capitalize()} {100 * p.probability:.0f}%", (l, max(t - 6, 12)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, green, thick, cv2.LINE_AA)
        _bars(img, p.probabilities, r + 4, t, scale)
    else:
        for i, p in zip(ids, predictions):
            l, t, r, b = p.box
            cv2.rectangle(img, (l, t), (r, b), green, thick)
            text = str(i) if legend else f"{i}: {p.emotion.capitalize()} {100 * p.probability:.0f}%"
            cv2.putText(img, text, (l + thick, max(t - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX,
                        (0.7 if legend else 0.5) * scale, green, thick, cv2.LINE_AA)
        if legend and predictions:
            img = _with_legend(img, predictions, ids, scale)
    if fps is not None:
        cv2.putText(img, f"{fps:.1f} FPS", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 255), 2)
    return img


if __name__ == "__main__":  # python -m emojax.predict: the front door's 'emojax predict'
    from emojax.commands.predict import cli

    cli()

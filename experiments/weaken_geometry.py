"""Is FER2013's anger in the face's shape or in its texture? Each PublicTest face's 68 landmarks
moved part-way towards FER2013's neutral shape, the image warped to follow them (piecewise
affine), and the model asked again.

The faint blends (``fer2013_vgg48_faint``) imitated weaker expressions photometrically; the
plan they left was to weaken them in geometry instead: warp each Training face's landmarks
part-way towards the neutral shape, keep its label, and fine-tune on the copies. That can only
teach something if the network reads expressions from geometry: where a face warped halfway
to neutral still reads as its emotion, the copies are faces it already gets right. Landmarks
as in ``landmark_fusion`` (dlib's predictor on one fixed box of the 4x crop); the neutral
shape is the Procrustes mean of Training's neutral faces, fitted to each face by a similarity
transform, so only the expression's share of the shape moves. Writes a Markdown table and a
PNG of a few angry faces at each share.

    python experiments/weaken_geometry.py results/model --data ../shared/data/fer2013.csv.gz \\
        --out results/generalization/geometry.md
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from skimage.transform import SimilarityTransform
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import data as data_lib  # noqa: E402
from emojax import geometry, metrics, photoset, pipeline  # noqa: E402
from emojax.io import EmojaxError, atomic_path, command_line, markdown_table, report, run  # noqa: E402

SHARES = (0.0, 0.5, 1.0)


def _fit(kind, src: np.ndarray, dst: np.ndarray):
    """A ``kind`` transform taking ``src`` points to ``dst``; an error if none fits."""
    t = kind.from_estimate(src, dst)
    if not t:
        raise EmojaxError(f"no {kind.__name__} fits these landmarks: {t}")
    return t


def mean_shape(points: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Generalised Procrustes mean of (N, 68, 2) landmark sets."""
    ref = points[0]
    for _ in range(rounds):
        ref = np.mean([_fit(SimilarityTransform, p, ref)(p) for p in points], 0)
    return ref


def neutral_target(points: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """The neutral shape placed on a face: the similarity transform of ``neutral`` that best
    fits ``points`` (its position, size and roll, not its expression)."""
    return _fit(SimilarityTransform, neutral, points)(neutral)


def weaken(crop: np.ndarray, points: np.ndarray, neutral: np.ndarray, share: float) -> tuple[np.ndarray, float]:
    """``crop`` warped so that its landmarks move ``share`` of the way to the neutral shape
    placed on them; and the landmarks' mean displacement in pixels."""
    if share == 0:
        return crop, 0.0
    moved = points + share * (neutral_target(points, neutral) - points)
    return geometry.warp(crop, points, moved), float(np.linalg.norm(moved - points, axis=1).mean())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="saved model folder")
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--neutral-faces", type=int, default=2000, help="Training neutral faces for the mean shape")
    p.add_argument("--out", help="Markdown file to write (a .json and a .png go beside it)")
    args = p.parse_args(argv)
    ds = data_lib.load(args.data, verbose=False)
    val = data_lib.require(ds.val, "validation (PublicTest)")
    classes = list(ds.classes)
    neutral_label = classes.index("neutral")
    box = geometry.fixed_box(ds.train.images[:800])
    neutral = mean_shape(geometry.crop_landmarks(
        ds.train.images[ds.train.labels == neutral_label][:args.neutral_faces], box, "Training neutral landmarks"))
    points = geometry.crop_landmarks(val.images, box, "PublicTest landmarks")
    clf = pipeline.load_classifier(args.model, views=1)
    expressive = val.labels != neutral_label
    rows, shown = {}, {}
    angry = np.flatnonzero(val.labels == classes.index("angry"))[:10]
    for share in SHARES:
        warped, moved = zip(*(weaken(c, q, neutral, share) for c, q in
                              tqdm(zip(val.images, points), total=len(points), desc=f"share {share:g}", leave=False)))
        warped = np.stack(warped)
        pred = clf.predict(warped)
        s = photoset.scores(metrics.report(val.labels, pred, classes))
        rows[f"{share:g}"] = {
            "moved_px": float(np.mean(np.array(moved)[expressive])), "publictest": s["accuracy"],
            "expressive_as_neutral": float(np.mean(pred[expressive] == neutral_label)), "recall": s["recall"]}
        shown[share] = np.concatenate(list(warped[angry]), 1)
    table = markdown_table(
        ["share of the way to neutral", "landmarks moved (px, mean, expressive faces)", "PublicTest (1 view)",
         "expressive faces read as neutral", *classes],
        [[k, f"{r['moved_px']:.2f}", f"{100 * r['publictest']:.1f}%", f"{100 * r['expressive_as_neutral']:.1f}%",
          *[f"{100 * r['recall'][c]:.0f}" for c in classes]] for k, r in rows.items()])
    text = (f"`{args.model}` on PublicTest faces whose landmarks (68 dlib points, fixed box {box} on 4x crops) "
            "were moved part of the way to the Procrustes mean of "
            f"{args.neutral_faces} Training neutral faces, the image warped to follow (piecewise affine); "
            "recall per class (%).\n\n"
            f"{table}\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    if args.out:
        import cv2

        with atomic_path(Path(args.out).with_suffix(".png")) as tmp:
            big = cv2.resize(np.concatenate([shown[s] for s in SHARES], 0), None, fx=3, fy=3,
                             interpolation=cv2.INTER_NEAREST)
            cv2.imwrite(str(tmp), big)
    return 0


if __name__ == "__main__":
    run(main)

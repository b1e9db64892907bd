"""Does the face's shape help where its texture misleads? A landmark-geometry classifier beside the CNN.

Every CNN fine-tune so far reads JAFFE's posed anger as neutral: the shape cues of a posed
expression (lowered brows, pressed lips) are small against FER2013's intense faces, and the
network may read them through texture that photos do not share. The 68 dlib landmarks carry
that shape with no texture at all. Each 48x48 crop, FER2013's and the photo pipeline's alike,
is upscaled 4x and the landmark predictor placed on one fixed box (the median HOG detection on
FER2013 Training crops), so both sets are measured the same way; the points are normalised for
eye position, angle and distance, and a logistic regression trained on Training. Its log
probabilities are added to the CNN's at a few weights: PublicTest chooses, the photo set shows
generalization. Writes a Markdown table.

    python experiments/landmark_fusion.py results/model --data ../shared/data/fer2013.csv.gz \
        --photos ../shared/data/jaffe --out results/generalization/landmarks.md
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emojax import data as data_lib
from emojax import geometry, metrics, photoset, pipeline
from emojax.io import command_line, markdown_table, report, run

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script, experiments/ is not on the path
    sys.path.insert(0, str(ROOT))
from experiments.generalization_table import diagnosis_parser  # noqa: E402

WEIGHTS = (0.0, 0.2, 0.5, 1.0)


def shape_features(crops: np.ndarray, box: tuple[int, int, int, int], desc: str) -> np.ndarray:
    """(N, 136) landmark coordinates, eye midpoint at the origin, eyes level and one unit apart."""
    return geometry.normalised(geometry.crop_landmarks(crops, box, desc)).reshape(len(crops), -1)


def main(argv=None) -> int:
    p = diagnosis_parser(__doc__)
    args = p.parse_args(argv)
    ds = data_lib.load(args.data, verbose=False)
    photos = photoset.read(args.photos)
    crops, found = photoset.crops(photos, progress=True)
    box = geometry.fixed_box(ds.train.images[:800])
    shape = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced"))
    shape.fit(shape_features(ds.train.images, box, "Training landmarks"), ds.train.labels)
    cnn = pipeline.load_classifier(args.model, views=1)
    log_p = {}
    for name, images in (("val", ds.val.images), ("photos", crops[found])):
        g = shape_features(images, box, f"{name} landmarks")
        log_p[name] = (np.log(cnn.predict_proba(images) + 1e-6), np.log(shape.predict_proba(g) + 1e-6))
    classes = list(cnn.classes)
    truth = np.array([classes.index(ph.emotion) for ph in photos])
    rows = {}
    for w in (*WEIGHTS, None):  # None: the landmark classifier alone
        mix = {k: (b if w is None else a + w * b) for k, (a, b) in log_p.items()}
        pred = np.full(len(photos), -1)  # no face found: wrong, in no column
        pred[found] = mix["photos"].argmax(1)
        rep = metrics.report(truth, pred, classes)
        rows["landmarks alone" if w is None else f"CNN + {w:g} x landmarks"] = {
            "publictest": float(np.mean(mix["val"].argmax(1) == ds.val.labels)), "photos": rep["accuracy"],
            "recall": {c: m["recall"] for c, m in rep["per_class"].items()}}
    table = markdown_table(["classifier", "PublicTest (1 view)", args.photos, *classes],
                           [[name, f"{100 * r['publictest']:.1f}%", f"{100 * r['photos']:.1f}%",
                             *[f"{100 * r['recall'][c]:.0f}" for c in classes]] for name, r in rows.items()])
    text = (f"Landmark geometry (68 dlib points, fixed box {box} on 4x crops), logistic regression on "
            f"Training; its log probabilities added to the CNN's at each weight.\n\n{table}\n\n"
            f"`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

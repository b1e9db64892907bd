"""How does each expression move the face's shape, in FER2013 and in a posed photo set?

For every class, a few measures of the 68 dlib landmarks (``emojax.geometry``: fixed box on 4x
crops, eyes level and one unit apart) are compared with neutral faces: FER2013 Training's
class mean against its neutral mean, and for the photo set each person's class mean against
the same person's neutral photos (then averaged over people), so that who posed does not count.
Units: standard deviations of the measure over FER2013's neutral Training faces. This is what
``fer2013_vgg48_posed`` is built on: where FER2013's anger opens the mouth, JAFFE's lowers and
knits the brows.

    python experiments/expression_shapes.py --data ../shared/data/fer2013.csv.gz \\
        --photos ../shared/data/jaffe --out results/generalization/shapes.md
"""
from __future__ import annotations

import argparse

import numpy as np

from emojax import data as data_lib
from emojax import geometry, photoset
from emojax.io import EmojaxError, command_line, markdown_table, report, run

# Normalised coordinates: x to the face's left-to-right in the image, y downwards, eye distance 1.
MEASURES = {
    "inner brows, height (down +)": lambda n: n[:, [19, 20, 21, 22, 23, 24], 1].mean(1),
    "outer brows, height (down +)": lambda n: n[:, [17, 18, 25, 26], 1].mean(1),
    "gap between the brows": lambda n: n[:, 22, 0] - n[:, 21, 0],
    "eye opening": lambda n: n[:, [41, 40, 47, 46], 1].mean(1) - n[:, [37, 38, 43, 44], 1].mean(1),
    "upper lip, height (down +)": lambda n: n[:, [50, 51, 52, 61, 62, 63], 1].mean(1),
    "mouth corners, height (down +)": lambda n: n[:, [48, 54], 1].mean(1),
    "mouth width": lambda n: n[:, 54, 0] - n[:, 48, 0],
    "mouth opening": lambda n: n[:, 66, 1] - n[:, 62, 1],
    "chin, height (down +)": lambda n: n[:, [7, 8, 9], 1].mean(1),
}


def shifts(values: np.ndarray, labels: np.ndarray, classes, people: np.ndarray | None = None) -> dict:
    """Each class's mean minus neutral's, per person where ``people`` is given (then averaged)."""
    neutral = list(classes).index("neutral")
    groups = [np.ones(len(values), bool)] if people is None else [people == p for p in np.unique(people)]
    out = {}
    for k, c in enumerate(classes):
        if c == "neutral":
            continue
        d = [values[g & (labels == k)].mean() - values[g & (labels == neutral)].mean() for g in groups
             if (g & (labels == k)).any() and (g & (labels == neutral)).any()]
        out[c] = float(np.mean(d)) if d else float("nan")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--photos", required=True, help="labelled photo set whose file names name the person (JAFFE's do)")
    p.add_argument("--limit", type=int, help="first N Training faces only (quick checks)")
    p.add_argument("--out", help="Markdown file to write (a .json goes beside it)")
    args = p.parse_args(argv)
    ds = data_lib.load(args.data, verbose=False)
    train = ds.train.subset(slice(0, args.limit))
    classes = list(ds.classes)
    photos = photoset.read(args.photos)
    people = np.array([ph.person for ph in photos])
    if not all(people):
        raise EmojaxError(f"{args.photos}: the photo set must name each photo's person (JAFFE's file names do)")
    crops, found = photoset.crops(photos, progress=True)
    truth = np.array([classes.index(ph.emotion) for ph in photos])[found]
    box = geometry.fixed_box(train.images[:800])
    fer = geometry.normalised(geometry.crop_landmarks(train.images, box, "Training landmarks"))
    own = geometry.normalised(geometry.crop_landmarks(crops[found], box, "photo landmarks"))
    neutral = train.labels == classes.index("neutral")
    rows = {}
    for name, f in MEASURES.items():
        values = f(fer)
        sd = float(values[neutral].std())
        rows[name] = {"FER2013": {c: v / sd for c, v in shifts(values, train.labels, classes).items()},
                      "photos": {c: v / sd for c, v in shifts(f(own), truth, classes, people[found]).items()}}
    shown = [c for c in classes if c != "neutral"]
    table = markdown_table(
        ["measure", *[f"{c}: FER2013 / photos" for c in shown]],
        [[name, *[f"{r['FER2013'][c]:+.2f} / {r['photos'][c]:+.2f}" for c in shown]] for name, r in rows.items()])
    text = (f"Each class's landmark shape against neutral's: FER2013 Training ({len(train)} faces), class mean "
            f"minus neutral mean; `{args.photos}` ({int(found.sum())} photos with a face found), each "
            "person's class mean minus their own neutral mean, averaged over people. Units: standard "
            "deviations over FER2013's neutral Training faces; eyes level and one unit apart, y downwards.\n\n"
            f"{table}\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

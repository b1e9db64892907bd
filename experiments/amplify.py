"""Expressions made plainer against the same person's other photos: what it does to a model.

The network reads FER2013's expressions mostly from texture and hardly moves for a posed face's
quieter geometry (JAFFE's anger lowers the brows over a closed mouth). ``geometry.amplified``
pushes each face's 68 landmarks (found at full resolution, in the crop's coordinates) further
from a reference shape and warps the crop to match. With the same person's other photos as the
reference, who the person is drops out and only the expression is amplified; FER2013's mean
neutral face as the reference, the control, amplifies who they are too. With the person's photos,
the texture can be amplified too: each face's grey levels moved ``texture`` times as far from the
mean of the person's other crops warped into its shape (``geometry.own_looks``). Strength, region
and texture are chosen on the photo set (JAFFE), never on PrivateTest; PublicTest shows what the control costs
(its faces have no person, so the person reference leaves them as they are).

    python experiments/amplify.py shipped=results/model --data ../shared/data/fer2013.csv.gz \\
        --photos ../shared/data/jaffe --out results/generalization/amplify.md
"""
from __future__ import annotations

import argparse

import numpy as np

from emojax import data as data_lib
from emojax import geometry, photoset
from emojax.io import command_line, markdown_table, named, report, run
from emojax.pipeline import load_classifier

REGIONS = {"whole face": geometry.WHOLE_FACE, "brows and eyes": geometry.BROWS_AND_EYES}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="saved model folders, each FOLDER or NAME=FOLDER")
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--photos", required=True, help="labelled photo set with people (JAFFE's names, a CSV's person column)")
    p.add_argument("--strengths", type=lambda s: [float(v) for v in s.split(",")], default=[2.0, 3.0, 4.0],
                   help="comma-separated strengths (default: 2,3,4)")
    p.add_argument("--textures", type=lambda s: [float(v) for v in s.split(",")], default=[1.0, 2.0],
                   help="comma-separated texture strengths with the person's photos (1: shape only; default: 1,2)")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    ds = data_lib.load(args.data, verbose=False)
    val = data_lib.require(ds.val, "validation (PublicTest)")
    classes = list(ds.classes)
    photos = photoset.read(args.photos)
    images, points, found, _ = photoset.located(photos, progress=True)
    box = geometry.fixed_box(ds.train.images[:800])
    calm = ds.train.images[ds.train.labels == classes.index("neutral")]
    fer_neutral = geometry.normalised(geometry.crop_landmarks(calm, box, "FER2013 neutral landmarks")).mean(0)
    val_points = geometry.crop_landmarks(val.images, box, "PublicTest landmarks")
    fer_refs = lambda pts: np.broadcast_to(fer_neutral, pts.shape)

    settings = [("none", "", 1.0, 1.0)]  # reference, region, strength, texture
    settings += [("FER2013's mean neutral face", "whole face", k, 1.0) for k in args.strengths]
    settings += [("the person's other photos", "whole face", 1.0, t) for t in args.textures if t != 1]
    settings += [("the person's other photos", r, k, t) for r in REGIONS for t in args.textures for k in args.strengths]
    inputs = []  # per setting: the photo set's crops, and PublicTest's (None: unchanged, not scored again)
    for reference, region, k, t in settings:
        if reference == "none":
            inputs.append((images, val.images))
        elif reference.startswith("the person"):
            inputs.append((photoset.amplified([p.person for p in photos], images, points, found, k, REGIONS[region], t)[0], None))
        else:
            crops = images.copy()
            crops[found] = geometry.amplified(images[found], points[found], fer_refs(points[found]), k)
            inputs.append((crops, geometry.amplified(val.images, val_points, fer_refs(val_points), k, progress=True)))
    rows = []
    for name, folder in map(named, args.models):
        for views in (1, 10):
            clf = load_classifier(folder, views=views)
            for (reference, region, k, t), (crops, val_in) in zip(settings, inputs):
                row = {"model": name, "views": views, "reference": reference, "region": region, "strength": k,
                       "texture": t,
                       "photos": photoset.scores(photoset.evaluate(clf, photos, crops, found))}
                if val_in is not None and views == 1:  # what the control costs: one view, as the benchmark
                    row["publictest"] = float(np.mean(clf.predict(val_in) == val.labels))
                rows.append(row)
    table = markdown_table(
        ["model", "views", "reference", "region", "strength", "texture", "PublicTest", "photos", *classes],
        [[r["model"], str(r["views"]), r["reference"], r["region"], f"{r['strength']:g}", f"{r['texture']:g}",
          f"{100 * r['publictest']:.1f}%" if "publictest" in r else "as it is" if r["views"] == 1 else "",
          *photoset.score_cells(r["photos"], classes)] for r in rows], left=4)
    text = (f"Each face's landmarks pushed `strength` times as far from a reference shape, the crop warped to "
            f"match, its grey levels first moved `texture` times as far from the person's usual look "
            f"({args.photos}: {len(photos)} photos, {int(found.sum())} faces found, largest face per photo; "
            f"PublicTest {len(val.images)} faces, one view). Accuracy and recall per class (%); 'as it is': "
            f"PublicTest has no person to compare with, so its faces are unchanged.\n\n{table}\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

"""FER2013's class frequencies divided out at test time: what a set with every emotion equally
often gains, and what FER2013's own test faces lose.

FER2013's classes are far from equal (disgust is 1.5% of Training, happy 25%); a posed set such
as JAFFE has each emotion about equally often. A classifier's probabilities carry its training
set's prior, so the answer for equal classes divides them by that prior (Saerens et al. 2002;
the test-time form of Menon et al. 2021's logit adjustment). Here the prior is raised to a power
``a`` (0: as the model says; 1: the full correction) and each setting scored on PublicTest (one
view, FER2013's frequencies) and on a labelled photo set through the whole pipeline, as it is
and with ``--amplify`` (each face against the same person's other photos): accuracy, balanced
accuracy (the mean of the per-class recalls) and recall per class. Nothing is trained or chosen
on the photo set; the correction is the same fixed rule for any model.

    python experiments/prior_shift.py --data ../shared/data/fer2013.csv.gz \\
        --photos ../shared/data/jaffe --out results/generalization/prior_shift.md
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emojax import data as data_lib
from emojax import photoset
from emojax.io import EmojaxError, command_line, markdown_table, positive_float, positive_int, report, run, shown
from emojax.metrics import report as score
from emojax.pipeline import DEFAULT_MODEL, load_classifier


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--photos", required=True, help="a labelled photo set (as for emojax evaluate --photos)")
    p.add_argument("--model", default=shown(DEFAULT_MODEL, Path.cwd()), help="saved model folder (default: the shipped CNN)")
    p.add_argument("--exponents", type=lambda v: [float(x) for x in v.split(",")], default=[0, 0.5, 0.75, 1],
                   help="comma-separated powers of the prior to divide by (default 0,0.5,0.75,1)")
    p.add_argument("--amplify", type=positive_float, default=3.0, metavar="K", help="strength (default 3)")
    p.add_argument("--limit", type=positive_int, help="only the first N PublicTest faces (default: all)")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    if any(a < 0 for a in args.exponents):
        raise EmojaxError("--exponents must be 0 or more")
    ds = data_lib.load(args.data, verbose=False)
    val = data_lib.require(ds.val, "validation (PublicTest)").subset(slice(args.limit))
    clf = load_classifier(args.model, views=1)
    classes = list(ds.classes)
    if list(clf.classes) != classes:
        raise EmojaxError(f"the model's classes ({', '.join(clf.classes)}) are not FER2013's")
    prior = np.bincount(ds.train.labels, minlength=len(classes)) / len(ds.train.labels)

    photos = photoset.read(args.photos)
    labels = np.array([classes.index(ph.emotion) for ph in photos])
    by_face = not any(ph.person for ph in photos)
    images, points, found, described = photoset.located(photos, progress=True, describe=by_face)
    amplified, _ = photoset.amplified(photoset.who(photos, found, described), images, points, found, args.amplify)
    probs = {"PublicTest": (clf.predict_proba(val.images), val.labels, np.ones(len(val.labels), bool))}
    set_name = Path(args.photos).name
    for name, crops in ((set_name, images), (f"{set_name}, --amplify {args.amplify:g}", amplified)):
        p_found = np.zeros((len(photos), len(classes)), np.float32)
        p_found[found] = clf.predict_proba(crops[found])
        probs[name] = (p_found, labels, found)

    rows = []
    for a in args.exponents:
        for name, (p_set, y, seen) in probs.items():
            pred = np.where(seen, (p_set / prior ** a).argmax(1), -1)  # a photo with no face is wrong
            s = photoset.scores(score(y, pred, classes))
            rows.append({"exponent": a, "set": name, **s, "balanced": float(np.mean(list(s["recall"].values()))),
                         "predicted": np.bincount(pred[seen], minlength=len(classes)).tolist()})
    p_set, y, seen = probs[set_name]  # where the right class stands before any correction
    right = p_set[np.arange(len(y)), y]
    rank = (p_set > right[:, None]).sum(1)
    places = {}
    for k, c in enumerate(classes):
        mine = seen & (y == k)
        if mine.any():
            places[c] = {"ranks": np.bincount(rank[mine], minlength=len(classes)).tolist(),
                         "median probability": float(np.median(right[mine]))}
    rank_table = markdown_table(["class", "faces", "first", "second", "third", "lower", "median probability"],
                                [[c, str(sum(v["ranks"])), *map(str, v["ranks"][:3]), str(sum(v["ranks"][3:])),
                                  f"{v['median probability']:.3f}"] for c, v in places.items()])
    table = markdown_table(["prior exponent", "set", "accuracy", "balanced", *classes],
                           [[f"{r['exponent']:g}", r["set"], f"{100 * r['accuracy']:.1f}%", f"{100 * r['balanced']:.1f}%",
                             *(f"{100 * r['recall'][c]:.0f}" for c in classes)] for r in rows], left=2)
    text = (f"Probabilities divided by FER2013 Training's class frequencies ({', '.join(f'{c} {100 * q:.1f}%' for c, q in zip(classes, prior))}) "
            f"raised to the exponent, then the top class (model `{args.model}`, one view; PublicTest: "
            f"{len(val.labels):,} faces; {args.photos}: {len(photos)} photos, {int(found.sum())} faces found, a photo "
            "with none counted wrong). Balanced: the mean of the recalls per class (%).\n\n"
            f"{table}\n\nWhere the right class stands among the model's {len(classes)} on {args.photos}, its "
            f"faces as they are and no correction:\n\n{rank_table}\n\n`{command_line(__file__, argv)}`\n")
    report(text, {"rows": rows, "ranks": places}, args.out)
    return 0


if __name__ == "__main__":
    run(main)

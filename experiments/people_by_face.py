"""Who is who found by face: how dlib's face recognition groups a named photo set, and what
that does to ``--amplify``.

``--amplify`` compares each face with the same person's other photos; a folder of photos
rarely names its people, so ``emojax.identity`` finds them (dlib's descriptors, Chinese
whispers at a tolerance). On a set that does name them (JAFFE), this measures the descriptors'
distances between photos of one person and of two, and for each tolerance the groups found
against the names (purity: the share of faces in their group's majority person; completeness:
the share of faces in their person's majority group) and the accuracy with ``--amplify``.

    python experiments/people_by_face.py --photos ../shared/data/jaffe \\
        --out results/generalization/people_by_face.md
"""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from emojax import identity, photoset
from emojax.io import command_line, markdown_table, positive_float, report, run, shown
from emojax.pipeline import DEFAULT_MODEL, load_classifier


def agreement(groups, names) -> tuple[float, float]:
    """(purity, completeness) of ``groups`` against ``names``, one entry per face each."""
    groups, names = np.asarray(groups), np.asarray(names)
    purity = sum(Counter(names[groups == g]).most_common(1)[0][1] for g in set(groups)) / len(groups)
    completeness = sum(Counter(groups[names == n]).most_common(1)[0][1] for n in set(names)) / len(names)
    return purity, completeness


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", required=True, help="labelled photo set that names its people (JAFFE's file names, "
                   "a CSV's person column)")
    p.add_argument("--model", default=shown(DEFAULT_MODEL, Path.cwd()), help="saved model folder (default: the shipped CNN)")
    p.add_argument("--tolerances", type=lambda s: [positive_float(v) for v in s.split(",")],
                   default=[0.3, 0.35, 0.4, 0.5, 0.6], help="comma-separated (default: 0.3,0.35,0.4,0.5,0.6)")
    p.add_argument("--amplify", type=positive_float, default=3.0, metavar="K", help="strength (default 3)")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    photos = photoset.read(args.photos)
    if not all(ph.person for ph in photos):
        p.error(f"{args.photos} does not name the person of every photo")
    images, points, found, described = photoset.located(photos, progress=True, describe=True)
    names = np.array([ph.person for ph in photos])[found]
    d = described[found]
    dist = np.linalg.norm(d[:, None] - d[None], axis=-1)
    same, other = names[:, None] == names[None], ~np.eye(len(d), dtype=bool)
    quantiles = lambda x: [float(v) for v in np.percentile(x, [0, 5, 50, 95, 100])]
    distances = {"same person": quantiles(dist[same & other]), "two people": quantiles(dist[~same])}
    clf = load_classifier(args.model, views=1)

    def amplified_accuracy(people) -> dict:
        crops = photoset.amplified(people, images, points, found, args.amplify)[0]
        return photoset.scores(photoset.evaluate(clf, photos, crops, found))

    rows = [{"people by": "name", "groups": len(set(names)), "purity": 1.0, "completeness": 1.0,
             "photos": amplified_accuracy([ph.person for ph in photos])}]
    for t in args.tolerances:
        people = photoset.who(photos, found, described, t)
        purity, completeness = agreement(np.array(people)[found], names)
        rows.append({"people by": f"face, tolerance {t:g}", "groups": len(set(np.array(people)[found])),
                     "purity": purity, "completeness": completeness, "photos": amplified_accuracy(people)})
    classes = list(clf.classes)
    dist_table = markdown_table(["pairs of faces", "min", "5%", "median", "95%", "max"],
                                [[k, *(f"{v:.3f}" for v in q)] for k, q in distances.items()])
    table = markdown_table(["who is who", "groups", "purity", "completeness", "photos", *classes],
                           [[r["people by"], str(r["groups"]), f"{100 * r['purity']:.1f}%",
                             f"{100 * r['completeness']:.1f}%", *photoset.score_cells(r["photos"], classes)]
                            for r in rows], left=1)
    text = (f"{args.photos}: {len(photos)} photos, {int(found.sum())} faces found (the largest per photo), "
            f"{len(set(names))} people named. Distances between dlib's face descriptors (dlib's rule for a pair: "
            f"the same person below 0.6; `emojax.identity` groups a folder at {identity.TOLERANCE:g}):\n\n{dist_table}\n\nGroups found by Chinese whispers at each "
            f"tolerance against the names, and the set's accuracy (%, one view, {args.model}) with every face "
            f"made {args.amplify:g}x plainer against its group's other faces; recall per class (%):\n\n{table}\n\n"
            f"`{command_line(__file__, argv)}`\n")
    report(text, {"distances": distances, "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    run(main)

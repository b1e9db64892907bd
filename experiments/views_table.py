"""What test-time views are worth on photos: each saved model at 1, 2 and 10 views (the face;
with its mirror image; five 2-pixel placements x mirror, ``pipeline.tta_views``) on clean
PublicTest and on a labelled photo set (JAFFE) through the whole face pipeline, per class.

Each model's own setting is chosen on PublicTest alone (``experiments/choose_tta.py``); this
table shows what that choice does to faces from elsewhere, which decides whether the photo
front ends (``predict``, ``serve``, ``Predictor``) should use it. PrivateTest is not looked at.

    python experiments/views_table.py 'shipped=results/model' runs/robust1 \\
        --data ../shared/data/fer2013.csv.gz --photos ../shared/data/jaffe \\
        --out results/generalization/views.md
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emojax import data as data_lib
from emojax import photoset
from emojax.io import command_line, markdown_table, named, report, run
from emojax.pipeline import VIEWS, CNNClassifier


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="saved CNN folders, each FOLDER or NAME=FOLDER")
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--photos", required=True, help="labelled photo set (e.g. JAFFE)")
    p.add_argument("--limit", type=int, help="first N PublicTest images only (quick checks)")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    val = data_lib.require(data_lib.load(args.data, verbose=False).val, "validation (PublicTest)")
    if args.limit:
        val = val.subset(slice(0, args.limit))
    photos = photoset.read(args.photos)
    crops, found = photoset.crops(photos, progress=True)
    rows = []
    for spec in args.models:
        name, folder = named(spec)
        clf = CNNClassifier(folder)
        for views in VIEWS:
            clf.views = views
            rows.append({"model": name, "folder": folder, "views": views,
                         "chosen": views == clf.meta.get("views", 1),
                         "publictest": float(np.mean(clf.predict(val.images) == val.labels)),
                         "photos": photoset.scores(photoset.evaluate(clf, photos, crops, found))})
    classes = list(rows[0]["photos"]["recall"])
    cells = [[f"`{r['model']}`", f"{r['views']}" + (" (its choice)" if r["chosen"] else ""),
              f"{100 * r['publictest']:.1f}%", *photoset.score_cells(r["photos"], classes)] for r in rows]
    text = ("Test-time views: 1 = the face, 2 = and its mirror image, 10 = five 2-pixel placements x mirror; "
            "\"its choice\" is the setting chosen on PublicTest and recorded in the model's model.json "
            "(none recorded: 1). Photo-set columns: accuracy over every photo (no face found counts as "
            "wrong) and recall per class (%).\n\n"
            + markdown_table(["model", "views", "PublicTest", Path(args.photos).name, *classes], cells)
            + f"\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

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

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import photoset  # noqa: E402
from emojax.io import command_line, markdown_table, named, report, run  # noqa: E402
from emojax.pipeline import VIEWS, CNNClassifier  # noqa: E402
from experiments.generalization_table import publictest_and_photos, scoring_parser  # noqa: E402


def main(argv=None) -> int:
    args = scoring_parser(__doc__).parse_args(argv)
    val, photos, crops, found = publictest_and_photos(args)
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

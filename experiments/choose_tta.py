"""Choose a saved model's test-time augmentation on PublicTest, and record it in model.json.

    python experiments/choose_tta.py --checkpoint results/model --data ../shared/data/fer2013.csv.gz

Scores 1, 2 and 10 views (see ``emojax.pipeline.tta_views``) on the validation split only
(PublicTest), keeps the best (fewer views on a tie), and writes ``views`` and the scores into
the model's ``model.json``; ``python -m emojax.evaluate`` then uses that setting. PrivateTest
is never looked at here.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import data as data_lib  # noqa: E402
from emojax import evaluate, pipeline  # noqa: E402
from emojax.io import atomic_path, run  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(ROOT / "results" / "model"), help="saved model folder (default: results/model)")
    p.add_argument("--data", help="dataset (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--ferplus", help="FER+ fer2013new.csv for 8-class models (default: beside --data)")
    args = p.parse_args(argv)
    model, variables, meta, ds = evaluate.load_with_data(args.checkpoint, args.data, args.ferplus)
    val = data_lib.require(ds.val, "validation (PublicTest)")
    scores = {v: evaluate.evaluate(model, variables, val, ds.classes, views=v)["accuracy"] for v in pipeline.VIEWS}
    best = max(scores, key=lambda v: (round(scores[v], 6), -v))
    for v, acc in scores.items():
        print(f"{v:2d} views: {100 * acc:.2f}% on PublicTest" + ("  <- chosen" if v == best else ""))
    meta = {**meta, "views": best, "views_val_accuracy": {str(v): a for v, a in scores.items()}}
    with atomic_path(Path(args.checkpoint) / "model.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    run(main)

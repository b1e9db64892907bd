"""What JAFFE's own raters saw, beside what a model sees: JAFFE ships the mean ratings of 60
Japanese raters on six emotion adjectives (1-5) for each photo (``DATASET_README.txt``). A
posed label is what the poser was asked to show; the raters say how far it came across. Per
posed expression: how often the raters' highest-rated adjective is the posed one, the model's
recall, how often the model names the raters' top adjective, and over all photos the rank
correlation (Spearman) of the model's probability for each emotion with the raters' mean
rating of it. A class the raters themselves mostly read as something else bounds what a
recall on it can mean; a class they read well and the model does not is the model's gap.

    python experiments/jaffe_raters.py results/model --photos ../shared/data/jaffe \\
        --out results/generalization/raters.md
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from emojax import photoset
from emojax.io import EmojaxError, command_line, markdown_table, named, report, run
from emojax.pipeline import load_classifier

# The README's table: index, HAP SAD SUR ANG DIS FEA, picture (e.g. KM-AN1).
ADJECTIVES = ("happy", "sad", "surprise", "angry", "disgust", "fear")
_ROW = re.compile(r"^\s*\d+\s+" + r"([\d.]+)\s+" * 6 + r"([A-Z]{2})-([A-Z]{2})(\d+)\s*$", re.M)


def read_ratings(readme: str | Path) -> dict[tuple[str, str, int], np.ndarray]:
    """``(person, emotion, repetition) -> mean ratings`` in :data:`ADJECTIVES` order, keyed as
    ``photoset.read`` describes a JAFFE photo (``Photo.person``, ``.emotion``, ``.repetition``)."""
    try:
        text = Path(readme).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise EmojaxError(f"cannot read JAFFE's ratings: {e}") from None
    rows = {(m[7], photoset.emotion_name(m[8]), int(m[9])): np.array(m.groups()[:6], float)
            for m in _ROW.finditer(text)}
    if not rows:
        raise EmojaxError(f"{readme}: no semantic ratings found (expected JAFFE's DATASET_README.txt)")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="saved model folders, each FOLDER or NAME=FOLDER")
    p.add_argument("--photos", required=True, help="the JAFFE folder (with DATASET_README.txt)")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    root = Path(args.photos)
    ratings = read_ratings(next(root.rglob("DATASET_README.txt"), root / "DATASET_README.txt"))
    key = lambda ph: (ph.person, ph.emotion, ph.repetition)
    rated = [ph for ph in photoset.read(root) if key(ph) in ratings]
    if not rated:
        raise EmojaxError(f"{root}: no photo matches a rated picture (JAFFE file names expected)")
    r = np.stack([ratings[key(ph)] for ph in rated])
    top = np.array(ADJECTIVES)[r.argmax(1)]
    posed = np.array([ph.emotion for ph in rated])
    crops, found = photoset.crops(rated, progress=True)
    rows, summary = [], []
    for spec in args.models:
        name, folder = named(spec)
        clf = load_classifier(folder)
        classes = list(clf.classes)
        prob = np.full((len(rated), len(classes)), np.nan)
        if found.any():
            prob[found] = clf.predict_proba(crops[found])
        said = np.where(found, np.array(classes)[np.nan_to_num(prob).argmax(1)], "")
        for emo in classes:
            sel = posed == emo
            if not sel.any():
                continue
            rated_emotion = emo != "neutral"  # the raters had no 'neutral' adjective
            rows.append({"model": name, "posed": emo, "photos": int(sel.sum()),
                         "raters_top_is_posed": float((top[sel] == emo).mean()) if rated_emotion else None,
                         "recall": float((said[sel] == emo).mean()),
                         "model_is_raters_top": float((said[sel] == top[sel]).mean()) if rated_emotion else None})
        emotive = posed != "neutral"
        rho = {a: float(spearmanr(prob[found, classes.index(a)], r[found, i]).statistic)
               for i, a in enumerate(ADJECTIVES)}
        summary.append({"model": name, "folder": folder, "photos": len(rated),
                        "raters_top_is_posed": float((top[emotive] == posed[emotive]).mean()),
                        "model_is_posed": float((said[emotive] == posed[emotive]).mean()),
                        "model_is_raters_top": float((said[emotive] == top[emotive]).mean()),
                        "spearman": rho})
    pct = lambda v: "" if v is None else f"{100 * v:.0f}"
    table = markdown_table(["model", "posed", "photos", "raters' top = posed", "model recall",
                            "model = raters' top"],
                           [[f"`{x['model']}`", x["posed"], str(x["photos"]), pct(x["raters_top_is_posed"]),
                             pct(x["recall"]), pct(x["model_is_raters_top"])] for x in rows], left=2)
    table2 = markdown_table(["model", "raters' top = posed", "model = posed", "model = raters' top",
                             *[f"rho {a}" for a in ADJECTIVES]],
                            [[f"`{s['model']}`", pct(s["raters_top_is_posed"]), pct(s["model_is_posed"]),
                              pct(s["model_is_raters_top"]), *[f"{s['spearman'][a]:.2f}" for a in ADJECTIVES]]
                             for s in summary], left=1)
    text = (f"JAFFE's 60 raters and the model, {len(rated)} rated photos (percentages per posed "
            "expression; the raters rated no 'neutral' adjective, so their top adjective is compared "
            "on the six posed emotions only). One view, largest face per photo; no face found "
            f"counts as wrong.\n\n{table}\n\nThe six posed emotions together, and the rank correlation "
            "over all photos of the model's probability with the raters' mean rating of each "
            f"emotion:\n\n{table2}\n\n`{command_line(__file__, argv)}`\n")
    report(text, {"per_class": rows, "summary": summary}, args.out)
    return 0


if __name__ == "__main__":
    run(main)

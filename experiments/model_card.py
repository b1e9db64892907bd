"""A model card for a saved model (Mitchell et al. 2019): what it is, what it is for and not
for, and how it did, every figure read from the evaluation files in its folder, so the card
says no more than was measured. Written as the folder's README.md (shown when the folder is
browsed); a section whose file is absent says how to make it.

    python experiments/model_card.py results/model

Reads ``model.json`` and ``metrics.json`` (written by training), ``eval_test.json`` (``python
-m emojax.evaluate --model M --data D --out M``), ``eval_photos_<set>.json`` (``... --photos
DIR``) and ``eval_val_corruptions.json`` (``... --corruptions --views 1``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from emojax.io import EmojaxError, atomic_path, markdown_table, run, shown
from emojax.models import read_meta

ROOT = Path(__file__).resolve().parents[1]
LOW = 0.30  # a class recalled less often than this on a photo set is named a limitation

USE = """## Intended use
- Research and teaching on facial-expression recognition; demos (`emojax live`, `emojax serve`);
  a baseline to compare new models and recipes with.
- Input: photos or video frames with frontal, unoccluded faces that dlib's HOG detector finds
  (`--upsample` finds smaller ones), aligned on 68 landmarks and cut to 48x48 grey crops framed
  like FER2013's.

## Out of scope
- Decisions about people (hiring, education, policing, health, security). A facial expression
  is not a felt emotion: the model reads the face a crowd would label, not what the person feels.
- Profile or strongly turned faces (the detector is frontal), faces under masks or heavy
  occlusion, infants; anything the figures below were not measured on.
"""

DATA = """## Training data
FER2013 (Goodfellow et al. 2013): 48x48 grey web images found by keyword search, one label each
from 7 classes; Training split only (28,709 images), chosen on PublicTest (3,589), reported on
PrivateTest (3,589). The classes are unbalanced (disgust is 1.5% of Training), the labels are
noisy (one labeller each; FER+ relabelled the same images by crowd vote for that reason), and
the people in it are not described by age, sex or skin tone, so the model's accuracy per group
is unknown: it has not been measured.
"""

FERPLUS_DATA = """## Training data
FER+ (Barsoum et al. 2016): FER2013's 48x48 grey web images relabelled by ten crowd workers
each, in 8 classes (FER2013's 7 and contempt); trained on their votes for the Training split,
chosen on PublicTest, reported on PrivateTest. The people in it are not described by age, sex or
skin tone, so the model's accuracy per group is unknown: it has not been measured.
"""


def _data(meta: dict) -> str:
    """The training-data section for the labels the model was trained on."""
    text = FERPLUS_DATA if meta.get("labels") == "ferplus" else DATA
    if meta.get("personalized_from"):
        text += (f"\nThen fine-tuned on one person's labelled faces (`emojax personalize`, from "
                 f"`{meta['personalized_from']}`): it is meant for that person, and the figures below "
                 "are for the model it started from unless they were measured again.\n")
    return text


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except ValueError as e:
        raise EmojaxError(f"{path}: not JSON ({e})") from None


def _read_as(rep: dict, classes: list[str], c: str, most: int = 2) -> str:
    """What the faces of class ``c`` were taken for most often, from the confusion matrix."""
    row = rep["confusion"][classes.index(c)]
    wrong = sorted(((n, k) for k, n in zip(classes, row) if k != c and n), reverse=True)[:most]
    return f"of {sum(row)}: " + ", ".join(f"{k} {n}" for n, k in wrong) if wrong else f"all {sum(row)} right"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _views(n: int | str) -> str:
    """``1 view``, ``2 views`` (model.json keys its accuracies by the count as a string)."""
    return f"{n} view" + ("s" if int(n) != 1 else "")


def card(folder: Path) -> str:
    """The card's Markdown, from the files in ``folder``."""
    meta = read_meta(folder)
    where = shown(folder, ROOT)
    metrics = _read(folder / "metrics.json") or {}
    test = _read(folder / "eval_test.json")
    sets = {p.stem.removeprefix("eval_photos_"): _read(p) for p in sorted(folder.glob("eval_photos_*.json"))}
    corr = _read(folder / "eval_val_corruptions.json")
    classes = meta["classes"]
    size = sum(p.stat().st_size for p in (folder / "weights").rglob("*") if p.is_file()) / 1e6
    kwargs = ", ".join(f"{k}={v}" for k, v in meta.get("kwargs", {}).items())
    out = [f"# Model card: `{where}`", "",
           f"`{meta['model']}` ({kwargs}), {len(classes)} classes ({', '.join(classes)}), weights "
           f"{size:.1f} MB; test-time views: {meta.get('views', 1)} (chosen on PublicTest). "
           "Layers and the reasons for them: `architecture.txt` where present.", ""]
    if metrics.get("command"):
        out += [f"Trained by `{metrics['command']}` ({metrics.get('epochs_run', '?')} epochs, the best on "
                f"PublicTest kept: epoch {metrics.get('best_epoch', '?')}; {metrics.get('device', '?')}, "
                f"{metrics.get('train_time_s', 0) / 60:.0f} minutes for this last step).", ""]
    out += [USE, _data(meta), "## Evaluation", ""]
    rows = []
    views = meta.get("views_val_accuracy", {})
    for v, acc in views.items():
        rows.append([f"FER2013 PublicTest (used to choose), {_views(v)}", _pct(acc), "model.json"])
    if test:
        rows.append([f"FER2013 PrivateTest, {_views(test['views'])}",
                     f"**{_pct(test['accuracy'])}**", "eval_test.json"])
    if metrics.get("test_accuracy") is not None:
        rows.append(["FER2013 PrivateTest, 1 view (live prediction's)", _pct(metrics["test_accuracy"]),
                     "metrics.json"])
    for name, rep in sets.items():
        found = f"; faces found in {rep['faces_found']} of {rep['faces_found'] + len(rep['no_face'])}"
        rows.append([f"{name} photos through the whole pipeline, {_views(rep['views'])}"
                     f"{found}", f"**{_pct(rep['accuracy'])}**", f"eval_photos_{name}.json"])
    out += [markdown_table(["set", "file", "accuracy"], [[a, f, b] for a, b, f in rows], left=2)
            if rows else "Nothing measured yet.", ""]
    if not test:
        out += ["PrivateTest not measured: `python -m emojax.evaluate --model MODEL --data FER2013 --out MODEL`.", ""]
    recall = {"PrivateTest": test} if test else {}
    recall.update(sets)
    if recall:
        out += ["Recall per class (%: the share of each class's faces the model names right):", "",
                markdown_table(["class", *recall], [[c, *[f"{100 * r['per_class'][c]['recall']:.0f}"
                                                          for r in recall.values()]] for c in classes]), ""]
    if corr:
        c = corr["corruptions"]
        worst_severe = max(c["severe"], key=lambda k: c["severe"][k]["drop"])
        out += ["Camera-like corruptions of PublicTest (`emojax.robustness`, "
                f"{_views(corr['views'])}; clean {_pct(c['clean'])}): the worst mild one, "
                f"{c['worst_mild']}, costs {c['mild'][c['worst_mild']]['drop']:.1f} points, the worst severe one, "
                f"{worst_severe}, {c['severe'][worst_severe]['drop']:.1f} (each +- about 1, paired 95%; "
                "every corruption in eval_val_corruptions.json).", ""]
    else:
        out += ["Corruptions not measured: `python -m emojax.evaluate --model MODEL --corruptions --views 1`.", ""]
    out += ["## Limitations", ""]
    for name, rep in sets.items():
        weak = [f"{c} {100 * rep['per_class'][c]['recall']:.0f}% ({_read_as(rep, classes, c)})" for c in classes
                if rep["per_class"][c]["support"] and rep["per_class"][c]["recall"] < LOW]
        if weak:
            out.append(f"- On {name}, photos of people FER2013 does not hold, some expressions are seldom named "
                       f"right (recall, and what their photos were read as): {'; '.join(weak)}. Several photos "
                       "or seconds of video of the same person help (`--amplify 3`, in the top-level README).")
    if test:
        least = min(classes, key=lambda c: test["per_class"][c]["recall"])
        out.append(f"- On PrivateTest the class named right least often is {least} "
                   f"({100 * test['per_class'][least]['recall']:.0f}% recall; {_read_as(test, classes, least)}).")
    out += ["- The detector misses small, turned and partly hidden faces; a missed face gets no answer.", "",
            f"Made by `python experiments/model_card.py {where}` from the files named above.", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", type=Path, help="a saved model folder")
    p.add_argument("--out", type=Path, help="where to write (default: MODEL/README.md)")
    args = p.parse_args(argv)
    try:
        text = card(args.model)
    except (KeyError, TypeError, IndexError, AttributeError) as e:
        raise EmojaxError(f"{args.model}: an evaluation file lacks what the card reads ({e!r})") from None
    out = args.out or args.model / "README.md"
    with atomic_path(out) as tmp:
        tmp.write_text(text)
    print(f"{out}: {len(text.splitlines())} lines")
    return 0


if __name__ == "__main__":
    run(main)

"""Is a photo set's expression in the network's features, or only missing from its decision rule?

Every generic model reads JAFFE's posed anger as neutral (``results/generalization/runs.md``),
and no per-class offset on its outputs recovers it (``offsets.md``). This asks the question a
step earlier: a linear classifier is fitted on the photo set's other people and scored on each
person in turn (leave one person out), on each feature set: the VGG's last convolutional stage,
its penultimate layer, its seven logits, and, as references that never saw FER2013's labels, HOG,
raw pixels and dlib's face-recognition ResNet (descriptor and pooled features). A probe that
reads anger where the network's own rule does not means the representation holds it and the
rule learnt from FER2013 puts it elsewhere. Beside it: the FER2013 Training labels of each face's
20 nearest training faces in the penultimate space (where FER2013 keeps faces like it; FER+'s
crowd votes for the same faces beside them, where ``fer2013new.csv`` lies beside the data), and the
network's logits centred per person (no labels: each person's mean logits moved to PublicTest's).
The probes train on the photo set: a diagnosis, never a model to ship. One view, C = 0.1 fixed
beforehand (on JAFFE, C from 0.01 to 1 moved the shipped model's figures by up to three points,
five for the probe on the logits).

    python experiments/linear_probe.py results/model --data ../shared/data/fer2013.csv.gz \\
        --photos ../shared/data/jaffe --out results/generalization/probe.md
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emojax import baseline, metrics, models, photoset, pretrained
from emojax import data as data_lib
from emojax.data import FER_CLASSES
from emojax.io import EmojaxError, command_line, markdown_table, positive_int, report, run

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script, experiments/ is not on the path
    sys.path.insert(0, str(ROOT))
from experiments.generalization_table import diagnosis_parser  # noqa: E402

NEIGHBOURS = 20


def vgg_features(model, variables, images: np.ndarray, batch: int = 512) -> dict[str, np.ndarray]:
    """The last convolutional stage (flattened), the penultimate layer and the logits of a VGG
    for uint8 crops (N, 48, 48): the outputs of its last two dropouts (identities at test time)."""
    last = len(model.stages)
    parts: dict[str, list[np.ndarray]] = {"conv": [], "penultimate": [], "logits": []}
    for i in range(0, len(images), batch):
        x = images[i:i + batch, ..., None].astype(np.float32) / 255.0
        logits, state = model.apply(variables, x, capture_intermediates=True, mutable=["intermediates"])
        inter = state["intermediates"]
        parts["conv"].append(np.asarray(inter[f"Dropout_{last - 1}"]["__call__"][0]).reshape(len(x), -1))
        parts["penultimate"].append(np.asarray(inter[f"Dropout_{last}"]["__call__"][0]))
        parts["logits"].append(np.asarray(logits))
    return {k: np.concatenate(v) for k, v in parts.items()}


def probe(features: np.ndarray, labels: np.ndarray, people: np.ndarray) -> np.ndarray:
    """Leave-one-person-out predictions of a standardised logistic regression."""
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
    return cross_val_predict(clf, features, labels, groups=people, cv=LeaveOneGroupOut())


def centred(logits: np.ndarray, people: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each person's logits moved so that their mean is ``reference``."""
    out = logits.copy()
    for who in np.unique(people):
        m = people == who
        out[m] += reference - logits[m].mean(0)
    return out


def scored(truth: np.ndarray, pred: np.ndarray, classes) -> dict:
    return photoset.scores(metrics.report(truth, pred, classes))


def main(argv=None) -> int:
    p = diagnosis_parser(__doc__)
    p.add_argument("--limit", type=positive_int, help="only the first N Training faces as neighbours (quick checks)")
    args = p.parse_args(argv)
    model, variables, meta = models.load(args.model)
    if not isinstance(model, models.VGG) or tuple(meta["classes"]) != FER_CLASSES:
        raise EmojaxError(f"{args.model}: a VGG of FER2013's seven classes is needed (its layers are read by name)")
    photos = photoset.read(args.photos)
    people = np.array([ph.person for ph in photos])
    if not all(people) or len(set(people)) < 2:
        raise EmojaxError(f"{args.photos}: the photo set must name at least two people (JAFFE's file names do)")
    src = data_lib.find_data(args.data)  # FER+'s ten raters for the same faces, where fer2013new.csv lies beside
    votes = src is not None and src.with_name("fer2013new.csv").is_file()
    ds = data_lib.load(args.data, verbose=False, ferplus_soft=votes)
    crops, found = photoset.crops(photos, progress=True)
    photos, people, crops = [ph for ph, f in zip(photos, found) if f], people[found], crops[found]
    classes = list(FER_CLASSES)
    truth = np.array([classes.index(ph.emotion) for ph in photos])

    own = vgg_features(model, variables, crops)
    train = ds.train.subset(slice(0, args.limit))
    fer = vgg_features(model, variables, train.images)
    dlib = pretrained.crop_features(crops)
    sets = {"VGG last conv stage": own["conv"], "VGG penultimate": own["penultimate"],
            "VGG logits": own["logits"], "HOG (the SVM baseline's)": baseline.HogFeatures().fit(crops).transform(crops),
            "pixels": crops.reshape(len(crops), -1).astype(np.float32),
            "dlib ResNet descriptor": dlib["descriptor"], "dlib ResNet pooled": dlib["pooled"]}
    rows: dict[str, dict] = {"the network's own rule (as trained)": scored(truth, own["logits"].argmax(1), classes)}
    val_logits = vgg_features(model, variables, ds.val.images)["logits"]
    rows["its logits centred per person (no labels)"] = scored(
        truth, centred(own["logits"], people, val_logits.mean(0)).argmax(1), classes)
    for name, f in sets.items():
        rows[f"probe on {name} ({f.shape[1]})"] = scored(truth, probe(f, truth, people), classes)

    unit = lambda a: a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-9)
    near = np.argsort(-(unit(own["penultimate"]) @ unit(fer["penultimate"]).T), 1)[:, :NEIGHBOURS]
    labels = np.eye(len(classes))[train.labels]
    neighbours = {what: {c: t[near[truth == k]].mean((0, 1)).tolist()
                         for k, c in enumerate(classes) if (truth == k).any()}
                  for what, t in (("FER2013 labels", labels), ("FER+ votes", train.targets)) if t is not None}

    table = markdown_table(["rule", args.photos, *classes],
                           [[n, *photoset.score_cells(r, classes)] for n, r in rows.items()])
    near_rows = [[c, what, *[f"{100 * v:.0f}" for v in by_class[c]]]
                 for c in neighbours["FER2013 labels"] for what, by_class in neighbours.items()]
    near_table = markdown_table(["photo set's class", "neighbours'", *[f"{c} (%)" for c in classes]], near_rows)
    text = (f"`{args.model}`, one view, {len(photos)} photos with a face found, {len(set(people))} people. "
            "Probes: logistic regression fitted on the other people, scored on each person in turn "
            "(leave one person out); recall per class (%).\n\n"
            f"{table}\n\nThe FER2013 Training labels (and FER+'s crowd votes over the same seven classes, "
            f"the label where FER+ drops a face) of each photo's {NEIGHBOURS} nearest training faces "
            "(cosine, penultimate layer), averaged per class of the photo set:\n\n"
            f"{near_table}\n\n`{command_line(__file__, argv)}`\n")
    report(text, {"rules": rows, "neighbours": neighbours}, args.out)
    return 0


if __name__ == "__main__":
    run(main)

"""``emojax evaluate`` (``python -m emojax.evaluate``): a saved model scored on PrivateTest, a
labelled photo set or the corruption benchmark; prints the report and writes the confusion
matrix and the JSON beside the model (or in ``--out``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emojax import data as data_lib
from emojax.evaluate import evaluate, load_with_data, plot_confusion
from emojax.io import atomic_path, check_out_dir, non_negative_int, positive_float, run, shown
from emojax.metrics import format_report
from emojax.pipeline import DEFAULT_MODEL, VIEWS


def _write_json(path: Path, obj: dict) -> None:
    import json

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m emojax.evaluate",
        description="Evaluate a saved model: on the test split (PrivateTest, the default), on a labelled "
        "photo set through the whole face pipeline (--photos), or under camera-like corruptions "
        "(--corruptions, on PublicTest).")
    p.add_argument("--model", "--checkpoint", dest="model",
                   help="saved model folder (with model.json and weights/); default: the shipped CNN "
                   "(results/model in a checkout, wherever the command is run from)")
    p.add_argument("--data", help="dataset path (default: $EMOJAX_DATA, then data/fer2013.csv[.gz])")
    p.add_argument("--ferplus", help="FER+ fer2013new.csv for 8-class models (default: beside --data)")
    p.add_argument("--split", choices=("test", "val"),
                   help="test = PrivateTest (what we report); val = PublicTest (default: test, "
                   "val with --corruptions: robustness is chosen on, never reported from, the test split)")
    p.add_argument("--views", type=int, choices=VIEWS,
                   help="test-time augmentation: 1 = none, 2 = average with the mirrored face, 10 = five "
                   "2-pixel placements x mirror (default: the model's own setting in model.json, chosen on "
                   "PublicTest by experiments/choose_tta.py; 1 if it has none; predict and live use 1)")
    p.add_argument("--photos", metavar="DIR",
                   help="a labelled photo set instead of the dataset: a folder per emotion, a CSV of "
                   "file,emotion (or DIR/label.csv), or JAFFE file names; faces not found count as wrong")
    p.add_argument("--upsample", type=non_negative_int, default=1,
                   help="with --photos: times the face detector upsamples each photo (default 1)")
    p.add_argument("--amplify", type=positive_float, metavar="K",
                   help="with --photos: make each face's expression K times plainer against the same person's "
                   "other photos before classifying (the face's landmarks pushed K times as far from that "
                   "person's average shape, its grey levels twice as far from their usual look; 3 was chosen on "
                   "JAFFE). Who is who: the set's own names (JAFFE's file names, a person column in the CSV), else "
                   "the people dlib's face recognition finds among the photos (see --tolerance)")
    p.add_argument("--tolerance", type=positive_float, metavar="T",
                   help="with --amplify: find who is who by face recognition even where the set names people: "
                   "faces closer than T are one person (default for sets that name nobody: 0.35, tight so that "
                   "strangers are not compared with each other)")
    p.add_argument("--corruptions", action="store_true",
                   help="also score the split under the corruption benchmark (noise, JPEG, blur, contrast, "
                   "lighting, sharpening, low resolution; emojax.robustness)")
    p.add_argument("--out", help="folder for the confusion matrix PNG and the JSON report "
                   "(default: the model folder)")
    args = p.parse_args(argv)
    if args.amplify and not args.photos:
        p.error("--amplify works on a photo set: give --photos DIR")
    if args.tolerance and not args.amplify:
        p.error("--tolerance says who is who for --amplify: give --amplify K")
    check_out_dir(args.out)
    from emojax.pipeline import CNNClassifier

    args.model = args.model or shown(DEFAULT_MODEL, Path.cwd())
    clf = CNNClassifier(args.model)
    views = args.views or clf.meta.get("views", 1)
    clf.views = views
    out = Path(args.out or args.model)
    tag = f" ({views} test-time views)" if views > 1 else " (1 view)"
    if args.photos:
        from emojax import geometry, photoset

        photos = photoset.read(args.photos)
        rep = photoset.evaluate(clf, photos, upsample=args.upsample, progress=True, amplify=args.amplify,
                                 tolerance=args.tolerance)
        name = Path(args.photos).name or "photos"
        print(f"Accuracy on {args.photos}: {100 * rep['accuracy']:.1f}% of {len(photos)} photos{tag}; "
              f"faces found in {rep['faces_found']}")
        if args.amplify:
            by = "by their names" if rep["people_by"] == "name" else "found by face"
            people = f"{rep['people']} {'person' if rep['people'] == 1 else 'people'}"
            print(f"expressions made {args.amplify:g}x plainer against the same person's other photos: "
                  f"{rep['amplified']} faces of {people} ({by}; the rest have no person, or fewer "
                  f"than {geometry.MIN_OTHERS} other photos of them)")
        print(format_report(rep))
        for f in rep["no_face"]:
            print(f"no face found: {f}", file=sys.stderr)
        stem = f"photos_{name}"
        title = f"{Path(args.model).name} on {name}: {100 * rep['accuracy']:.1f}%"
        classes = clf.classes
    else:
        model, variables, meta, ds = load_with_data(args.model, args.data, args.ferplus)
        split_name = args.split or ("val" if args.corruptions else "test")
        split = data_lib.require(getattr(ds, split_name), "test (PrivateTest)" if split_name == "test"
                                 else "validation (PublicTest)")
        rep = evaluate(model, variables, split, ds.classes, views=views)
        name = "test set" if split_name == "test" else "validation set"
        print(f"Accuracy on {name}: {100 * rep['accuracy']:.1f}%{tag}")
        print(format_report(rep))
        if args.corruptions:
            from emojax import robustness

            rep["corruptions"] = robustness.benchmark(clf, split.images, split.labels, progress=True)
            print(robustness.format_benchmark(rep["corruptions"]))
            worst = rep["corruptions"]["worst_mild"]
            w = rep["corruptions"]["mild"][worst]
            print(f"worst mild corruption: {worst}, {w['drop']:.1f} points lost (+- {w['drop_ci']:.1f}, paired 95%)")
        stem, classes = split_name, ds.classes
        title = f"{Path(args.model).name}: {100 * rep['accuracy']:.1f}% on {name}"
    rep.update(model=str(args.model), views=views, photos=args.photos, data=None if args.photos else ds.source)
    plot_confusion(rep["confusion"], classes, out / f"confusion_{stem}.png", title)
    if args.photos or args.corruptions or args.out:
        _write_json(out / f"eval_{stem}{'_corruptions' if args.corruptions else ''}.json", rep)
    print(f"confusion matrix: {out / f'confusion_{stem}.png'}", file=sys.stderr)
    return 0


def cli() -> None:
    run(main)


"""``emojax predict`` (``python -m emojax.predict``): faces in photos, folders and videos, one
line (or JSON object) per face.

Exit status: 0 when every input was processed, 1 when some inputs failed (each one an
``error:`` line) and the rest were processed, 2 when nothing could be done.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from emojax.io import EmojaxError, atomic_path, check_out_dir, non_negative_int, positive_float, run
from emojax.photoset import IMAGE_EXTS
from emojax.pipeline import FacePrediction, Predictor
from emojax.predict import annotate
from emojax.video import VIDEO_EXTS


def _expand(paths: Sequence[str]) -> tuple[list[Path], list[str]]:
    files, errors = [], []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTS)
            files += found
            if not found:
                errors.append(f"{p}: no images in this folder")
        elif p.exists():
            files.append(p)
        else:
            errors.append(f"{p}: no such file or folder")
    return files, errors


def _album(predictor: Predictor, photos: list[Path], strength: float, tolerance: float | None
           ) -> tuple[dict[Path, list[FacePrediction]], dict[Path, EmojaxError]]:
    """``predict --amplify`` on photos: all of them together (``Predictor.predict_amplified``),
    each read once; the predictions per readable photo, and why each other one could not be read
    (said at its turn, like any input's error)."""
    from tqdm import tqdm

    from emojax import face, geometry

    readable, unread = [], {}

    def images():
        for f in tqdm(photos, desc="faces and who is who", unit="photo", leave=False, disable=len(photos) < 10):
            try:
                image = face.load_image(f)
            except EmojaxError as e:
                unread[f] = e
                continue
            readable.append(f)
            yield image

    preds, counts = predictor.predict_amplified(images(), strength, tolerance)
    if counts["faces"]:
        n = counts["people"]
        print(f"{counts['amplified']} of {counts['faces']} faces made {strength:g}x plainer against the same "
              f"person's other faces ({n} {'person' if n == 1 else 'people'} found by face; a person needs "
              f"{geometry.MIN_OTHERS + 1} faces)", file=sys.stderr)
    return dict(zip(readable, preds)), unread


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emojax.predict",
                                 description="Find faces in images and predict their emotion.")
    ap.add_argument("paths", nargs="+", help="image files, folders of images (searched recursively), or "
                    f"video files ({', '.join(VIDEO_EXTS)})")
    ap.add_argument("--model", help="saved CNN folder, a .joblib SVM, or 'svm' for the shipped "
                    "baseline (default: the shipped CNN in results/model)")
    ap.add_argument("--annotate", metavar="OUT", help="folder for copies with boxes, labels and "
                    "probability bars drawn")
    ap.add_argument("--json", action="store_true", help="one JSON object per face instead of text (for "
                    "videos: per face per --every seconds, with its time)")
    ap.add_argument("--out", metavar="DIR", help="videos: write DIR/<name>_emotions.csv and "
                    "DIR/<name>_timeline.png (each emotion's probability over time, per tracked face)")
    ap.add_argument("--every", type=positive_float, default=1.0, metavar="SECONDS",
                    help="videos: one result per face every this many seconds of video (default 1)")
    ap.add_argument("--amplify", type=positive_float, metavar="K",
                    help="make each face's expression K times plainer against the same person's usual face "
                    "before classifying (3 was chosen on JAFFE): in a video, its own earlier frames, as 'live "
                    "--amplify'; in photos, the same person's other faces among the photos given (who is who found "
                    "by dlib's face recognition; a person needs at least 4 faces)")
    ap.add_argument("--tolerance", type=positive_float, metavar="T",
                    help="photos with --amplify: faces closer than T are one person (default 0.35, tight so that "
                    "strangers are not compared with each other; a folder of one person's photos can take 0.6)")
    ap.add_argument("--upsample", type=non_negative_int, default=1,
                    help="times the face detector upsamples the image: finds smaller faces, slower")
    ap.add_argument("--detector", choices=("hog", "cnn"), default="hog",
                    help="face detector: dlib's HOG (fast, the default) or its MMOD CNN (finds turned and "
                    "partly hidden faces; about 100x slower on a CPU)")
    ap.add_argument("--views", type=int, choices=(1, 2, 10),
                    help="CNN test-time views (default: the model's chosen setting, recorded in its "
                    "model.json: 10 for the shipped model, about 50 ms a face); 1 = one forward pass "
                    "per face, as live uses")
    args = ap.parse_args(argv)
    if args.every <= 0:
        ap.error("--every must be positive")
    if args.tolerance and not args.amplify:
        ap.error("--tolerance says who is who for --amplify: give --amplify K")
    check_out_dir(args.annotate, "--annotate")
    check_out_dir(args.out)
    import cv2

    from emojax import face, video

    files, errors = _expand(args.paths)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    failed = len(errors)
    from emojax.pipeline import load_classifier

    predictor = Predictor(load_classifier(args.model, views=args.views), upsample=args.upsample,
                          detector=args.detector)
    photos = [f for f in files if not video.is_video(f)]
    amplified, unread = _album(predictor, photos, args.amplify, args.tolerance) if args.amplify and photos else ({}, {})
    done = 0
    for f in files:
        if video.is_video(f):
            try:
                rows = video.track(f, predictor.classifier, every=args.every, progress=True,
                                   amplify=args.amplify)
            except EmojaxError as e:
                print(f"error: {e}", file=sys.stderr)
                failed += 1
                continue
            done += 1
            if args.json:
                for r in rows:
                    print(json.dumps({"file": str(f), **r}))
            else:
                print("\n".join(video.lines(rows)))
            if args.out:
                video.write_csv(rows, predictor.classes, Path(args.out) / f"{f.stem}_emotions.csv")
                video.plot_timeline(rows, predictor.classes, Path(args.out) / f"{f.stem}_timeline.png", f.name)
            continue
        try:
            if f in unread:
                raise unread[f]
            image = face.load_image(f) if f not in amplified or args.annotate else None
        except EmojaxError as e:
            print(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        done += 1
        preds = amplified[f] if f in amplified else predictor.predict(image)
        if not preds:
            print(f"{f}: no face found", file=sys.stderr)
        for i, p in enumerate(preds):
            if args.json:
                print(json.dumps({"file": str(f), "face": i, **p.to_dict()}))
            else:
                print(f"{f}\tface {i}\tbox {p.box}\t{p.emotion}\t{100 * p.probability:.0f}%")
        if args.annotate:
            out = Path(args.annotate) / f"{f.stem}_annotated.png"
            with atomic_path(out) as tmp:
                if not cv2.imwrite(str(tmp), annotate(image, preds)):
                    raise EmojaxError(f"cannot write {out}")
    if done == 0:  # every input failed and said why, one line each
        if not failed:
            raise EmojaxError("no input could be processed")
        return 2
    return 1 if failed else 0


def cli() -> None:
    run(main)


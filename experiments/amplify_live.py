"""``live --amplify``: a person's expressions made plainer against their own usual face, on video.

For a photo set, ``evaluate --photos DIR --amplify K`` compares each face with the same person's
other photos, which needs to know who is who. The live predictor follows one face across frames,
so its own past frames are that reference, no names needed: ``FaceTracker(amplify=K)`` keeps each
track's usual look (mean shape and mean crop of its frames older than ``track.AMPLIFY_LAG`` seconds)
and, once the face has been followed ``track.AMPLIFY_AFTER`` seconds, moves each crop away from it.

This measures it on a photo set with people (JAFFE) played as videos: per person, their photos in a
shuffled order, each held ``--hold`` seconds, written as an MP4 (so the frames pass a video codec,
as a webcam's do) and read back through the live predictor's tracker as ``emojax predict clip.mp4``
reads it (``video.tracked``: one view, smoothing, detection every third frame). A photo is scored by the tracker's smoothed emotion at its
last frame; no face there counts as wrong. Each video plays the photos ``--passes`` times: the first
pass is a person just sat down in front of the camera (the reference holds only the photos shown
so far), the second one who has been there a while (all their photos, this one included, once).
The videos live in a temporary folder and are deleted. ``--views 10`` scores as the web page's
webcam does (its stream uses the model's chosen test-time views; ``live`` uses one).

    python experiments/amplify_live.py --photos ../shared/data/jaffe --out results/generalization/amplify_live.md
    python experiments/amplify_live.py --photos ../shared/data/jaffe --views 10 --passes 1 \
        --out results/generalization/amplify_web.md
"""
from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from emojax import face, geometry, live, photoset, track, video
from emojax.metrics import report as metrics
from emojax.io import EmojaxError, command_line, markdown_table, report, run
from emojax.pipeline import VIEWS, load_classifier


def write_video(photos: list[photoset.Photo], path: Path, hold: float, fps: float) -> list[int]:
    """The photos one after another, each ``hold`` seconds; returns each photo's last frame index."""
    images = [face.load_image(p.path) for p in photos]
    h, w = max(i.shape[0] for i in images) // 2 * 2, max(i.shape[1] for i in images) // 2 * 2
    writer = live.open_writer(path, fps, (h, w))
    per, last = max(1, round(hold * fps)), []
    for image in images:
        frame = cv2.cvtColor(cv2.resize(image, (w, h)), cv2.COLOR_RGB2BGR)
        for _ in range(per):
            writer.write(frame)
        last.append(len(last) * per + per - 1)
    writer.release()
    return last


def play(path: Path, last: list[int], classifier, amplify: float | None) -> tuple[list[int], list[bool]]:
    """The tracker's emotion (class index, -1 for no face) at each photo's last frame, and
    whether the classifier saw that face amplified."""
    wanted, pred, changed = set(last), [], []
    for frame_no, (_, tracks) in enumerate(video.tracked(path, classifier, amplify)):
        if frame_no in wanted:
            tr = face.largest(tracks)
            pred.append(-1 if tr is None else int(np.argmax(tr.probs)))
            changed.append(tr is not None and tr.amplified)
    return pred, changed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", required=True, help="labelled photo set with people (JAFFE's names, a CSV's person column)")
    p.add_argument("--model", default="results/model", help="saved model folder (default: %(default)s)")
    p.add_argument("--strengths", type=lambda s: [float(v) for v in s.split(",")], default=[3.0],
                   help="comma-separated strengths beside no amplification (default: 3)")
    p.add_argument("--hold", type=float, default=2.0, help="seconds each photo is shown (default: %(default)s)")
    p.add_argument("--fps", type=float, default=10.0, help="frames per second of the videos (default: %(default)s)")
    p.add_argument("--passes", type=int, default=2, help="times each person's photos are played (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the photos' order (default: %(default)s)")
    p.add_argument("--views", type=int, choices=VIEWS, default=1,
                   help="test-time views (default: %(default)s, as live; the web page uses the model's, 10 for the shipped)")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    photos = photoset.read(args.photos)
    people = defaultdict(list)
    for ph in photos:
        if ph.person:
            people[ph.person].append(ph)
    if not people:
        raise EmojaxError(f"{args.photos}: the photo set names no people (JAFFE file names or a CSV person column)")
    classifier = load_classifier(args.model, views=args.views)
    classes = list(classifier.classes)
    rng = np.random.default_rng(args.seed)
    order = {who: [people[who][i] for i in rng.permutation(len(people[who]))] for who in sorted(people)}
    strengths = [None, *args.strengths]
    labels, preds, changed = [], {k: [] for k in strengths}, {k: [] for k in strengths}
    with tempfile.TemporaryDirectory() as tmp:
        for who, shown in tqdm(order.items(), desc="people"):
            clip = Path(tmp) / f"{who}.mp4"
            last = write_video(shown * args.passes, clip, args.hold, args.fps)
            labels += [classes.index(ph.emotion) for ph in shown]
            for k in strengths:
                pred, ch = play(clip, last, classifier, k)
                preds[k].append(np.reshape(pred, (args.passes, -1)))
                changed[k].append(np.reshape(ch, (args.passes, -1)))
    labels = np.array(labels)
    rows = []
    for k in strengths:
        pred, ch = np.concatenate(preds[k], 1), np.concatenate(changed[k], 1)
        for i in range(args.passes):
            rows.append({"amplify": k, "pass": i + 1, "changed": int(ch[i].sum()),
                         **photoset.scores(metrics(labels, pred[i], classes))})
    table = markdown_table(["--amplify", "pass", "faces amplified", "accuracy", *classes],
                           [["off" if r["amplify"] is None else f"{r['amplify']:g}", str(r["pass"]), str(r["changed"]),
                             *photoset.score_cells(r, classes)] for r in rows], left=1)
    path = "`live --video`" if args.views == 1 else "The web page's webcam stream (the live tracker, the model's views)"
    text = (f"{path} on {args.photos} played as one video per person ({len(people)} people, "
            f"{len(labels)} photos in a shuffled order, seed {args.seed}, played {args.passes} times; each held {args.hold:g} s at "
            f"{args.fps:g} fps, MP4), model {args.model}, {'one view' if args.views == 1 else f'{args.views} views'}. Each photo scored by the tracker's smoothed "
            f"emotion at its last frame; accuracy and recall per class (%). A face is amplified once it has been "
            f"followed {track.AMPLIFY_AFTER:g} s, against the mean shape and look of its frames older than "
            f"{track.AMPLIFY_LAG:g} s (texture {geometry.TEXTURE:g}x).\n\n{table}\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

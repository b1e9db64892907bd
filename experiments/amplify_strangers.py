"""``--amplify`` on a folder of strangers: what people found by face do to faces that have
no one to be compared with.

``evaluate --photos DIR --amplify 3`` (and ``predict album/ --amplify 3``) groups the faces of
a set that names nobody by dlib's face recognition, and makes each face plainer against its
group's other faces. On JAFFE (ten people, about 21 photos each) that is the point. Here the
other case: PublicTest, thousands of faces of different people (FER2013 names nobody, and few
people come back), written as a folder per emotion and read back through the whole photo
pipeline as a user's folder would be. A face grouped with strangers is compared with faces that
are not its own, so for each tolerance this counts the groups found, the faces amplified and
what it costs them (with JAFFE's ``people_by_face.md``, how ``identity.TOLERANCE`` was chosen).
FER2013's faces are 48 px, upscaled here, so their descriptors are blurrier than a photo's:
if anything, more strangers are grouped than in real photos.

    python experiments/amplify_strangers.py --data ../shared/data/fer2013.csv.gz \\
        --out results/generalization/amplify_strangers.md
"""
from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from emojax import data as data_lib
from emojax import photoset
from emojax.io import command_line, markdown_table, positive_float, positive_int, report, run, shown
from emojax.pipeline import DEFAULT_MODEL, load_classifier


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--model", default=shown(DEFAULT_MODEL, Path.cwd()), help="saved model folder (default: the shipped CNN)")
    p.add_argument("--scale", type=positive_int, default=4, help="each 48 px face upscaled this many times (default 4)")
    p.add_argument("--limit", type=positive_int, help="only the first N PublicTest faces (default: all)")
    p.add_argument("--tolerances", type=lambda v: [positive_float(t) for t in v.split(",")],
                   default=[0.35, 0.4, 0.5, 0.6], help="comma-separated: faces closer than one are one person "
                   "(default: 0.35,0.4,0.5,0.6)")
    p.add_argument("--amplify", type=positive_float, default=3.0, metavar="K", help="strength (default 3)")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure goes beside it)")
    args = p.parse_args(argv)
    ds = data_lib.load(args.data, verbose=False)
    val = data_lib.require(ds.val, "validation (PublicTest)").subset(slice(args.limit))
    classes = list(ds.classes)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (image, label) in enumerate(zip(val.images, val.labels)):
            folder = Path(tmp) / classes[label]
            folder.mkdir(exist_ok=True)
            big = cv2.resize(image, None, fx=args.scale, fy=args.scale, interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(folder / f"{i:05d}.png"), big)
        photos = photoset.read(tmp)
        images, points, found, described = photoset.located(photos, progress=True, describe=True)
    clf = load_classifier(args.model, views=1)
    labels = np.array([classes.index(ph.emotion) for ph in photos])

    def right(crops: np.ndarray) -> np.ndarray:
        pred = np.full(len(photos), -1)
        pred[found] = clf.predict(crops[found])
        return pred == labels

    plain = right(images)
    rows = []
    for t in args.tolerances:
        people = photoset.who(photos, found, described, t)
        sizes = Counter(w for w in people if w)
        amplified, changed = photoset.amplified(people, images, points, found, args.amplify)
        after = right(amplified)
        rows.append({"tolerance": t, "groups": len(sizes), "groups of 4 or more": sum(n >= 4 for n in sizes.values()),
                     "largest group": max(sizes.values(), default=0), "amplified": int(changed.sum()),
                     "all": [float(plain.mean()), float(after.mean())],
                     "amplified faces": [float(plain[changed].mean()), float(after[changed].mean())]
                     if changed.any() else None})
    cell = lambda pair: "" if pair is None else f"{100 * pair[0]:.1f}% -> {100 * pair[1]:.1f}%"
    table = markdown_table(["tolerance", "groups", "of 4 or more", "largest", "faces amplified", "all faces",
                            "the amplified faces"],
                           [[f"{r['tolerance']:g}", str(r["groups"]), str(r["groups of 4 or more"]),
                             str(r["largest group"]), str(r["amplified"]), cell(r["all"]), cell(r["amplified faces"])]
                            for r in rows])
    text = (f"PublicTest's first {len(photos)} faces, each upscaled {args.scale}x and written as a photo in a folder "
            f"per emotion, read back through the photo pipeline ({args.model}, one view; {int(found.sum())} faces "
            f"found, a face not found is wrong). People found by face at each tolerance, and accuracy as they are -> "
            f"with every face of a group of 4 or more made {args.amplify:g}x plainer against the others:\n\n"
            f"{table}\n\n`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    return 0


if __name__ == "__main__":
    run(main)

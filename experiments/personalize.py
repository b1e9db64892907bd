"""Fine-tune a trained CNN on one person's faces (the library side is ``emojax.personal``).

    python experiments/personalize.py --images me/ --out results/personal/me
    python -m emojax.live --collect me/ --label happy      # one way to make me/ (crops + label.csv)

``me/label.csv`` lists ``file,emotion`` (header optional; an emotion name, a synonym, a JAFFE
code or its FER2013 code); a folder per emotion or JAFFE file names work too. Photos go
through the face pipeline (largest face); 48x48 grey crops are used as they are. Variants:
``head`` (default: convolutions frozen, the dense head learns), ``last_stage``, ``all``,
``joint`` (all layers, with FER2013 Training batches mixed in; needs ``--fer``). A stratified
part of the images is held out and the accuracy on it is reported before and after. The
result is an ordinary saved model: ``predict --model OUT``, ``live --model OUT``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax.io import EmojaxError, atomic_path, check_out_dir, command_line, positive_float, positive_int, run  # noqa: E402


def main(argv=None) -> int:
    from emojax import personal

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, help="folder of one person's photos or 48x48 crops")
    p.add_argument("--labels", help="CSV of file,emotion (default: IMAGES/label.csv)")
    p.add_argument("--model", default=str(ROOT / "results" / "model"), help="trained CNN to start from")
    p.add_argument("--out", default=str(ROOT / "results" / "personal" / "model"),
                   help="folder for the fine-tuned model and personalize.json")
    p.add_argument("--variant", default="head", choices=personal.VARIANTS, help="which layers learn")
    p.add_argument("--holdout", type=float, default=0.3, help="fraction of each class held out for the report")
    p.add_argument("--steps", "--epochs", dest="steps", type=positive_int,
                   help="training steps (default: the variant's, e.g. 150 for head)")
    p.add_argument("--lr", type=positive_float, help="Adam learning rate (default: the variant's, e.g. 1e-3 for head)")
    p.add_argument("--fer", help="FER2013 CSV whose Training images the joint variant mixes in")
    p.add_argument("--seed", type=int, default=0, help="seed of the hold-out split, batches and augmentation")
    args = p.parse_args(argv)
    if not 0 < args.holdout < 1:
        p.error("--holdout must be a fraction between 0 and 1")
    check_out_dir(args.out)
    from tqdm import tqdm

    from emojax import models

    loaded = models.load(args.model)
    model, variables, meta = loaded
    classes = tuple(meta["classes"])
    photos = personal.read_photos(args.images, classes, args.labels)
    images, labels, _, skipped = personal.labelled_crops(photos, classes)
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    held = personal.holdout_split(labels, args.holdout, args.seed)
    if held.all() or not held.any():
        raise EmojaxError(f"{len(labels)} images are too few to hold some out (need two of a class)")
    fer = None
    if args.variant == "joint":
        if not args.fer:
            raise EmojaxError("--variant joint needs --fer FER2013_CSV (its Training images limit forgetting)")
        from emojax import data

        ds = data.load(args.fer, verbose=False)
        fer = (ds.train.images, ds.train.labels)
    steps = args.steps or personal.DEFAULTS[args.variant]["steps"]
    with tqdm(total=steps, desc=args.variant, leave=False) as bar:
        tuned = personal.fine_tune(args.model, images[~held], labels[~held], args.variant, steps=steps, lr=args.lr,
                                   seed=args.seed, fer=fer, loaded=loaded,
                                   progress=lambda i, loss: (bar.update(1), bar.set_postfix(loss=f"{loss:.3f}")))
    before = personal.accuracy(model, variables, images[held], labels[held])
    after = personal.accuracy(model, tuned.variables, images[held], labels[held])
    out = Path(args.out)
    personal.save(out, args.model, tuned.variables, extra={"personal_variant": args.variant})
    report = {"command": command_line(__file__, argv),
              "variant": args.variant, "trained_layers": list(tuned.trainable), "steps": steps,
              "seconds": tuned.seconds, "images": int(len(labels)), "train_images": int((~held).sum()),
              "heldout_images": int(held.sum()), "skipped": skipped,
              "heldout_accuracy_before": before, "heldout_accuracy_after": after}
    with atomic_path(out / "personalize.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    print(f"held-out accuracy on {held.sum()} images: {100 * before:.1f}% before, {100 * after:.1f}% after "
          f"({args.variant}, {tuned.seconds:.0f} s). Model in {out}")
    return 0


if __name__ == "__main__":
    run(main)

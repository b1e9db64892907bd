"""Fine-tune the head of a trained CNN on one person's faces.

    python experiments/personalize.py --images me/ --out results/personal

``me/label.csv`` lists ``file,emotion`` (an emotion name such as ``happy`` or its FER2013
code). Photos go through the face pipeline (largest face); 48x48 grey crops are used as they
are. The convolutional layers stay frozen and only the dense head learns, so a few dozen
images are enough and the model keeps what FER2013 taught it. A stratified part of the images
is held out and the accuracy on it is reported before and after.
"""
from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from emojax.io import EmojaxError, atomic_path, run  # noqa: E402


def read_labelled_faces(folder: Path, labels_csv: Path, classes: tuple[str, ...]):
    """Crops (N, 48, 48) and labels from ``label.csv``; files without a face are reported and skipped."""
    from emojax import face

    if not labels_csv.exists():
        raise EmojaxError(f"no label file {labels_csv} (rows: file,emotion)")
    crops, labels, skipped = [], [], []
    with open(labels_csv, newline="") as f:
        rows = [r for r in csv.reader(f) if r and r[0].strip().lower() not in ("file", "filename", "")]
    for name, emotion in ((r[0].strip(), r[1].strip().lower() if len(r) > 1 else "") for r in rows):
        if emotion.isdigit() and int(emotion) < len(classes):
            emotion = classes[int(emotion)]
        if emotion not in classes:
            raise EmojaxError(f"{labels_csv}: unknown emotion {emotion!r} for {name} (one of {', '.join(classes)})")
        try:
            image = face.load_image(folder / name)
        except EmojaxError as e:
            skipped.append(str(e))
            continue
        gray = face.to_gray(image)
        if gray.shape == (48, 48):
            crop = gray
        else:
            faces = face.detect_faces(image)
            if not faces:
                skipped.append(f"{name}: no face found")
                continue
            crop = max(faces, key=lambda fc: (fc.box[2] - fc.box[0]) * (fc.box[3] - fc.box[1])).crop
        crops.append(crop)
        labels.append(classes.index(emotion))
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    if not crops:
        raise EmojaxError(f"no usable face in {folder}")
    return np.stack(crops), np.array(labels, np.int32)


def holdout_split(labels: np.ndarray, frac: float, seed: int) -> np.ndarray:
    """A boolean mask of held-out images: ``frac`` of each class (at least one where a class
    has two or more images)."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = max(1, int(round(frac * len(idx)))) if len(idx) > 1 else 0
        held[idx[:k]] = True
    return held


def fine_tune_head(model, variables: dict, images: np.ndarray, labels: np.ndarray, epochs: int,
                   lr: float, seed: int) -> dict:
    """Adam on the dense layers only (full batch; batch norm uses its running statistics)."""
    import jax
    import jax.numpy as jnp
    import optax

    trainable = {k: k.startswith("Dense") for k in variables["params"]}
    tx = optax.multi_transform({True: optax.adam(lr), False: optax.set_to_zero()}, trainable)
    params = variables["params"]
    opt_state = tx.init(params)
    x = jnp.asarray(images, jnp.float32)[..., None] / 255.0
    y = jax.nn.one_hot(labels, model.num_classes)

    @jax.jit
    def step(params, opt_state, key):
        flip = jax.random.bernoulli(key, 0.5, (len(x), 1, 1, 1))  # mirrored faces: free extra data
        xs = jnp.where(flip, x[:, :, ::-1], x)

        def loss_fn(p):
            logits = model.apply({**variables, "params": p}, xs)
            return optax.softmax_cross_entropy(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    key = jax.random.PRNGKey(seed)
    for i in range(epochs):
        params, opt_state, _ = step(params, opt_state, jax.random.fold_in(key, i))
    return {**variables, "params": params}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, help="folder of one person's photos or 48x48 crops")
    p.add_argument("--labels", help="CSV of file,emotion (default: IMAGES/label.csv)")
    p.add_argument("--model", default=str(ROOT / "results" / "model"), help="trained CNN to start from")
    p.add_argument("--out", default=str(ROOT / "results" / "personal"), help="folder for the fine-tuned model")
    p.add_argument("--holdout", type=float, default=0.3, help="fraction of each class held out for the report")
    p.add_argument("--epochs", type=int, default=100, help="full-batch steps on the training images")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate for the head")
    p.add_argument("--seed", type=int, default=0, help="seed of the hold-out split and the flips")
    args = p.parse_args(argv)
    from emojax import models
    from emojax.pipeline import predict_proba

    model, variables, meta = models.load(args.model)
    classes = tuple(meta["classes"])
    folder = Path(args.images)
    images, labels = read_labelled_faces(folder, Path(args.labels or folder / "label.csv"), classes)
    held = holdout_split(labels, args.holdout, args.seed)
    if held.all() or not held.any():
        raise EmojaxError(f"{len(labels)} images are too few to hold some out (need two of a class)")
    acc = lambda v: float((predict_proba(model, v, images[held]).argmax(1) == labels[held]).mean())
    before = acc(variables)
    tuned = fine_tune_head(model, variables, images[~held], labels[~held], args.epochs, args.lr, args.seed)
    after = acc(tuned)
    out = Path(args.out)
    models.save(out, meta["model"], meta["kwargs"], classes, tuned,
                extra={k: v for k, v in meta.items() if k not in ("model", "kwargs", "classes")}
                | {"personalized_from": str(args.model)})
    report = {"command": "python experiments/personalize.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
              "images": int(len(labels)), "train_images": int((~held).sum()), "heldout_images": int(held.sum()),
              "heldout_accuracy_before": before, "heldout_accuracy_after": after}
    with atomic_path(out / "personalize.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    print(f"held-out accuracy on {held.sum()} images: {100 * before:.1f}% before, {100 * after:.1f}% after. "
          f"Model in {out}")
    return 0


if __name__ == "__main__":
    run(main)

"""A saved VGG model at a larger width, computing the same function (``models.widen_vgg``,
Net2WiderNet): the start of a fine-tune that tests whether the robustness fine-tunes' trade
of clean accuracy for robustness is one of capacity. Checks the widened model against the
original on PublicTest before writing it.

    python experiments/widen_model.py results/model --width 64 --out runs/vgg64_widened \\
        --data ../shared/data/fer2013.csv.gz
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import data as data_lib, models  # noqa: E402
from emojax.io import EmojaxError, check_out_dir, run  # noqa: E402
from emojax.pipeline import predict_proba  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="saved VGG model folder")
    p.add_argument("--width", type=int, required=True, help="the new width (channels of the first stage)")
    p.add_argument("--out", required=True, help="folder for the widened model")
    p.add_argument("--data", required=True, help="FER2013 CSV: PublicTest checks the widened model")
    p.add_argument("--limit", type=int, help="check on the first N PublicTest faces only")
    p.add_argument("--seed", type=int, default=0, help="which channels are copied, and the shares")
    p.add_argument("--overwrite", action="store_true", help="replace a model already there")
    args = p.parse_args(argv)
    _, variables, meta = models.load(args.model)
    if meta["model"] != "vgg":
        raise EmojaxError(f"{args.model} is a {meta['model']!r} model: only vgg models can be widened")
    out = check_out_dir(args.out)
    if (out / "model.json").exists() and not args.overwrite:
        raise EmojaxError(f"{out} already holds a model: --overwrite to replace it")
    wide = models.widen_vgg(variables, args.width, args.seed)
    kwargs = {**meta["kwargs"], "width": args.width}
    ds = data_lib.load(args.data, verbose=False)
    x, y = ds.val.images[:args.limit], ds.val.labels[:args.limit]
    before = predict_proba(models.create("vgg", len(meta["classes"]), **meta["kwargs"]), variables, x)
    after = predict_proba(models.create("vgg", len(meta["classes"]), **kwargs), wide, x)
    gap = float(np.abs(after - before).max())
    print(f"PublicTest (1 view): {np.mean(before.argmax(1) == y):.2%} at width {meta['kwargs'].get('width', models.VGG.width)}, "
          f"{np.mean(after.argmax(1) == y):.2%} at width {args.width}; largest probability change {gap:.1e}",
          file=sys.stderr)
    if gap > 1e-3:
        raise EmojaxError(f"the widened model computes something else (probabilities differ by {gap:.3f})")
    models.save(out, "vgg", kwargs, meta["classes"], wide,
                extra={"widened": {"from": [args.model, models.fingerprint(args.model)], "seed": args.seed}})
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run(main)

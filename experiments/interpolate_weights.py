"""Models mixed weight by weight from saved models of one architecture.

* Two models and ``--alpha``: the points between a fine-tune and the model it started from
  (WiSE-FT, Wortsman et al. 2022), which can keep the fine-tune's robustness at more of the
  start's clean accuracy; one model folder per share, ``OUT_aA``.
* Any number of models, no ``--alpha``: their mean, a uniform "model soup" (Wortsman et al.
  2022) of fine-tunes that started from one model; one folder, ``OUT``.

* ``--recalibrate DATA``: the mixed weights' batch-norm statistics recomputed on DATA's
  Training faces (``train.recalibrate_batch_norm``). Needed where the models lie further apart
  than fine-tunes of one model do: the snapshots of one run along its schedule
  (``train_cnn.py --snapshots``), whose mean is stochastic weight averaging (SWA, Izmailov et
  al. 2018).

Either way for ``experiments/generalization_table.py`` to score.

    python experiments/interpolate_weights.py results/model runs/consistency \\
        --alpha 0.3 0.5 0.7 --out runs/wise
    python experiments/interpolate_weights.py runs/faint_e2 runs/faint_e4r runs/sd_e1 --out runs/soup
    python experiments/interpolate_weights.py runs/scratch_aa/snapshots/* --out runs/swa \\
        --recalibrate ../shared/data/fer2013.csv.gz
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import data as data_lib  # noqa: E402
from emojax import models  # noqa: E402
from emojax.io import EmojaxError, check_out_dir, run  # noqa: E402
from emojax.train import recalibrate_batch_norm  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="saved model folders of one architecture: with --alpha the start "
                   "(alpha 0) and the fine-tune (alpha 1), without it the models to average")
    p.add_argument("--alpha", type=float, nargs="+", help="shares of the fine-tune, in [0, 1]")
    p.add_argument("--out", required=True, help="the soup's folder; with --alpha a prefix: alpha A goes to OUT_aA")
    p.add_argument("--recalibrate", metavar="DATA", help="recompute the batch-norm statistics on this "
                   "dataset's Training faces (FER2013 CSV): for snapshots of one run (SWA)")
    p.add_argument("--overwrite", action="store_true", help="replace models already there")
    args = p.parse_args(argv)
    if len(args.models) < 2:
        raise EmojaxError("give at least two models to mix")
    if args.alpha is not None and len(args.models) != 2:
        raise EmojaxError("--alpha mixes two models, the start and the fine-tune")
    if args.alpha is not None and not all(0 <= a <= 1 for a in args.alpha):
        raise EmojaxError("--alpha: each share must lie in [0, 1]")
    loaded = [models.load(m) for m in args.models]
    arch = lambda meta: (meta["model"], meta["kwargs"], meta["classes"])
    module, _, meta = loaded[0]
    for m, (_, _, other) in zip(args.models[1:], loaded[1:]):
        if arch(other) != arch(meta):
            raise EmojaxError(f"{args.models[0]} and {m} are different architectures or classes")
    variables = [v for _, v, _ in loaded]
    sources = [[m, models.fingerprint(m)] for m in args.models]
    if args.alpha is None:
        jobs = [(check_out_dir(args.out), lambda: models.average(variables), {"soup": sources})]
    else:
        jobs = [(check_out_dir(f"{args.out}_a{a:g}"), lambda a=a: models.interpolate(*variables, a),
                 {"interpolated": {"start": sources[0], "finetune": sources[1], "alpha": a}}) for a in args.alpha]
    for out, _, _ in jobs:
        if (out / "model.json").exists() and not args.overwrite:
            raise EmojaxError(f"{out} already holds a model: --overwrite to replace it")
    faces = None
    if args.recalibrate:
        faces = data_lib.require(data_lib.load(args.recalibrate, verbose=False).train, "Training").images
    for out, mix, extra in jobs:
        mixed = mix()
        if faces is not None:
            mixed = recalibrate_batch_norm(module, mixed, faces)
            extra = {**extra, "batch_stats_from": args.recalibrate}
        models.save(out, meta["model"], meta["kwargs"], meta["classes"], mixed, extra=extra)
        print(out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    run(main)

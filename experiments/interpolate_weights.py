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

import numpy as np  # noqa: E402

from emojax import data as data_lib  # noqa: E402
from emojax import models  # noqa: E402
from emojax.io import EmojaxError, check_out_dir, run  # noqa: E402
from emojax.train import recalibrate_batch_norm  # noqa: E402


def load_one_architecture(folders: list) -> tuple:
    """``(module, meta, variables)`` of saved models that share an architecture and classes,
    the only models whose weights can be mixed. ``meta`` keeps a ``holdout`` fold only where
    every model held it out: a mix has seen every face any of its models trained on."""
    loaded = [models.load(f) for f in folders]
    arch = lambda meta: (meta["model"], meta["kwargs"], meta["classes"])
    module, _, meta = loaded[0]
    for f, (_, _, other) in zip(folders[1:], loaded[1:]):
        if arch(other) != arch(meta):
            raise EmojaxError(f"{folders[0]} and {f} are different architectures or classes")
    if len({str(m.get("holdout")) for _, _, m in loaded}) > 1:
        meta = {k: v for k, v in meta.items() if k != "holdout"}
    return module, meta, [v for _, v, _ in loaded]


def sources(folders: list) -> list[list[str]]:
    """Each mixed model's folder and fingerprint, for the mix's ``model.json``."""
    return [[str(f), models.fingerprint(f)] for f in folders]


def save_mixed(out: Path, module, meta: dict, mixed: dict, extra: dict,
               faces: np.ndarray | None = None, batch_stats_from: str | None = None) -> Path:
    """Save mixed weights to ``out``; given ``faces``, their batch-norm statistics recomputed on
    them first (the mean of statistics is not the statistics of the mean weights)."""
    if faces is not None:
        mixed = recalibrate_batch_norm(module, mixed, faces)
        extra = {**extra, "batch_stats_from": batch_stats_from}
    held = {"holdout": meta["holdout"]} if meta.get("holdout") else {}  # a cross-fitted teacher stays one
    models.save(out, meta["model"], meta["kwargs"], meta["classes"], mixed, extra={**held, **extra})
    return out


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
    module, meta, variables = load_one_architecture(args.models)
    mixed_from = sources(args.models)
    if args.alpha is None:
        jobs = [(check_out_dir(args.out), lambda: models.average(variables), {"soup": mixed_from})]
    else:
        jobs = [(check_out_dir(f"{args.out}_a{a:g}"), lambda a=a: models.interpolate(*variables, a),
                 {"interpolated": {"start": mixed_from[0], "finetune": mixed_from[1], "alpha": a}}) for a in args.alpha]
    for out, _, _ in jobs:
        if (out / "model.json").exists() and not args.overwrite:
            raise EmojaxError(f"{out} already holds a model: --overwrite to replace it")
    faces = None
    if args.recalibrate:
        faces = data_lib.require(data_lib.load(args.recalibrate, verbose=False).train, "Training").images
    for out, mix, extra in jobs:
        print(save_mixed(out, module, meta, mix(), extra, faces, args.recalibrate), file=sys.stderr)
    return 0


if __name__ == "__main__":
    run(main)

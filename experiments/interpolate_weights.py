"""Models between two saved models of one architecture, weight by weight: for a fine-tune
and the model it started from (WiSE-FT, Wortsman et al. 2022), the points between can keep
the fine-tune's robustness at more of the start's clean accuracy. Writes one model folder per
``--alpha`` (the fine-tune's share), for ``experiments/generalization_table.py`` to score.

    python experiments/interpolate_weights.py results/model runs/consistency \\
        --alpha 0.3 0.5 0.7 --out runs/wise
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import models  # noqa: E402
from emojax.io import EmojaxError, check_out_dir, run  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("start", help="saved model folder: alpha 0")
    p.add_argument("finetune", help="saved model folder of the same architecture: alpha 1")
    p.add_argument("--alpha", type=float, nargs="+", required=True, help="shares of the fine-tune, in [0, 1]")
    p.add_argument("--out", required=True, help="prefix: the model of alpha A goes to OUT_aA")
    p.add_argument("--overwrite", action="store_true", help="replace models already there")
    args = p.parse_args(argv)
    if not all(0 <= a <= 1 for a in args.alpha):
        raise EmojaxError("--alpha: each share must lie in [0, 1]")
    _, va, ma = models.load(args.start)
    _, vb, mb = models.load(args.finetune)
    if (ma["model"], ma["kwargs"], ma["classes"]) != (mb["model"], mb["kwargs"], mb["classes"]):
        raise EmojaxError(f"{args.start} and {args.finetune} are different architectures or classes")
    outs = [check_out_dir(f"{args.out}_a{a:g}") for a in args.alpha]
    for out in outs:
        if (out / "model.json").exists() and not args.overwrite:
            raise EmojaxError(f"{out} already holds a model: --overwrite to replace it")
    for a, out in zip(args.alpha, outs):
        models.save(out, ma["model"], ma["kwargs"], ma["classes"], models.interpolate(va, vb, a),
                    extra={"interpolated": {"start": [args.start, models.fingerprint(args.start)],
                                            "finetune": [args.finetune, models.fingerprint(args.finetune)],
                                            "alpha": a}})
        print(f"alpha {a:g}: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run(main)

"""Save a training run's last checkpoint as a model folder, while the run goes on or after
it stopped: a run keeps only the epoch that is best on PublicTest, and the generalization
tables want to measure the others too (JAFFE may prefer a later one).

    python experiments/export_checkpoint.py runs/occlude --out runs/occlude_last
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax.io import EmojaxError, check_out_dir, run  # noqa: E402
from emojax.train import export_checkpoint  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a training run's folder (with ckpt/ and model.json)")
    p.add_argument("--out", required=True, help="folder for the model (model.json + weights/)")
    p.add_argument("--raw", action="store_true",
                   help="the last step's weights, not their moving average (runs with a config's ema)")
    p.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    args = p.parse_args(argv)
    out = check_out_dir(args.out)
    if (out / "model.json").exists() and not args.overwrite:
        raise EmojaxError(f"{out} already holds a model: --overwrite to replace it")
    epoch = export_checkpoint(args.run, out, raw=args.raw)
    print(f"epoch {epoch} of {args.run} saved in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run(main)

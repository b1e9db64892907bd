"""Train a CNN on FER2013 (or FER+): the project's main job.

    python experiments/train_cnn.py                       # main recipe, data from data/
    python experiments/train_cnn.py --data ~/fer2013.csv  # explicit dataset
    python experiments/train_cnn.py --resume              # continue a killed run

Without a dataset it says where it looked and trains on a synthetic demo set instead
(outputs in results/demo/, never mixed with real results).
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import data as data_lib  # noqa: E402
from emojax.io import EmojaxError, command_line, non_negative_int, positive_float, positive_int, run  # noqa: E402
from emojax.train import train  # noqa: E402

CONFIGS = sorted(p.stem for p in (ROOT / "experiments" / "configs").glob("[!_]*.py"))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="fer2013_vgg", choices=CONFIGS, metavar="NAME",
                   help="experiment config, a module of experiments/configs/ (default: fer2013_vgg; "
                   "the shipped model's recipe: fer2013_vgg48_robust_scratch_aa --seed 1, then its _seed1_distill)")
    p.add_argument("--data", help="dataset: fer2013.csv[.gz], icml_face_data.csv, train.csv or an "
                   "image folder (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--ferplus", help="FER+ fer2013new.csv (default: beside the dataset)")
    p.add_argument("--labels", choices=("fer2013", "ferplus"), help="override the config's label set")
    p.add_argument("--ferplus-mode", choices=("majority", "crossentropy", "pld", "multilabel"),
                   help="FER+ training target (Barsoum et al. 2016): majority vote, cross-entropy over "
                   "the vote distribution (the probability mode), probabilistic label drawing, or "
                   "multi-label (any emotion with at least 30%% of the votes counts as right)")
    p.add_argument("--out", help="run folder (default: results/<config>, results/demo for the demo set)")
    p.add_argument("--epochs", type=positive_int, help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--subset", type=positive_int, help="train on the first N Training images only")
    p.add_argument("--batch-size", type=positive_int, help="global batch size (a multiple of the device count)")
    p.add_argument("--lr", type=positive_float, help="peak learning rate")
    p.add_argument("--width", type=positive_int, help="model width (channels of the first stage)")
    p.add_argument("--patience", type=non_negative_int, help="early stopping: epochs without a better PublicTest accuracy")
    p.add_argument("--seed", type=int, help="random seed (initialisation, shuffling, augmentation)")
    p.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                   help="one model per seed, all trained in one program (emojax.engine.train_many: "
                   "cheap on a GPU), each in OUT/seed<SEED>; no checkpoints, so no --resume")
    p.add_argument("--holdout", type=fold, metavar="k/K",
                   help="never train on fold k of K of the Training faces (face i is in fold i mod K): a "
                   "cross-fitted teacher, which a distillation config's teachers then use only on that fold")
    p.add_argument("--folds", type=positive_int, metavar="K",
                   help="K models in one program (like --seeds), model k without fold k (--holdout k/K), each "
                   "in OUT/fold<k>: the cross-fitted teachers of every Training face")
    p.add_argument("--init", help="start from this saved model folder (e.g. results/model): weights whose "
                   "names and shapes match are copied, the rest (an 8-class FER+ head) start fresh")
    p.add_argument("--teacher", nargs="+", metavar="MODEL",
                   help="distil these saved models (their mean probabilities on the clean Training faces, "
                   "each at its chosen views; cross-fitted ones each on its own fold) into this run")
    p.add_argument("--distill", type=share, metavar="W", help="the teachers' share of each target, in (0, 1]")
    p.add_argument("--engine", choices=("host", "device"),
                   help="host: batches fed from host memory, one step per call (the config's default); "
                   "device: the training set lives on the device and each call runs many steps "
                   "(emojax.engine; same history, fewer dispatches)")
    p.add_argument("--precision", choices=("float32", "bfloat16"),
                   help="the training step's convolutions: float32, or bfloat16 inputs with float32 sums "
                   "(mixed precision: 1.5-1.6x as fast on a CPU with AMX; default: the config's, float32 "
                   "on a CPU). Can change on --resume")
    p.add_argument("--snapshots", type=non_negative_int, metavar="N",
                   help="keep each of the last N epochs' weights as a model in OUT/snapshots/EPOCH, to average "
                   "(experiments/interpolate_weights.py --recalibrate); can change on --resume")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in the folder (without it, or --resume, such a folder "
                   "is an error and nothing in it changes)")
    p.add_argument("--distributed", action="store_true",
                   help="multi-host run: call jax.distributed.initialize() (reads JAX_COORDINATOR_ADDRESS, "
                   "JAX_NUM_PROCESSES, JAX_PROCESS_ID or the cluster's own variables)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")
    return p.parse_args(argv)


def saved_model(path: str, what: str) -> str:
    """A saved model's folder as given, or under the checkout where configs name repo paths
    (``results/model``) and the command runs elsewhere; one error line if it holds none."""
    if not Path(path).exists() and (ROOT / path).exists():
        path = str(ROOT / path)
    if not (Path(path) / "model.json").exists():
        raise EmojaxError(f"{what} {path} is not a saved emojax model (no model.json)")
    return path


def share(text: str) -> float:
    """A weight in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} is more than 1")
    return value


def fold(text: str) -> tuple[int, int]:
    """``k/K`` as ``(k, K)``: fold k of K, counted from 0."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not k/K (e.g. 0/4)") from None
    if not 0 <= k < n or n < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: K must be at least 2 and k one of 0..K-1")
    return k, n


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.folds == 1:
        raise EmojaxError("--folds: at least 2 (each model holds out one of them)")
    if (args.seeds or args.folds) and args.resume:
        raise EmojaxError("--seeds and --folds train in one program without checkpoints: --resume does not apply")
    if args.folds and (args.seeds or args.holdout):
        raise EmojaxError("--folds: one model per fold, so no --seeds or --holdout beside it")
    if args.seeds and (args.seed is not None or len(set(args.seeds)) != len(args.seeds)):
        raise EmojaxError("--seeds: each seed once, and no --seed beside it")
    if args.distributed:
        import jax

        jax.distributed.initialize()
    cfg = importlib.import_module(f"experiments.configs.{args.config}").CONFIG
    overrides = {k: getattr(args, k) for k in ("labels", "ferplus_mode", "epochs", "subset",
                                               "batch_size", "lr", "patience", "seed", "init", "engine",
                                               "precision", "snapshots", "holdout", "distill")
                 if getattr(args, k) is not None}
    if args.teacher:
        overrides["teacher"] = tuple(args.teacher)
    if args.width:
        overrides["model_kwargs"] = {**cfg.model_kwargs, "width": args.width}
    cfg = dataclasses.replace(cfg, **overrides)
    cfg = dataclasses.replace(cfg, init=cfg.init and saved_model(cfg.init, "--init"),
                              teacher=tuple(saved_model(t, "teacher") for t in cfg.teacher))
    src = data_lib.find_data(args.data)
    if src is None:
        print(data_lib.where_to_get_data(), file=sys.stderr)
        print("Training the small net on the SYNTHETIC demo set instead (results/demo/).", file=sys.stderr)
        demo = importlib.import_module("experiments.configs.demo_small").CONFIG
        cfg = dataclasses.replace(demo, **{k: v for k, v in overrides.items() if k != "labels"})
        ds = data_lib.make_demo()
        out = Path(args.out or ROOT / "results" / "demo")
        if out.resolve().parent == (ROOT / "results").resolve() and out.name != "demo":
            raise EmojaxError("demo runs go to results/demo/, never beside real results")
    else:
        ds = data_lib.load(src, labels=cfg.labels, ferplus=args.ferplus,
                           ferplus_soft=cfg.ferplus_soft > 0 or cfg.subtle_repeat != 1)
        out = Path(args.out or ROOT / "results" / args.config)
    command = command_line(__file__, argv)
    if args.seeds:
        return _train_many([dataclasses.replace(cfg, seed=s) for s in args.seeds],
                           [out / f"seed{s}" for s in args.seeds], ds, args, command)
    if args.folds:
        return _train_many([dataclasses.replace(cfg, holdout=(k, args.folds)) for k in range(args.folds)],
                           [out / f"fold{k}" for k in range(args.folds)], ds, args, command)
    res = train(cfg, ds, out, resume=args.resume, overwrite=args.overwrite, command=command, progress=not args.no_progress)
    print(f"{_summary(res)}. Results in {out}")
    return 0


def _summary(res: dict) -> str:
    msg = f"best PublicTest accuracy {100 * res['val_accuracy']:.1f}% at epoch {res['best_epoch']}"
    if "test_accuracy" in res:
        msg += f"; PrivateTest accuracy {100 * res['test_accuracy']:.1f}%"
    return msg


def _train_many(cfgs, outs, ds, args, command: str) -> int:
    from emojax import engine

    results = engine.train_many(cfgs, ds, outs, overwrite=args.overwrite, command=command,
                                progress=not args.no_progress)
    for o, res in zip(outs, results):
        print(f"{o}: {_summary(res)}")
    return 0


if __name__ == "__main__":
    run(main)

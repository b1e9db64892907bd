"""One run's kept epochs scored along its schedule, and the weight averages of its last ones.

Each snapshot (``train_cnn.py --snapshots N`` keeps the last N epochs' weights in
``RUN/snapshots/EPOCH``) is scored on PublicTest (one view) and on a labelled photo set (JAFFE)
through the face pipeline, per class (``--every K``: every K-th, for long runs). Each ``--swa
K`` is the mean of the last K snapshots' weights with its batch-norm statistics recomputed on
Training (stochastic weight averaging, Izmailov et al. 2018; ``interpolate_weights.py
--recalibrate`` makes the same model), scored the same way and kept as ``--keep DIR/swaK`` for
the other tables. Choose on PublicTest: a single epoch's photo-set figure swings by many points
from one epoch to the next. PrivateTest is not looked at.

    python experiments/snapshot_table.py runs/scratch_aa --swa 10 20 40 60 \\
        --data ../shared/data/fer2013.csv.gz --photos ../shared/data/jaffe \\
        --keep runs/scratch_aa/averages --out results/robust_scratch/snapshots.md
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from emojax import data as data_lib  # noqa: E402
from emojax import models, photoset  # noqa: E402
from emojax.io import save_figure  # noqa: E402
from emojax.io import EmojaxError, check_out_dir, command_line, markdown_table, report, run  # noqa: E402
from emojax.pipeline import load_classifier  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generalization_table import publictest_and_photos  # noqa: E402
from interpolate_weights import load_one_architecture, save_mixed, sources  # noqa: E402


def snapshots(run_folder: Path) -> dict[int, Path]:
    """The run's kept epochs: ``{epoch: folder}``, in order."""
    found = {int(f.name): f for f in (run_folder / "snapshots").glob("[0-9]*") if (f / "model.json").is_file()}
    if not found:
        raise EmojaxError(f"{run_folder} keeps no snapshots (train it with --snapshots N)")
    return dict(sorted(found.items()))


def swa(folders: list[Path], out: Path, train_faces: np.ndarray) -> Path:
    """The mean of ``folders``' weights, batch-norm statistics recomputed on ``train_faces``, saved to ``out``."""
    module, meta, variables = load_one_architecture(folders)
    return save_mixed(out, module, meta, models.average(variables), {"soup": sources(folders)},
                      train_faces, "Training")


def plot(rows: list[dict], path: Path, photo_set: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    single = [r for r in rows if "epoch" in r]
    ep = [r["epoch"] for r in single]
    fig, ax = plt.subplots(figsize=(8, 4))
    for key, label, colour in (("publictest", "PublicTest (1 view)", "C0"), ("photos", photo_set, "C1")):
        ax.plot(ep, [100 * r[key] for r in single], ".-", color=colour, lw=0.8, label=f"{label}, each epoch")
        for r in rows:
            if "swa" in r:
                ax.hlines(100 * r[key], r["first"], r["last"], colors=colour, lw=2.5)
    ax.plot([], [], "k-", lw=2.5, label="weight average of the epochs it spans")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a run folder trained with --snapshots N")
    p.add_argument("--data", help="FER2013 (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--photos", required=True, help="labelled photo set (e.g. JAFFE)")
    p.add_argument("--limit", type=int, help="first N PublicTest images only (quick checks)")
    p.add_argument("--swa", type=int, nargs="*", default=[], metavar="K",
                   help="also score the weight average of the last K snapshots")
    p.add_argument("--every", type=int, default=1, metavar="K",
                   help="score every K-th kept epoch only, counting back from the last (each takes PublicTest "
                        "and the photo set: 60 epochs of a width-48 net are about 10 CPU minutes); the "
                        "averages always use every snapshot")
    p.add_argument("--keep", help="folder to keep the weight averages in (as swaK); default: not kept")
    p.add_argument("--overwrite", action="store_true", help="replace weight averages already in --keep")
    p.add_argument("--out", help="Markdown file to write (a .json with every figure and a .png go beside it)")
    args = p.parse_args(argv)
    run_folder = Path(args.run)
    kept = snapshots(run_folder)
    if args.every < 1:
        raise EmojaxError(f"--every {args.every}: score every K-th epoch, K at least 1")
    if any(k < 2 or k > len(kept) for k in args.swa):
        raise EmojaxError(f"--swa: each K must lie in 2..{len(kept)} (the run keeps {len(kept)} snapshots)")
    keep = check_out_dir(args.keep, "--keep")
    check_out_dir(args.out)
    for k in args.swa if keep is not None and not args.overwrite else []:
        if (keep / f"swa{k}" / "model.json").exists():
            raise EmojaxError(f"{keep / f'swa{k}'} already holds a model: --overwrite to replace it")
    val, photos, crops, found = publictest_and_photos(args)

    def scored(folder: Path) -> dict:
        clf = load_classifier(folder)
        rep = photoset.evaluate(clf, photos, crops, found)
        return {"publictest": float((clf.predict_proba(val.images).argmax(1) == val.labels).mean()),
                "photos": rep["accuracy"], "recall": photoset.scores(rep)["recall"]}

    chosen = list(kept)[::-1][::args.every][::-1]
    rows = [{"epoch": e, **scored(kept[e])} for e in tqdm(chosen, desc="snapshots")]
    if args.swa:
        faces = data_lib.require(data_lib.load(args.data, verbose=False).train, "Training").images
        epochs = list(kept)
        with tempfile.TemporaryDirectory() as tmp:
            for k in tqdm(args.swa, desc="weight averages"):
                last = epochs[-k:]
                row = scored(swa([kept[e] for e in last], (keep or Path(tmp)) / f"swa{k}", faces))
                rows.append({"swa": k, "first": last[0], "last": last[-1], **row})
    classes = list(rows[0]["recall"])
    name = Path(args.photos).name
    cells = [[f"epoch {r['epoch']}" if "epoch" in r else f"**mean of epochs {r['first']}-{r['last']}** ({r['swa']})",
              f"{100 * r['publictest']:.1f}%", f"{100 * r['photos']:.1f}%",
              *[f"{100 * r['recall'][c]:.0f}" for c in classes]] for r in rows]
    single = np.array([[r["publictest"], r["photos"]] for r in rows if "epoch" in r]) * 100
    best = max((r for r in rows if "epoch" in r), key=lambda r: r["publictest"])
    text = (f"Kept epochs of `{run_folder.name}` and weight averages of its last K of them (batch-norm "
            f"statistics recomputed on Training). PublicTest: one view, the figure to choose on. {name}: "
            "accuracy over every photo through the face pipeline (no face found counts as wrong), and "
            f"recall per class (%). Over the {len(single)} single epochs: PublicTest "
            f"{single[:, 0].min():.1f}-{single[:, 0].max():.1f}% (best: epoch {best['epoch']}), {name} "
            f"{single[:, 1].min():.1f}-{single[:, 1].max():.1f}% (median {np.median(single[:, 1]):.1f}%).\n\n"
            f"{markdown_table(['model', 'PublicTest (1 view)', name, *classes], cells)}\n\n"
            f"`{command_line(__file__, argv)}`\n")
    report(text, rows, args.out)
    if args.out:
        plot(rows, Path(args.out).with_suffix(".png"), name)
    return 0


if __name__ == "__main__":
    run(main)

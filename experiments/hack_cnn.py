"""Hack the CNN: change a face the CNN calls happy so slightly that nobody sees it, and make
the CNN call it sad. Then measure how robust the CNN is to such attacks.

    python experiments/hack_cnn.py                     # shipped model, a PrivateTest face
    python experiments/hack_cnn.py --image photo.jpg   # your own face (first one found)
    python experiments/hack_cnn.py --limit 300         # quick run on 300 PrivateTest images

1. The face: the PrivateTest image (among the first --limit) the CNN calls --source with the
   highest confidence, or --image. The smallest eps on a grid of whole grey levels (1/255,
   2/255, ... --eps-max; a uint8 image can only change by whole levels) at which the targeted
   iterative attack of emojax.attack makes the CNN predict --target. Writes input_image.png,
   hacked_image.png (the exact uint8 image the CNN calls --target), perturbation.png (the
   difference x10 around grey 128) and side_by_side.png.
2. Robustness on PrivateTest: accuracy versus eps under FGSM and under the untargeted
   iterative attack (robustness.png, robustness.md), and the targeted success rate at
   --success-eps over every image the CNN calls --source, with the PSNR of the hacked images.

Everything measured, and the command line, goes to report.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emojax import attack, models  # noqa: E402
from emojax import data as data_lib  # noqa: E402
from emojax.io import EmojaxError, atomic_path, check_out_dir, command_line, positive_int, run, shown  # noqa: E402
from emojax.pipeline import predict_proba  # noqa: E402
from emojax.pipeline import DEFAULT_MODEL  # noqa: E402

AMPLIFY = 10  # perturbation.png shows 128 + AMPLIFY * (hacked - input)


def eps_value(text: str) -> float:
    """An eps on the [0, 1] scale, written as a fraction (4/255) or a decimal (0.0157)."""
    try:
        value = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a number or fraction: {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"eps must be in (0, 1], got {text}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python experiments/hack_cnn.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL),
                   help="saved CNN folder (model.json and weights/); default: results/model")
    p.add_argument("--data", help="FER2013 dataset (default: $EMOJAX_DATA, then data/)")
    p.add_argument("--image", help="attack this photo (its first face, found and aligned by "
                   "emojax.face) or 48x48 face crop instead of a PrivateTest image")
    p.add_argument("--source", default="happy", help="class of the face to pick (default: happy)")
    p.add_argument("--target", default="sad", help="class the hacked face must get (default: sad)")
    p.add_argument("--eps-max", type=eps_value, default=eps_value("8/255"),
                   help="largest L-inf budget tried, and the end of the robustness curves, on the "
                   "[0, 1] scale: 8/255 (default) or 0.03; whole grey levels below it are searched")
    p.add_argument("--success-eps", type=eps_value, default=eps_value("4/255"),
                   help="budget of the targeted success rate over PrivateTest (default: 4/255)")
    p.add_argument("--limit", type=positive_int, help="use only the first N PrivateTest images (quick runs)")
    p.add_argument("--out", default=str(ROOT / "results" / "hack_cnn"),
                   help="output folder (default: results/hack_cnn)")
    args = p.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        p.error("--limit must be at least 1")
    return args


def whole_levels(eps: float) -> int:
    """The grey levels a uint8 pixel may move within ``eps`` (rounded to undo float error)."""
    return int(np.floor(round(eps * 255, 6)))


def class_index(classes: list[str], name: str) -> int:
    if name not in classes:
        raise EmojaxError(f"the model has no class {name!r} (classes: {', '.join(classes)})")
    return classes.index(name)


def load_face(path: str) -> np.ndarray:
    """A 48x48 uint8 face: the image itself if it is 48x48, else its first aligned face."""
    from emojax import face

    image = face.load_image(path)
    if image.shape[:2] == (48, 48):
        return face.to_gray(image)
    faces = face.detect_faces(image)
    if not faces:
        raise EmojaxError(f"no face found in {path}")
    return faces[0].crop


def write_png(path: Path, image: np.ndarray) -> None:
    import cv2

    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), image):
            raise EmojaxError(f"cannot write {path}")


def plot_side_by_side(x: np.ndarray, adv: np.ndarray, pert: np.ndarray, before: np.ndarray,
                      after: np.ndarray, classes: list[str], highlight: tuple[int, int],
                      eps_levels: int | None, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = ["tab:green" if i == highlight[0] else "tab:red" if i == highlight[1] else "tab:gray"
               for i in range(len(classes))]
    budget = f"L-inf {eps_levels}/255" if eps_levels is not None else "attack failed"
    panels = [(x, f"input: {classes[before.argmax()]} {before.max():.0%}", before, "probability"),
              (pert, f"perturbation x{AMPLIFY} ({budget})", after - before, "change in probability"),
              (adv, f"hacked: {classes[after.argmax()]} {after.max():.0%}", after, "probability")]
    fig, axes = plt.subplots(2, 3, figsize=(11, 6.5), gridspec_kw={"height_ratios": [3, 2]})
    for col, (img, title, bars, label) in enumerate(panels):
        axes[0, col].imshow(img, cmap="gray", vmin=0, vmax=255)
        axes[0, col].set_title(title)
        axes[0, col].axis("off")
        axes[1, col].barh(classes, bars, color=colours)
        axes[1, col].invert_yaxis()
        axes[1, col].set_xlim(-1 if col == 1 else 0, 1)
        axes[1, col].set_xlabel(label)
    fig.tight_layout()
    save_figure(fig, path)


def save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)


def robustness(model, variables, split: data_lib.Split, levels: np.ndarray) -> dict:
    """PrivateTest accuracy at eps = levels / 255 under FGSM and the untargeted iterative attack."""
    grid = levels[1:] / 255
    fgsm = attack.fgsm(model, variables, split.images, split.labels, grid)
    fgsm_pred = predict_proba(model, variables, fgsm.reshape(-1, 48, 48)).argmax(1).reshape(len(grid), -1)
    found, _ = attack.smallest_eps(model, variables, split.images, split.labels, grid, targeted=False)
    iterative = [float((found > e).mean()) for e in levels / 255]  # found is 0 where already wrong
    return {"images": len(split), "eps": (levels / 255).tolist(), "eps_levels": levels.tolist(),
            "fgsm_accuracy": iterative[:1] + (fgsm_pred == split.labels).mean(1).tolist(),
            "iterative_accuracy": iterative}


def plot_robustness(rob: dict, title: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("fgsm_accuracy", "FGSM"), ("iterative_accuracy", f"iterative ({attack.STEPS} steps)")):
        ax.plot(rob["eps_levels"], rob[key], marker="o", label=label)
    ax.set_xlabel("eps (grey levels out of 255, L-inf)")
    ax.set_ylabel("PrivateTest accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    save_figure(fig, path)


def robustness_markdown(rob: dict, targeted: dict, name: str, source: str, target: str) -> str:
    rows = "\n".join(f"| {k}/255 | {100 * f:.1f}% | {100 * i:.1f}% |" for k, f, i in
                     zip(rob["eps_levels"], rob["fgsm_accuracy"], rob["iterative_accuracy"]))
    psnr = (f", PSNR mean {targeted['psnr_mean_db']:.1f} dB, min {targeted['psnr_min_db']:.1f} dB"
            if targeted["psnr_min_db"] is not None else "")
    success = (f"{100 * targeted['success_rate']:.1f}% now called {target}{psnr}" if targeted["images"]
               else "there are none")
    return (f"# Robustness of {name} on PrivateTest ({rob['images']:,} images)\n\n"
            f"Accuracy under L-inf attacks of radius eps. FGSM: one step of eps up the sign of the "
            f"cross-entropy gradient. Iterative: up to {attack.STEPS} steps of eps/{1 / attack.STEP:g} on "
            f"the margin loss, judged on the rounded uint8 image, each eps going on from the last iterate "
            f"of the one below; an image counts as fooled at eps if the attack fooled it at eps or a "
            f"smaller budget (that perturbation is within eps too).\n\n"
            f"| eps | FGSM accuracy | iterative accuracy |\n|---|---|---|\n{rows}\n\n"
            f"Targeted {source} -> {target} at {targeted['eps_levels']}/255 over the "
            f"{targeted['images']:,} images the CNN calls {source}: "
            f"{success}.\n")


def finite(value: float) -> float | None:
    """JSON has no infinity: an unchanged image's PSNR is reported as null."""
    return float(value) if np.isfinite(value) else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_out_dir(args.out)
    t0 = time.time()
    out = Path(args.out)
    model, variables, meta = models.load(args.model)
    classes = list(meta["classes"])
    src, tgt = class_index(classes, args.source), class_index(classes, args.target)
    levels = np.arange(whole_levels(args.eps_max) + 1)
    if len(levels) < 2:
        raise EmojaxError("--eps-max must be at least 1/255: a uint8 image changes by whole grey levels")
    crop = load_face(args.image) if args.image else None

    ds = data_lib.load(args.data, labels=meta.get("labels", "fer2013"))
    if list(ds.classes) != classes:
        raise EmojaxError(f"model classes {classes} do not match the data's {list(ds.classes)}")
    test = data_lib.require(ds.test, "test (PrivateTest)").subset(slice(0, args.limit))
    probs = predict_proba(model, variables, test.images)
    is_source = probs.argmax(1) == src
    if crop is None:
        if not is_source.any():
            raise EmojaxError(f"none of the {len(test):,} PrivateTest images is predicted {args.source}")
        index = int(np.argmax(np.where(is_source, probs[:, src], -1)))
        crop = test.images[index]
        picked = {"image": f"PrivateTest[{index}]", "label": classes[test.labels[index]]}
    else:
        picked = {"image": str(Path(args.image).resolve())}

    # 1. the smallest perturbation that turns this face into the target class
    found, adv = attack.smallest_eps(model, variables, crop[None], [tgt], levels[1:] / 255, targeted=True)
    adv = adv[0]
    before, after = predict_proba(model, variables, np.stack([crop, adv]))
    success = bool(np.isfinite(found[0]))
    eps_levels = int(round(found[0] * 255)) if success else None
    diff = adv.astype(np.float64) - crop
    pert = np.clip(128 + AMPLIFY * diff, 0, 255).astype(np.uint8)
    write_png(out / "input_image.png", crop)
    write_png(out / "hacked_image.png", adv)
    write_png(out / "perturbation.png", pert)
    plot_side_by_side(crop, adv, pert, before, after, classes, (src, tgt), eps_levels, out / "side_by_side.png")
    print(f"{picked['image']}: {classes[before.argmax()]} {before.max():.0%} -> "
          f"{classes[after.argmax()]} {after.max():.0%} "
          + (f"at eps {eps_levels}/255" if success else f"NOT reached within eps {levels[-1]}/255"),
          file=sys.stderr)

    # 2. robustness over PrivateTest
    print(f"robustness on {len(test):,} PrivateTest images...", file=sys.stderr)
    rob = robustness(model, variables, test, levels)
    happy = test.images[is_source]
    hacked, ok = attack.iterative(model, variables, happy, np.full(len(happy), tgt), args.success_eps,
                                  targeted=True)
    psnr = attack.psnr(happy[ok], hacked[ok])
    targeted = {"eps": args.success_eps, "eps_levels": whole_levels(args.success_eps),
                "images": len(happy), "success_rate": float(ok.mean()) if len(happy) else None,
                "psnr_mean_db": finite(psnr.mean()) if ok.any() else None,
                "psnr_min_db": finite(psnr.min()) if ok.any() else None}
    model_path = Path(args.model).resolve()
    name = shown(model_path, ROOT)
    plot_robustness(rob, f"{name}: PrivateTest accuracy under attack", out / "robustness.png")
    with atomic_path(out / "robustness.md") as tmp:
        tmp.write_text(robustness_markdown(rob, targeted, name, args.source, args.target))

    report = {
        "command": command_line(__file__, argv),
        "model": name, "model_epoch": meta.get("epoch"), "classes": classes,
        "attack": {"method": "targeted iterative FGSM, margin loss, straight-through rounding",
                   "steps": attack.STEPS, "step_fraction_of_eps": attack.STEP,
                   "eps_grid_levels": levels[1:].tolist()},
        **picked, "source": args.source, "target": args.target, "success": success,
        "eps": float(found[0]) if success else None, "eps_levels": eps_levels,
        "linf": float(np.abs(diff).max() / 255), "linf_levels": int(np.abs(diff).max()),
        "l2": float(np.sqrt((diff ** 2).sum()) / 255),
        "psnr_db": finite(attack.psnr(crop[None], adv[None])[0]),
        "probabilities_before": dict(zip(classes, before.round(4).tolist())),
        "probabilities_after": dict(zip(classes, after.round(4).tolist())),
        "robustness": rob, "targeted_success": targeted, "seconds": round(time.time() - t0, 1),
    }
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    print(f"targeted {args.source} -> {args.target} at {targeted['eps_levels']}/255: "
          f"{100 * (targeted['success_rate'] or 0):.1f}% of {len(happy):,} images. Results in {out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    run(main)

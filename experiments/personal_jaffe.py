"""Personal fine-tuning on real people: JAFFE, one model per person and variant.

    python experiments/personal_jaffe.py                       # all variants -> results/personal/table.md, .json
    python experiments/personal_jaffe.py --protocol loro --variants head --name table_loro

For each of JAFFE's 10 people: train on repetitions 1-2 of each pose, test on the held-out
repetitions (3 and the few 4-5; or leave one repetition out, ``--protocol loro``), with the shipped generic model before and the personal
model after, for each variant of ``emojax.personal`` (head, last_stage, all, joint). Time per
person is the wall time of the fine-tuning on this machine (the first person of a variant
includes compiling its step). Forgetting = accuracy on the first ``--forget`` FER2013
PublicTest images of the personal model minus the generic model's (negative = forgotten).
Crops come once from ``photoset.crops`` (largest face, aligned like FER2013).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from emojax.io import EmojaxError, atomic_path, command_line, run, shown  # noqa: E402


DEFAULT_JAFFE = ROOT.parent / "shared" / "data" / "jaffe"
DEFAULT_FER = ROOT.parent / "shared" / "data" / "fer2013.csv.gz"


def folds(photos, protocol: str) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Each photo's person, and the (train, test) masks: ``reps12`` = train on repetitions 1-2,
    test on 3+; ``loro`` = leave one repetition out (test on 1, 2, then 3+; train on the rest);
    a person's accuracy pools the test photos of all folds."""
    person = np.array([p.person for p in photos])
    rep = np.array([p.repetition for p in photos])
    if protocol == "reps12":
        return person, [(rep <= 2, rep >= 3)]
    return person, [(rep != 1, rep == 1), (rep != 2, rep == 2), (rep <= 2, rep >= 3)]


def table_md(report: dict) -> str:
    variants = report["variants"]
    protocol = ("train repetitions 1-2, test 3+" if report.get("protocol", "reps12") == "reps12" else
                "leave one repetition out: 1, 2, 3+; accuracy pooled over the three folds")
    lines = [f"# Personal fine-tuning on JAFFE ({report['people']} people, {protocol})", "",
             f"Command: `{report['command']}`", "",
             f"Model: `{report['model']}`; forgetting on the first {report['forget_images']} FER2013 PublicTest "
             f"images (generic: {100 * report['generic_fer_accuracy']:.1f}%). Crops: {report['crop_seconds']:.1f} s "
             f"for {report['photos']} photos ({report['faces_found']} faces found). Machine: {report['machine']}.",
             "", "## Means per variant", "",
             "| variant | layers trained | steps | lr | held-out acc. before | after | time / person (median, max) "
             "| FER2013 PublicTest change |", "|---|---|---|---|---|---|---|---|"]
    for v, r in variants.items():
        lines.append(f"| {v} | {r['layers']} | {r['steps']} | {r['lr']:g} | {100 * r['mean_before']:.1f}% | "
                     f"**{100 * r['mean_after']:.1f}%** | {r['median_seconds']:.1f} s, {r['max_seconds']:.1f} s | "
                     f"{100 * r['mean_forgetting']:+.1f} pts |")
    lines += ["", "## Per person: held-out accuracy after (before = generic model)", "",
              "| person | train / test | before | " + " | ".join(variants) + " |",
              "|---|---|---|" + "---|" * len(variants)]
    for who, base in report["persons"].items():
        cells = [f"{100 * variants[v]['persons'][who]['after']:.0f}% ({variants[v]['persons'][who]['seconds']:.0f} s, "
                 f"{100 * variants[v]['persons'][who]['forgetting']:+.1f})" for v in variants]
        lines.append(f"| {who} | {base['train']} / {base['test']} | {100 * base['before']:.0f}% | " + " | ".join(cells)
                     + " |")
    lines += ["", "Cells: accuracy after (fine-tuning seconds, FER2013 PublicTest change in points; with several "
              "folds, seconds and change are per fold, averaged).", "",
              "Caveat: JAFFE's repetitions of one pose are near-duplicates taken in one session, so these "
              "per-person scores are optimistic for a person photographed on another day.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jaffe", default=str(DEFAULT_JAFFE), help="JAFFE folder (file names like KA.AN1.39.tiff)")
    p.add_argument("--fer", default=str(DEFAULT_FER), help="FER2013 CSV (forgetting, joint batches)")
    p.add_argument("--model", default=str(ROOT / "results" / "model"), help="the generic model to start from")
    p.add_argument("--variants", default="head,last_stage,all,joint", help="comma-separated variants")
    p.add_argument("--people", help="comma-separated people (default: all)")
    p.add_argument("--steps", type=int, help="steps for every variant (default: each variant's own)")
    p.add_argument("--forget", type=int, default=1000, help="FER2013 PublicTest images for forgetting (0 = all)")
    p.add_argument("--protocol", choices=("reps12", "loro"), default="reps12",
                   help="reps12: train on repetitions 1-2, test on 3+; loro: leave one repetition out")
    p.add_argument("--out", default=str(ROOT / "results" / "personal"), help="folder for the tables")
    p.add_argument("--name", default="table", help="file names: NAME.md and NAME.json (default: %(default)s)")
    args = p.parse_args(argv)
    import platform

    from tqdm import tqdm

    from emojax import data, models, personal, photoset

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v not in personal.VARIANTS:
            raise EmojaxError(f"unknown variant {v!r}: choose from {', '.join(personal.VARIANTS)}")
    photos = [ph for ph in photoset.read(args.jaffe) if ph.person]
    if not photos:
        raise EmojaxError(f"{args.jaffe}: no JAFFE-named photos (person.EMOTIONrep.n.tiff)")
    loaded = models.load(args.model)
    model, generic, meta = loaded
    classes = tuple(meta["classes"])
    t0 = time.perf_counter()
    crops, found = photoset.crops(photos, progress=True)
    crop_seconds = time.perf_counter() - t0
    labels = np.array([classes.index(ph.emotion) for ph in photos], np.int32)
    person, splits = folds(photos, args.protocol)
    people = sorted(set(person)) if not args.people else args.people.split(",")
    ds = data.load(args.fer, verbose=False)
    n = args.forget or len(ds.val.images)
    fer_x, fer_y = ds.val.images[:n], ds.val.labels[:n]
    generic_fer = personal.accuracy(model, generic, fer_x, fer_y)
    command = command_line(__file__, argv)
    report = {"command": command, "protocol": args.protocol, "model": shown(args.model, ROOT), "photos": len(photos),
              "faces_found": int(found.sum()), "crop_seconds": crop_seconds, "people": len(people),
              "forget_images": int(n), "generic_fer_accuracy": generic_fer,
              "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} CPU cores "
                         "(shared with a training job)",
              "persons": {}, "variants": {}}
    def masks(who):
        return [((person == who) & tr & found, (person == who) & te & found) for tr, te in splits]

    for who in people:
        ms = masks(who)
        te = np.any([t for _, t in ms], axis=0)
        report["persons"][who] = {"train": "+".join(str(int(t.sum())) for t, _ in ms),
                                  "test": "+".join(str(int(t.sum())) for _, t in ms),
                                  "before": personal.accuracy(model, generic, crops[te], labels[te])}
    out = Path(args.out)

    def write():
        with atomic_path(out / f"{args.name}.json") as tmp:
            tmp.write_text(json.dumps(report, indent=2))
        with atomic_path(out / f"{args.name}.md") as tmp:
            tmp.write_text(table_md(report))

    for v in variants:
        steps = args.steps or personal.DEFAULTS[v]["steps"]
        rows = {}
        for who in tqdm(people, desc=v, leave=False):
            right = total = 0
            seconds, losses, forgetting = [], [], []
            for tr, te in masks(who):
                res = personal.fine_tune(args.model, crops[tr], labels[tr], v, steps=steps, loaded=loaded,
                                         fer=(ds.train.images, ds.train.labels) if v == "joint" else None)
                right += personal.accuracy(model, res.variables, crops[te], labels[te]) * te.sum()
                total += te.sum()
                seconds.append(res.seconds)
                losses.append(res.losses[-1])
                forgetting.append(personal.accuracy(model, res.variables, fer_x, fer_y) - generic_fer)
            rows[who] = {"after": float(right / total), "seconds": float(np.mean(seconds)),
                         "final_loss": float(np.mean(losses)), "forgetting": float(np.mean(forgetting))}
        secs = [r["seconds"] for r in rows.values()]
        report["variants"][v] = {
            "layers": ", ".join(res.trainable) if v not in ("all", "joint") else f"all {len(res.trainable)}",
            "steps": steps, "lr": personal.DEFAULTS[v]["lr"],
            "mean_before": float(np.mean([report["persons"][w]["before"] for w in rows])),
            "mean_after": float(np.mean([r["after"] for r in rows.values()])),
            "median_seconds": float(np.median(secs)), "max_seconds": float(np.max(secs)),
            "mean_forgetting": float(np.mean([r["forgetting"] for r in rows.values()])), "persons": rows}
        write()  # after every variant, so a long run leaves its finished part
    write()
    return 0


if __name__ == "__main__":
    run(main)

"""The front door: ``emojax <subcommand> [flags]`` (also ``python -m emojax``).

One flag vocabulary across subcommands: ``--model`` a saved model, ``--data`` a dataset,
``--out`` an output folder, ``--limit`` fewer items. Each subcommand is one capability's
entry point; ``emojax SUBCOMMAND --help`` explains its flags. The research jobs (train,
compare, attack, personalize, svm) live in the repository's ``experiments/`` and run from
a checkout; the rest also run from an installed wheel.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from emojax.io import EmojaxError, run

ROOT = Path(__file__).resolve().parents[1]

# name -> (module with a main(argv), one-line description): emojax/commands/ for the library's
# own commands, experiments/ for the research jobs
SUBCOMMANDS = {
    "predict": ("emojax.commands.predict", "find faces in photos or videos and predict their emotion"),
    "live": ("emojax.commands.live", "live predictor on a webcam or a video: 'HH:MM:SS : Happy , 93%' lines"),
    "serve": ("emojax.commands.serve", "web page and REST API (photo upload and the browser's webcam)"),
    "evaluate": ("emojax.commands.evaluate", "score a saved model: PrivateTest, a labelled photo set, corruptions"),
    "data": ("emojax.commands.data", "inspect or fetch a FER2013 dataset"),
    "train": ("experiments.train_cnn", "train a CNN on FER2013 or FER+ (from a checkout)"),
    "svm": ("experiments.train_svm", "train the HOG + SVM baseline (from a checkout)"),
    "compare": ("experiments.compare", "SVM vs CNN side by side (from a checkout)"),
    "attack": ("experiments.hack_cnn", "FGSM: turn a Happy face Sad (from a checkout)"),
    "personalize": ("experiments.personalize", "fine-tune a model on one person's faces (from a checkout)"),
}


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = ["usage: emojax SUBCOMMAND [flags]   (emojax SUBCOMMAND --help for its flags)", "",
             "Facial-expression recognition: dlib face alignment, Flax CNNs, an HOG+SVM baseline.", "",
             "subcommands:"]
    lines += [f"  {name:<{width}}  {desc}" for name, (_, desc) in SUBCOMMANDS.items()]
    lines += ["", "shared flags: --model (a saved model), --data (a dataset), --out (an output folder), "
              "--limit (fewer items)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] == "--version":
        from emojax import __version__

        print(f"emojax {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        raise EmojaxError(f"unknown subcommand {name!r}: choose one of {', '.join(SUBCOMMANDS)}")
    module = SUBCOMMANDS[name][0]
    if module.startswith("experiments."):
        if not (ROOT / "experiments" / "__init__.py").exists():
            raise EmojaxError(f"'emojax {name}' runs from a checkout of the repository "
                              f"({module.replace('.', '/')}.py); this installation has none")
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
    sys.argv[0] = f"emojax {name}"  # what argparse names in usage lines
    return importlib.import_module(module).main(rest)


def cli() -> None:
    run(main)


if __name__ == "__main__":
    cli()

"""``fer2013_vgg48_antialias`` at width 64, from the shipped model widened without changing
what it computes (``experiments/widen_model.py``, Net2WiderNet; 71.7% PublicTest as it
starts). Every robustness fine-tune of the width-48 net fell on one line, clean accuracy for
robustness (``results/generalization/runs.md``): if the line is one of capacity, a third more
channels per layer move it; if not, the GPU plan's wider nets from scratch are not worth
their cost. About 1.8x the width-48 step. Make the start first:

    python experiments/widen_model.py results/model --width 64 --out runs/vgg64_widened \\
        --data ../shared/data/fer2013.csv.gz
"""
import dataclasses

from experiments.configs.fer2013_vgg48_antialias import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, init="runs/vgg64_widened", model_kwargs={**BASE.model_kwargs, "width": 64},
    why=BASE.why + " At width 64, from the shipped model widened (Net2WiderNet).")

"""``fer2013_vgg48_antialias`` with sharpness-aware minimisation (radius 0.05, as in
``fer2013_vgg48_sam``), from the shipped model. Of the fine-tunes in
``results/generalization/runs.md``, SAM gave the best JAFFE at the shipped model's clean
accuracy (49.8% at 71.6%) but not robustness (worst mild drop 3.5), and the anti-aliased
pooling gave the best robustness for its clean accuracy (2.5 at 71.3%) but not JAFFE (46.0%):
the two act on different things (a flat minimum; what each stage can see), so together they
may hold both. Each step costs two passes, 6 epochs."""
import dataclasses

from experiments.configs.fer2013_vgg48_antialias import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, sam=0.05,
    why=BASE.why + " With sharpness-aware minimisation (radius 0.05).")

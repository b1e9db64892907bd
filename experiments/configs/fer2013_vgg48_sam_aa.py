"""``fer2013_vgg48_antialias`` with sharpness-aware minimisation (radius 0.05, as in
``fer2013_vgg48_sam``), from the shipped model. Of the fine-tunes in
``results/generalization/runs.md``, SAM gave the best JAFFE at the shipped model's clean
accuracy (49.8% at 71.6%) but not robustness (worst mild drop 3.5), and the anti-aliased
pooling gave the best robustness for its clean accuracy (2.5 at 71.3%) but not JAFFE (46.0%):
the two act on different things (a flat minimum; what each stage can see), so together they
may hold both. Each step costs two passes, 6 epochs (720-1260 s each on the 2 cores).
Result (``results/generalization/runs.md``): PublicTest 70.0, 70.8, 70.8, 70.8, 70.9, 70.8%
(averaged weights; the run chose epoch 5): 70.9% / worst mild 2.6 +- 1.0 (low-res 32) / JAFFE
48.8%; the last step's weights of epoch 6 70.7% / 2.3 / 49.3%, of epoch 3 70.8% / 2.7 / 53.1%
(disgust 31%, fear 28%, angry 0%). Below both parents on clean PublicTest (antialias 71.3%,
sam 71.6%) and no more robust than the anti-aliased run: not shipped."""
import dataclasses

from experiments.configs.fer2013_vgg48_antialias import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, sam=0.05,
    why=BASE.why + " With sharpness-aware minimisation (radius 0.05).")

"""Distillation with face halves hidden: ``fer2013_vgg48_distill_clean`` (the shipped model's
camera effects, four VGG48 teachers, weights averaged) plus ``occlude``: 40% of the training
faces lose their brows and eyes or their mouth and chin. Every model so far reads JAFFE's
posed anger as neutral (angry recall 0%), yet the shipped one finds anger in 23% of those
faces, and fear in 59% of the fearful ones (3% whole), once their mouths are hidden: the
upper face carries it, the mouth outvotes it (``experiments/occlusion_sensitivity.py``,
``results/generalization/occlusion.md``). The teachers' targets come from the whole face, so
the student learns to read each expression from either half. Result (stopped after epoch 8,
best epoch 5, shipped): PublicTest 71.7%, worst mild corruption 3.3 points, JAFFE 43.2%, angry
still 0% (``results/generalization/runs.md``)."""
import dataclasses

from experiments.configs.fer2013_vgg48_distill_clean import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, occlude=0.4,
    why=BASE.why + (" Then 40% of the training faces with the brows and eyes or the mouth and chin "
                    "hidden, so that no expression is read from one half of the face alone."))

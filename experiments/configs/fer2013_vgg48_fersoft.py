"""``fer2013_vgg48_mixup2`` with FER+'s vote distributions as half of each target in place of
the teachers' probabilities. FER+ relabelled the same faces with ten taggers each; where
FER2013's one label and FER+'s majority disagree (28% of Training), the votes are the cleaner
account of what the face shows, and JAFFE's misses are in anger, disgust and fear, the classes
FER2013 labels least consistently. The first try (``fer2013_vgg48_robust_fp``) ran one epoch
only; this one has the shipped recipe around it (mixup, occluded halves, camera effects, moving
average) and starts from the shipped model."""
import dataclasses

from experiments.configs.fer2013_vgg48_mixup2 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, teacher=(), distill=0.0, ferplus_soft=0.5, epochs=8,
    why=BASE.why + (" Then FER+ vote distributions as half of each target in place of the "
                    "teachers', 8 epochs."))

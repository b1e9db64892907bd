"""The shipped recipe (``fer2013_vgg48_mixup2``; no teachers, whose run folders are gone) from
the shipped model, with AugMix's Jensen-Shannon consistency (Hendrycks et al. 2020, weight 12
as there): every face is seen with and without its camera effects in the same step and the
two predictions are pulled together, and small faces (24, 32, 40 px) join the camera effects.
The camera augmentation alone left the shipped model 3 points short under JPEG 30, blur 0.8
and low resolution 32 (``results/generalization/runs.md``): it is shown the corrupted faces
but never asked to answer as it does on the clean one."""
import dataclasses

from experiments.configs.fer2013_vgg48_mixup2 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, teacher=(), distill=0.0, consistency=12.0, lowres=(24, 32, 40), epochs=6,
    why=BASE.why + (" Then, without teachers, a Jensen-Shannon consistency term (weight 12) between "
                    "each face with and without its camera effects, small faces among those "
                    "effects, 6 epochs."))

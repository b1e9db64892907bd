"""Distillation without the small faces: both distillation rounds with small faces upscaled
(``fer2013_vgg48_distill``, ``_distill2``) held clean PublicTest at about 70.3%, and so did
the hard-label fine-tune with them (``_robust2``, 70.2%), while the fine-tune without them
(``_robust``, shipped) reached 71.5%. This run separates the two: the shipped model's own
augmentation (camera effects at 0.5, no small faces), the four VGG48 teachers (72.5% for
three of them averaged), a moving average of the weights."""
import dataclasses

from experiments.configs.fer2013_vgg48_robust import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, teacher=("runs/w48e160", "runs/robust1", "runs/robust2", "runs/distill"), distill=0.7,
    lr=0.002, epochs=12, ema=0.9995,
    why=BASE.why + (" Then distilled from four VGG48s (the 160-epoch model, the two robust fine-tunes "
                    "and the first distilled student) with the same camera effects and no small faces, "
                    "weights averaged."))

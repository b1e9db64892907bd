"""Distil an ensemble into one model of the shipped size (the generalization issue's step
5): the student starts from the shipped model (robust1) and trains with its photometric
augmentation plus small faces upscaled (24/32/40 px) on targets that are 70% the teachers'
averaged probabilities on the clean Training faces, 30% FER2013's label. Teachers: w48e160,
robust1, robust2 (an ensemble of three such VGGs scored 72.5% PublicTest against 71.5% for
the best member). The second robust fine-tune's harder effects (probability 0.6, noise 16,
JPEG 10-90) cost 1.3 points of clean PublicTest (70.2%), so they are not used here. Live
prediction stays one forward pass per face. Teachers are run folders: ``runs/w48e160`` (git
archive 137aa4e results/model), ``runs/robust1`` and ``runs/robust2``."""
import dataclasses

from experiments.configs.fer2013_vgg48_robust import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, teacher=("runs/w48e160", "runs/robust1", "runs/robust2"), distill=0.7, lr=0.003, epochs=12,
    lowres=(24, 32, 40),
    why=BASE.why + (" Then distilled from an ensemble of three VGG48s (the 160-epoch model and "
                    "the two robust fine-tunes): 70% of each target is their averaged probabilities; "
                    "small faces upscaled join the camera effects."))

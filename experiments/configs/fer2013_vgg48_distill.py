"""Distil an ensemble into one model of the shipped size (the generalization issue's step
5): the student starts from the shipped model and trains with the second robust fine-tune's
augmentation on targets that are 70% the teachers' averaged probabilities on the clean
Training faces (w48e160, robust1, robust2: an ensemble of 3 such VGGs scored 72.5% PublicTest
against 71.5% for the best member), 30% FER2013's label. Live prediction stays one forward
pass per face. Teachers are run folders: ``runs/w48e160`` (git archive 137aa4e results/model),
``runs/robust1`` and ``runs/robust2``."""
import dataclasses

from experiments.configs.fer2013_vgg48_robust2 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, teacher=("runs/w48e160", "runs/robust1", "runs/robust2"), distill=0.7, lr=0.003, epochs=12,
    why=BASE.why + (" Then distilled from an ensemble of three VGG48s (the 160-epoch model and "
                    "the two robust fine-tunes): 70% of each target is their averaged probabilities."))

"""Mixup on top of the shipped recipe: ``fer2013_vgg48_occlude`` (camera effects, a face half
hidden in 40% of the faces, four VGG48 teachers, weights averaged), started from the shipped
model it produced, with each batch blended with its own shuffle (Beta(0.2, 0.2), images and
targets alike). Mixup is on the generalization issue's list of recipes and had not been tried:
it smooths the decision boundaries between the expressions FER2013 confuses most (anger, fear,
sadness), which is where JAFFE's posed faces fall."""
import dataclasses

from experiments.configs.fer2013_vgg48_occlude import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, mixup=0.2,
    why=BASE.why + (" Then, from that model, the same with mixup (Beta(0.2, 0.2)) of every batch "
                    "with its own shuffle."))

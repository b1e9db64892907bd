"""``fer2013_vgg48_antialias`` with small faces (24, 32, 40 px, ``lowres``) among the camera
effects from its first step, 8 epochs, from the shipped model. The anti-aliased run's worst
mild corruption fell every epoch (3.3 to 2.4 points at 71.2% clean), and by its end the worst
was low resolution 32, which it had not been shown; continuing it with small faces
(``fer2013_vgg48_antialias2``) restarted the learning rate from that run's end, and its clean
accuracy fell while the rate was high (71.2, 71.0, 70.8%). Here one cosine schedule, two
epochs longer, carries both from the shipped model."""
import dataclasses

from experiments.configs.fer2013_vgg48_antialias import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, lowres=(24, 32, 40), epochs=8,
    why=BASE.why.replace(", 6 epochs.", ",") + (" with small faces (24, 32, 40 px) among the "
                                              "camera effects, 8 epochs."))

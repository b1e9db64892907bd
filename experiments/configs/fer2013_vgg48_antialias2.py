"""``fer2013_vgg48_antialias`` continued from its last epoch (``runs/antialias``, a run folder
of this machine) on a stream of its own, with small faces (24, 32, 40 px, ``lowres``) among the
camera effects: its worst mild corruption fell every epoch (3.3, 3.3, 2.8, 2.6, 2.4 points) at
71.2% clean, and by its fifth epoch the worst was low resolution 32, which the anti-aliased
recipe had not been shown. 4 epochs."""
import dataclasses

from experiments.configs.fer2013_vgg48_antialias import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, init="runs/antialias", lowres=(24, 32, 40), epochs=4,
    why=BASE.why + (" Then, from that run's last epoch, small faces (24, 32, 40 px) among the "
                    "camera effects, 4 epochs."))

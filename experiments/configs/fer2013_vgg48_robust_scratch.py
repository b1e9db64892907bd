"""The 160-epoch width-48 recipe from scratch with the camera effects of the robust
fine-tunes from the first epoch (photometric 0.5, small faces from 32 and 40 px): the
generalization issue's ensemble members, sized for a GPU (``--seeds 0 1 2 3`` trains four in
one program; ``experiments/device_ensemble.sh`` is the driver for a lent GPU machine). The
CPU fine-tunes moved robustness but not the clean figure; trained this way from the start,
the augmentation has 160 epochs to be absorbed instead of 12."""
import dataclasses

from experiments.configs.fer2013_vgg48 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, epochs=160, patience=40, photometric=0.5, lowres=(32, 40), engine="device",
    why=BASE.why + (" Trained 160 epochs from scratch with camera-like photometric augmentation "
                    "(contrast, brightness, gamma, blur/sharpen, noise, JPEG, small faces from 32/40 "
                    "px, each with probability 0.5), so robustness is learnt with the features."))

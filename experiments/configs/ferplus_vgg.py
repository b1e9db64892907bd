"""FER+ 8-class training on the vote distributions (cross-entropy over the votes, the
best mode in Barsoum et al. 2016); other modes through --ferplus-mode."""
import dataclasses

from experiments.configs.fer2013_vgg import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, labels="ferplus", ferplus_mode="crossentropy", label_smoothing=0.0,
    why=BASE.why + " Trained on FER+ vote distributions (8 classes, Barsoum et al. 2016).")

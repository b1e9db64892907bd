"""FER+ on a 2-core CPU: the shipped FER2013 model (results/model/, width 16) fine-tuned on the
FER+ vote distributions for 10 epochs. Its convolutional features carry over (same images,
different labels); only the 8-class classifier starts fresh. Compare modes with
``--ferplus-mode majority|crossentropy|pld|multilabel --out results/ferplus/MODE``.

FER+ Training/PublicTest/PrivateTest are the FER2013 splits, so the FER2013 model saw none of
the FER+ test images."""
import dataclasses

from experiments.configs.fer2013_vgg_cpu import CONFIG as FER2013_CPU

CONFIG = dataclasses.replace(
    FER2013_CPU, labels="ferplus", ferplus_mode="crossentropy", label_smoothing=0.0,
    init="results/model", epochs=10, lr=0.01, patience=10,
    why=FER2013_CPU.why + " FER+: 8 classes, fine-tuned from the shipped FER2013 model on the "
    "FER+ vote distributions (Barsoum et al. 2016).")

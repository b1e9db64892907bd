"""The pretrained-backbone issue's variant (b): dlib's face-recognition ResNet fine-tuned end
to end on FER2013 with the generalization issue's augmentation (affine, erasing and the
camera effects of the second robust fine-tune). Starts from the frozen variant (a) in
``results/pretrained`` (trunk + its trained head), so epoch 0 is variant (a). About 10
minutes an epoch on a 2-core CPU at 150x150: a few epochs, AdamW at a fine-tuning rate."""
import dataclasses

from experiments.configs.fer2013_vgg48_robust2 import CONFIG as ROBUST

CONFIG = dataclasses.replace(
    ROBUST, model="dlib_resnet", model_kwargs={"hidden": 1024, "dropout": 0.5}, init="results/pretrained",
    optimizer="adamw", lr=1e-5, weight_decay=1e-4, epochs=3, warmup_epochs=0.2, patience=3,
    why=("dlib's face-recognition ResNet (an identity network, ~3M faces) with the frozen variant's "
         "head, fine-tuned end to end: does expression information the identity training "
         "suppressed come back when the whole network may move?"))

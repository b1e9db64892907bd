"""``Config``: one training experiment, every choice a field. ``experiments/configs/*.py``
hold the named ones, each derived from another with ``dataclasses.replace``; the training
step takes it as a static argument, so it is frozen and hashable.
"""
from __future__ import annotations

import dataclasses
import json


@dataclasses.dataclass(frozen=True)
class Config:
    """One training experiment. ``experiments/configs/*.py`` hold the named ones."""

    model: str = "vgg"
    model_kwargs: dict = dataclasses.field(default_factory=lambda: {"width": 32})
    labels: str = "fer2013"          # or "ferplus"
    ferplus_mode: str = "majority"   # majority | crossentropy | pld | multilabel (Barsoum et al. 2016)
    ferplus_soft: float = 0.0        # FER2013 labels: weight of FER+'s 7-class vote distribution in the target
    subtle_repeat: int = 1           # times each subtle Training face (FER2013 names an emotion, FER+'s
                                     #   majority says neutral) appears per epoch (``train.subtle_faces``)
    posed: tuple = ()                # classes laid on neutral Training faces as posed expressions
    posed_share: float = 0.5         #   (``geometry.posed``): share of the neutral faces per class,
    posed_strength: tuple = (1.5, 3.5)  # and the range of the class's brow-and-eye shift (x its mean)
    teacher: tuple = ()              # distillation: saved models whose averaged probabilities on the
    distill: float = 0.0             #   clean Training faces are this weight of the target
    epochs: int = 60
    batch_size: int = 64
    optimizer: str = "sgd"           # sgd (Nesterov momentum) | adamw
    lr: float = 0.01
    weight_decay: float = 5e-4
    schedule: str = "cosine"         # cosine | onecycle | constant
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.0
    mixup: float = 0.0               # mixup (Zhang et al. 2018): Beta(a, a) of a batch and its shuffle,
                                     #   images and targets alike; this is a, 0 = off
    faint: float = 0.0               # probability that an expressive face is laid over a neutral one
    faint_share: tuple = (0.2, 0.5)  #   of the batch, the neutral face's share drawn from this range,
                                     #   the label kept: a fainter expression (see ``augment.faint``)
    cutmix_face: float = 0.0         # probability that a face takes another's lower or upper half,
                                     #   targets mixed by area (see ``augment.face_cutmix``); 0 = off
    consistency: float = 0.0         # weight of a Jensen-Shannon term between the predictions on each
                                     #   face with and without its camera effects (AugMix's); 0 = off
                                     #   (each step then runs the network on twice the batch)
    sam: float = 0.0                 # sharpness-aware minimisation: radius of the weight perturbation
                                     #   (0 = off; each step then costs two forward-backward passes)
    ema: float = 0.0                 # per-step decay of a moving average of the weights (0 = off);
                                     #   evaluation, early stopping and the saved model use the average
    augment: bool = True
    shift: float = 0.1               # max translation, fraction of the image
    scale: float = 0.1               # max zoom in/out
    rotate: float = 10.0             # max rotation, degrees
    erase: float = 0.5               # probability of random erasing
    occlude: float = 0.0             # probability of hiding the brows and eyes or the mouth and chin
                                     #   (one, at random), so no expression is read from one part alone
    # Camera-like photometric augmentation (see ``augment.photometric``); each applied with this
    # probability, 0 = off (the recipes before it, unchanged).
    photometric: float = 0.0
    contrast: float = 0.5            # contrast factor in [1/(1+c), 1+c], log-uniform
    brightness: float = 0.15         # additive, fraction of the grey range
    gamma: float = 0.5               # gamma in [1/(1+g), 1+g], log-uniform
    blur: float = 1.5                # max Gaussian sigma (px) of a blur or an unsharp mask
    noise: float = 12.0              # max Gaussian noise sigma, grey levels
    jpeg: tuple = (10, 95)           # JPEG quality range
    lowres: tuple = ()               # sides a face is shrunk to and upscaled back from; () = off
    patience: int = 10               # early stopping: epochs without a better PublicTest accuracy
    subset: int | None = None        # train on the first N Training images (quick runs)
    holdout: tuple = ()              # (k, K): never train on fold k of K of the Training faces (face i
                                     #   is in fold i mod K): a cross-fitted teacher, whose targets
                                     #   then go only to the faces it never saw (``teacher_probabilities``)
    seed: int = 0
    init: str | None = None          # start from this saved model (a folder with model.json)
    engine: str = "host"             # host: the loop below feeds batches | device: emojax.engine (scanned epochs)
    precision: str | None = None     # the training step's convolutions: None = the platform's default
    #                                  (float32 on a CPU); "bfloat16" = bfloat16 inputs, float32 sums
    #                                  (AMX on a CPU: 1.5-1.6x the images/s, benchmarks/RESULTS.md)
    snapshots: int = 0               # keep each of the last N epochs' weights as a model in
    #                                  out/snapshots/EPOCH, for weight averaging (SWA: recalibrate_batch_norm)
    why: str = ""                    # why this architecture/recipe, copied to architecture.txt

    def __hash__(self) -> int:  # a static argument of the jitted step
        return hash(json.dumps(dataclasses.asdict(self), sort_keys=True))

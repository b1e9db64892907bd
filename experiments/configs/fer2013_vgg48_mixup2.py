"""``fer2013_vgg48_mixup`` again, on batches of its own. Every fine-tune before it drew its
batches and augmentation from the same (seed, epoch, step) stream as the model it started
from, so it replayed that model's exact augmented training batches, which the network
remembers (``results/generalization/replay.md``: the shipped model's training loss is 1.12 on
its own epoch-3 batches, 1.28 on fresh ones): part of each fine-tune was spent on what its
parent had already fitted. ``train.stream_of`` now gives a run started
from a saved model a stream of its own. The moving average is shorter (0.999, about two
epochs, against 0.9995), because the first mixup run's average lagged its raw weights on
JAFFE by the length of the window."""
import dataclasses

from experiments.configs.fer2013_vgg48_mixup import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, ema=0.999, epochs=10,
    why=BASE.why + (" Rerun on fresh batches (a stream of its own, not the parent model's) with "
                    "a shorter moving average (0.999)."))

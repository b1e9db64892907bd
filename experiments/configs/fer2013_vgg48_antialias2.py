"""``fer2013_vgg48_antialias`` continued from its last epoch (``runs/antialias``, a run folder
of this machine) on a stream of its own, with small faces (24, 32, 40 px, ``lowres``) among the
camera effects: its worst mild corruption fell every epoch (3.3, 3.3, 2.8, 2.6, 2.4 points) at
71.2% clean, and by its fifth epoch the worst was low resolution 32, which the anti-aliased
recipe had not been shown. 4 epochs.
Result (stopped after 3; ``results/generalization/runs.md``): PublicTest 71.2, 71.0, 70.8%
(averaged weights), the best epoch 1 at 71.2% / worst mild 2.5 (JPEG 30) / JAFFE 46.0%; low
resolution fell to 1.8-2.1 points while JPEG rose to 2.5-2.7, and the last step's weights of
epoch 3 reached 70.3% / 2.2 / 49.3%: back on the line of the earlier fine-tunes. Not shipped."""
import dataclasses

from experiments.configs.fer2013_vgg48_antialias import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, init="runs/antialias", lowres=(24, 32, 40), epochs=4,
    why=BASE.why + (" Then, from that run's last epoch, small faces (24, 32, 40 px) among the "
                    "camera effects, 4 epochs."))

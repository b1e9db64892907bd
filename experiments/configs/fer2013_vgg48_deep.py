"""``fer2013_vgg48_antialias`` one residual block deeper in the second and third stages
(``models.ResidualBlock`` after the 24x24 and the 12x12 convs), from the shipped model: the new
blocks start as the identity (their last batch norm's scale at zero), so the run starts at the
shipped model's function, as the widened one did. Width did not move the fine-tunes' line of
clean accuracy for robustness (``fer2013_vgg64_widened``); this asks the same of depth, the
issue's residual architecture at CPU cost (4 convolutions more than the 8, 0.83M parameters more
than the 3.5M; 530-590 s an epoch on the 2 cores).
Result (``results/generalization/runs.md``): PublicTest 70.1, 70.9, 71.3, 71.2, 71.3, 71.5%
(averaged weights; the run chose epoch 6): 71.5% / worst mild 2.6 (blur 0.8) / JAFFE 45.5%,
angry 0%; the last step's weights of epochs 4 to 6 46.5-46.9% on JAFFE. Against the width-48
anti-aliased run (71.3% / 2.5 / 46.0%) depth moved the line by 0.2 points of clean accuracy,
inside PublicTest's sampling error, as width did. Not shipped (clean under 71.7%)."""
import dataclasses

from experiments.configs.fer2013_vgg48_antialias import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, model_kwargs={**BASE.model_kwargs, "blocks": (0, 1, 1, 0)},
    why=BASE.why + " With a residual block more in the second and third stages, starting as the identity.")

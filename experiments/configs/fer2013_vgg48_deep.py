"""``fer2013_vgg48_antialias`` one residual block deeper in the second and third stages
(``models.ResidualBlock`` after the 24x24 and the 12x12 convs), from the shipped model: the new
blocks start as the identity (their last batch norm's scale at zero), so the run starts at the
shipped model's function, as the widened one did. Width did not move the fine-tunes' line of
clean accuracy for robustness (``fer2013_vgg64_widened``); this asks the same of depth, the
issue's residual architecture at CPU cost (4 convolutions more than the 8, 0.83M parameters more
than the 3.5M)."""
import dataclasses

from experiments.configs.fer2013_vgg48_antialias import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, model_kwargs={**BASE.model_kwargs, "blocks": (0, 1, 1, 0)},
    why=BASE.why + " With a residual block more in the second and third stages, starting as the identity.")

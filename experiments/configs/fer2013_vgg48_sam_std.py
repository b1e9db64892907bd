"""``fer2013_vgg48_sam`` with every crop standardised inside the network, as in
``fer2013_vgg48_standardize``: the two recipes that moved JAFFE most (49.8% and 49.3% against
the shipped model's 45.5%) act on different things (SAM on the flatness of the minimum, the
standardisation on the exposure and contrast gap between FER2013's crops and photos), so this
run asks whether their gains add. Starts from the shipped model; each step costs two passes.
The four teachers of the earlier runs were run folders of a machine since replaced (``runs/`` is
not committed), so the shipped model, their student, is the one teacher here, at the same
weight (0.7). Result (stopped after epoch 3 of 8 at 10 minutes an epoch, PublicTest 70.6 / 70.5 /
70.8% with the training loss rising, as in ``fer2013_vgg48_sam2``): PublicTest 70.8%, worst mild
corruption 3.5 points (low-res 32), JAFFE 49.3%, angry still 0%
(``results/generalization/runs.md``): the gains did not add; not shipped."""
import dataclasses

from experiments.configs.fer2013_vgg48_sam import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, model_kwargs={**BASE.model_kwargs, "standardize": True}, epochs=8,
    teacher=("results/model",),
    why=BASE.why + (" With every crop standardised to FER2013's typical exposure and contrast "
                    "inside the network, the shipped model the one teacher, 8 epochs."))

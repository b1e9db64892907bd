"""``fer2013_vgg48_fersoft`` with face CutMix in place of mixup: half the training faces keep
their brows and eyes and take another face's mouth and chin, or the reverse, and their targets
say both in proportion (``augment.face_cutmix``). Every model so far reads JAFFE's posed anger
(a frown over a closed mouth) as neutral, angry recall 0%; hiding the mouth finds some of it
(23%), but hiding it in training (``occlude``) did not teach the whole-face model to weigh an
angry brow against a still mouth. A chimera of an angry upper face and a neutral lower one is
that face, and FER2013 hardly has it; fersoft is the control (same recipe, mixup instead).
Result (stopped after epoch 4 of 6, PublicTest 71.3 / 71.1 / 70.7 / 70.1% by epoch, averaged
weights): best epoch 1, PublicTest 71.3%, worst mild corruption 2.9 points (JPEG 30), JAFFE
45.5%, angry 0% (``results/generalization/runs.md``); the exported later epochs reached JAFFE
47.9% with anger still 0%: the chimeras did not teach posed anger; not shipped."""
import dataclasses

from experiments.configs.fer2013_vgg48_fersoft import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, mixup=0.0, cutmix_face=0.5, epochs=6,
    why=BASE.why + (" Then face CutMix (half the faces take another's lower or upper half, "
                    "targets mixed by rows) in place of mixup, 6 epochs."))

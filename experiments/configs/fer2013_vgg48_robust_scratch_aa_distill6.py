"""``fer2013_vgg48_robust_scratch_aa_distill3`` with mixup (0.2, as in mixup2's recipe): every
distillation of the robust line peaked within a few epochs and then fell back as the student
fitted its teachers' targets on the training faces (train accuracy 80 -> 85% against a flat or
falling PublicTest; distill3 at epoch 3, distill2 at 7). Mixing pairs of faces and their soft
targets gives the student targets it cannot memorise, the way mixup2 kept its teachers' gain.
Same start (``runs/scratch_aa_swa/averages/swa8``), teachers, rate and length as distill3.

    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa_distill6 \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa_distill6 --no-progress \\
        --precision bfloat16 [--resume]

Result (train_cnn's log, 220-250 s an epoch beside other jobs): PublicTest 70.5, 70.6, 70.4,
70.4, 70.6% for epochs 1-5 (distill3: 70.9, 70.6, 71.1, 70.9, 70.5%), the PublicTest loss rising
from 0.882 to 0.904 while the training accuracy stayed at 75-76% (distill3: 81-82%): the student
no longer memorises its targets and still does not gain. Stopped after 5 of 12 epochs, no
snapshot table. What holds the robust line near 71% is not over-fitting to the teachers.
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch_aa_distill3 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, mixup=0.2, why=BASE.why + " Mixup 0.2 on the faces and their targets in that last step.")

"""``fer2013_vgg48_robust_scratch_aa_distill2`` started from the constant-rate weight average
(``runs/scratch_aa_swa/averages/swa8``: 70.8% PublicTest, worst mild drop 0.8, JAFFE 46.5%)
instead of the 60-epoch one (69.8%, 0.6, 53.5%), 12 epochs. distill2 gained 1.2 points of
PublicTest from its start and ended 4 faces under the shipping line (71.0% against 71.1%); from a
start a point higher this tests whether the robust line can pass it, and what JAFFE pays.

    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa_distill3 \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa_distill3 --no-progress \\
        --precision bfloat16 [--resume]
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch_aa_distill2 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, init="runs/scratch_aa_swa/averages/swa8", epochs=12, patience=12, snapshots=12,
    why=BASE.why.replace("Then from the weight average of its epochs 101-160, 16 epochs",
                         "Then from the weight average of 8 epochs at a constant learning rate after it, 12 epochs"))

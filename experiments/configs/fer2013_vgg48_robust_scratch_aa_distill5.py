"""The best JAFFE of the robust line carried over the shipping line. The weight average of the
12 constant-rate epochs after distill2 (``runs/scratch_aa_distill_swa/averages/swa12``: 70.9%
PublicTest, worst mild drop 1.1, JAFFE 53.1%) sits a few faces under the line that distill3
reached with JAFFE 47.4%, and every run so far kept the JAFFE of its start. This distils it
again, gently (8 epochs at 0.002 with the moving average of the weights, as the first
distillation from the 60-epoch average, which gained 0.6 points that way), from the same two
teachers (``runs/mixup2`` and ``runs/scratch_aa_swa/averages/swa8``, 72.4% together).

    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa_distill5 \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa_distill5 --no-progress \\
        --precision bfloat16 [--resume]

Result (train_cnn's log, 220-360 s an epoch beside other jobs): PublicTest 70.8, 70.5, 69.9,
69.9% for epochs 1-4, under its start (70.9%) and falling as the training accuracy rose to 83%;
stopped after 4 of 8 epochs, no snapshot table. A start already fitted to these targets gains
nothing from them again.
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch_aa_distill2 import CONFIG as BASE
from experiments.configs.fer2013_vgg48_robust_scratch_aa_distill_swa import CONFIG as START

CONFIG = dataclasses.replace(
    BASE, init="runs/scratch_aa_distill_swa/averages/swa12", lr=0.002, epochs=8, patience=8, snapshots=8,
    why=START.why + " Then from the mean of those 12, 8 epochs at learning rate 0.002 on the same targets.")

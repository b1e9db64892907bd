"""Stochastic weight averaging after ``fer2013_vgg48_robust_scratch_aa_distill2``, the two recipes
that each gained about a point of PublicTest over the robust from-scratch model put together:
from distill2's best epoch, its teachers' targets kept, a constant learning rate (0.003, as
``fer2013_vgg48_robust_scratch_aa_swa``, which took the from-scratch run from 69.7% to 70.8% with
its last 8 epochs averaged) for 12 epochs, each kept, without the moving average (the weight
average does the smoothing), then their mean with batch-norm statistics recomputed on Training.
Result (about 120 s an epoch; ``results/robust_scratch/distill_swa.md``): single epochs 69.2-70.3%
PublicTest (its start, distill2's epoch 7, was 71.0%), JAFFE 46.9-53.5%; the averages of the last
4 / 8 / 12, 70.4 / 70.7 / **70.9%**, JAFFE 51.2 / 53.1 / 53.1%: still under the shipping line.

    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa_distill_swa \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa_distill_swa --no-progress \\
        --precision bfloat16 [--resume]
    python experiments/snapshot_table.py runs/scratch_aa_distill_swa --swa 4 8 12 \\
        --data ../shared/data/fer2013.csv.gz --photos ../shared/data/jaffe \\
        --keep runs/scratch_aa_distill_swa/averages --out results/robust_scratch/distill_swa.md
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch_aa_distill2 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, init="runs/scratch_aa_distill2", schedule="constant", lr=0.003, warmup_epochs=1.0, ema=0.0,
    epochs=12, patience=12, snapshots=12,
    why=BASE.why + " Then 12 epochs from its best at a constant learning rate 0.003, each kept, to be averaged (SWA).")

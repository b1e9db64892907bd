"""``fer2013_vgg48_robust_scratch_aa_distill`` at a higher learning rate, twice as long, with the
best teacher pair on PublicTest. That run moved 0.7 points in 8 epochs at 0.002 and was still
rising; its teachers (the shipped model and the 60-epoch weight average) agree at 72.0%
PublicTest, the shipped model with the constant-rate average (``runs/scratch_aa_swa/averages/swa8``,
70.8% alone) at 72.4%, the best of the pairs and triples of the models at hand (PublicTest, one
view each; ``experiments/ensemble.py 'shipped=runs/mixup2'
'swa8=runs/scratch_aa_swa/averages/swa8' --data ... --photos ...`` reports the pair's). It starts
again from the 60-epoch average (JAFFE 53.5%, against 46.5% for the constant-rate one) at 0.005,
16 epochs, each kept for a weight average.
Result (about 110-135 s an epoch; ``results/robust_scratch/distill2.md``): PublicTest 69.8% at
epoch 1 up to **71.0%** at epoch 7, then 70.4-70.7% to the end; JAFFE 51.6-54.5%; the averages of
the last 4 / 8 / 16 epochs 70.3 / 70.4 / 70.4%. Epoch 7 loses at most 1.1 points to a mild
corruption, JAFFE 52.1% (``results/generalization/runs.md``): 2,548 of 3,589 faces, two under
the shipping line (``w48e160``'s 2,550, 71.1%).

    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa_distill2 \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa_distill2 --no-progress \\
        --precision bfloat16 [--resume]
    python experiments/snapshot_table.py runs/scratch_aa_distill2 --swa 4 8 16 \\
        --data ../shared/data/fer2013.csv.gz --photos ../shared/data/jaffe \\
        --keep runs/scratch_aa_distill2/averages --out results/robust_scratch/distill2.md
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch_aa import CONFIG as SCRATCH
from experiments.configs.fer2013_vgg48_robust_scratch_aa_distill import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, teacher=("runs/mixup2", "runs/scratch_aa_swa/averages/swa8"), lr=0.005, epochs=16, patience=16,
    snapshots=16,
    why=SCRATCH.why + (" Then from the weight average of its epochs 101-160, 16 epochs at learning rate 0.005 "
                       "on targets 70% the averaged probabilities of the model then shipped (mixup2) and the "
                       "constant-rate weight average."))

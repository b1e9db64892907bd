"""``fer2013_vgg48_robust_scratch_aa_distill2``'s recipe on a second from-scratch seed, taught by
the shipped model. ``scratch_aa``'s 60-epoch weight average was the best model on JAFFE chosen on
PublicTest (53.5%) and the most robust, but 1.9 points under the shipped model on clean PublicTest;
distilling it toward the shipped model gained PublicTest and cost JAFFE. A second seed
(``--seed 1``) gives a teacher whose errors differ from both, and a start that has not been
distilled before. It starts from that seed's average of epochs 101-160 at 0.005, 12 epochs, each
kept for a weight average, on targets 70% the averaged probabilities of the shipped model
(``scratch_aa_distill3``, shipped then; ``runs/distill3``, ``results/model`` at commit f824e4b)
and of that average. Shipped: its epoch 6.

    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa --seed 1 --snapshots 60 \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa_seed1 --no-progress \\
        --precision bfloat16 [--resume]
    python experiments/snapshot_table.py runs/scratch_aa_seed1 --swa 60 --every 5 \\
        --data ../shared/data/fer2013.csv.gz --photos ../shared/data/jaffe \\
        --keep runs/scratch_aa_seed1/averages --out results/robust_scratch/seed1_snapshots.md
    mkdir -p runs/distill3 && git archive f824e4b results/model | tar -x --strip-components=2 -C runs/distill3
    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa_seed1_distill \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa_seed1_distill --no-progress \\
        --precision bfloat16 [--resume]
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch_aa import CONFIG as SCRATCH
from experiments.configs.fer2013_vgg48_robust_scratch_aa_distill2 import CONFIG as BASE

SWA60 = "runs/scratch_aa_seed1/averages/swa60"

CONFIG = dataclasses.replace(
    BASE, init=SWA60, teacher=("runs/distill3", SWA60), epochs=12, patience=12, snapshots=12,
    why=SCRATCH.why + (" Seed 1; then from the weight average of its epochs 101-160, 12 epochs at learning "
                       "rate 0.005 on targets 70% the averaged probabilities of the shipped model "
                       "(scratch_aa_distill3) and that average."))

"""``fer2013_vgg48_robust_scratch_aa_seed1_distill`` (shipped, its epoch 6) with the whole measured
ensemble as teacher. Same start (seed 1's weight average of epochs 101-160), same 12 epochs at
0.005 and 70% soft targets; only the teachers differ: the four members of
``results/robust_scratch/ensemble_shipped4.md`` (PublicTest 72.4% together, one view each,
against 70.1-71.7% alone), so that the one model the live predictor runs learns what the
four agree on. Chosen on PublicTest, the corruption benchmark and JAFFE, as the others.
Result (195-225 s an epoch, after about an hour for the teachers' 23 views over Training;
``results/robust_scratch/seed1_distill_ens4.md``): the two-teacher run's path to within 0.3
points every epoch. Best epoch 5: PublicTest 71.0% (2,549 of 3,589 faces, one under the
shipping line; the shipped epoch 6 has 2,550), JAFFE 51.2% (shipped: 50.7%), angry still 0%;
the averages of the last 4 / 12 epochs 70.2 / 70.5%. Not shipped. Two more teachers, whose
probabilities on Training are as sure as the first two's (all four learnt those faces), add
nothing the first two did not say.

    mkdir -p runs/seed1_distill && git archive 9bd9941 results/model | tar -x --strip-components=2 -C runs/seed1_distill
    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa_seed1_distill_ens4 \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa_seed1_distill_ens4 --no-progress \\
        --precision bfloat16 [--resume]
    python experiments/snapshot_table.py runs/scratch_aa_seed1_distill_ens4 --swa 4 12 \\
        --data ../shared/data/fer2013.csv.gz --photos ../shared/data/jaffe \\
        --keep runs/scratch_aa_seed1_distill_ens4/averages --out results/robust_scratch/seed1_distill_ens4.md

``runs/distill3`` and ``runs/mixup2`` come back from git as ``experiments/configs/__init__.py`` says;
``runs/scratch_aa_seed1/averages/swa60`` from ``fer2013_vgg48_robust_scratch_aa_seed1_distill``'s commands.
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch_aa import CONFIG as SCRATCH
from experiments.configs.fer2013_vgg48_robust_scratch_aa_seed1_distill import CONFIG as BASE, SWA60

CONFIG = dataclasses.replace(
    BASE, teacher=("runs/seed1_distill", "runs/distill3", "runs/mixup2", SWA60),
    why=SCRATCH.why + (" Seed 1; then from the weight average of its epochs 101-160, 12 epochs at learning "
                       "rate 0.005 on targets 70% the averaged probabilities of a four-model ensemble: the "
                       "shipped model (seed 1's distillation), distill3, mixup2 and that average."))

"""Stochastic weight averaging after the 160-epoch ``fer2013_vgg48_robust_scratch_aa`` run, as
Izmailov et al. (2018) do it: from its last epoch, a constant learning rate (0.003, about the
cosine's at epoch 125 of 160, where the run's epochs still differed enough for their average to
gain; its cosine ended at 0.0002) for 24 epochs, each kept (``snapshots``), then their mean with
the batch-norm statistics recomputed on Training (``experiments/snapshot_table.py --swa``).
The single epochs are not meant to be better than where they started; their average is.
Result (``results/robust_scratch/swa_constant.md``): single epochs 67.5-69.3% PublicTest; the
averages of the last 8 / 16 / 24, 70.8 / 70.7 / 70.4%, a point over the run's own last epochs
and their average, but JAFFE 46.5 / 47.4 / 46.0% against that average's 53.5%. The average of the
last 8 loses at most 0.8 points to a mild corruption (``results/generalization/runs.md``).

    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa_swa \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa_swa --no-progress \\
        --precision bfloat16 [--resume]
    python experiments/snapshot_table.py runs/scratch_aa_swa --swa 8 16 24 \\
        --data ../shared/data/fer2013.csv.gz --photos ../shared/data/jaffe \\
        --keep runs/scratch_aa_swa/averages --out results/robust_scratch/swa_constant.md
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch_aa import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, init="runs/scratch_aa/snapshots/160", epochs=24, schedule="constant", lr=0.003,
    patience=24, snapshots=24,
    why=BASE.why + " Then 24 epochs at a constant learning rate 0.003 from its last epoch, each kept, to be averaged (SWA).")

"""``fer2013_vgg48_robust_scratch_aa_distill3`` with the camera effects widened to the corruption
benchmark's severe levels: blur or sharpening up to sigma 2.0 (was 1.5) and sensor noise up to
16 grey levels (was 12). Every robust model so far loses 2.6-3.6 points of PublicTest to a blur
of sigma 1.5 and 2.1-2.6 to noise 16, JPEG 15 and faces from 24 px, while the mild drops are
all under 1.2: the severe end is where training never reached. Same start (the constant-rate
weight average ``runs/scratch_aa_swa/averages/swa8``), teachers, rate and length as distill3, so
the two runs differ only in these two limits.

    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa_distill4 \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa_distill4 --no-progress \\
        --precision bfloat16 [--resume]
    python experiments/snapshot_table.py runs/scratch_aa_distill4 --swa 4 12 \\
        --data ../shared/data/fer2013.csv.gz --photos ../shared/data/jaffe \\
        --keep runs/scratch_aa_distill4/averages --out results/robust_scratch/distill4.md
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch_aa_distill3 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, blur=2.0, noise=16.0,
    why=BASE.why + " Blur or sharpening up to sigma 2.0 and noise up to 16 grey levels in that last step.")

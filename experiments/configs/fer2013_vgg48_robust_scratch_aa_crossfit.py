"""The shipped recipe's distillation (``_seed1_distill``: 12 epochs at 0.005, 70% of each target
the teachers') with cross-fitted teachers: four robust VGG48s from scratch, model k never trained
on fold k of the Training faces (row mod 4), so each face's target is the guess of a model that
never saw it, where the shipped model's teachers had learnt every label they gave. It starts
from the shipped model. The teachers come from a GPU (``FOLDS=1``: the four in one program,
their last 60 epochs averaged), the distillation runs on the CPU here (about 50 minutes):

    FOLDS=1 CONFIG=fer2013_vgg48_robust_scratch_aa K=4 EPOCHS=160 SWA=60 bash experiments/device_ensemble.sh
    for f in FILES_AT/fold*.tar.gz; do mkdir -p runs/folds && tar -xzf $f -C runs/folds; done
    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa_crossfit \\
        --data ../shared/data/fer2013.csv.gz --out runs/crossfit --no-progress --precision bfloat16 [--resume]

``experiments/crossfit_probe.sh`` measures the idea small on the CPU first.
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch_aa import CONFIG as SCRATCH
from experiments.configs.fer2013_vgg48_robust_scratch_aa_seed1_distill import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, init="results/model", teacher=tuple(f"runs/folds/fold{k}/swa" for k in range(4)),
    why=SCRATCH.why + (" Then from the shipped model, 12 epochs at learning rate 0.005 on targets 70% the "
                       "probabilities of cross-fitted teachers: four from-scratch models, each never "
                       "trained on one fold of the Training faces, each labelling only that fold."))

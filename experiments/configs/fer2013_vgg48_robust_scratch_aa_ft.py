"""A second, short cosine cycle for the GPU's 55-epoch ``fer2013_vgg48_robust_scratch_aa``
seed 0 (``experiments/device_ensemble.sh`` writes it to ``runs/scratch/seed0``), on the CPU:
the same camera effects, learning rate 0.004 with a moving average of the weights, 4 epochs.
That run is the most robust model yet (worst mild drop 1.1, JAFFE 50.2%) but its schedule
ended at 55 of the recipe's 160 epochs, at 69.1% clean; this asks how much of the gap to the
shipped model's 71.7% more training closes while the robustness stays.
Result (averaged weights, 640-690 s an epoch on the 2 cores): PublicTest 68.7, 68.7, 69.0,
68.5%, none above the 69.1% it started from: a short second cycle does not stand in for the
full schedule (corruptions and JAFFE not measured).

    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa_ft \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa_ft --no-progress
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch_aa import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, init="runs/scratch/seed0", epochs=4, lr=0.004, warmup_epochs=0.5, patience=4, ema=0.999,
    engine="host",
    why=BASE.why + " Then 4 epochs more from the 55-epoch GPU run, learning rate 0.004, EMA 0.999.")

"""``fer2013_vgg48_robust_scratch`` with every max-pool anti-aliased (``VGG(antialias=True)``):
the GPU plan's anti-aliased arm, run on the CPU over several sessions as ``runs/scratch_aa``
(``--resume`` continues it from its last epoch). Epochs 1-45 ran in float32 (about 400 s an epoch
on the 2 cores); from epoch 46 it runs with ``--precision bfloat16`` and the rewritten anti-aliased
pool, about 190 s an epoch (``benchmarks/bench_step.py``: 66 -> 180 images/s). The issue notes say
where it stands. Every fine-tune of the shipped model fell on one line of clean accuracy for
robustness (``results/generalization/runs.md``), the anti-aliased ones included; Zhang 2019 found
anti-aliasing pays most when the features are learnt with it, and the camera effects from the first
epoch give the network 160 epochs, not 6, to absorb them. Its baseline is the run the shipped model
descends from, ``w48e160`` (the same recipe without either: 71.1% PublicTest at epoch 147,
``results/sweep/table.md``).

    python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa \\
        --data ../shared/data/fer2013.csv.gz --out runs/scratch_aa --no-progress [--resume] \\
        [--precision bfloat16]
"""
import dataclasses

from experiments.configs.fer2013_vgg48_robust_scratch import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, model_kwargs={**BASE.model_kwargs, "antialias": True},
    why=BASE.why + " Every max-pool anti-aliased (max at stride 1, binomial blur, stride 2).")

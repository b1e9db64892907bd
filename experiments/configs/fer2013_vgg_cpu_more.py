"""Stage 2 of the CPU recipe: the 24-epoch width-16 model (stage 1, fer2013_vgg_cpu, kept in
results/cnn_stage1/) under-fits (its curves were still rising), so a second cosine cycle of 40
epochs at half the peak learning rate continues it. Shipped as results/model/."""
import dataclasses

from experiments.configs.fer2013_vgg_cpu import CONFIG as STAGE1

CONFIG = dataclasses.replace(
    STAGE1, init="results/cnn_stage1", epochs=40, lr=0.01, patience=12,
    why=STAGE1.why + " Stage 2: a second cosine cycle of 40 epochs from the stage-1 weights.")

"""The main FER2013 recipe: VGG-style net, SGD-Nesterov with a cosine schedule, affine +
erasing augmentation, early stopping on PublicTest."""
from emojax.config import Config

CONFIG = Config(
    model="vgg",
    model_kwargs={"width": 32, "dense": 256, "dropout": 0.4},
    epochs=60,
    batch_size=64,
    optimizer="sgd",
    lr=0.02,
    weight_decay=5e-4,
    schedule="cosine",
    label_smoothing=0.1,
    patience=12,
    why=("Four VGG stages (two 3x3 conv-BN-ReLU each, widths 32-64-128-256) bring 48x48 "
         "down to 3x3: deep enough for the expression cues (mouth, brows, eyes) that VGG-style "
         "nets exploit on FER2013 (Khaireddin & Chen 2021 reach 73.3% with a wider VGG), "
         "while 1.8M parameters keep the shipped model at about 7 MB and CPU training feasible. "
         "Batch norm and dropout after every stage fight FER2013's over-fitting."),
)

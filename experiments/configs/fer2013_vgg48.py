"""FER2013 recipe at width 48 (48-96-192-384), 100 epochs: the main recipe with 2x the
parameters and a longer cosine cycle, for a GPU."""
import dataclasses

from experiments.configs.fer2013_vgg import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, model_kwargs={**BASE.model_kwargs, "width": 48}, epochs=100, patience=20,
    why=BASE.why.replace("widths 32-64-128-256", "widths 48-96-192-384").replace(
        "1.8M parameters keep the shipped model at about 7 MB and CPU training feasible",
        "3.5M parameters keep the shipped model at about 14 MB"))

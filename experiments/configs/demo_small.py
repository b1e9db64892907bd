"""The small net on the synthetic demo set: what a fresh clone runs without FER2013."""
from emojax.config import Config

CONFIG = Config(
    model="small",
    model_kwargs={"width": 8},
    epochs=8,
    batch_size=64,
    optimizer="adamw",
    lr=3e-3,
    weight_decay=1e-4,
    patience=4,
    why="A three-stage CNN with 8-16-32 channels: trains in seconds on a CPU; for the demo "
        "set and tests, never for reported FER2013 results.",
)

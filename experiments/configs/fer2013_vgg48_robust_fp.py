"""The robust fine-tune with FER+'s vote distributions as soft targets: FER+ relabelled the
same faces with 10 taggers each, and its majority agrees with FER2013's label on only 72%
of Training, so half of each target comes from the cleaner votes (contempt counted as
disgust). Continues from the robust fine-tune (``--init`` its run folder)."""
import dataclasses

from experiments.configs.fer2013_vgg48_robust import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, ferplus_soft=0.5, lr=0.003,
    why=BASE.why + (" Then FER+ vote distributions as half of each target (ferplus_soft=0.5), "
                    "for cleaner labels of the same faces."))

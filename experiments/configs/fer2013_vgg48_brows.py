"""A brows-and-eyes expert: the shipped recipe (``fer2013_vgg48_mixup2``, no teachers) from the
shipped model, with the mouth and chin (rows 29-47, ``augment.FACE_BANDS``) hidden inside the
network (``VGG(hide_rows=...)``), in training and at every use. Posed anger on JAFFE is in the
brows over a closed, neutral mouth, and FER2013's anger mostly shouts: every generic model in
``results/generalization/runs.md`` reads JAFFE's angry faces as neutral (recall 0%), and
hiding the mouth of the shipped model's input raised angry recall on JAFFE only to 0-23%
(``results/generalization/occlusion.md``) because it never learnt to read the upper face alone.
A model that must do so tests whether the brows carry FER2013's anger into JAFFE; if they
do, its log probabilities added to the whole-face model's (``experiments/part_fusion.py``) are
a two-view model whose weight is chosen on PublicTest. No half-face occlusion (the brows are
all it has). 4 epochs at a higher learning rate than the other fine-tunes (0.004), since the
input changes.
Result (stopped after 3 of 4 epochs; averaged weights): PublicTest 53.4, 57.0, 58.1%. JAFFE
(one view) 38.5% (epoch 1, last step), 35.7%, 34.3%: angry 0% at every epoch, fear 34-38-28%
(the whole-face model 12%). The expert reads 23 of the 30 angry photos as neutral while it
calls only 1 of the 30 neutral photos neutral: to a network that sees only the brows and eyes,
JAFFE's anger is more neutral than JAFFE's neutral. Pooled with the shipped model
(``results/generalization/part_fusion.md``) no weight helps: PublicTest falls at every weight
(71.0% at 0.25) and JAFFE stays at 39.0-45.1%, angry 0%. Refuted: the upper face does not
carry FER2013's anger into JAFFE either; the brows themselves look different."""
import dataclasses

from emojax.augment import FACE_BANDS
from experiments.configs.fer2013_vgg48_mixup2 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, teacher=(), distill=0.0, occlude=0.0, epochs=4, lr=0.004,
    model_kwargs={**BASE.model_kwargs, "hide_rows": FACE_BANDS[1]},
    why=BASE.why + (" Then, without teachers or half-face occlusion, a brows-and-eyes expert: the "
                    f"mouth and chin (rows {FACE_BANDS[1][0]}-{FACE_BANDS[1][1] - 1}) hidden by "
                    "the network itself, 4 epochs at learning rate 0.004."))

"""The shipped recipe (``fer2013_vgg48_mixup2``, no teachers) from the shipped model, with posed
anger made from neutral faces (``geometry.posed``): half of Training's neutral faces warped so
that their brows and eyes move as FER2013's mean angry face's do against its mean neutral one,
1.5-3.5 times as far, the mouth kept closed, and labelled angry (2,484 faces added to Training).

Why: every model reads JAFFE's posed anger as neutral (0% recall), yet a linear probe on the
shipped model's own features finds it (``results/generalization/probe.md``). The landmarks say
what differs (``results/generalization/shapes.md``): against its own neutral mean, FER2013's angry face opens its mouth by 1.2 neutral
standard deviations and lowers its inner brows by 0.5; JAFFE's angry photos (against each
poser's neutral ones) open it by 0.2 and lower the brows by 1.0, knitting them 2.5x as much.
FER2013 teaches shouting; posed anger (EMFACS: AU4 + AU5/7 + AU23) is brows and eyes over a
closed mouth. The warps give FER2013's own brow-and-eye anger, stronger, with a neutral mouth
and texture. 4 epochs.
Result (``results/generalization/runs.md``; 980-1240 s an epoch beside the from-scratch run):
PublicTest 71.1, 71.2, 70.8, 71.0% (averaged weights); its best, epoch 2: 71.2% / worst mild 2.5
+- 1.0 (JPEG 30) / JAFFE 46.5%, angry 0%; the last step's weights 69.5% / 3.2 / 47.9% (angry 7%)
after epoch 2, 70.0% / 2.6 / 47.9% (angry 0%) at the end. It reads 36-37% of posed faces made
from PublicTest's neutral ones as angry (the shipped model 12%; ``posed.md``): JAFFE's anger moves
each landmark measure by at most one standard deviation of FER2013's neutral faces, so one face's
shape cannot tell it from a neutral face with low, close brows. Not shipped."""
import dataclasses

from experiments.configs.fer2013_vgg48_mixup2 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, teacher=(), distill=0.0, posed=("angry",), posed_share=0.5, posed_strength=(1.5, 3.5), epochs=4,
    why=BASE.why + (" Then, without teachers, half of the neutral Training faces warped into posed "
                    "anger (brows and eyes moved as FER2013's mean angry face's, 1.5-3.5x, the mouth "
                    "kept), labelled angry, 4 epochs."))

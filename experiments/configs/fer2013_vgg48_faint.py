"""The shipped recipe (``fer2013_vgg48_mixup2``, no teachers) from the shipped model, with
faint expressions (``augment.faint``): half of the expressive faces laid over a neutral face of
the batch (the neutral one's share 0.2-0.5), their label kept. JAFFE's posed anger is anger
to its own 60 raters (their top adjective on 80% of the angry photos:
``results/generalization/raters.md``) and neutral to every FER2013 model, even to one that
sees only the brows and eyes (``fer2013_vgg48_brows``, ``results/generalization/part_fusion.md``):
not a part of the face outvoting another, but an expression weaker than FER2013's. This asks
whether naming what is left of an expression over a neutral face carries to JAFFE. 4 epochs.
Result (``results/generalization/runs.md``): PublicTest 71.3, 71.5, 70.9, 70.6% (averaged
weights); its best, epoch 2: 71.5% / worst mild 3.4 +- 1.0 (JPEG 30) / JAFFE 46.5%; the last
step's weights 70.1% / 2.9 / 49.8% (disgust 24%) after epoch 2, 70.5% / 2.9 / 47.9% at the end.
Angry 0% in every one, and JAFFE's neutral recall rose (63% -> 83-90%): the faint blends made
the network call more faces neutral, not fewer. Not shipped; the weakness is not one of
intensity that a blend can imitate."""
import dataclasses

from experiments.configs.fer2013_vgg48_mixup2 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, teacher=(), distill=0.0, faint=0.5, faint_share=(0.2, 0.5), epochs=4,
    why=BASE.why + (" Then, without teachers, half of the expressive faces laid over a neutral "
                    "face of the batch (its share 0.2-0.5), their label kept: fainter expressions, "
                    "4 epochs."))

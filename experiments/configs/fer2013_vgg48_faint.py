"""The shipped recipe (``fer2013_vgg48_mixup2``, no teachers) from the shipped model, with
faint expressions (``train.faint``): half of the expressive faces laid over a neutral face of
the batch (the neutral one's share 0.2-0.5), their label kept. JAFFE's posed anger is anger
to its own 60 raters (their top adjective on 80% of the angry photos:
``results/generalization/raters.md``) and neutral to every FER2013 model, even to one that
sees only the brows and eyes (``fer2013_vgg48_brows``, ``results/generalization/part_fusion.md``):
not a part of the face outvoting another, but an expression weaker than FER2013's. This asks
whether naming what is left of an expression over a neutral face carries to JAFFE. 4 epochs."""
import dataclasses

from experiments.configs.fer2013_vgg48_mixup2 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, teacher=(), distill=0.0, faint=0.5, faint_share=(0.2, 0.5), epochs=4,
    why=BASE.why + (" Then, without teachers, half of the expressive faces laid over a neutral "
                    "face of the batch (its share 0.2-0.5), their label kept: fainter expressions, "
                    "4 epochs."))

"""The shipped recipe (``fer2013_vgg48_mixup2``; no teachers, whose run folders are gone) from
the shipped model, with AugMix's Jensen-Shannon consistency (Hendrycks et al. 2020, weight 12
as there): every face is seen with and without its camera effects in the same step and the
two predictions are pulled together, and small faces (24, 32, 40 px) join the camera effects.
The camera augmentation alone left the shipped model 3 points short under JPEG 30, blur 0.8
and low resolution 32 (``results/generalization/runs.md``): it is shown the corrupted faces
but never asked to answer as it does on the clean one.
Result (6 epochs, averaged weights): best epoch 1, PublicTest 71.0%, worst mild corruption 2.5
points (JPEG 30), JAFFE 46.5%, angry 0%; PublicTest then fell every epoch (70.4, 69.9, 69.5,
69.4, 69.2%) with the worst drop at 2.3-2.5 (low-res 32) and the validation loss rising (0.92 ->
1.07): with the camera effects already in the data, the term mostly flattened the predictions.
Not shipped (``results/generalization/runs.md``)."""
import dataclasses

from experiments.configs.fer2013_vgg48_mixup2 import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, teacher=(), distill=0.0, consistency=12.0, lowres=(24, 32, 40), epochs=6,
    why=BASE.why + (" Then, without teachers, a Jensen-Shannon consistency term (weight 12) between "
                    "each face with and without its camera effects, small faces among those "
                    "effects, 6 epochs."))

"""``fer2013_vgg48_antialias`` with small faces (24, 32, 40 px, ``lowres``) among the camera
effects from its first step, 8 epochs, from the shipped model. The anti-aliased run's worst
mild corruption fell every epoch (3.3 to 2.4 points at 71.2% clean), and by its end the worst
was low resolution 32, which it had not been shown; continuing it with small faces
(``fer2013_vgg48_antialias2``) restarted the learning rate from that run's end, and its clean
accuracy fell while the rate was high (71.2, 71.0, 70.8%). Here one cosine schedule, two
epochs longer, carries both from the shipped model.
Result (``results/generalization/runs.md``): PublicTest 69.7, 70.8, 71.1, 71.0, 71.1, 71.0,
70.7, 70.6% (averaged weights), the best epoch 3 at 71.1% / worst mild 3.1 (JPEG 30) / JAFFE
47.4%; the last step's weights of epoch 8 reached the smallest worst drop of any run then, 1.8
(JPEG 30; low resolution 1.1), at 70.3% clean, JAFFE 46.5%: the same line as every fine-tune
before, not the robustness bullet (2 points at >= 71.1%). Not shipped."""
import dataclasses

from experiments.configs.fer2013_vgg48_antialias import CONFIG as BASE

CONFIG = dataclasses.replace(
    BASE, lowres=(24, 32, 40), epochs=8,
    why=BASE.why.replace(", 6 epochs.", ",") + (" with small faces (24, 32, 40 px) among the "
                                              "camera effects, 8 epochs."))

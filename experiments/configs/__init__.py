"""One module per experiment, each defining ``CONFIG`` (an ``emojax.train.Config``).

``init="results/model"`` or a teacher ``"results/model"`` means the model shipped when that
config was run, not today's: ``git log --oneline -- results/model/model.json`` lists each
shipped model's commit, and ``mkdir -p runs/NAME && git archive COMMIT results/model | tar -x
--strip-components=2 -C runs/NAME`` brings one back to point a config at. The robust
from-scratch line names its teachers this way: ``runs/mixup2`` is ``results/model`` at commit
cd58680 (shipped in d3047b0), ``runs/distill3`` is ``results/model`` at commit f824e4b (shipped
in c0d3cc5), ``runs/seed1_distill`` is ``results/model`` at commit 9bd9941 (shipped there).
A run's ``metrics.json`` keeps the hash of each model it started from and learnt from
(``sources``, ``emojax.models.fingerprint``), to check a copy against.
"""

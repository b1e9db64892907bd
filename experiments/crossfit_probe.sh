#!/usr/bin/env bash
# Does distillation gain from teachers that never saw the face they label? A small-scale probe
# on the CPU (about 90 minutes on 2 cores) before the full-size run on a GPU
# (FOLDS=1 bash experiments/device_ensemble.sh).
#
# A teacher that trained on a face has learnt its label: on the Training faces its
# probabilities are sure and close to the one-hot label, so distilling from them adds little
# (the four-teacher distillation matched the two-teacher one epoch by epoch, issue 14's notes).
# Cross-fitted teachers (train_cnn.py --folds K: model k never trains on fold k) give each
# face the probabilities of a model that has to guess it, as on PublicTest.
#
# Both arms: the shipped recipe (fer2013_vgg48_robust_scratch_aa) at width 16 on the first
# N Training faces for E epochs from scratch, four teachers each, then a student of the same
# recipe and seed taught by them at the shipped weight (70% teachers, 30% label):
#   folds: four teachers, each on 3/4 of the N faces; the student's targets cross-fitted;
#   seeds: four teachers (seeds 0-3), each on all N faces; ordinary distillation.
# seeds/seed0 is the student's recipe without teachers. The table (generalization_table.py)
# scores the two students and it: PublicTest (one view), the corruptions, JAFFE.
#
#   bash experiments/crossfit_probe.sh   # N=7200 E=20 OUT=runs/crossfit_probe; TABLE=...md
set -euo pipefail
N=${N:-7200}
E=${E:-20}
OUT=${OUT:-runs/crossfit_probe}
DATA=${DATA:-../shared/data/fer2013.csv.gz}
PHOTOS=${PHOTOS:-../shared/data/jaffe}
TABLE=${TABLE:-results/robust_scratch/crossfit_probe.md}
train() {
  python experiments/train_cnn.py --config fer2013_vgg48_robust_scratch_aa --width 16 --subset "$N" \
    --epochs "$E" --data "$DATA" --no-progress --precision bfloat16 "$@"
}
[ -e "$OUT/folds/fold3/metrics.json" ] || train --folds 4 --out "$OUT/folds" --overwrite
[ -e "$OUT/seeds/seed3/metrics.json" ] || train --seeds 0 1 2 3 --out "$OUT/seeds" --overwrite
for arm in folds:fold seeds:seed; do
  dir=${arm%%:*} name=${arm##*:}
  [ -e "$OUT/student_$dir/metrics.json" ] || train --teacher "$OUT/$dir/$name"{0,1,2,3} --distill 0.7 \
    --out "$OUT/student_$dir" --resume --overwrite
done
python experiments/generalization_table.py "student, cross-fitted teachers=$OUT/student_folds" \
  "student, ordinary teachers=$OUT/student_seeds" "no teachers (seed 0)=$OUT/seeds/seed0" \
  --data "$DATA" --photos "$PHOTOS" --out "$TABLE"

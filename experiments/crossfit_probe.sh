#!/usr/bin/env bash
# Does distillation gain from teachers that never saw the face they label? A small-scale probe
# on the CPU (about 100 minutes on 2 cores) before the full-size run on a GPU
# (FOLDS=1 bash experiments/device_ensemble.sh).
#
# A teacher that trained on a face has learnt its label: on the Training faces its
# probabilities are sure and close to the one-hot label, so distilling from them adds little
# (the four-teacher distillation matched the two-teacher one epoch by epoch, issue 14's notes).
# Cross-fitted teachers (train_cnn.py --folds K: model k never trains on fold k) give each
# face the probabilities of a model that has to guess it, as on PublicTest.
#
# Both arms take the same four teachers: the shipped recipe (fer2013_vgg48_robust_scratch_aa)
# at width 16 on the first N Training faces for E epochs from scratch, each never trained on
# one fold of them (--folds 4). A student of the same recipe learns from them at the shipped
# weight (70% teachers, 30% label); only its targets differ:
#   cross-fitted: each face's target is the one teacher that never saw it;
#   ordinary: the mean of all four (copies whose model.json no longer names the fold), three
#   of which trained on the face.
# The third row is the recipe without teachers, the fourth one of the teachers. The table
# (generalization_table.py) scores them: PublicTest (one view), the corruptions, JAFFE.
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
for k in 0 1 2 3; do
  rm -rf "$OUT/plain/fold$k" && mkdir -p "$OUT/plain" && cp -r "$OUT/folds/fold$k" "$OUT/plain/fold$k"
  python -c "import json, sys; m = json.load(open(sys.argv[1])); del m['holdout']; \
json.dump(m, open(sys.argv[1], 'w'), indent=2)" "$OUT/plain/fold$k/model.json"
done
for arm in folds plain; do
  [ -e "$OUT/student_$arm/metrics.json" ] || train --teacher "$OUT/$arm/fold"{0,1,2,3} --distill 0.7 \
    --out "$OUT/student_$arm" --resume --overwrite
done
[ -e "$OUT/alone/metrics.json" ] || train --out "$OUT/alone" --resume --overwrite
python experiments/generalization_table.py "student, cross-fitted targets=$OUT/student_folds" \
  "student, ordinary targets=$OUT/student_plain" "no teachers=$OUT/alone" "teacher 0 (fold 0 held out)=$OUT/folds/fold0" \
  --data "$DATA" --photos "$PHOTOS" --out "$TABLE"

#!/usr/bin/env bash
# Train the generalization issue's ensemble members on a lent GPU machine (the device tool)
# and bring them back: K robust VGG48s from scratch in one program
# (--config fer2013_vgg48_robust_scratch --seeds ...), each returned as OUT/seedN.tar.gz.
#
# What travels to that machine is capped at 64 MiB, the committed tree (about 28 MB) included,
# and packed FER2013 is 58 MB, so the data goes in two calls made back to back (the machine
# keeps ignored files while it stays warm, 30 s after a call). Here:
#
#   python experiments/pack_fer2013.py pack ../shared/data/fer2013.csv.gz /tmp/fer2013.npz
#   mkdir -p .carry && split -n 2 -d /tmp/fer2013.npz .carry/fer2013.npz.part && \
#     mkdir -p .carry/a .carry/b && mv .carry/fer2013.npz.part00 .carry/a/ && mv .carry/fer2013.npz.part01 .carry/b/
#
# then run `bash experiments/device_ensemble.sh` twice, carrying .carry/a, then at once
# .carry/b (with K, EPOCHS, BUDGET_S set in the second command's environment if wanted). The
# first call stashes its part in data/stash/; the second assembles, unpacks, trains for at most
# BUDGET_S seconds (the best epoch of each model is saved as it comes, so a model stopped by the
# budget still comes back) and packs the run folders into $OUT. Back here:
#   for f in FILES_AT/seed*.tar.gz; do tar -xzf $f -C runs/scratch; done
set -euo pipefail
K=${K:-4}
EPOCHS=${EPOCHS:-160}
BUDGET_S=${BUDGET_S:-420}
OUT=${OUT:-/tmp/out}
mkdir -p data/stash "$OUT"
for part in .carry/*/fer2013.npz.part*; do
  [ -e "$part" ] && cp "$part" data/stash/
done
if [ ! -e data/stash/fer2013.npz.part00 ] || [ ! -e data/stash/fer2013.npz.part01 ]; then
  echo "stashed: $(ls data/stash); carry the other part in the next call, within 30 s"
  exit 0
fi
cat data/stash/fer2013.npz.part00 data/stash/fer2013.npz.part01 > data/fer2013.npz
python3 experiments/pack_fer2013.py unpack data/fer2013.npz data/fer2013.csv
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
set +e
PYTHONUNBUFFERED=1 timeout "$BUDGET_S" python3 experiments/train_cnn.py --config fer2013_vgg48_robust_scratch \
  --data data/fer2013.csv --epochs "$EPOCHS" --seeds $(seq 0 $((K - 1))) --out runs/scratch --overwrite \
  --no-progress 2>&1 | tee "$OUT/train.log"
echo "train_cnn exit status ${PIPESTATUS[0]} (124: stopped at the ${BUDGET_S}s budget)" | tee -a "$OUT/train.log"
set -e
for d in runs/scratch/seed*; do
  [ -e "$d/model.json" ] && tar -czf "$OUT/$(basename "$d").tar.gz" -C runs/scratch "$(basename "$d")"
done
ls -la "$OUT"

#!/usr/bin/env bash
# Train the generalization issue's ensemble members on a lent GPU machine (the device tool)
# and bring them back: K robust VGG48s from scratch in one program
# (--config CONFIG --seeds 0..K-1), each returned as OUT/seedN.tar.gz.
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
# .carry/b (CONFIG, K, EPOCHS, DEADLINE_S in the second command's environment if wanted).
# The first call stashes its part in data/stash/ and checks the machine: package versions,
# then the config's whole many-models program (train, evaluate, save) at width 8 for one
# epoch on the synthetic demo set, so a broken import or API shows before the data is there.
# The second assembles, unpacks and, with EPOCHS=auto (the default), first trains the K models
# for 2 epochs to time an epoch and the compilation (the epoch count is part of the compiled
# program, so the run compiles again), then sets the epochs so the run ends by DEADLINE_S
# seconds after the script started (at most 160; the config's schedule, over that many epochs).
# The best epoch of each model is saved as it comes, so a model stopped by the deadline still
# comes back. Measured on one H200 (2026-12-04, fer2013_vgg48_robust_scratch_aa, K=4): 66 s to
# compile, 5.6 s an epoch for the four; the probe cost 90 s of the lease, so with these figures
# pass EPOCHS=75 (what a 560 s deadline holds without it, unpacking and loading counted). The
# lease: 94 s for the start and the first call, 545 s for the second (55 epochs after the probe).
# SWA=N (default 0, off) also keeps each model's last N epochs (train_cnn.py --snapshots) and
# brings back their mean with recalibrated batch-norm statistics as seedN/swa (stochastic
# weight averaging; experiments/interpolate_weights.py --recalibrate), not the snapshots.
# Rehearsed on the CPU (2026-12-06: K=2 EPOCHS=3 SWA=2 DEADLINE_S=1500 EXTRA="--subset 512
# --width 8", both parts carried at once): each seedN.tar.gz held seedN/swa and no snapshots.
# FOLDS=1 trains cross-fitted teachers instead (--folds K: model k never sees fold k of the
# Training faces), returned as OUT/foldN.tar.gz; a distillation config that names all K as its
# teachers gives each face only the targets of the one that never trained on it
# (fer2013_vgg48_robust_scratch_aa_crossfit, on the CPU here). Rehearsed on the CPU (2026-12-07:
# FOLDS=1 K=2 EPOCHS=2 SWA=2 EXTRA="--subset 512 --width 8", both parts at once): fold0.tar.gz and
# fold1.tar.gz, each fold's model.json and its swa/ naming the fold it held out, and a student
# (train_cnn.py --teacher fold0/swa fold1/swa --distill 0.7) trained on their cross-fitted targets.
# Back here:
#   for f in FILES_AT/seed*.tar.gz; do tar -xzf $f -C runs/scratch; done   # FOLDS=1: fold*, runs/folds
set -euo pipefail
START=$(date +%s)
CONFIG=${CONFIG:-fer2013_vgg48_robust_scratch}
K=${K:-4}
EPOCHS=${EPOCHS:-auto}
DEADLINE_S=${DEADLINE_S:-560}
SWA=${SWA:-0}
EXTRA=${EXTRA:-}  # more train_cnn flags; a CPU rehearsal: EXTRA="--subset 512 --width 8"
OUT=${OUT:-/tmp/out}
FOLDS=${FOLDS:-0}
if [ "$FOLDS" = 1 ]; then MANY="--folds $K"; NAME=fold; else MANY="--seeds $(seq 0 $((K - 1)))"; NAME=seed; fi
export PYTHONUNBUFFERED=1
mkdir -p data/stash "$OUT"
left() { echo $((DEADLINE_S - ($(date +%s) - START))); }
for part in .carry/*/fer2013.npz.part*; do
  [ -e "$part" ] && cp "$part" data/stash/
done
if [ ! -e data/stash/fer2013.npz.part00 ] || [ ! -e data/stash/fer2013.npz.part01 ]; then
  echo "stashed: $(ls data/stash); carry the other part in the next call, within 30 s"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  python3 -m pip list 2>/dev/null | grep -iE '^(jax|jaxlib|jax-cuda.*|flax|optax|orbax-checkpoint|numpy|opencv.*|matplotlib) ' || true
  python3 - "$CONFIG" <<'EOF' 2>&1 | tail -n 25 | tee "$OUT/smoke.log"
import dataclasses, importlib, sys, time
import jax
from emojax import data, engine
print("jax", jax.__version__, jax.devices())
cfg = importlib.import_module(f"experiments.configs.{sys.argv[1]}").CONFIG
cfg = dataclasses.replace(cfg, epochs=1, model_kwargs={**cfg.model_kwargs, "width": 8})
t = time.time()
res = engine.train_many([dataclasses.replace(cfg, seed=s) for s in (0, 1)], data.make_demo(20),
                        ["runs/smoke/seed0", "runs/smoke/seed1"], overwrite=True)
print(f"smoke: {[round(r['val_accuracy'], 3) for r in res]} in {time.time() - t:.0f}s: OK")
EOF
  exit 0
fi
cat data/stash/fer2013.npz.part00 data/stash/fer2013.npz.part01 > data/fer2013.npz
python3 experiments/pack_fer2013.py unpack data/fer2013.npz data/fer2013.csv
train() {  # epochs, folder, seconds
  timeout "$3" python3 experiments/train_cnn.py --config "$CONFIG" --data data/fer2013.csv \
    --epochs "$1" $MANY --out "$2" --overwrite --snapshots "$SWA" $EXTRA 2>&1 | tee -a "$OUT/train.log"
  return "${PIPESTATUS[0]}"
}
set +e
if [ "$EPOCHS" = auto ]; then
  train 2 runs/probe "$(left)"
  secs() { grep -o "^epoch $1: .*| [0-9.]*s" "$OUT/train.log" | grep -o '[0-9.]*s$' | tr -d s; }
  [ -n "$(secs 2)" ] || { echo "error: the probe printed no epoch 2 (its output is above)"; exit 1; }
  EPOCHS=$(python3 -c "e1, e2 = $(secs 1), $(secs 2); print(max(1, min(160, int(($(left) - 45 - (e1 - e2)) / (e2 * 1.05)))))")
  echo "one epoch of $K models: $(secs 2)s, compiling $(secs 1)s less that; $(left)s left: $EPOCHS epochs" | tee -a "$OUT/train.log"
fi
train "$EPOCHS" runs/scratch "$(( $(left) - 15 ))"
echo "train_cnn exit status $? (124: stopped at the deadline)" | tee -a "$OUT/train.log"
for d in runs/scratch/$NAME*; do  # a failed average still brings the models back
  if [ -d "$d/snapshots" ]; then
    python3 experiments/interpolate_weights.py "$d"/snapshots/* --out "$d/swa" --recalibrate data/fer2013.csv \
      2>&1 | tee -a "$OUT/train.log"
    rm -rf "$d/snapshots"
  fi
done
set -e
for d in runs/scratch/$NAME*; do
  [ -e "$d/model.json" ] && tar -czf "$OUT/$(basename "$d").tar.gz" -C runs/scratch "$(basename "$d")"
done
ls -la "$OUT"

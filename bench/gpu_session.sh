#!/usr/bin/env bash
# One prepared GPU session (for the device tool, or any CUDA machine), run from the repo root:
#   1. the test suite's CUDA cases, 2. the recovery benchmark at the paper's budget (ratio to
#      the sequential loop timed on 2 images and scaled, GFLOP/s and fraction of the measured
#      float32 peak, cost of fixed-width lanes), 3. the projected time of the offline-full
#      and paper profiles (bench/paper_profile.py), 4. only with TRAIN_BUDGET_S > 0: BEGAN-64
#      trained by the paper's recipe (--objective gan) on the DigiFace stream for that long,
#      with the step count fixed up front (so the recorded command reproduces it).
#   Between 3 and 4, only with OFFFULL_BUDGET_S > 0: the offline-full notebooks' tasks
#      (python -m gs.sweep run, no drawing) for that long, resuming
#      outputs/results/offline-full.sqlite (pass it in the device tool's carry); the store
#      comes back as $OUT/offline-full.sqlite.
# Needs the gan_face_generate wheel in .whl/ where pip cannot reach the index.
# Results go to $OUT (default ./gpu_out): tests.txt, bench.txt, cross_config.txt, paper_profile.txt,
# offline_full.txt, offline-full.sqlite, began_gan.tar.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-gpu_out}; mkdir -p "$OUT"
TRAIN_BUDGET_S=${TRAIN_BUDGET_S:-0}
OFFFULL_BUDGET_S=${OFFFULL_BUDGET_S:-0}
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"

echo "== 1. CUDA tests"
timeout 150 python3 -m pytest -q -p no:cacheprovider --continue-on-collection-errors \
  --ignore=tests/test_notebooks.py -k "cuda or gpu" tests 2>&1 | tail -25 | tee "$OUT/tests.txt"

echo "== 2. benchmark (DCGAN c=1, m=1000, 16 faces x 3 restarts, 25 L-BFGS steps)"
timeout 240 python3 bench/recovery.py --device ${DEV:-cuda} --steps 25 --sequential-images 2 \
  --compare-lanes --json "$OUT/bench.json" 2>&1 | tail -25 | tee "$OUT/bench.txt"

echo "== 2b. batches across configurations (m 300/1000/3000, 16 faces x 3 restarts, 25 steps)"
timeout 120 python3 bench/cross_config.py --device ${DEV:-cuda} --steps 25 \
  --json "$OUT/cross_config.json" 2>&1 | tail -10 | tee "$OUT/cross_config.txt"

echo "== 3. paper-profile projection (calibrated slice per notebook; training excluded)"
timeout 240 python3 bench/paper_profile.py --device ${DEV:-cuda} --profile offline-full paper \
  --quiet --json "$OUT/paper_profile.json" 2>&1 | tail -25 | tee "$OUT/paper_profile.txt"

if [ "$OFFFULL_BUDGET_S" -gt 0 ]; then
  echo "== 3b. offline-full compute for OFFFULL_BUDGET_S s (resumes the carried store)"
  # carry outputs/results/offline-full.sqlite to resume; the store comes back in $OUT
  cp outputs/results/offline-full.sqlite "$OUT/offline-full.sqlite" 2>/dev/null || true
  # the notebooks' tasks without drawing (python -m gs.sweep), 02 first so that 03-08 use
  # the chosen cuts; a run cut short keeps every finished batch
  timeout "$OFFFULL_BUDGET_S" python3 -m gs.sweep run --profile offline-full \
    --store "$OUT/offline-full.sqlite" --device ${DEV:-cuda} --max-batch 256 --quiet \
    2>&1 | tail -30 | tee "$OUT/offline_full.txt"
  python3 -m gs.sweep status --profile offline-full --store "$OUT/offline-full.sqlite" \
    2>&1 | tail -60 >> "$OUT/offline_full.txt"
fi

[ "$TRAIN_BUDGET_S" -gt 0 ] || { ls -la "$OUT"; exit 0; }

echo "== 4. BEGAN-64 by the recipe"
ARGS="began --profile offline --objective gan --ch 64 --d-ch 64 --d-convs 2 --batch-size 32 --lr 1e-4 --seed 0 --device ${DEV:-cuda} --no-amp --threads 4 --no-progress"
python3 -m gs.train $ARGS --steps 400 --log-every 50 --sample-every 100000 --ckpt-every 100000 --out /tmp/cal >/tmp/cal.log 2>&1 || { tail -20 /tmp/cal.log; exit 1; }
STEPS=$(python3 - "$TRAIN_BUDGET_S" <<'PY'
import json, sys
rows = [json.loads(l) for l in open("/tmp/cal/log.jsonl")]
a, b = rows[1], rows[-1]
sps = (b["t"] - a["t"]) / (b["step"] - a["step"])
budget = float(sys.argv[1])
print(max(1000, int(budget / sps * 0.85) // 1000 * 1000))
print(f"calibration: {sps * 1000:.2f} ms/step", file=sys.stderr)
PY
)
echo "training $STEPS steps"
timeout $((TRAIN_BUDGET_S + 60)) python3 -m gs.train $ARGS --steps "$STEPS" --log-every 100 \
  --sample-every 2000 --ckpt-every 2000 --out /tmp/began_gan 2>&1 | tail -5
tail -2 /tmp/began_gan/log.jsonl
tar -C /tmp -cf "$OUT/began_gan.tar" began_gan
ls -la "$OUT"

#!/usr/bin/env bash
# The GPU check, as ONE command that fits in 10 minutes on one GPU:
#   1. the GPU rows of bench_mix.py and bench_step.py (AMP off and on);
#   2. the full ACDC AdaMix-ST protocol (configs/train.json alone: 256x256, batch 16 + 16, 200 epochs = 16,400
#      iterations) for as long as BUDGET_S allows, recording iterations per second and peak GPU memory; the run
#      resumes where it stopped when the script is run again, and once it has finished the test table is printed.
# Everything lands in $OUT (default outputs/gpu_protocol): bench_mix.txt, bench_step*.txt, protocol.log,
# protocol.json (iterations, it/s, peak memory, whether it finished), the run folder, and eval-*.md when finished.
#
# Usage (from the repository root):
#   bash benchmarks/gpu_protocol.sh [DATASET_DIR]           # on the GPU machine
#   bash benchmarks/gpu_protocol.sh --tiny DATASET_DIR      # CPU path of the test suite: tiny sizes, same steps
# Environment: BUDGET_S (protocol wall budget, default 330 s), OUT, PYTHON (default .venv/bin/python, else python3),
# SPEED (the protocol run's speed options; default on the GPU: views made on the device, AMP, 4 loader workers; in
# --tiny: views on the device only). SPEED="" runs the plain bundle.
set -euo pipefail
TINY=0
if [[ ${1:-} == --tiny ]]; then TINY=1; shift; fi
DATA=()
if [[ $# -gt 0 ]]; then DATA=(--dataset_dir "$1"); shift; fi
PY=${PYTHON:-.venv/bin/python}
[[ -x $PY ]] || PY=python3
OUT=${OUT:-outputs/gpu_protocol}
BUDGET_S=${BUDGET_S:-330}
CFG=bundles/adamix_acdc/configs
mkdir -p "$OUT"

if [[ $TINY == 1 ]]; then
  DEVICE=cpu
  MIX_ARGS=(--repeats 1 --device cpu --threads 1)
  STEP_ARGS=(--size 32 --batch 2 --warmup 1 --iters 1 --device cpu --paradigms self_training --mixes adamix
             --real-sizes "")
  PROTOCOL=(--image_size "[32,32]" --batch_size 2 --epochs 1 --epoch_samples 4 --num_workers 0 --save_every 2
            --log_every 1)
  read -r -a SPEED_ARGS <<< "${SPEED---views device}"
else
  DEVICE=cuda
  MIX_ARGS=(--repeats 20 --device cuda)
  STEP_ARGS=(--size 256 --batch 16 --warmup 3 --iters 10 --device cuda --paradigms self_training
             --mixes none,cutmix,adamix)
  PROTOCOL=(--log_every 20)
  read -r -a SPEED_ARGS <<< "${SPEED---views device --amp True --num_workers 4}"
fi

echo "== 1/3 bench_mix ($DEVICE) =="
"$PY" benchmarks/bench_mix.py "${MIX_ARGS[@]}" | tee "$OUT/bench_mix.txt"
echo "== 2/3 bench_step ($DEVICE), AMP off, then on =="
"$PY" benchmarks/bench_step.py "${STEP_ARGS[@]}" | tee "$OUT/bench_step.txt"
"$PY" benchmarks/bench_step.py "${STEP_ARGS[@]}" --amp | tee "$OUT/bench_step_amp.txt"

echo "== 3/3 ACDC AdaMix-ST, full protocol, for up to ${BUDGET_S}s =="
RUN=gpu-protocol-self_training-adamix-10pct-seed1
[[ $TINY == 1 ]] && RUN=gpu-protocol-tiny
COMMON=("${DATA[@]}" --paradigm self_training --mix adamix --seed 1 --publish False --output_dir "$OUT/$RUN"
        --progress False "${PROTOCOL[@]}" "${SPEED_ARGS[@]}")
MEM_LOG=$OUT/gpu_memory.csv
: > "$MEM_LOG"
SAMPLER=
if [[ $DEVICE == cuda ]] && command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 1000 > "$MEM_LOG" &
  SAMPLER=$!
fi
START=$(date +%s)
set +e
timeout --signal=TERM "$BUDGET_S" "$PY" -m monai.bundle run --config_file "$CFG/train.json" "${COMMON[@]}" \
  > "$OUT/protocol.log" 2>&1
STATUS=$?
set -e
WALL=$(( $(date +%s) - START ))
[[ -n $SAMPLER ]] && kill "$SAMPLER" 2> /dev/null || true
tail -3 "$OUT/protocol.log"
FINISHED=0
if [[ $STATUS == 0 ]]; then FINISHED=1; elif [[ $STATUS != 124 ]]; then echo "protocol run failed ($STATUS)"; exit "$STATUS"; fi
"$PY" - "$OUT" "$WALL" "$FINISHED" "$DEVICE" <<'PY'
import json, re, sys
from datetime import datetime
out, wall, finished, device = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
points = []  # (time, global iteration) from MONAI's StatsHandler lines
for line in open(f"{out}/protocol.log", errors="replace"):
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+) .*Epoch: (\d+)/\d+, Iter: (\d+)/(\d+)", line)
    if m:
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        points.append((t, (int(m.group(2)) - 1) * int(m.group(4)) + int(m.group(3))))
rate = None
if len(points) >= 2 and points[-1][0] > points[0][0]:
    rate = (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])
memory = [int(v) for v in open(f"{out}/gpu_memory.csv").read().split() if v.strip().isdigit()]
record = {
    "device": device,
    "wall_seconds": wall,
    "last_logged_iteration": points[-1][1] if points else 0,
    "iterations_per_second": None if rate is None else round(rate, 3),
    "peak_gpu_memory_mib": max(memory) if memory else None,
    "finished": finished,
}
json.dump(record, open(f"{out}/protocol.json", "w"), indent=2)
print("protocol:", json.dumps(record))
PY
if [[ $FINISHED == 1 ]]; then
  for ckpt in final best; do
    "$PY" -m monai.bundle run --config_file "['$CFG/train.json','$CFG/evaluate.json']" "${COMMON[@]}" \
      --eval_checkpoint "$ckpt" | tee "$OUT/eval-$ckpt.md"
  done
else
  echo "protocol not finished in ${BUDGET_S}s; run this script again to continue the same run"
fi

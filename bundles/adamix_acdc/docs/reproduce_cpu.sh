#!/usr/bin/env bash
# CPU reproduction of Table 1 (10% labels) with the CPU profile: Sup, FixMatch (ST + CutMix) and AdaMix-ST,
# seeds 1 and 2, each evaluated on the 40 test volumes with the best-on-validation and the last model.
# Run from the repository root: bash bundles/adamix_acdc/docs/reproduce_cpu.sh [DATASET_DIR]
# (SEEDS="1" and SEEDS="2" in two shells run the seeds side by side, one core each).
# Re-running it resumes unfinished runs and skips finished ones (each run's checkpoint.pt holds its state).
set -euo pipefail
DATA=${1:-../shared/data/ACDC}
CFG=bundles/adamix_acdc/configs
PY=${PYTHON:-.venv/bin/python}
# one thread per run: on a shared 2-core machine, oversubscribed OpenMP threads made steps up to 10x slower
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for seed in ${SEEDS:-1 2}; do
  for pm in "supervised none" "self_training cutmix" "self_training adamix"; do
    set -- $pm
    common=(--dataset_dir "$DATA" --paradigm "$1" --mix "$2" --labeled_fraction 0.1 --seed "$seed" --publish False)
    $PY -m monai.bundle run --config_file "['$CFG/train.json','$CFG/cpu.json']" "${common[@]}"
    for ckpt in best final; do
      $PY -m monai.bundle run --config_file "['$CFG/train.json','$CFG/cpu.json','$CFG/evaluate.json']" \
        "${common[@]}" --eval_checkpoint "$ckpt"
    done
  done
done
$PY - <<'PY'
import glob
from adamix_monai.reporting import collect_table
for ckpt in ("best", "final"):
    files = sorted(glob.glob(f"bundles/adamix_acdc/runs/*-10pct-seed*/eval-test-{ckpt}/summary.json"))
    print(collect_table(files, title=f"ACDC 10%, CPU profile, {ckpt} checkpoint, mean ± std over seeds"))
PY

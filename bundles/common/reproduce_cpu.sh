#!/usr/bin/env bash
# CPU reproduction of a paper table row set with a bundle's CPU profile: Sup, FixMatch (ST + CutMix) and AdaMix-ST
# by default, each evaluated on the test split with the best-on-validation and the last model.
# Run from the repository root:
#   bash bundles/common/reproduce_cpu.sh <bundle> <labeled_fraction> [DATASET_DIR] [extra --id value overrides...]
# Without DATASET_DIR the data is found under $ADAMIX_DATA_DIR (on this project's machines ../shared/data).
# Environment: SEEDS (default "1 2"), METHODS (default "supervised:none self_training:cutmix self_training:adamix"),
# PYTHON (default .venv/bin/python). Re-running resumes unfinished runs and skips finished ones.
set -euo pipefail
BUNDLE=$1
FRACTION=$2
shift 2
DATA=()
if [[ $# -gt 0 && $1 != --* ]]; then DATA=(--dataset_dir "$1"); shift; fi
CFG=bundles/$BUNDLE/configs
PY=${PYTHON:-.venv/bin/python}
# one thread per run: on a shared 2-core machine, oversubscribed OpenMP threads made steps up to 10x slower
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for seed in ${SEEDS:-1 2}; do
  for method in ${METHODS:-supervised:none self_training:cutmix self_training:adamix}; do
    common=("${DATA[@]}" --paradigm "${method%%:*}" --mix "${method##*:}" --labeled_fraction "$FRACTION"
            --seed "$seed" --publish False "$@")
    $PY -m monai.bundle run --config_file "['$CFG/train.json','$CFG/cpu.json']" "${common[@]}"
    for ckpt in best final; do
      $PY -m monai.bundle run --config_file "['$CFG/train.json','$CFG/cpu.json','$CFG/evaluate.json']" \
        "${common[@]}" --eval_checkpoint "$ckpt"
    done
  done
done
PCT=$($PY -c "print(f'{round(float($FRACTION) * 100):g}pct')")
$PY - "$BUNDLE" "$PCT" <<'PY'
import glob, sys
from adamix_monai.reporting import collect_table
bundle, pct = sys.argv[1:3]
for ckpt in ("best", "final"):
    files = sorted(glob.glob(f"bundles/{bundle}/runs/*-{pct}-seed*/eval-test-{ckpt}/summary.json"))
    print(collect_table(files, title=f"{bundle} {pct}, CPU profile, {ckpt} checkpoint, mean ± std over seeds"))
PY

#!/usr/bin/env bash
# The ACDC CPU study (10% labels): configs/train.json + configs/study.json (128x128, batch 4 + 4, AdamW 1e-3,
# 12 epochs of 328 iterations = 3,936 iterations, the last 20% with a linear decay of the rate to 0, validation
# every epoch), one run per method and seed, each evaluated on the 40 test volumes with the last and the
# best-on-validation model; each finished run's small result files go to docs/results/study/<run>/ at once.
# Run from the repository root:
#   bash bundles/adamix_acdc/docs/study_cpu.sh [DATASET_DIR] [extra --id value overrides...]
# Without DATASET_DIR the data is $ADAMIX_DATA_DIR/ACDC (on this project's machines ADAMIX_DATA_DIR=../shared/data).
# Environment: SEEDS (default "1 2 3"), METHODS (default "supervised:none self_training:cutmix
# self_training:adamix"), PYTHON (default .venv/bin/python), STUDY_RUNS (run folders, default
# bundles/adamix_acdc/runs), STUDY_OUT (records, default bundles/adamix_acdc/docs/results/study), RUN_TAG (a suffix of
# the run names, for runs with extra overrides, e.g. RUN_TAG=-fused with --fuse_forwards True).
# Recorded runs are skipped, unfinished ones resume.
# Two shells with different SEEDS or METHODS run side by side, one thread each.
set -euo pipefail
DATA=()
if [[ $# -gt 0 && $1 != --* ]]; then DATA=(--dataset_dir "$1"); shift; fi
CFG=bundles/adamix_acdc/configs
OUT=${STUDY_OUT:-bundles/adamix_acdc/docs/results/study}
RUNS=${STUDY_RUNS:-bundles/adamix_acdc/runs}
PY=${PYTHON:-.venv/bin/python}
# one thread per run: on a shared 2-core machine, oversubscribed OpenMP threads made steps up to 10x slower
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
for seed in ${SEEDS:-1 2 3}; do
  for method in ${METHODS:-supervised:none self_training:cutmix self_training:adamix}; do
    paradigm=${method%%:*}
    mix=${method##*:}
    run=study-$paradigm-$mix-10pct-seed$seed${RUN_TAG:-}
    if [[ -f $OUT/$run/provenance.json ]]; then echo "$run: recorded, skipped"; continue; fi
    common=("${DATA[@]}" --paradigm "$paradigm" --mix "$mix" --labeled_fraction 0.1 --seed "$seed" --publish False
            --output_dir "$RUNS/$run" "$@")
    start=$(date +%s)
    commit=$(git rev-parse HEAD 2> /dev/null || echo unknown)
    if [[ -n $(git status --porcelain --untracked-files=no 2> /dev/null) ]]; then commit=$commit+uncommitted-changes; fi
    train=("$PY" -m monai.bundle run --config_file "['$CFG/train.json','$CFG/study.json']" "${common[@]}")
    "${train[@]}"
    for ckpt in final best; do
      "$PY" -m monai.bundle run --config_file "['$CFG/train.json','$CFG/study.json','$CFG/evaluate.json']" \
        "${common[@]}" --eval_checkpoint "$ckpt"
    done
    "$PY" -m adamix_monai.study export "$RUNS/$run" "$OUT/$run" \
      --command "${RUN_TAG:+RUN_TAG=$RUN_TAG }SEEDS=$seed METHODS=$method bash bundles/adamix_acdc/docs/study_cpu.sh $*" --seconds $(( $(date +%s) - start )) --commit "$commit"
  done
done
"$PY" -m adamix_monai.study table "$OUT"

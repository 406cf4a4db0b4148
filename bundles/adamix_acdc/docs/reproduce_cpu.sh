#!/usr/bin/env bash
# CPU reproduction of Table 1 (10% labels) with the CPU profile: Sup, FixMatch (ST + CutMix) and AdaMix-ST,
# seeds 1 and 2, each evaluated on the 40 test volumes with the best-on-validation and the last model.
# Run from the repository root: bash bundles/adamix_acdc/docs/reproduce_cpu.sh [DATASET_DIR]
# (SEEDS="1" and SEEDS="2" in two shells run the seeds side by side, one core each).
exec bash bundles/common/reproduce_cpu.sh adamix_acdc 0.1 "$@"

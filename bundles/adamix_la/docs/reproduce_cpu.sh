#!/usr/bin/env bash
# CPU reproduction of Table 2 (10% labels = 8 cases) with the CPU profile: Sup, FixMatch (ST + CutMix) and
# AdaMix-ST, each evaluated on the test cases with the best-on-validation and the last model.
# Run from the repository root: bash bundles/adamix_la/docs/reproduce_cpu.sh [DATASET_DIR]
exec bash bundles/common/reproduce_cpu.sh adamix_la 0.1 "$@"

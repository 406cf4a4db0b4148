#!/usr/bin/env bash
# CPU reproduction of Table 3 (5% labels) with the CPU profile: Sup, FixMatch (ST + CutMix) and AdaMix-ST, each
# evaluated on the test split with the best-on-validation and the last model. Without ISIC 2018, the default
# dataset is PH2 (../shared/data/PH2, 140/20/40 images; 5% = 7 labeled).
# Run from the repository root: bash bundles/adamix_isic/docs/reproduce_cpu.sh [DATASET_DIR]
exec bash bundles/common/reproduce_cpu.sh adamix_isic "${FRACTION:-0.05}" "$@"

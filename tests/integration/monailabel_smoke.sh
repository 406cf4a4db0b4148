#!/usr/bin/env bash
# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
#
# Real MONAI Label smoke test of the ACDC bundle (nothing mocked): serve a copy of bundles/adamix_acdc through
# MONAI Label's `monaibundle` sample app, segment real ACDC test volumes over REST, and check the answers against
# our own `monai.bundle run` inference and the ground truth. See tests/integration/README.md.
#
#   tests/integration/monailabel_smoke.sh
#
# Environment (all optional):
#   MONAILABEL_VENV   venv holding monailabel 0.8.5 (default <repo>/.venv-monailabel; built here when missing, ~8 GB)
#   MAIN_VENV         venv for the reference `monai.bundle run` (default <repo>/.venv; else MONAILABEL_VENV is used)
#   ACDC_DIR          ACDC in SSL4MIS layout (default $ADAMIX_DATA_DIR/ACDC, else <repo>/../shared/data/ACDC)
#   WEIGHTS           state dict to serve; "random" for untrained weights (default: see pick-weights in the helper)
#   IMAGE_SIZE        in-plane network size, e.g. 128,128 (default: the training size recorded for the weights'
#                     run, else the bundle's 256,256)
#   MIN_DICE          bound on the mean Dice vs ground truth (default 0.15; not checked with untrained weights)
#   MIN_AGREE         bound on the per-class Dice between MONAI Label and monai.bundle run (default 0.99)
#   SMOKE_CASES       number of ACDC test volumes (default 2)
#   SMOKE_ALLOW_SKIP  1: exit 0 with a SKIP line when the ACDC data is absent (default: fail)
#   SMOKE_TRAIN       1: also train one short epoch through POST /train/adamix_acdc
#   SMOKE_KEEP        1: keep the work folder (kept anyway on failure)
#   SERVER_TIMEOUT    seconds to wait for the server to answer (default 300)
#   PORT              server port (default: a free one)
set -euo pipefail

T0=$(date +%s)
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HELPER="$REPO/tests/integration/monailabel_check.py"
MODEL=adamix_acdc
V="${MONAILABEL_VENV:-$REPO/.venv-monailabel}"
MAIN_VENV="${MAIN_VENV:-$REPO/.venv}"
if [[ -n "${ACDC_DIR:-}" ]]; then
    DATA="$ACDC_DIR"
elif [[ -n "${ADAMIX_DATA_DIR:-}" && -d "$ADAMIX_DATA_DIR/ACDC" ]]; then
    DATA="$ADAMIX_DATA_DIR/ACDC"
else
    DATA="$(cd "$REPO/.." && pwd)/shared/data/ACDC"
fi
MIN_DICE="${MIN_DICE:-0.15}"
MIN_AGREE="${MIN_AGREE:-0.99}"
CASES="${SMOKE_CASES:-2}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export PYTHONUNBUFFERED=1

say() { printf '[smoke %4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() {
    printf '\nFAIL: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- data
if [[ ! -f "$DATA/test.list" || ! -d "$DATA/data" ]]; then
    if [[ "${SMOKE_ALLOW_SKIP:-0}" == 1 ]]; then
        echo "SKIP: real ACDC data not found at $DATA (set ACDC_DIR or ADAMIX_DATA_DIR); SMOKE_ALLOW_SKIP=1"
        exit 0
    fi
    die "real ACDC data not found at $DATA (set ACDC_DIR or ADAMIX_DATA_DIR, or SMOKE_ALLOW_SKIP=1 to skip)"
fi

# ---------------------------------------------------------------- MONAI Label venv
build_venv() {
    say "building the MONAI Label venv at $V (torch 2.14.1, monailabel 0.8.5; ~8 GB, several minutes)"
    python3 -m venv "$V"
    "$V/bin/pip" install --quiet torch==2.14.1 torchvision==0.29.1
    # pydicom 3 breaks pydicom-seg (needed by monailabel 0.8.5); dicomweb-client >0.59.1 needs pydicom 3.
    "$V/bin/pip" install --quiet monailabel==0.8.5 "pydicom<3" "dicomweb-client[gcp]==0.59.1"
}
if [[ ! -x "$V/bin/monailabel" ]] || ! (cd / && "$V/bin/python" -c "import monailabel" 2>/dev/null); then
    build_venv
else
    say "reusing the MONAI Label venv at $V"
fi
IMPORTS='import monailabel, monailabel.interfaces.app, monailabel.tasks.infer.bundle, torch, adamix_monai
print(f"monailabel {monailabel.__version__} with torch {torch.__version__}")'
# import from / with no PYTHONPATH, so that a checkout on the path does not hide a missing install
v_python() { (cd / && env -u PYTHONPATH "$V/bin/python" "$@"); }
if ! VERSIONS="$(v_python -c "$IMPORTS" 2>/dev/null)"; then
    say "installing adamix-monai (editable) into $V"
    "$V/bin/pip" install --quiet -e "$REPO"
    VERSIONS="$(v_python -c "$IMPORTS")" \
        || die "the MONAI Label venv at $V cannot import monailabel and adamix_monai (delete it to rebuild)"
fi

# helper and reference interpreters: the main venv when it has what is needed, else the MONAI Label venv
if [[ -x "$MAIN_VENV/bin/python" ]] \
    && (cd / && env -u PYTHONPATH "$MAIN_VENV/bin/python" -c "import nibabel, monai, adamix_monai" 2>/dev/null); then
    PY="$MAIN_VENV/bin/python"
else
    PY="$V/bin/python"
fi
say "$VERSIONS; reference inference and checks with $PY"

# ---------------------------------------------------------------- work folder, clean-up
WORK="$(mktemp -d "${TMPDIR:-/tmp}/monailabel-smoke.XXXXXX")"
SERVER_PID=""
LOG="$WORK/server.log"
cleanup() {
    local rc=$?
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        # the server runs in its own process group (setsid): stop it and any training it spawned
        kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $rc -ne 0 ]]; then
        if [[ -f "$LOG" ]]; then
            echo "---- last lines of the server log ($LOG) ----" >&2
            tail -n 40 "$LOG" >&2 || true
        fi
        echo "work folder kept: $WORK" >&2
    elif [[ "${SMOKE_KEEP:-0}" == 1 ]]; then
        echo "work folder kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- studies
STUDIES="$WORK/studies"
(cd "$REPO" && "$PY" -m tests.acdc_nifti "$DATA" "$STUDIES" --split test --cases "$CASES" --labels-dir labels/final) \
    >/dev/null || die "could not write ACDC test volumes as NIfTI (tests/acdc_nifti.py)"
mapfile -t IDS < <(cd "$STUDIES" && ls -1 ./*.nii.gz | sed -e 's|^\./||' -e 's|\.nii\.gz$||')
[[ ${#IDS[@]} -ge 1 ]] || die "no studies written to $STUDIES"
say "studies: ${IDS[*]} (NIfTI (H, W, D), labels in labels/final)"

# ---------------------------------------------------------------- served bundle copy
APP="$WORK/app"
SRC_APP="$(find "$V" -path '*sample-apps/monaibundle/main.py' -print -quit 2>/dev/null || true)"
[[ -n "$SRC_APP" ]] || die "the monaibundle sample app is not in $V (expected .../sample-apps/monaibundle/main.py)"
cp -r "$(dirname "$SRC_APP")" "$APP"
rm -rf "$APP/__pycache__"
SERVED="$APP/model/$MODEL"
mkdir -p "$SERVED/models"
cp -r "$REPO/bundles/$MODEL/configs" "$SERVED/configs"
[[ -f "$REPO/bundles/$MODEL/LICENSE" ]] && cp "$REPO/bundles/$MODEL/LICENSE" "$SERVED/"

PICK="$("$PY" "$HELPER" pick-weights --repo "$REPO" ${WEIGHTS:+--weights "$WEIGHTS"})" || die "no weights: $PICK"
field() { "$PY" -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else (",".join(map(str,v)) if isinstance(v,list) else v))' "$PICK" "$1"; }
W_PATH="$(field path)"
W_SOURCE="$(field source)"
W_TRAINED="$(field trained)"
W_TEST_DICE="$(field test_dice)"
SIZE="${IMAGE_SIZE:-$(field image_size)}"
if [[ "$W_TRAINED" == "True" ]]; then
    cp "$W_PATH" "$SERVED/models/model.pt"
    say "weights: $W_SOURCE ($W_PATH${W_TEST_DICE:+; recorded test Dice $W_TEST_DICE})"
else
    "$PY" "$HELPER" random-weights --config "$REPO/bundles/$MODEL/configs/inference.json" --out "$SERVED/models/model.pt"
    say "weights: $W_SOURCE -- untrained weights: Dice bound not checked"
    MIN_DICE=""
fi
TRAIN_OVERRIDES='{"epoch_samples": 8, "val_interval": 1, "save_every": 1, "log_every": 1, "num_workers": 0}'
"$PY" "$HELPER" served-configs --repo "$REPO" --dest "$SERVED/configs" --image-size "$SIZE" \
    --train-overrides "$TRAIN_OVERRIDES" || die "could not write the served bundle's configs"
SIZE_ARGS=()
[[ -n "$SIZE" ]] && SIZE_ARGS=(--image_size "[$SIZE]")

# ---------------------------------------------------------------- reference: our own bundle inference
REF_BUNDLE="$WORK/reference_bundle"
mkdir -p "$REF_BUNDLE/models"
cp "$SERVED/models/model.pt" "$REF_BUNDLE/models/model.pt"
say "reference: monai.bundle run of bundles/$MODEL/configs/inference.json ${SIZE_ARGS[*]}"
(cd "$WORK" && "$PY" -m monai.bundle run --config_file "$REPO/bundles/$MODEL/configs/inference.json" \
    --bundle_root "$REF_BUNDLE" --input_dir "$STUDIES" --output_dir "$WORK/ours" "${SIZE_ARGS[@]}") \
    >"$WORK/reference.log" 2>&1 || { tail -n 30 "$WORK/reference.log" >&2; die "monai.bundle run (reference) failed"; }

# ---------------------------------------------------------------- MONAI Label server
PORT="${PORT:-$("$PY" "$HELPER" free-port)}"
URL="http://127.0.0.1:$PORT"
say "starting MONAI Label on $URL (log $LOG)"
(
    cd "$WORK"
    export PATH="$V/bin:$PATH" MONAILABEL_PYEXE="$V/bin/python"
    exec setsid monailabel start_server --app "$APP" --studies "$STUDIES" \
        --conf models "$MODEL" --conf zoo_source local --conf preload false --conf sam2 false \
        --host 127.0.0.1 --port "$PORT"
) >"$LOG" 2>&1 &
SERVER_PID=$!
"$PY" "$HELPER" wait-server --url "$URL" --pid "$SERVER_PID" --timeout "${SERVER_TIMEOUT:-300}" --log "$LOG" \
    || die "MONAI Label server did not come up"

# 1. /info/
"$PY" "$HELPER" check-info --url "$URL" --model "$MODEL" \
    --labels '{"right ventricle": 1, "myocardium": 2, "left ventricle": 3}' || die "/info/ check"

# 2. inference over REST
for id in "${IDS[@]}"; do
    "$PY" "$HELPER" infer --url "$URL" --model "$MODEL" --image "$id" --out "$WORK/served/$id.nii.gz" \
        || die "POST /infer/$MODEL?image=$id"
done

# 3. + 4. label maps: geometry, classes, agreement with ours, Dice vs ground truth
say "checks (shape, affine, classes; agreement >= $MIN_AGREE; GT Dice >= ${MIN_DICE:-unchecked}):"
"$PY" "$HELPER" compare --studies "$STUDIES" --labels "$STUDIES/labels/final" --served "$WORK/served" \
    --ours "$WORK/ours" --min-agree "$MIN_AGREE" ${MIN_DICE:+--min-dice "$MIN_DICE"} \
    --summary "$WORK/summary.json" || die "label checks"

# 5. optional: training through MONAI Label
TRAIN_RESULT="not run (SMOKE_TRAIN=1 to run)"
if [[ "${SMOKE_TRAIN:-0}" == 1 ]]; then
    say "training through POST /train/$MODEL (1 epoch, train.json + cpu.json + $TRAIN_OVERRIDES)"
    BEFORE="$(sha256sum "$SERVED/models/model.pt")"
    "$PY" "$HELPER" train --url "$URL" --model "$MODEL" --log "$LOG" --timeout "${TRAIN_TIMEOUT:-900}" \
        --params '{"max_epochs": 1, "device": "cpu", "val_split": 0.5, "multi_gpu": false, "pretrained": true}' \
        || die "training through MONAI Label"
    [[ "$(sha256sum "$SERVED/models/model.pt")" != "$BEFORE" ]] \
        || die "training finished but did not publish a new models/model.pt in the served bundle"
    # the server reloads a changed model.pt: infer once more with the freshly trained weights
    "$PY" "$HELPER" infer --url "$URL" --model "$MODEL" --image "${IDS[0]}" --out "$WORK/after_train/${IDS[0]}.nii.gz" \
        || die "POST /infer/$MODEL after training"
    "$PY" "$HELPER" check-label --image "$STUDIES/${IDS[0]}.nii.gz" --label "$WORK/after_train/${IDS[0]}.nii.gz" \
        || die "label map after training"
    TRAIN_RESULT="DONE (new models/model.pt published and served)"
fi

say "PASS: MONAI Label $URL served $MODEL on ${#IDS[@]} ACDC test volumes; weights: $W_SOURCE; training: $TRAIN_RESULT"
say "total wall time $(($(date +%s) - T0)) s"

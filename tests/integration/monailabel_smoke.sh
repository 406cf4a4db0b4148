#!/usr/bin/env bash
# Copyright (c) adamix-monai contributors
# SPDX-License-Identifier: Apache-2.0
#
# Real MONAI Label smoke test of the ACDC bundle (nothing mocked): serve a copy of bundles/adamix_acdc through
# our MONAI Label app (`adamix-monai label_app`: the `monaibundle` sample app's tasks plus active learning by AdaMix
# confidence), segment real ACDC test volumes over REST, and check the answers against
# our own `monai.bundle run` inference and the ground truth. Opt-in: also the LA (3D NIfTI) and ISIC (2D RGB PNG)
# bundles, all served by one server. See tests/integration/README.md.
#
#   tests/integration/monailabel_smoke.sh
#   SMOKE_BUNDLES="adamix_acdc adamix_la adamix_isic" tests/integration/monailabel_smoke.sh
#
# Environment (all optional):
#   SMOKE_BUNDLES     bundles to serve from one server (default adamix_acdc; any of adamix_acdc adamix_la
#                     adamix_isic); LA and ISIC failures are collected and reported per bundle at the end
#   MONAILABEL_VENV   venv holding monailabel 0.8.5 (default <repo>/.venv-monailabel; built here when missing, ~8 GB)
#   MAIN_VENV         venv for the reference `monai.bundle run` (default <repo>/.venv; else MONAILABEL_VENV is used)
#   ACDC_DIR          ACDC in SSL4MIS layout (default $ADAMIX_DATA_DIR/ACDC, else <repo>/../shared/data/ACDC)
#   WEIGHTS           ACDC state dict to serve; "random" for untrained weights (default: see pick-weights in the
#                     helper)
#   IMAGE_SIZE        ACDC in-plane network size, e.g. 128,128 (default: the training size recorded for the
#                     weights' run, else the bundle's 256,256)
#   MIN_DICE          bound on the ACDC mean Dice vs ground truth (default 0.15; not checked with untrained weights)
#   MIN_AGREE         bound on the per-class Dice between MONAI Label and monai.bundle run (default 0.99)
#   SMOKE_CASES       number of labeled ACDC test volumes (default 2)
#   SMOKE_UNLABELED   number of ACDC test volumes written without a label: the datastore's unlabeled studies, the
#                     unlabeled stream of SMOKE_TRAIN and the candidates of /activelearning/adamix_uncertainty (default 2)
#   LA_DIR            LA in UA-MT layout (default $ADAMIX_DATA_DIR/LA, else <repo>/../shared/data/LA)
#   ISIC_DIR          ISIC 2018 or PH2, plain or official layout (default $ADAMIX_DATA_DIR/ISIC2018 or .../PH2, else
#                     <repo>/../shared/data/ISIC2018 or .../PH2)
#   LA_WEIGHTS, ISIC_WEIGHTS  as WEIGHTS, for the LA and ISIC bundles (their input size: their run's model.json or
#                     summary; random weights run at the bundle's CPU profile, configs/cpu.json)
#   LA_CASE, ISIC_CASE  the LA / ISIC case to serve (default: the first of the test split)
#   SMOKE_ALLOW_SKIP  1: exit 0 with a SKIP line when the data of a requested bundle is absent (default: fail)
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
SHARED="$(cd "$REPO/.." && pwd)/shared/data"
if [[ -n "${ACDC_DIR:-}" ]]; then
    DATA="$ACDC_DIR"
elif [[ -n "${ADAMIX_DATA_DIR:-}" && -d "$ADAMIX_DATA_DIR/ACDC" ]]; then
    DATA="$ADAMIX_DATA_DIR/ACDC"
else
    DATA="$SHARED/ACDC"
fi
MIN_DICE="${MIN_DICE:-0.15}"
MIN_AGREE="${MIN_AGREE:-0.99}"
CASES="${SMOKE_CASES:-2}"
UNLABELED="${SMOKE_UNLABELED:-2}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export PYTHONUNBUFFERED=1

say() { printf '[smoke %4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() {
    printf '\nFAIL: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- bundles
read -r -a BUNDLES <<<"${SMOKE_BUNDLES:-$MODEL}"
[[ ${#BUNDLES[@]} -ge 1 ]] || die "SMOKE_BUNDLES is empty"
for b in "${BUNDLES[@]}"; do
    case "$b" in
        adamix_acdc | adamix_la | adamix_isic) ;;
        *) die "SMOKE_BUNDLES: unknown bundle '$b' (known: adamix_acdc adamix_la adamix_isic)" ;;
    esac
done
wants() { [[ " ${BUNDLES[*]} " == *" $1 "* ]]; }
MODELS="$(IFS=,; echo "${BUNDLES[*]}")"
# failed checks of the LA and ISIC bundles, collected (an ACDC failure stops the test at once, as before)
declare -A RESULT=()
bundle_fail() {
    RESULT[$1]="${RESULT[$1]:+${RESULT[$1]}; }$2"
    printf 'FAIL (%s): %s\n' "$1" "$2" >&2
}

# ---------------------------------------------------------------- data
# the first existing folder of the arguments, else the first of them (for the message)
first_dir() {
    local d
    for d in "$@"; do [[ -d "$d" ]] && { echo "$d"; return; }; done
    echo "$1"
}
# an explicit LA_DIR / ISIC_DIR is used as given (as ACDC_DIR)
LA_DATA="${LA_DIR:-$(first_dir ${ADAMIX_DATA_DIR:+"$ADAMIX_DATA_DIR/LA"} "$SHARED/LA")}"
ISIC_DATA="${ISIC_DIR:-$(first_dir ${ADAMIX_DATA_DIR:+"$ADAMIX_DATA_DIR/ISIC2018" "$ADAMIX_DATA_DIR/PH2"} \
    "$SHARED/ISIC2018" "$SHARED/PH2")}"
MISSING=()
if wants adamix_acdc && [[ ! -f "$DATA/test.list" || ! -d "$DATA/data" ]]; then
    MISSING+=("real ACDC data not found at $DATA (set ACDC_DIR or ADAMIX_DATA_DIR)")
fi
if wants adamix_la && [[ ! -f "$LA_DATA/test.list" ]]; then
    MISSING+=("real LA data not found at $LA_DATA (set LA_DIR or ADAMIX_DATA_DIR)")
fi
if wants adamix_isic && [[ ! -d "$ISIC_DATA/images" && ! -d "$ISIC_DATA/ISIC2018_Task1-2_Training_Input" ]]; then
    MISSING+=("real ISIC 2018 or PH2 data not found at $ISIC_DATA (set ISIC_DIR or ADAMIX_DATA_DIR)")
fi
if [[ ${#MISSING[@]} -gt 0 ]]; then
    if [[ "${SMOKE_ALLOW_SKIP:-0}" == 1 ]]; then
        echo "SKIP: ${MISSING[*]}; SMOKE_ALLOW_SKIP=1"
        exit 0
    fi
    die "${MISSING[*]} (or SMOKE_ALLOW_SKIP=1 to skip)"
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
say "bundles: ${BUNDLES[*]} (one server: --conf models $MODELS)"

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

STUDIES="$WORK/studies"
APP="$WORK/app"
# our app (adamix_monai.label_app): the monaibundle app's inference and training + the adamix_uncertainty strategy
(cd "$REPO" && "$PY" -c 'import sys; from adamix_monai.cli import Commands; Commands.label_app(sys.argv[1], "")' \
    "$APP") >/dev/null || die "could not write the MONAI Label app (adamix-monai label_app)"
mkdir -p "$STUDIES"

# ================================================================ ACDC: studies, served bundle copy, reference
IDS=()
if wants adamix_acdc; then
    # ---------------------------------------------------------------- studies
    # CASES labeled studies, then UNLABELED more without a label (the datastore's unlabeled studies)
    mapfile -t WRITTEN < <(cd "$REPO" && "$PY" -m tests.helpers.acdc_nifti "$DATA" "$STUDIES" --split test \
        --cases "$((CASES + UNLABELED))" --labels-dir labels/final | xargs -n 1 basename | sed 's|\.nii\.gz$||')
    [[ ${#WRITTEN[@]} -ge 1 ]] || die "could not write ACDC test volumes as NIfTI (tests/helpers/acdc_nifti.py)"
    IDS=("${WRITTEN[@]:0:$CASES}")
    UNLABELED_IDS=("${WRITTEN[@]:$CASES}")
    for id in "${UNLABELED_IDS[@]}"; do rm -f "$STUDIES/labels/final/$id.nii.gz"; done
    say "studies: ${IDS[*]} labeled, ${UNLABELED_IDS[*]:-none} unlabeled (NIfTI (H, W, D), labels in labels/final)"

    # ---------------------------------------------------------------- served bundle copy
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
        "$PY" "$HELPER" random-weights --config "$REPO/bundles/$MODEL/configs/inference.json" \
            --out "$SERVED/models/model.pt"
        say "weights: $W_SOURCE -- untrained weights: Dice bound not checked"
        MIN_DICE=""
    fi
    TRAIN_OVERRIDES='{"epoch_samples": 8, "val_interval": 1, "save_every": 1, "log_every": 1, "num_workers": 0}'
    "$PY" "$HELPER" served-configs --repo "$REPO" --dest "$SERVED/configs" --image-size "$SIZE" \
        --train-overrides "$TRAIN_OVERRIDES" || die "could not write the served bundle's configs"
    SIZE_ARGS=()
    [[ -n "$SIZE" ]] && SIZE_ARGS=(--image_size "[$SIZE]")

    # ---------------------------------------------------------------- reference: our own bundle inference
    # (on the whole studies folder: it holds only the ACDC volumes until the LA and ISIC studies are added below)
    REF_BUNDLE="$WORK/reference_bundle"
    mkdir -p "$REF_BUNDLE/models"
    cp "$SERVED/models/model.pt" "$REF_BUNDLE/models/model.pt"
    say "reference: monai.bundle run of bundles/$MODEL/configs/inference.json ${SIZE_ARGS[*]}"
    (cd "$WORK" && "$PY" -m monai.bundle run --config_file "$REPO/bundles/$MODEL/configs/inference.json" \
        --bundle_root "$REF_BUNDLE" --input_dir "$STUDIES" --output_dir "$WORK/ours" "${SIZE_ARGS[@]}") \
        >"$WORK/reference.log" 2>&1 \
        || { tail -n 30 "$WORK/reference.log" >&2; die "monai.bundle run (reference) failed"; }
fi

# ================================================================ LA and ISIC: one study each, served copy, reference
# Both go into the same studies folder (MONAI Label serves one); their ground truth stays outside it ($WORK/gt), so
# that the datastore's labels (and an ACDC training through MONAI Label) stay the ACDC ones.
declare -A STUDY=() STUDY_FILE=()
extra_bundle() {
    local b=$1 kind data weights_var case_var out
    case "$b" in
        adamix_la) kind=la-study data="$LA_DATA" weights_var=LA_WEIGHTS case_var=LA_CASE ;;
        adamix_isic) kind=isic-study data="$ISIC_DATA" weights_var=ISIC_WEIGHTS case_var=ISIC_CASE ;;
    esac
    out="$("$PY" "$HELPER" "$kind" --data "$data" --studies "$STUDIES" --gt "$WORK/gt/$b" \
        ${!case_var:+--case "${!case_var}"})" || die "could not write the $b study from $data"
    STUDY[$b]="${out%%$'\t'*}"
    STUDY_FILE[$b]="$(ls -1 "$STUDIES/${STUDY[$b]}".* | head -n 1)"
    say "$b study: ${out#*$'\t'} -> studies/$(basename "${STUDY_FILE[$b]}")"

    local pick served="$APP/model/$b" ref="$WORK/reference/$b" args=()
    pick="$("$PY" "$HELPER" pick-weights --repo "$REPO" --bundle "$b" --variable "$weights_var" \
        ${!weights_var:+--weights "${!weights_var}"})" || die "no weights for $b: $pick"
    "$PY" "$HELPER" serve-bundle --repo "$REPO" --bundle "$b" --pick "$pick" --dest "$served" \
        || die "could not write the served copy of $b"
    mapfile -t args < <("$PY" "$HELPER" size-args --model-json "$served/models/model.json")
    mkdir -p "$ref"
    cp -r "$served/models" "$ref/models"
    say "reference: monai.bundle run of bundles/$b/configs/inference.json on $(basename "${STUDY_FILE[$b]}") ${args[*]}"
    (cd "$WORK" && "$PY" -m monai.bundle run --config_file "$REPO/bundles/$b/configs/inference.json" \
        --bundle_root "$ref" --input_dir "${STUDY_FILE[$b]}" --output_dir "$WORK/ours/$b" "${args[@]}") \
        >"$WORK/reference_$b.log" 2>&1 \
        || { tail -n 30 "$WORK/reference_$b.log" >&2; die "monai.bundle run (reference) of $b failed"; }
}
for b in adamix_la adamix_isic; do
    if wants "$b"; then extra_bundle "$b"; fi
done

# ---------------------------------------------------------------- MONAI Label server
PORT="${PORT:-$("$PY" "$HELPER" free-port)}"
URL="http://127.0.0.1:$PORT"
say "starting MONAI Label on $URL (log $LOG)"
(
    cd "$WORK"
    export PATH="$V/bin:$PATH" MONAILABEL_PYEXE="$V/bin/python"
    exec setsid monailabel start_server --app "$APP" --studies "$STUDIES" \
        --conf models "$MODELS" --conf zoo_source local --conf preload false --conf sam2 false \
        --host 127.0.0.1 --port "$PORT"
) >"$LOG" 2>&1 &
SERVER_PID=$!
"$PY" "$HELPER" wait-server --url "$URL" --pid "$SERVER_PID" --timeout "${SERVER_TIMEOUT:-300}" --log "$LOG" \
    || die "MONAI Label server did not come up"

# ================================================================ ACDC checks
if wants adamix_acdc; then
    # 1. /info/
    "$PY" "$HELPER" check-info --url "$URL" --model "$MODEL" \
        --labels '{"right ventricle": 1, "myocardium": 2, "left ventricle": 3}' || die "/info/ check"

    # 2. inference over REST
    for id in "${IDS[@]}"; do
        "$PY" "$HELPER" infer --url "$URL" --model "$MODEL" --image "$id" --out "$WORK/served/$id.nii.gz" \
            --log "$LOG" || die "POST /infer/$MODEL?image=$id"
    done

    # 3. + 4. label maps: geometry, classes, agreement with ours, Dice vs ground truth
    say "checks (shape, affine, classes; agreement >= $MIN_AGREE; GT Dice >= ${MIN_DICE:-unchecked}):"
    "$PY" "$HELPER" compare --studies "$STUDIES" --labels "$STUDIES/labels/final" --served "$WORK/served" \
        --ours "$WORK/ours" --cases "${IDS[*]}" --min-agree "$MIN_AGREE" ${MIN_DICE:+--min-dice "$MIN_DICE"} \
        --summary "$WORK/summary.json" || die "label checks"

    # 5. active learning by AdaMix confidence: an unlabeled study, the one our own ranking puts first
    "$PY" "$HELPER" active-learning --url "$URL" --strategy adamix_uncertainty --bundle "$SERVED" \
        --studies "$STUDIES" || die "POST /activelearning/adamix_uncertainty"
fi

# ================================================================ LA and ISIC checks (failures are collected)
# run one check of bundle $1 (named $2): on failure, record the helper's FAIL message for the summary
checked() {
    local b=$1 what=$2 err="$WORK/check.err" rc=0
    shift 2
    "$@" 2>"$err" || rc=$?
    cat "$err" >&2
    if [[ $rc -ne 0 ]]; then
        bundle_fail "$b" "$what: $(sed -n '/^FAIL: /,$p' "$err" | tr '\n' ' ' \
            | sed -e 's/^FAIL: //' -e 's/  */ /g' -e 's/ *$//' | cut -c1-500)"
    fi
    return $rc
}
check_extra() {
    local b=$1 labels dim id="${STUDY[$1]}" ext out
    case "$b" in
        adamix_la) labels='{"left atrium": 1}' dim=3 ext=.nii.gz ;;
        adamix_isic) labels='{"lesion": 1}' dim=2 ext=.png ;;
    esac
    say "$b: /info/ (labels $labels, dimension $dim), POST /infer/$b?image=$id, label checks:"
    checked "$b" "/info/" "$PY" "$HELPER" check-info --url "$URL" --model "$b" --labels "$labels" --dimension "$dim" \
        || true
    out="$WORK/served/$b/$id$ext"
    if ! checked "$b" "infer" "$PY" "$HELPER" infer --url "$URL" --model "$b" --image "$id" --out "$out" \
        --log "$LOG"; then
        [[ "$b" == adamix_isic ]] || return 0
        # diagnosis only (the default request above decides): ask for a uint8 label, so that a writer that cannot
        # write float labels as PNG gets past that, and see what MONAI Label returns then
        say "$b: diagnosis only: the same request with result_dtype uint8 (the check above has failed already)"
        if "$PY" "$HELPER" infer --url "$URL" --model "$b" --image "$id" --out "$WORK/served/$b/uint8/$id$ext" \
            --params '{"result_dtype": "uint8"}' --log "$LOG"; then
            "$PY" "$HELPER" compare-2d --image "${STUDY_FILE[$b]}" --served "$WORK/served/$b/uint8/$id$ext" \
                --ours "$WORK/ours/$b" --gt "$WORK/gt/$b/$id.png" --min-agree "$MIN_AGREE" \
                --summary "$WORK/summary_${b}_uint8.json" 2>&1 | sed 's/^FAIL: /diagnosis: /' || true
            # the label through MONAI Label's post transforms (its server log): shape, dtype
            echo "diagnosis: MONAI Label's post transforms (server log): $(grep -o \
                "POST - Transform ([A-Za-z]*).*pred: torch.Size(\[[0-9, ]*\])([a-z0-9.]*)" "$LOG" | tail -n 3 \
                | sed -E 's/.*\(([A-Za-z]+)\).*pred: torch.Size\((\[[0-9, ]*\])\)\(torch.([a-z0-9]+)\)/\1 \2 \3/' \
                | paste -sd ';' | sed 's/;/; /g')"
        fi
        return 0
    fi
    if [[ "$b" == adamix_la ]]; then
        checked "$b" "label checks" "$PY" "$HELPER" compare --studies "$STUDIES" --labels "$WORK/gt/$b" \
            --served "$WORK/served/$b" --ours "$WORK/ours/$b" --cases "$id" --classes 2 --min-agree "$MIN_AGREE" \
            --summary "$WORK/summary_$b.json" || true
    else
        checked "$b" "label checks" "$PY" "$HELPER" compare-2d --image "${STUDY_FILE[$b]}" --served "$out" \
            --ours "$WORK/ours/$b" --gt "$WORK/gt/$b/$id.png" --min-agree "$MIN_AGREE" \
            --summary "$WORK/summary_$b.json" || true
    fi
}
for b in adamix_la adamix_isic; do
    if wants "$b"; then check_extra "$b"; fi
done

# ================================================================ optional: training through MONAI Label (ACDC)
TRAIN_RESULT="not run (SMOKE_TRAIN=1 to run)"
if [[ "${SMOKE_TRAIN:-0}" == 1 ]]; then
    wants adamix_acdc || die "SMOKE_TRAIN=1 trains the ACDC bundle: add adamix_acdc to SMOKE_BUNDLES"
    say "training through POST /train/$MODEL (1 epoch, train.json + cpu.json + $TRAIN_OVERRIDES)"
    BEFORE="$(sha256sum "$SERVED/models/model.pt")"
    "$PY" "$HELPER" train --url "$URL" --model "$MODEL" --log "$LOG" --timeout "${TRAIN_TIMEOUT:-900}" \
        --params '{"max_epochs": 1, "device": "cpu", "val_split": 0.5, "multi_gpu": false, "pretrained": true}' \
        || die "training through MONAI Label"
    [[ "$(sha256sum "$SERVED/models/model.pt")" != "$BEFORE" ]] \
        || die "training finished but did not publish a new models/model.pt in the served bundle"
    # semi-supervised on the datastore: the unlabeled stream was the studies without a label
    "$PY" "$HELPER" check-streams --bundle "$SERVED" --studies "$STUDIES" \
        || die "the training's streams (runs/<run>/datalists.json)"
    # the server reloads a changed model.pt: infer once more with the freshly trained weights
    "$PY" "$HELPER" infer --url "$URL" --model "$MODEL" --image "${IDS[0]}" --out "$WORK/after_train/${IDS[0]}.nii.gz" \
        || die "POST /infer/$MODEL after training"
    "$PY" "$HELPER" check-label --image "$STUDIES/${IDS[0]}.nii.gz" --label "$WORK/after_train/${IDS[0]}.nii.gz" \
        || die "label map after training"
    TRAIN_RESULT="DONE (unlabeled stream: the datastore's unlabeled studies; new models/model.pt published and served)"
fi

# ================================================================ result
if wants adamix_acdc; then
    say "PASS: MONAI Label $URL served $MODEL on ${#IDS[@]} ACDC test volumes; weights: $W_SOURCE;" \
        "training: $TRAIN_RESULT"
fi
FAILED=()
for b in adamix_la adamix_isic; do
    if wants "$b"; then
        if [[ -n "${RESULT[$b]:-}" ]]; then
            FAILED+=("$b")
            say "FAIL: $b (study ${STUDY[$b]}): ${RESULT[$b]}"
        else
            say "PASS: MONAI Label $URL served $b on ${STUDY[$b]}: /info/, geometry, classes, agreement with ours"
        fi
    fi
done
say "total wall time $(($(date +%s) - T0)) s"
[[ ${#FAILED[@]} -eq 0 ]] \
    || die "MONAI Label does not serve ${FAILED[*]} as our own inference does (see above, and the known problems in \
tests/integration/README.md)"

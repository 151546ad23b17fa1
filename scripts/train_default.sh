#!/usr/bin/env bash
# Trains the default model (configs/train/cpu_default.yaml: phantoms + the real MRI training split), chooses
# its post-processing on phantoms outside training and test, and writes src/spinedetect/model/weights/default.pt.
# Run from anywhere; needs ../shared/data. Extra arguments go to both `spinedetect train` calls
# (e.g. --device cuda). About 150 minutes on an idle 2-core CPU.
#   stage 1: STAGE1_STEPS=8000 steps (poly schedule over 8000); stage 2: resumes at that step with the config's
#   14000 steps, so the learning rate restarts at (1 - 8000/14000)^0.9 of its peak and decays to 0 (a warm
#   restart: the shipped model was made this way, 8000 steps first, then continued).
# Distributed: torchrun --nproc-per-node K -m spinedetect train --config configs/train/default.yaml ...
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT="${OUT:-out/train-default}"
# The shipped weights come from the CPU-sized recipe; CONFIG=configs/train/default.yaml is the full-size one.
CONFIG="${CONFIG:-configs/train/cpu_default.yaml}"
STAGE1_STEPS="${STAGE1_STEPS:-8000}"  # 0: one run of the config's steps
if [ "$STAGE1_STEPS" -gt 0 ]; then
  PYTHONPATH=src "$PY" -m spinedetect train --config "$CONFIG" --out "$OUT/stage1" --steps "$STAGE1_STEPS" -v "$@"
  RESUME=(--resume "$OUT/stage1/checkpoints/$(printf 'step_%07d.pt' "$STAGE1_STEPS")")
else
  RESUME=()
fi
PYTHONPATH=src "$PY" -m spinedetect train --config "$CONFIG" --out "$OUT/stage2" "${RESUME[@]}" -v "$@"
LAST="$(ls "$OUT"/stage2/checkpoints/step_*.pt | tail -n 1)"
"$PY" scripts/tune_postprocess.py "$LAST" --export src/spinedetect/model/weights/default.pt
echo "default model: src/spinedetect/model/weights/default.pt (sha256 above); evaluate: $PY scripts/evaluate_model.py"

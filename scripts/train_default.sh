#!/usr/bin/env bash
# Trains the default model (configs/train/cpu_default.yaml: phantoms + the real MRI training split) and copies
# the final weights to src/spinedetect/model/weights/default.pt. Run from anywhere; needs ../shared/data.
# Extra arguments go to `spinedetect train` (e.g. --max-minutes 30, --device cuda).
# Distributed: torchrun --nproc-per-node K -m spinedetect train --config configs/train/default.yaml ...
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT="${OUT:-out/train-default}"
# The shipped weights come from the CPU-sized recipe; CONFIG=configs/train/default.yaml is the full-size one.
CONFIG="${CONFIG:-configs/train/cpu_default.yaml}"
PYTHONPATH=src "$PY" -m spinedetect train --config "$CONFIG" --out "$OUT" -v "$@"
PYTHONPATH=src "$PY" -c "import sys; from spinedetect.model.checkpoint import export_weights; print(export_weights(sys.argv[1], sys.argv[2]))" \
  "$OUT/checkpoints/last.pt" src/spinedetect/model/weights/default.pt
echo "default model: src/spinedetect/model/weights/default.pt (sha256 above); evaluate: $PY scripts/evaluate_model.py"

#!/usr/bin/env bash
# Campaign of issue 19, step 1: fine-tunes the shipped default model with real negatives
# (configs/train/cpu_realneg.yaml; real sources read lesion_free, split configs/splits/real_scans.json).
# Starts from src/spinedetect/model/weights/default.pt (--init-weights: weights only, fresh optimiser; the
# parent's sha256 is recorded in every checkpoint), or resumes OUT's last checkpoint where there is one.
# Extra arguments go to `spinedetect train` (e.g. --max-minutes 60, --device cuda).
# On the shared CPU: NICE=15 THREADS=2 (the defaults). Then: python scripts/tune_postprocess.py
# "$OUT/checkpoints/last.pt" --export CANDIDATE and the evaluations of MODEL_CARD.md, "Campaign".
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT="${OUT:-out/train-realneg}"
CONFIG="${CONFIG:-configs/train/cpu_realneg.yaml}"
PARENT="${PARENT:-src/spinedetect/model/weights/default.pt}"
# The campaign's one committed training state (small: weights + optimiser): a session resumes from it and
# writes it back, so the next session continues where this one stopped.
STATE="${STATE:-campaign/realneg/last.pt}"
if [ -f "$OUT/checkpoints/last.pt" ]; then
  START=(--resume "$OUT/checkpoints/last.pt")
elif [ -f "$STATE" ]; then
  (cd "$(dirname "$STATE")" && sha256sum -c "$(basename "$STATE").sha256")
  START=(--resume "$STATE")
else
  START=(--init-weights "$PARENT")
fi
export OMP_NUM_THREADS="${THREADS:-2}" MKL_NUM_THREADS="${THREADS:-2}"
PYTHONPATH=src nice -n "${NICE:-15}" "$PY" -m spinedetect train --config "$CONFIG" --out "$OUT" "${START[@]}" \
  --no-progress -v "$@"
mkdir -p "$(dirname "$STATE")"
cp "$OUT/checkpoints/last.pt" "$STATE"
(cd "$(dirname "$STATE")" && sha256sum "$(basename "$STATE")" > "$(basename "$STATE").sha256")
echo "training state: $STATE (commit it with the figures reached)"

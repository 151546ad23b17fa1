#!/usr/bin/env bash
# Installs spinedetect into .venv (once), then runs the main job on built-in defaults.
# Extra arguments go to `spinedetect demo`, e.g. `--out somewhere`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/spinedetect demo "$@"

#!/usr/bin/env bash
# Installs what the tests need into .venv (once), then runs the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the long checks CI leaves out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ "$#" -eq 0 ]; then set -- -m "not slow"; fi
exec .venv/bin/python -m pytest "$@"

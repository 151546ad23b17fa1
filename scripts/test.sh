#!/usr/bin/env bash
# Installs what the tests need into .venv (once), then runs the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the long checks CI leaves out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The review-page test opens index.html in headless Chromium (Debian's package); install it once where we can.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[spinedetect] installing Debian's chromium for the review-page browser test..." >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 \
    || echo "[spinedetect] could not install chromium: the browser test will be skipped" >&2
fi
if [ "$#" -eq 0 ]; then set -- -m "not slow"; fi
exec .venv/bin/python -m pytest "$@"

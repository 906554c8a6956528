#!/usr/bin/env bash
# Installs what the tests need (system voices, a headless browser, .venv, the optional intelligibility meter) and runs
# them on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_EVAL=1 WITH_BROWSER=1 bash scripts/setup.sh
exec .venv/bin/python -m pytest -q tests "$@"

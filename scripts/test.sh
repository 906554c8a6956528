#!/usr/bin/env bash
# Installs what the tests need (system voices, .venv, the optional intelligibility meter) and runs them on CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_EVAL=1 bash scripts/setup.sh
exec .venv/bin/python -m pytest -q tests "$@"

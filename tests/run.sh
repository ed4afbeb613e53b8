#!/usr/bin/env bash
# Installs what is missing (.venv from requirements.txt), then runs the tests.
#   bash tests/run.sh                 # whole suite
#   bash tests/run.sh tests/corpora   # any pytest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/ensure_venv.sh
python -m pytest "$@"

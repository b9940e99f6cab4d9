#!/usr/bin/env bash
# The whole test suite, from a fresh clone: creates .venv, installs the test extras, runs pytest on 2 workers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh test
bash scripts/setup-phoenix.sh  # the end-to-end test's trace backend, in its own venv
exec .venv/bin/python -m pytest -p xdist -n 2 "$@"

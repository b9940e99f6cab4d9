#!/usr/bin/env bash
# The whole test suite, from a fresh clone: creates .venv, installs the test extras, runs pytest on 2 workers.
# With no arguments (as CI runs it) it also runs the suite's core at the dependency floors
# (scripts/test-lowest.sh); arguments go to the main pytest run alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh test,llm-clients
bash scripts/setup-phoenix.sh  # the end-to-end test's trace backend, in its own venv
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest -p xdist -n 2 "$@"
fi
.venv/bin/python -m pytest -p xdist -n 2
bash scripts/test-lowest.sh

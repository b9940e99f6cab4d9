#!/usr/bin/env bash
# The frameworks' own test suites, run bare and instrumented; fails on an outcome difference that
# scripts/framework_suites/expected_differences.toml does not list. Suites come from the frameworks'
# sdists on PyPI at the versions pinned in pyproject's `test` extra; each gets a venv in .venv-suites/.
#   bash scripts/framework-suites.sh            # every framework whose sdist ships tests
#   bash scripts/framework-suites.sh --ci       # the subset CI runs
#   bash scripts/framework-suites.sh --only smolagents
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(bash scripts/find-python.sh)"
exec "$python" scripts/framework_suites/run.py "$@"

#!/usr/bin/env bash
# Creates a venv (Python 3.11+) and installs the package with the given extras, once per extras set.
#   bash scripts/setup-venv.sh [extras] [venv directory]     # defaults: test, .venv
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
venv="${2:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python="$(bash scripts/find-python.sh)"
  "$python" -m venv "$venv"
  echo '*' > "$venv/.gitignore"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
stamp="$venv/.installed-${extras//,/-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install --quiet -e ".[${extras}]"
  touch "$stamp"
fi

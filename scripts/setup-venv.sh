#!/usr/bin/env bash
# Creates a venv (Python 3.11+) and installs the package with the given extras, once per extras set.
#   bash scripts/setup-venv.sh [extras] [venv directory]     # defaults: test, .venv
# Installs with uv (scripts/find-uv.sh), pip too: some tests run it (setuptools is not installed, as on Python 3.12+).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
venv="${2:-.venv}"
uv="$(bash scripts/find-uv.sh)"
if [ ! -x "$venv/bin/python" ]; then
  python="$(bash scripts/find-python.sh)"
  "$uv" venv --quiet --python "$("$python" -c 'import sys; print(sys.executable)')" "$venv"
  echo '*' > "$venv/.gitignore"
fi
stamp="$venv/.installed-${extras//,/-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$uv" pip install --quiet --python "$venv/bin/python" -e ".[${extras}]" pip
  touch "$stamp"
fi

#!/usr/bin/env bash
# Prints the uv the set-up scripts install with: $UV if set, else .venv-uv/bin/uv, installed from PyPI on
# first use into a venv of its own (only Python 3.11+ and PyPI are needed). uv resolves and downloads in
# parallel: a cold-cache set-up of every venv takes a fraction of pip's time (README "Running the tests").
# Not safe to run twice at once on a fresh clone: scripts/test.sh calls it once and exports UV.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9  # the uv every venv of this repository was checked with
if [ -n "${UV:-}" ]; then echo "$UV"; exit 0; fi
venv=.venv-uv
if [ ! -x "$venv/bin/uv" ] || [ "$("$venv/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  python="$(bash scripts/find-python.sh)"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv" >&2
  echo '*' > "$venv/.gitignore"
  "$venv/bin/python" -m pip install --quiet "uv==$UV_VERSION" >&2
fi
echo "$PWD/$venv/bin/uv"

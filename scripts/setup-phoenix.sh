#!/usr/bin/env bash
# Creates .venv-phoenix (Python 3.11+) with the trace backend of the end-to-end test: the `phoenix` extra's
# pin from pyproject.toml, nothing else. Kept apart from .venv: arize-phoenix brings a pytest plugin and
# openinference's openai instrumentor, which would leak into the suite and into opentelemetry-instrument.
set -euo pipefail
cd "$(dirname "$0")/.."
uv="$(bash scripts/find-uv.sh)"
if [ ! -x .venv-phoenix/bin/python ]; then
  python="$(bash scripts/find-python.sh)"
  "$uv" venv --quiet --python "$("$python" -c 'import sys; print(sys.executable)')" .venv-phoenix
  echo '*' > .venv-phoenix/.gitignore
fi
stamp=".venv-phoenix/.installed"
[ -f "$stamp" ] && [ ! pyproject.toml -nt "$stamp" ] && exit 0
# One source of truth for the pin: [project.optional-dependencies] phoenix in pyproject.toml.
requirements="$(.venv-phoenix/bin/python -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["phoenix"]))
')"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$requirements" ]; then
  mapfile -t pins <<< "$requirements"
  "$uv" pip install --quiet --python .venv-phoenix/bin/python "${pins[@]}"
fi
printf '%s\n' "$requirements" > "$stamp"

#!/usr/bin/env bash
# Builds the sdist and the wheel into dist/ (emptied first) as the release workflow does, and checks them:
#   `python -m build`: an isolated build with pyproject's build-system (hatchling); the wheel is built FROM
#     the sdist, so a file the sdist leaves out breaks the wheel here, not on a user's machine;
#   `twine check --strict`: the long description renders and the metadata is what PyPI accepts.
# The tools live in .venv-build, pinned by the `release` extra of pyproject.toml (not installed with it: the
# package itself is not needed to build it). What the artefacts hold is checked by tests/installed/
# (scripts/test-lowest.sh installs the wheel and runs them).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-build
if [ ! -x "$venv/bin/python" ]; then
  python="$(bash scripts/find-python.sh)"
  "$python" -m venv "$venv"
  echo '*' > "$venv/.gitignore"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
requirements="$("$venv/bin/python" -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["release"]))
')"
stamp="$venv/.installed"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$requirements" ]; then
  mapfile -t pins <<< "$requirements"
  "$venv/bin/python" -m pip install --quiet "${pins[@]}"
  printf '%s\n' "$requirements" > "$stamp"
fi
rm -rf dist
"$venv/bin/python" -m build --outdir dist . >"$venv/build.log" 2>&1 || { cat "$venv/build.log"; exit 1; }
"$venv/bin/python" -m twine check --strict dist/*

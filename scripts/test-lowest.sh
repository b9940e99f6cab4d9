#!/usr/bin/env bash
# The package at the LOWEST versions pyproject.toml allows: creates .venv-lowest with the Python floor of
# `requires-python`, installs the package and the test extra with every dependency floor pinned exactly
# (scripts/requirement-sets.py reads them from pyproject.toml, so the published floors are the tested
# ones), checks that the floors are what got installed, and runs a subset of the suite: the core lifecycle
# table, user targets, the instrumentor, and Agent Framework. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-lowest
host_python="$(bash scripts/find-python.sh)"  # 3.11+: requirement-sets.py reads pyproject.toml with tomllib
python_floor="$("$host_python" scripts/requirement-sets.py python-floor)"
if [ ! -x "$venv/bin/python" ]; then
  python="${PYTHON:-python$python_floor}"
  if ! "$python" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$python_floor'.split('.'))))"; then
    echo "test-lowest needs Python $python_floor (the requires-python floor); set PYTHON=/path/to/python$python_floor" >&2
    exit 1
  fi
  "$python" -m venv "$venv"
  echo '*' > "$venv/.gitignore"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
constraints="$venv/constraints.txt"
"$host_python" scripts/requirement-sets.py lowest > "$constraints.new"
stamp="$venv/.installed"
# Reinstall when the floors or anything else in pyproject.toml changed.
if [ ! -f "$stamp" ] || ! cmp -s "$constraints.new" "$constraints" || [ pyproject.toml -nt "$stamp" ]; then
  mv "$constraints.new" "$constraints"
  "$venv/bin/python" -m pip install --quiet --constraint "$constraints" -e ".[test]"
  "$venv/bin/python" -m pip check
  touch "$stamp"
else
  rm "$constraints.new"
fi
# Every pinned floor is the installed version (a constraint alone installs nothing).
"$venv/bin/python" - "$constraints" <<'EOF'
import sys
from importlib import metadata

from packaging.utils import canonicalize_name
from packaging.version import Version

wrong = []
for line in open(sys.argv[1]).read().split():
    name, version = line.split("==")
    installed = metadata.version(canonicalize_name(name))
    if Version(installed) != Version(version):
        wrong.append(f"{name} {installed} (floor {version})")
if wrong:
    sys.exit("not at the floor: " + ", ".join(wrong))
print("at the floors:", ", ".join(open(sys.argv[1]).read().split()), "on Python", sys.version.split()[0])
EOF
exec "$venv/bin/python" -m pytest -p xdist -n 2 \
  tests/test_lifecycle.py tests/test_generic_targets.py tests/test_instrumentor.py tests/test_agent_framework.py "$@"

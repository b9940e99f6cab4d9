#!/usr/bin/env bash
# The package as a user installs it, at the LOWEST versions pyproject.toml allows: builds the sdist and the
# wheel (scripts/build-dist.sh, into dist/), creates .venv-lowest with the Python floor of `requires-python`,
# installs the WHEEL (not an editable install of src/) and the test extra with every dependency floor pinned
# exactly (scripts/requirement-sets.py reads them from pyproject.toml, so the published floors are the tested
# ones), checks that the floors are what got installed, and runs a subset of the suite against the installed
# package: the core lifecycle table, user targets, the instrumentor, Agent Framework, the README's examples
# and the built distributions' own tests (tests/installed/). The wheel is rebuilt and reinstalled on every
# run, so a local run tests the source as it is now. Extra arguments go to pytest; `--setup-only` (first)
# stops before pytest; `--tests-only` (first) neither builds nor installs: it runs pytest on what the
# `--setup-only` run just before it built and installed (scripts/test.sh sets up while the main suite runs).
set -euo pipefail
cd "$(dirname "$0")/.."
setup_only=false
tests_only=false
case "${1:-}" in
  --setup-only) setup_only=true; shift ;;
  --tests-only) tests_only=true; shift ;;
esac
venv=.venv-lowest
constraints="$venv/constraints.txt"
if ! $tests_only; then
  bash scripts/build-dist.sh
  wheel="$(echo dist/otel_agent_instrumentation-*-py3-none-any.whl)"
  host_python="$(bash scripts/find-python.sh)"  # 3.11+: requirement-sets.py reads pyproject.toml with tomllib
  python_floor="$("$host_python" scripts/requirement-sets.py python-floor)"
  uv="$(bash scripts/find-uv.sh)"
  if [ ! -x "$venv/bin/python" ]; then
    python="${PYTHON:-python$python_floor}"
    if ! "$python" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$python_floor'.split('.'))))"; then
      echo "test-lowest needs Python $python_floor (the requires-python floor); set PYTHON=/path/to/python$python_floor" >&2
      exit 1
    fi
    "$uv" venv --quiet --python "$("$python" -c 'import sys; print(sys.executable)')" "$venv"
    echo '*' > "$venv/.gitignore"
  fi
  "$host_python" scripts/requirement-sets.py lowest > "$constraints.new"
  stamp="$venv/.installed"
  # Reinstall when the floors or anything else in pyproject.toml changed.
  if [ ! -f "$stamp" ] || ! cmp -s "$constraints.new" "$constraints" || [ pyproject.toml -nt "$stamp" ]; then
    mv "$constraints.new" "$constraints"
    # The wheel is reinstalled even at the same version number (new contents); its dependencies are not. pip
    # too: `pip check` below is pip's own verdict on the installed set.
    "$uv" pip install --quiet --python "$venv/bin/python" --constraint "$constraints" \
      --reinstall-package otel-agent-instrumentation "$wheel[test]" pip
    "$venv/bin/python" -m pip check
    touch "$stamp"
  else
    rm "$constraints.new"
    # Same version number, new contents: only a reinstall replaces it (its dependencies stay).
    "$uv" pip install --quiet --python "$venv/bin/python" --reinstall-package otel-agent-instrumentation --no-deps "$wheel"
  fi
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
if $setup_only; then exit 0; fi
# The installed package, never src/: no PYTHONPATH (the tests check where the package was imported from).
unset PYTHONPATH
export OTEL_AGENT_TEST_DIST="$PWD/dist"
exec "$venv/bin/python" -m pytest -p xdist -n 2 \
  tests/test_lifecycle.py tests/test_generic_targets.py tests/test_instrumentor.py tests/test_agent_framework.py \
  tests/test_readme.py tests/installed "$@"

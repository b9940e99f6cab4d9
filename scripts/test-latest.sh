#!/usr/bin/env bash
# The frameworks at their NEWEST releases, to learn of breakage before users do. Not part of CI: a new
# framework release must not turn CI red (CI tests the pins in the test extra and, with
# scripts/test-lowest.sh, the floors). Creates .venv-latest, installs the package with the test extra
# whose `==` framework pins become floors (scripts/requirement-sets.py latest), upgrading to the newest
# releases on every run, prints which frameworks moved past their pins (and any newest release that could
# not be installed beside the others), and runs the lifecycle table and each framework's test file. Extra arguments go to pytest (e.g. -k openai_agents, or other test files).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-latest
if [ ! -x "$venv/bin/python" ]; then
  python="$(bash scripts/find-python.sh)"
  "$python" -m venv "$venv"
  echo '*' > "$venv/.gitignore"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
mapfile -t requirements < <("$venv/bin/python" scripts/requirement-sets.py latest)
"$venv/bin/python" -m pip install --quiet --upgrade -e . "${requirements[@]}"
# The frameworks that moved past the versions the suite is pinned to.
"$venv/bin/python" scripts/requirement-sets.py report-latest
# The lifecycle table plus one test file per built-in adapter (tests/test_<adapter name>.py).
mapfile -t framework_tests < <("$venv/bin/python" -c '
from importlib import metadata
from pathlib import Path

for entry_point in metadata.entry_points(group="otel_agent_instrumentation.adapters"):
    if entry_point.value.startswith("otel_agent_instrumentation.") and Path(f"tests/test_{entry_point.name}.py").exists():
        print(f"tests/test_{entry_point.name}.py")
' | sort)
if [ "$#" -eq 0 ] || [[ "$1" == -* ]]; then
  set -- tests/test_lifecycle.py "${framework_tests[@]}" "$@"
fi
exec "$venv/bin/python" -m pytest -p xdist -n 2 "$@"

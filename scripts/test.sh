#!/usr/bin/env bash
# The whole test suite, from a fresh clone (CI runs exactly this through .ci/run). Every step runs even when
# an earlier one failed; the last line sums them up and the exit status is non-zero if any failed:
#   0. set-up:   every venv is installed with uv (scripts/find-uv.sh installs it from PyPI on first use); the
#                main one first, the others in the background while the main suite runs
#   1. main:     .venv (extras test,llm-clients,browser), the suite under tests/ on 2 workers
#   2. openai2, otel144: one venv each (.venv-<name>, extra test-<name>) for frameworks that cannot share
#      .venv (pyproject.toml says why), tests/separate/<name>/, the shared ending table and the benchmark
#      subjects' smoke test there (each subject is checked where its framework is installed)
#   3. suites:   the frameworks' own test suites, bare vs instrumented (scripts/framework-suites.sh --ci)
#   4. lowest:   builds dist/ (sdist, wheel), installs the wheel at the dependency floors and runs the core, the
#                README's examples and the distributions' own tests against it (scripts/test-lowest.sh)
# Each step prints its wall time; a line before the summary lists them.
# With arguments, runs only the main environment's pytest with them (e.g. `bash scripts/test.sh tests/test_agno.py`).
set -uo pipefail
cd "$(dirname "$0")/.."
SEPARATE_ENVIRONMENTS=(openai2 otel144)
started_at=$SECONDS
timed() {  # timed NAME COMMAND...: runs it and prints its wall time (set-up steps; `step` below records tests)
  local name="$1" began=$SECONDS; shift
  "$@"
  local status=$?
  echo "--- $name: $((SECONDS - began))s (exit $status)"
  return $status
}
reports="$(mktemp -d)"
declare -A setup_pid
background() {  # background NAME COMMAND...: a set-up step run in the background, its output in setup-NAME.log
  local name="$1"; shift
  timed "setup-$name" "$@" >"$reports/setup-$name.log" 2>&1 &
  setup_pid[$name]=$!
}
finished() {  # finished NAME: waits for a background set-up step; prints its time, and its log if it failed
  wait "${setup_pid[$1]}"
  local status=$?
  grep '^--- ' "$reports/setup-$1.log"
  [ "$status" = 0 ] || cat "$reports/setup-$1.log"
  return $status
}
set -e
began=$SECONDS
UV="$(bash scripts/find-uv.sh)"  # once, before the set-up steps below share it
export UV
echo "--- setup-uv: $((SECONDS - began))s"
background phoenix bash scripts/setup-phoenix.sh  # the end-to-end test's trace backend, in its own venv
if [ "$#" -eq 0 ]; then
  # Network-bound: they install while the main venv does and the main suite runs.
  for env in "${SEPARATE_ENVIRONMENTS[@]}"; do
    background "$env" bash scripts/setup-venv.sh "test-$env,llm-clients" ".venv-$env"
  done
  # The floors' venv (its tests run last, on a fresh wheel) and the frameworks' suites' venvs and sdists.
  background lowest bash scripts/test-lowest.sh --setup-only
  background suites bash scripts/framework-suites.sh --ci --setup-only
fi
timed setup-main bash scripts/setup-venv.sh test,llm-clients,browser
finished phoenix
# The end-to-end browser check drives Debian's chromium (Playwright from the `browser` extra, through
# executable_path; never `playwright install`). If it cannot be installed, those specs fail and say how.
command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } ||
  echo "chromium could not be installed: the browser specs of tests/e2e/test_phoenix.py will fail" >&2
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest -p xdist -n 2 "$@"
fi
set +e
steps=()
step_times=()
step() {  # step NAME COMMAND...: runs it, records its exit status and wall time
  local name="$1" began=$SECONDS; shift
  echo "=== $name: $*"
  "$@"
  local status=$?
  steps+=("$name=$status")
  step_times+=("$name $((SECONDS - began))s")
  echo "--- $name: $((SECONDS - began))s (exit $status)"
}
step main .venv/bin/python -m pytest -p xdist -n 2 --junitxml="$reports/main.xml"
for env in "${SEPARATE_ENVIRONMENTS[@]}"; do
  if ! finished "$env"; then
    steps+=("$env=setup-failed")
    continue
  fi
  step "$env" env OTEL_AGENT_TEST_ENV="$env" ".venv-$env/bin/python" -m pytest -p xdist -n 2 \
    --junitxml="$reports/$env.xml" tests/test_lifecycle.py tests/test_benchmark_smoke.py "tests/separate/$env"
done
if finished suites; then
  step suites bash scripts/framework-suites.sh --ci
else
  steps+=("suites=setup-failed")
fi
if finished lowest; then
  # Its set-up built and installed the wheel of this very checkout: the step runs the tests alone.
  step lowest bash scripts/test-lowest.sh --tests-only --junitxml="$reports/lowest.xml"
else
  steps+=("lowest=setup-failed")
fi
python="$(bash scripts/find-python.sh)"
echo "step times: ${step_times[*]/%/;} total $((SECONDS - started_at))s"
"$python" scripts/summarize-tests.py "$reports" "${steps[@]}"

#!/usr/bin/env bash
# The whole test suite, from a fresh clone (CI runs exactly this through .ci/run). Every step runs even when
# an earlier one failed; the last line sums them up and the exit status is non-zero if any failed:
#   1. main:     .venv (extras test,llm-clients,browser), the suite under tests/ on 2 workers
#   2. openai2, otel144: one venv each (.venv-<name>, extra test-<name>) for frameworks that cannot share
#      .venv (pyproject.toml says why), tests/separate/<name>/, the shared ending table and the benchmark
#      subjects' smoke test there (each subject is checked where its framework is installed); they
#      install while the main suite runs
#   3. suites:   the frameworks' own test suites, bare vs instrumented (scripts/framework-suites.sh --ci)
#   4. lowest:   builds dist/ (sdist, wheel), installs the wheel at the dependency floors and runs the core, the
#                README's examples and the distributions' own tests against it (scripts/test-lowest.sh)
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
set -e
timed setup-main bash scripts/setup-venv.sh test,llm-clients,browser
timed setup-phoenix bash scripts/setup-phoenix.sh  # the end-to-end test's trace backend, in its own venv
# The end-to-end browser check drives Debian's chromium (Playwright from the `browser` extra, through
# executable_path; never `playwright install`). If it cannot be installed, those specs fail and say how.
command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } ||
  echo "chromium could not be installed: the browser specs of tests/e2e/test_phoenix.py will fail" >&2
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest -p xdist -n 2 "$@"
fi
set +e
reports="$(mktemp -d)"
declare -A setup_pid
for env in "${SEPARATE_ENVIRONMENTS[@]}"; do
  timed "setup-$env" bash scripts/setup-venv.sh "test-$env,llm-clients" ".venv-$env" >"$reports/setup-$env.log" 2>&1 &
  setup_pid[$env]=$!
done
# The floors' venv too (its install is most of that step's time); its tests run last, on a fresh wheel.
timed setup-lowest bash scripts/test-lowest.sh --setup-only >"$reports/setup-lowest.log" 2>&1 &
setup_pid[lowest]=$!
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
  wait "${setup_pid[$env]}"
  setup_status=$?
  grep '^--- ' "$reports/setup-$env.log"  # its wall time (it ran in the background)
  if [ "$setup_status" != 0 ]; then
    cat "$reports/setup-$env.log"
    steps+=("$env=setup-failed")
    continue
  fi
  step "$env" env OTEL_AGENT_TEST_ENV="$env" ".venv-$env/bin/python" -m pytest -p xdist -n 2 \
    --junitxml="$reports/$env.xml" tests/test_lifecycle.py tests/test_benchmark_smoke.py "tests/separate/$env"
done
step suites bash scripts/framework-suites.sh --ci
wait "${setup_pid[lowest]}"
setup_status=$?
grep '^--- ' "$reports/setup-lowest.log"
if [ "$setup_status" = 0 ]; then
  step lowest bash scripts/test-lowest.sh --junitxml="$reports/lowest.xml"
else
  cat "$reports/setup-lowest.log"
  steps+=("lowest=setup-failed")
fi
python="$(bash scripts/find-python.sh)"
echo "step times: ${step_times[*]/%/;} total $((SECONDS - started_at))s"
"$python" scripts/summarize-tests.py "$reports" "${steps[@]}"

#!/usr/bin/env bash
# Refreshes the README's pictures of a trace (docs/trace-coordinator.png, docs/trace-failed.png):
# starts a throw-away Phoenix, runs the end-to-end demo app (tests/e2e/app.py) against it under
# opentelemetry-instrument, and saves Phoenix's trace view of the delegating run and of the failed run, taken
# in headless Chromium. The browser is Debian's `chromium` package, driven by Playwright (extra `browser`)
# through executable_path: `playwright install` and its browser download are never used.
#   bash scripts/trace-screenshot.sh [output directory]     # default: docs
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y --no-install-recommends chromium
fi
bash scripts/setup-venv.sh test,llm-clients,browser
bash scripts/setup-phoenix.sh
exec .venv/bin/python -m tests.e2e.trace_view "${1:-docs}"

#!/usr/bin/env bash
# The main demonstration: an offline Agent Framework agent run under `opentelemetry-instrument`,
# its spans printed to the console, then the same spans as a text tree (our `agent_tree` exporter).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh test
export OTEL_SERVICE_NAME=offline-agent-demo
exec .venv/bin/opentelemetry-instrument --traces_exporter console,agent_tree --metrics_exporter none --logs_exporter none \
  .venv/bin/python examples/offline_agent.py

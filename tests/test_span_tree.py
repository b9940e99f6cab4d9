"""The text tree of exported spans: the `agent_tree` exporter (the demo's summary) and its renderer."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from otel_agent_instrumentation import semconv, span_tree
from otel_agent_instrumentation.tree_exporter import SpanTreeExporter

ROOT = Path(__file__).resolve().parents[1]
DURATION = re.compile(r" \d+\.\d ms$")


def _record(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_agent planner", attributes={semconv.OUTCOME: "completed"}):
        with tracer.start_as_current_span("execute_tool search", attributes={semconv.OUTCOME: "failed"}) as tool:
            tool.set_status(Status(StatusCode.ERROR, "no results"))
        with tracer.start_as_current_span("chat model"):
            pass
    with tracer.start_as_current_span("invoke_agent other", attributes={semconv.OUTCOME: "closed_early"}):
        pass


def test_exporter_prints_each_trace_as_a_tree_with_outcome_error_and_duration_at_shutdown() -> None:
    out = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SpanTreeExporter(out)))
    _record(provider)
    assert out.getvalue() == ""  # nothing before shutdown
    provider.shutdown()
    lines = out.getvalue().splitlines()
    assert [DURATION.sub("", line) for line in lines] == [
        "",
        "4 spans exported, as trees:",
        "  invoke_agent planner [completed]",
        "    execute_tool search [failed] ERROR: no results",
        "    chat model",
        "  invoke_agent other [closed_early]",
    ]
    assert all(DURATION.search(line) for line in lines[2:])


def test_exporter_keeps_at_most_its_limit() -> None:
    out = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SpanTreeExporter(out, limit=2)))
    _record(provider)
    provider.shutdown()
    assert "2 spans exported" in out.getvalue()


def test_a_span_whose_parent_was_not_exported_is_a_root() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("unexported parent"):
        with tracer.start_as_current_span("invoke_agent child"):
            pass
        rows = span_tree.render(exporter.get_finished_spans())  # the parent is still open
    assert rows == ["invoke_agent child"]


def test_the_demo_under_opentelemetry_instrument_ends_with_the_tree_of_its_three_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none", OTEL_TRACES_EXPORTER="agent_tree")
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("opentelemetry-instrument")), sys.executable, "examples/offline_agent.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    tree = completed.stdout[completed.stdout.index("spans exported") :].splitlines()[1:]
    assert [DURATION.sub("", row) for row in tree] == [
        "  invoke_agent geographer [completed]",
        "    chat offline-model",
        "  invoke_agent geographer [completed]",
        "    chat offline-model",
        "  invoke_agent geographer [closed_early]",
        "    chat offline-model",
    ]

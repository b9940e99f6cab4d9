"""Per-test telemetry: in-memory span exporter and metric reader, passed to instrument()."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from otel_agent_instrumentation import AgentInstrumentor
from otel_agent_instrumentation.invocation import open_invocation_count

# Frameworks that cannot share the main environment have their own (pyproject extras `test-<name>`,
# venvs `.venv-<name>`, set up and run by scripts/test.sh): their tests are in tests/separate/<name>/ and
# their drivers in tests/frameworks/<name>/. OTEL_AGENT_TEST_ENV names the environment a run is in.
TEST_ENVIRONMENT = os.environ.get("OTEL_AGENT_TEST_ENV", "main")
SEPARATE_TESTS = os.path.join(os.path.dirname(__file__), "separate")


# The built distributions' tests (tests/installed/) need the wheel installed and OTEL_AGENT_TEST_DIST naming
# the folder it was built in: scripts/test-lowest.sh does both.
INSTALLED_TESTS = os.path.join(os.path.dirname(__file__), "installed")


def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    """Another environment's tests are never collected here (their frameworks are not installed); nor are
    the installed wheel's tests unless the run installed one."""
    if os.path.commonpath([str(collection_path), INSTALLED_TESTS]) == INSTALLED_TESTS:
        return "OTEL_AGENT_TEST_DIST" not in os.environ or None
    relative = os.path.relpath(str(collection_path), SEPARATE_TESTS)
    if relative.startswith(os.pardir) or relative == os.curdir:
        return None
    return relative.split(os.sep)[0] != TEST_ENVIRONMENT or None


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def agent_spans(self) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.name.startswith("invoke_agent")]

    def agent_attributes(self) -> Mapping[str, Any]:
        """The attributes of the one agent span so far (the first, if there are several)."""
        return attributes(self.agent_spans()[0])

    def metric_points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        points: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


# (span name, kind, parent span name, status code), in start order: the trace as a tree.
TreeRow = tuple[str, SpanKind, str | None, StatusCode]
INTERNAL, UNSET, ERROR = SpanKind.INTERNAL, StatusCode.UNSET, StatusCode.ERROR


def span_tree(telemetry: Telemetry) -> list[TreeRow]:
    spans = sorted(telemetry.finished(), key=lambda span: span.start_time or 0)
    names = {span.context.span_id: span.name for span in spans if span.context is not None}
    return [
        (span.name, span.kind, names.get(span.parent.span_id) if span.parent else None, span.status.status_code)
        for span in spans
    ]


def tool_spans(telemetry: Telemetry, name: str) -> list[ReadableSpan]:
    return [span for span in telemetry.finished() if span.name == f"execute_tool {name}"]


def attributes(span: ReadableSpan) -> Mapping[str, Any]:
    """A span's attributes, typed for indexing (the SDK types them Optional)."""
    return span.attributes or {}


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[metrics])
    yield Telemetry(spans, metrics, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


class Instrumentation:
    """Turns the instrumentor on and off within one test, checking that off restores everything."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.instrumentor = AgentInstrumentor()

    def on(self, **kwargs: Any) -> AgentInstrumentor:
        self.instrumentor.instrument(
            tracer_provider=self.telemetry.tracer_provider,
            meter_provider=self.telemetry.meter_provider,
            **kwargs,
        )
        self._patched = [(p.owner, p.name, p.original, p.was_own_attribute) for p in self.instrumentor._patches]
        return self.instrumentor

    def off(self) -> None:
        if not self.instrumentor.is_instrumented_by_opentelemetry:
            return
        patched = self._patched
        self.instrumentor.uninstrument()
        for owner, name, original, own in patched:
            if own:
                assert vars(owner)[name] is original, f"{owner.__name__}.{name} not restored"
            else:
                assert name not in vars(owner), f"{owner.__name__}.{name} left a copy on the subclass"


@pytest.fixture
def instrumentation(telemetry: Telemetry) -> Iterator[Instrumentation]:
    control = Instrumentation(telemetry)
    yield control
    control.off()


def pytest_collection_finish(session: pytest.Session) -> None:
    # The frameworks' modules are imported by now: move them out of the collector's reach, so the
    # gc.collect() after every test (below) walks only what tests create.
    gc.freeze()


@pytest.fixture(autouse=True)
def no_detach_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No test may make OpenTelemetry log "Failed to detach context", and no invocation may stay open."""
    caplog.set_level(logging.DEBUG)
    before = open_invocation_count()
    yield
    gc.collect()
    # Every phase's records: `caplog.records` here would be the teardown phase's alone.
    records = [record for when in ("setup", "call", "teardown") for record in caplog.get_records(when)]
    failures = [r for r in records if "Failed to detach context" in r.getMessage()]
    assert not failures, failures
    assert open_invocation_count() <= before, "an invocation was left open"
    # What outlived this test is old now: frozen, it is not walked by the next tests' gc.collect() calls,
    # which then see only what they create (a full collection walks the frameworks' heap, ~0.4 s, and the
    # heap frozen at collection thaws whenever a test calls gc.unfreeze()).
    gc.freeze()

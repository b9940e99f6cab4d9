"""pytest plugin for running a framework's own test suite bare or instrumented (loaded with `-p`).

OTEL_AGENT_SUITE_INSTRUMENT=1: every process that runs tests (each xdist worker, or the single process)
calls `AgentInstrumentor().instrument()` at configure time, before any test module is collected, with a
private SDK TracerProvider and MeterProvider: no global provider is set and no OTEL_* setting is read, so
the framework's own tracing setup is what it would be bare. Spans are counted, not stored.

OTEL_AGENT_SUITE_RESULTS=<path>: the process that sees every report (the xdist controller, or the single
process) writes one JSON file: each test id's outcome (passed, failed, skipped, error) with the failure
text, collection errors, and how many agent spans the instrumented processes ended.
"""

from __future__ import annotations

import json
import logging
import os
import traceback
from collections import Counter
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

INSTRUMENT_VARIABLE = "OTEL_AGENT_SUITE_INSTRUMENT"
RESULTS_VARIABLE = "OTEL_AGENT_SUITE_RESULTS"
# The tail of a failure is where the assertion or exception is; the head is the test source.
FAILURE_TEXT_LIMIT = 6000


# Spans without an outcome and our own logged failures are kept (the first few) with the test they came from.
SAMPLE_LIMIT = 20


def _current_test() -> str:
    # pytest sets this for the test being run: "path::name (call)".
    return os.environ.get("PYTEST_CURRENT_TEST", "<outside a test>")


class _SpanCounter(SpanProcessor):
    """Counts ended spans by their outcome attribute (12,000 tests' worth: nothing else is kept, except
    for the first spans ended without an outcome, which mean our code failed while finishing a run)."""

    def __init__(self) -> None:
        self.by_outcome: Counter[str] = Counter()
        self.without_outcome: list[dict[str, str]] = []

    def on_end(self, span: ReadableSpan) -> None:
        outcome = (span.attributes or {}).get("otel_agent_instrumentation.outcome", "none")
        self.by_outcome[str(outcome)] += 1
        if outcome == "none" and len(self.without_outcome) < SAMPLE_LIMIT:
            self.without_outcome.append({"test": _current_test(), "span": span.name})


class _FailureLog(logging.Handler):
    """Our logger's WARNING records (the first failure at each site in our code, with its traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.samples: list[dict[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.samples) < SAMPLE_LIMIT:
            error = "".join(traceback.format_exception(*record.exc_info)[-3:]) if record.exc_info else ""
            self.samples.append({"test": _current_test(), "message": record.getMessage(), "error": error})


class _Instrumentation:
    """The instrumented side of a run: instruments on configure, reports its span counts at the end."""

    def __init__(self) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider

        from otel_agent_instrumentation import AgentInstrumentor

        self.counter = _SpanCounter()
        # Our own logger only, at its own level (WARNING by default): the framework's logging is untouched.
        self.failure_log = _FailureLog()
        logging.getLogger("otel_agent_instrumentation").addHandler(self.failure_log)
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(self.counter)
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])
        self.instrumentor = AgentInstrumentor()
        self.instrumentor.instrument(tracer_provider=self.tracer_provider, meter_provider=self.meter_provider)
        self.patched = sorted(_qualified_name(patch.owner, patch.name) for patch in self.instrumentor._patches)

    def summary(self) -> dict[str, Any]:
        return {
            "spans": dict(self.counter.by_outcome),
            "duration_points": self._duration_points(),
            "spans_without_outcome": self.counter.without_outcome,
            "logged_failures": self.failure_log.count,
            "logged_failure_samples": self.failure_log.samples,
        }

    def _duration_points(self) -> int:
        """Runs recorded on gen_ai.invoke_agent.duration: the metric path worked, not only the spans."""
        data = self.metric_reader.get_metrics_data()
        total = 0
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == "gen_ai.invoke_agent.duration":
                        total += sum(getattr(point, "count", 0) for point in metric.data.data_points)
        return total


def _qualified_name(owner: Any, name: str) -> str:
    """module.Class.method for a patched method, module.function for a patched function."""
    if isinstance(owner, type):
        return f"{owner.__module__}.{owner.__qualname__}.{name}"
    return f"{getattr(owner, '__name__', owner)}.{name}"


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class _Results:
    """Per-test outcomes, folded from the setup/call/teardown reports as pytest reports them."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tests: dict[str, dict[str, Any]] = {}
        self.spans: Counter[str] = Counter()
        self.duration_points = 0
        self.patched: set[str] = set()
        self.instrumented_processes = 0
        self.spans_without_outcome: list[dict[str, str]] = []
        self.logged_failures = 0
        self.logged_failure_samples: list[dict[str, str]] = []

    def add_test_report(self, report: pytest.TestReport) -> None:
        entry = self.tests.setdefault(report.nodeid, {"outcome": "passed", "text": "", "seconds": 0.0})
        entry["seconds"] += report.duration
        text = report.longreprtext[-FAILURE_TEXT_LIMIT:] if report.longrepr else ""
        if report.when == "call":
            if report.failed:
                entry.update(outcome="failed", text=text)
            elif report.skipped:
                # xfail counts as skipped, as in pytest's JUnit XML.
                entry.update(outcome="skipped", text=getattr(report, "wasxfail", "") or text)
        elif report.when == "setup":
            if report.failed:
                entry.update(outcome="error", text=text)
            elif report.skipped:
                entry.update(outcome="skipped", text=text)
        elif report.failed:  # teardown
            if entry["outcome"] in ("passed", "skipped"):
                entry.update(outcome="error", text=text)
            else:
                entry["text"] += "\n--- teardown ---\n" + text

    def add_collect_report(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.tests[report.nodeid or "<session>"] = {
                "outcome": "error",
                "text": "collection failed:\n" + report.longreprtext[-FAILURE_TEXT_LIMIT:],
                "seconds": 0.0,
            }

    def add_instrumentation(self, summary: dict[str, Any], patched: list[str]) -> None:
        self.instrumented_processes += 1
        self.spans.update(summary["spans"])
        self.duration_points += summary["duration_points"]
        self.patched.update(patched)
        self.spans_without_outcome += summary["spans_without_outcome"]
        self.logged_failures += summary["logged_failures"]
        self.logged_failure_samples += summary["logged_failure_samples"]

    def write(self, exit_status: int) -> None:
        document = {
            "exit_status": exit_status,
            "tests": self.tests,
            "instrumented_processes": self.instrumented_processes,
            "patched": sorted(self.patched),
            "spans": dict(self.spans),
            "duration_points": self.duration_points,
            "spans_without_outcome": self.spans_without_outcome,
            "logged_failures": self.logged_failures,
            "logged_failure_samples": self.logged_failure_samples,
        }
        with open(self.path, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=1, sort_keys=True)


_instrumentation: _Instrumentation | None = None
_results: _Results | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    global _instrumentation, _results
    worker = _is_xdist_worker(config)
    distributing = not worker and (config.getoption("numprocesses", None) or 0) not in (0, "0", None)
    if os.environ.get(INSTRUMENT_VARIABLE) == "1" and not distributing:
        _instrumentation = _Instrumentation()
    if os.environ.get(RESULTS_VARIABLE) and not worker:
        _results = _Results(os.environ[RESULTS_VARIABLE])


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _results is not None:
        _results.add_test_report(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if _results is not None:
        _results.add_collect_report(report)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: a worker's span counts arrive in its workeroutput."""
    output = getattr(node, "workeroutput", {}) or {}
    if _results is not None and "otel_agent_suite" in output:
        report = output["otel_agent_suite"]
        _results.add_instrumentation(report["summary"], report["patched"])


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _instrumentation is not None:
        report: dict[str, Any] = {"summary": _instrumentation.summary(), "patched": _instrumentation.patched}
        if _is_xdist_worker(session.config):
            session.config.workeroutput["otel_agent_suite"] = report  # type: ignore[attr-defined]
        elif _results is not None:
            _results.add_instrumentation(report["summary"], report["patched"])
    if _results is not None:
        _results.write(int(exitstatus))

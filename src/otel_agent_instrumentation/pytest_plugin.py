"""A pytest plugin for applications: assert your own agents' telemetry in your own tests.

Registered through the `pytest11` entry point and inactive unless a test asks for its fixture:

    def test_my_agent_is_traced(agent_spans):
        run_my_agent()
        span = agent_spans.agent("researcher")
        agent_spans.assert_outcome(span, "completed")
        agent_spans.assert_no_content()

`agent_spans` instruments the process for the test with its own in-memory span exporter and metric reader
and reverts it afterwards. Override the `agent_spans_options` fixture to pass `instrument()` keyword
arguments (e.g. `{"targets": ["myapp.agents:Planner.run"]}` or `{"capture_content": "SPAN_ONLY"}`).
`agent_spans.assert_transparent(run)` runs the app's own callable bare and instrumented and compares what
it returned or raised.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from . import semconv, span_tree

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

# pytest loads this module in every session of an environment where we are installed (the entry point):
# the SDK (not a dependency of ours) and the instrumentor are imported only when a test asks for the fixture.

# Attributes that hold message content: present only when content capture is on.
CONTENT_ATTRIBUTES = (
    semconv.GEN_AI_INPUT_MESSAGES,
    semconv.GEN_AI_OUTPUT_MESSAGES,
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
    semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
    semconv.GEN_AI_TOOL_CALL_RESULT,
)


class AgentSpans:
    """The spans and metrics of the instrumented code run in one test, with finders and assertions."""

    def __init__(self, options: dict[str, Any]) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        from .instrumentor import AgentInstrumentor

        self.options = dict(options)
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])
        self.instrumentor = AgentInstrumentor()

    # -- switching -----------------------------------------------------------------------------------------

    def on(self) -> None:
        if not self.instrumentor.is_instrumented_by_opentelemetry:
            self.instrumentor.instrument(
                tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **self.options
            )

    def off(self) -> None:
        if self.instrumentor.is_instrumented_by_opentelemetry:
            self.instrumentor.uninstrument()

    # -- reading -------------------------------------------------------------------------------------------

    @property
    def spans(self) -> list[ReadableSpan]:
        """Every finished span so far, in the order they ended."""
        return list(self.exporter.get_finished_spans())

    def clear(self) -> None:
        self.exporter.clear()

    def named(self, operation: str, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans if span.name == f"{operation} {name}"]

    def _one(self, operation: str, name: str) -> ReadableSpan:
        found = self.named(operation, name)
        if len(found) != 1:
            raise AssertionError(
                f"expected one '{operation} {name}' span, found {len(found)}; spans: {[s.name for s in self.spans]}"
            )
        return found[0]

    def agent(self, name: str) -> ReadableSpan:
        """The one `invoke_agent {name}` span (AssertionError if there are none or several)."""
        return self._one(semconv.INVOKE_AGENT, name)

    def workflow(self, name: str) -> ReadableSpan:
        return self._one(semconv.INVOKE_WORKFLOW, name)

    def tool(self, name: str) -> ReadableSpan:
        return self._one(semconv.EXECUTE_TOOL, name)

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        span_id = parent.context.span_id if parent.context is not None else None
        return sorted(
            (span for span in self.spans if span.parent is not None and span.parent.span_id == span_id),
            key=lambda span: span.start_time or 0,
        )

    def tree(self) -> list[str]:
        """The trace as text rows, children indented under their parent in start order:
        `invoke_agent researcher [completed]` (a failed span also says `ERROR: message`)."""
        return span_tree.render(self.spans)

    def metric_points(self, name: str) -> list[Any]:
        """The data points of the metric `name` recorded so far (e.g. semconv.METRIC_INVOKE_AGENT_DURATION)."""
        data = self.metric_reader.get_metrics_data()
        points: list[Any] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points

    # -- assertions ----------------------------------------------------------------------------------------

    def assert_outcome(self, span: ReadableSpan, outcome: str) -> None:
        """completed, failed, cancelled, closed_early, abandoned (README "Outcomes")."""
        __tracebackhide__ = True
        found = (span.attributes or {}).get(semconv.OUTCOME)
        assert found == outcome, f"{span.name}: outcome {found!r}, expected {outcome!r}"

    def assert_child(self, parent: ReadableSpan, child: ReadableSpan) -> None:
        __tracebackhide__ = True
        parent_id = parent.context.span_id if parent.context is not None else None
        assert child.parent is not None and child.parent.span_id == parent_id, (
            f"{child.name} is not a child of {parent.name}; the trace:\n" + "\n".join(self.tree())
        )

    def assert_no_content(self) -> None:
        """No span carries message content (the default unless capture is turned on)."""
        __tracebackhide__ = True
        carrying = [
            (span.name, key)
            for span in self.spans
            for key in CONTENT_ATTRIBUTES
            if key in (span.attributes or {}) or any(key in (event.attributes or {}) for event in span.events)
        ]
        assert not carrying, f"content captured: {carrying}"

    def assert_transparent(self, run: Callable[[], Any], compare: Callable[[Any], Any] = lambda value: value) -> Any:
        """Run `run()` bare, then instrumented, and assert both returned equal values (after `compare`) or
        raised exceptions of the same type and message. `run` is the app's own scenario: have it return
        everything it observed (results, updates, the hooks it saw called, in order). Returns the
        instrumented run's value. Instrumentation is on afterwards. For a coroutine function, use
        `assert_transparent_async`."""
        self.off()
        try:
            bare = _observe(run, compare)
        finally:
            self.on()
        traced = _observe(run, compare)
        assert traced == bare, f"instrumented run observed {traced!r}, bare {bare!r}"
        return traced[1] if traced[0] == "returned" else None

    async def assert_transparent_async(
        self, run: Callable[[], Any], compare: Callable[[Any], Any] = lambda value: value
    ) -> Any:
        """`assert_transparent` for a coroutine function `run`, awaited in the running loop."""
        self.off()
        try:
            bare = await _observe_async(run, compare)
        finally:
            self.on()
        traced = await _observe_async(run, compare)
        assert traced == bare, f"instrumented run observed {traced!r}, bare {bare!r}"
        return traced[1] if traced[0] == "returned" else None


def _raised(error: BaseException) -> tuple[str, Any]:
    return ("raised", (type(error), str(error)))


def _observe(run: Callable[[], Any], compare: Callable[[Any], Any]) -> tuple[str, Any]:
    try:
        value = run()
        if inspect.isawaitable(value):
            value = asyncio.run(_awaited(value))
    except Exception as error:
        return _raised(error)
    return ("returned", compare(value))


async def _observe_async(run: Callable[[], Any], compare: Callable[[Any], Any]) -> tuple[str, Any]:
    try:
        value = run()
        if inspect.isawaitable(value):
            value = await value
    except Exception as error:
        return _raised(error)
    return ("returned", compare(value))


async def _awaited(value: Any) -> Any:
    return await value


@pytest.fixture
def agent_spans_options() -> dict[str, Any]:
    """Keyword arguments for `instrument()` in `agent_spans`; override it in your conftest.py."""
    return {}


@pytest.fixture
def agent_spans(agent_spans_options: dict[str, Any]) -> Iterator[AgentSpans]:
    """The process instrumented for this test, into an in-memory exporter and metric reader."""
    spans = AgentSpans(agent_spans_options)
    if spans.instrumentor.is_instrumented_by_opentelemetry:
        pytest.fail(
            "AgentInstrumentor is already instrumented in this process (opentelemetry-instrument, or the app's "
            "own instrument() call): agent_spans instruments it with its own providers, so run the tests without it"
        )
    spans.on()
    try:
        yield spans
    finally:
        spans.off()
        spans.tracer_provider.shutdown()
        spans.meter_provider.shutdown()


__all__: Sequence[str] = ("CONTENT_ATTRIBUTES", "AgentSpans", "agent_spans", "agent_spans_options")

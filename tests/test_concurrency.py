"""Many runs at once: each invoke_agent span has its own run's parent, attributes, children and duration.

Each batch runs once per module (per xdist worker) and every test checks one property of its spans.
Every run starts inside its own parent span `run {i}` (a root span, so one trace per run) and carries
values of its own: the agent name (and for Agent Framework the session's conversation id) and a sleep.
Inside the run's body a child span is opened, as a model or tool call would be. A run's spans are
found by its trace id; the span times are checked against the run's own call window (taken just
before the call and just after the consumer saw the end), so a span that started early or ended late,
as one that took the batch's duration would, fails.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from agent_framework import Agent, AgentSession, ChatResponseUpdate
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agent_instrumentation import AgentInstrumentor, semconv
from tests.concurrency_app import TIMED_TARGETS, TimedAgent
from tests.frameworks.agent_framework_driver import Script, ScriptedChatClient
from tests.frameworks.smolagents_driver import ECHO, ScriptedModel, final, make_agent

ASYNC_RUNS = 1000
THREADS = 8
RUNS_PER_THREAD = 25
FRAMEWORK_RUNS_PER_THREAD = 5
# Span times are wall clock (time.time_ns), asyncio sleeps on the monotonic clock: allow their drift.
CLOCK_SLACK_NS = 1_000_000


def delay_of(index: int) -> float:
    """A run's own sleep: 0 to 90 ms, so neighbouring runs differ."""
    return (index % 10) * 0.01


@dataclass
class Run:
    """What one run's caller knows: its values and its call window (wall clock, ns)."""

    index: int
    name: str
    delay: float
    conversation_id: str | None = None
    called_at: int = 0
    done_at: int = 0
    updates: list[str] = field(default_factory=list)


@dataclass
class Batch:
    runs: list[Run]
    spans: list[ReadableSpan]
    detach_failures: list[logging.LogRecord]
    expected_updates: Callable[[Run], list[str]]

    def traces(self) -> dict[int, list[ReadableSpan]]:
        grouped: dict[int, list[ReadableSpan]] = {}
        for span in self.spans:
            grouped.setdefault(span.context.trace_id, []).append(span)
        return grouped

    def run_spans(self) -> list[tuple[Run, ReadableSpan, list[ReadableSpan], list[ReadableSpan]]]:
        """(run, its parent span, its agent spans, the other spans) for each trace."""
        by_index = {run.index: run for run in self.runs}
        result = []
        for spans in self.traces().values():
            (parent,) = [s for s in spans if s.parent is None]
            assert parent.attributes is not None
            run = by_index[int(str(parent.attributes["run.index"]))]
            agents = [s for s in spans if s.name.startswith("invoke_agent")]
            children = [s for s in spans if s is not parent and s not in agents]
            result.append((run, parent, agents, children))
        return result


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def traced_batch(
    targets: list[str], body: Callable[[trace.Tracer], list[Run]], expected_updates: Callable[[Run], list[str]]
) -> Batch:
    """Instrument with a fresh provider, run `body`, uninstrument; the spans and detach failures."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    records = _Records()
    context_logger = logging.getLogger("opentelemetry.context")
    context_logger.addHandler(records)
    instrumentor = AgentInstrumentor()
    instrumentor.instrument(tracer_provider=provider, targets=targets)
    try:
        runs = body(provider.get_tracer("tests.concurrency"))
    finally:
        instrumentor.uninstrument()
        context_logger.removeHandler(records)
    spans = list(exporter.get_finished_spans())
    provider.shutdown()
    failures = [r for r in records.records if "Failed to detach context" in r.getMessage()]
    return Batch(runs, spans, failures, expected_updates)


# -- one event loop: generic async generator -------------------------------------------------------


def generic_async_batch(tracer: trace.Tracer) -> list[Run]:
    async def one(index: int) -> Run:
        run = Run(index, f"agent{index}", delay_of(index))
        with tracer.start_as_current_span(f"run {index}", attributes={"run.index": index}):
            await asyncio.sleep(0)  # every task is inside its parent span before any run starts
            run.called_at = time.time_ns()
            stream = TimedAgent(run.name, run.delay, tracer).astream()
            run.updates = [update async for update in stream]
            run.done_at = time.time_ns()
        return run

    async def batch() -> list[Run]:
        return list(await asyncio.gather(*(asyncio.create_task(one(i)) for i in range(ASYNC_RUNS))))

    return asyncio.run(batch())


# -- one event loop: Agent Framework streamed runs --------------------------------------------------


class TimedChatClient(ScriptedChatClient):
    """The driver's scripted client, sleeping its run's own delay inside a `model step` span first."""

    def __init__(self, delay: float, tracer: trace.Tracer) -> None:
        super().__init__(Script(chunks=2))
        self.delay = delay
        self.tracer = tracer

    async def _updates(self, script: Script) -> AsyncIterator[ChatResponseUpdate]:
        with self.tracer.start_as_current_span("model step"):
            await asyncio.sleep(self.delay)
        async for update in super()._updates(script):
            yield update


def agent_framework_batch(tracer: trace.Tracer) -> list[Run]:
    async def one(index: int) -> Run:
        run = Run(index, f"agent{index}", delay_of(index), conversation_id=f"conversation-{index}")
        agent = Agent(TimedChatClient(run.delay, tracer), name=run.name, default_options={"model": "fake-1"})
        session = AgentSession(service_session_id=run.conversation_id)
        with tracer.start_as_current_span(f"run {index}", attributes={"run.index": index}):
            await asyncio.sleep(0)
            run.called_at = time.time_ns()
            stream = agent.run("hello", stream=True, session=session)
            run.updates = [update.text async for update in stream]
            run.done_at = time.time_ns()
        return run

    async def batch() -> list[Run]:
        return list(await asyncio.gather(*(asyncio.create_task(one(i)) for i in range(ASYNC_RUNS))))

    return asyncio.run(batch())


# -- threads: generic sync generator and smolagents run(stream=True) --------------------------------


def in_threads(tracer: trace.Tracer, runs_per_thread: int, perform: Callable[[Run], list[str]]) -> list[Run]:
    """THREADS threads, each inside its own parent span, each doing `runs_per_thread` runs."""
    start = threading.Barrier(THREADS)
    results: list[list[Run]] = [[] for _ in range(THREADS)]

    def thread_body(thread_index: int) -> None:
        with tracer.start_as_current_span(f"run {thread_index}", attributes={"run.index": thread_index}):
            start.wait()
            for k in range(runs_per_thread):
                # At least 5 ms a run: a thread with no sleep could finish all its runs before the
                # last thread is scheduled on a loaded machine, and the batch would not overlap.
                run = Run(thread_index, f"agent{thread_index}_{k}", (delay_of(thread_index) + 0.05) / 10)
                run.called_at = time.time_ns()
                run.updates = perform(run)
                run.done_at = time.time_ns()
                results[thread_index].append(run)

    threads = [threading.Thread(target=thread_body, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [run for runs in results for run in runs]


def generic_thread_batch(tracer: trace.Tracer) -> list[Run]:
    return in_threads(tracer, RUNS_PER_THREAD, lambda run: list(TimedAgent(run.name, run.delay, tracer).stream()))


class SpanningModel(ScriptedModel):
    """The driver's scripted model, sleeping inside a `model step` span on each call."""

    def __init__(self, delay: float, tracer: trace.Tracer) -> None:
        super().__init__((ECHO, final()))
        self.delay = delay
        self.tracer = tracer

    def generate(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
        with self.tracer.start_as_current_span("model step"):
            time.sleep(self.delay)
            return super().generate(messages, *args, **kwargs)


def smolagents_thread_batch(tracer: trace.Tracer) -> list[Run]:
    def perform(run: Run) -> list[str]:
        agent = make_agent(name=run.name)
        agent.model = SpanningModel(run.delay, tracer)
        return [type(step).__name__ for step in agent.run("what is 6*7?", stream=True)]

    return in_threads(tracer, FRAMEWORK_RUNS_PER_THREAD, perform)


SMOLAGENTS_STEP = ["ToolCall", "ToolOutput", "ActionOutput", "ActionStep"]


def own_updates(run: Run) -> list[str]:
    return [f"{run.name}:0", f"{run.name}:1"]


# name: (targets, batch, the updates each run's consumer must have seen)
BATCHES: dict[str, tuple[list[str], Callable[[trace.Tracer], list[Run]], Callable[[Run], list[str]]]] = {
    "generic_async_1000": (TIMED_TARGETS, generic_async_batch, own_updates),
    "agent_framework_stream_1000": ([], agent_framework_batch, lambda run: ["chunk0 ", "chunk1 ", ""]),
    "generic_sync_8_threads": (TIMED_TARGETS, generic_thread_batch, own_updates),
    "smolagents_stream_8_threads": (
        [],
        smolagents_thread_batch,
        lambda run: [*SMOLAGENTS_STEP, *SMOLAGENTS_STEP, "FinalAnswerStep"],
    ),
}


@pytest.fixture(scope="module", params=list(BATCHES))
def batch(request: pytest.FixtureRequest) -> Iterator[Batch]:
    targets, body, expected_updates = BATCHES[request.param]
    traced = traced_batch(targets, body, expected_updates)
    # Every test here reads this one batch; the autouse fixture's gc.collect() after each test would
    # walk the whole heap (~0.35 s once both frameworks are imported), so the heap is frozen meanwhile.
    gc.collect()
    gc.freeze()
    try:
        yield traced
    finally:
        gc.unfreeze()


def agent_spans_by_run(batch: Batch) -> Iterator[tuple[Run, ReadableSpan, ReadableSpan, list[ReadableSpan]]]:
    """(run, parent, its agent span, the other spans of its trace) for every run of the batch.
    In a threaded batch one parent (thread) has several runs: the agent span is picked by name."""
    by_name = {run.name: run for run in batch.runs}
    for _, parent, agents, children in batch.run_spans():
        for span in agents:
            assert span.attributes is not None
            yield by_name[str(span.attributes[semconv.GEN_AI_AGENT_NAME])], parent, span, children


def test_every_run_has_exactly_one_agent_span(batch: Batch) -> None:
    names = sorted(
        str((s.attributes or {}).get(semconv.GEN_AI_AGENT_NAME)) for s in batch.spans if s.name.startswith("invoke")
    )
    assert names == sorted(run.name for run in batch.runs)


def test_every_run_ends_completed(batch: Batch) -> None:
    spans = [s for s in batch.spans if s.name.startswith("invoke_agent")]
    assert {str(s.attributes[semconv.OUTCOME]) for s in spans if s.attributes} == {"completed"}


def test_every_consumer_sees_its_own_updates(batch: Batch) -> None:
    for run in batch.runs:
        assert run.updates == batch.expected_updates(run), run


def test_agent_span_parent_is_its_own_runs_parent_span(batch: Batch) -> None:
    for run, parent, span, _ in agent_spans_by_run(batch):
        assert span.parent is not None and span.parent.span_id == parent.context.span_id
        assert parent.attributes is not None and parent.attributes["run.index"] == run.index


def test_agent_span_attributes_do_not_cross_runs(batch: Batch) -> None:
    for run, _, span, _ in agent_spans_by_run(batch):
        assert span.attributes is not None
        assert span.name == f"invoke_agent {run.name}"
        assert span.attributes.get(semconv.GEN_AI_CONVERSATION_ID) == run.conversation_id


def test_child_span_is_a_child_of_its_own_runs_agent_span(batch: Batch) -> None:
    for _, _, agents, children in batch.run_spans():
        agent_ids = {span.context.span_id for span in agents}
        # One child per model call: one per run here (the echo call; smolagents also the final answer).
        assert len(children) >= len(agents)
        for child in children:
            assert child.parent is not None and child.parent.span_id in agent_ids
        assert {child.parent.span_id for child in children if child.parent} == agent_ids


def test_agent_span_duration_is_its_own_run(batch: Batch) -> None:
    for run, _, span, _ in agent_spans_by_run(batch):
        assert span.start_time is not None and span.end_time is not None
        assert run.called_at <= span.start_time <= span.end_time <= run.done_at, run
        assert span.end_time - span.start_time >= int(run.delay * 1e9) - CLOCK_SLACK_NS, run


def test_runs_overlap_so_the_batch_is_concurrent(batch: Batch) -> None:
    """Guard for the other checks: the runs (or threads) really were under way at the same time."""
    first_call: dict[int, int] = {}
    last_done: dict[int, int] = {}
    for run in batch.runs:
        first_call[run.index] = min(first_call.get(run.index, run.called_at), run.called_at)
        last_done[run.index] = max(last_done.get(run.index, run.done_at), run.done_at)
    assert max(first_call.values()) < min(last_done.values())


def test_no_context_detach_failure_is_logged(batch: Batch) -> None:
    assert batch.detach_failures == []

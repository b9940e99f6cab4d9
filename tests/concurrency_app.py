"""A user's agents for the concurrency, soak and shutdown specs, traced as generic targets.

`TimedAgent` runs carry their own name and sleep, and open a child span inside their body, so a test
can tell which run a span, an attribute or a duration belongs to. `SoakAgent` has one method per
result shape the soak mixes. `run_soak_batch` is the soak workload shared by tests/test_soak.py and
benchmarks/soak.py.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otel_agent_instrumentation import semconv

TIMED_TARGETS = [f"tests.concurrency_app:TimedAgent.{method}" for method in ("astream", "stream")]
SOAK_TARGETS = [f"tests.concurrency_app:SoakAgent.{method}" for method in ("run", "arun", "astream", "stream")]


class RunFailure(RuntimeError):
    pass


class TimedAgent:
    """An agent whose name and sleep belong to one run. The body opens `step {name}` with `tracer`,
    as a model or tool call inside the run would."""

    def __init__(self, name: str, delay: float, tracer: trace.Tracer) -> None:
        self.name = name
        self.delay = delay
        self.tracer = tracer

    async def astream(self, chunks: int = 2) -> AsyncIterator[str]:
        with self.tracer.start_as_current_span(f"step {self.name}"):
            await asyncio.sleep(self.delay)
        for index in range(chunks):
            await asyncio.sleep(0)
            yield f"{self.name}:{index}"

    def stream(self, chunks: int = 2) -> Iterator[str]:
        with self.tracer.start_as_current_span(f"step {self.name}"):
            time.sleep(self.delay)
        for index in range(chunks):
            yield f"{self.name}:{index}"


class SoakAgent:
    """One method per result shape: value, coroutine, async generator, generator."""

    name = "soak"

    def run(self, fail: bool = False) -> str:
        if fail:
            raise RunFailure("failed at call")
        return "done"

    async def arun(self, block: bool = False) -> str:
        if block:
            await asyncio.Event().wait()
        return "done"

    async def astream(self, chunks: int = 3, fail_at: int | None = None) -> AsyncIterator[str]:
        for index in range(chunks):
            if index == fail_at:
                raise RunFailure(f"failed at {index}")
            yield f"u{index}"

    def stream(self, chunks: int = 3) -> Iterator[str]:
        yield from (f"u{index}" for index in range(chunks))


class CountingExporter(SpanExporter):
    """Drops every span, counting agent spans by outcome (bounded: one key per outcome)."""

    def __init__(self) -> None:
        self.outcomes: collections.Counter[str] = collections.Counter()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            if span.name.startswith("invoke_agent") and span.attributes is not None:
                self.outcomes[str(span.attributes.get(semconv.OUTCOME))] += 1
        return SpanExportResult.SUCCESS


# What one soak cycle does, and the outcome each step must end with.
SOAK_CYCLE = (
    ("completed", "completed"),
    ("completed_sync", "completed"),
    ("failed_at_call", "failed"),
    ("failed_mid_stream", "failed"),
    ("closed_early", "closed_early"),
    ("closed_early_sync", "closed_early"),
    ("dropped", "abandoned"),
    ("cancelled", "cancelled"),
)


async def _soak_step(agent: SoakAgent, step: str) -> None:
    if step == "completed":
        async for _ in agent.astream():
            pass
    elif step == "completed_sync":
        for _ in agent.stream():
            pass
    elif step == "failed_at_call":
        try:
            agent.run(fail=True)
        except RunFailure:
            pass
    elif step == "failed_mid_stream":
        try:
            async for _ in agent.astream(fail_at=1):
                pass
        except RunFailure:
            pass
    elif step == "closed_early":
        stream = agent.astream()
        await stream.__anext__()
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator
    elif step == "closed_early_sync":
        sync_stream = agent.stream()
        next(sync_stream)
        sync_stream.close()  # type: ignore[attr-defined]  # a generator
    elif step == "dropped":
        stream = agent.astream()
        await stream.__anext__()
        del stream
    elif step == "cancelled":
        task = asyncio.ensure_future(agent.arun(block=True))
        await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    else:
        raise ValueError(step)


# The same endings through Agent Framework streamed (and one plain) runs.
FRAMEWORK_SOAK_CYCLE = (
    ("completed", "completed"),
    ("run_completed", "completed"),
    ("failed_mid_stream", "failed"),
    ("closed_early", "closed_early"),
    ("dropped", "abandoned"),
    ("cancelled", "cancelled"),
)


class FrameworkSoak:
    """Three Agent Framework agents on the driver's scripted client (completing, failing after one
    update, blocking after one update), built once and reused as an application would."""

    def __init__(self) -> None:
        # Imported here: benchmarks/soak.py runs without Agent Framework when --framework-share is 0.
        from tests.frameworks.agent_framework_driver import ModelFailure, Script, make_agent

        self.failure = ModelFailure
        self.hooks: list[str] = []
        self.completing = make_agent(Script(chunks=2), self.hooks, name="soak_af")
        self.failing = make_agent(Script(fail_at=1), self.hooks, name="soak_af")
        self.blocking = make_agent(Script(block_at=1), self.hooks, name="soak_af")

    async def step(self, step: str) -> None:
        await self._step(step)
        # The scripted clients and the recording provider keep what they saw: forget it, so the soak
        # measures the instrumentation, not the test double.
        self.hooks.clear()
        for agent in (self.completing, self.failing, self.blocking):
            agent.client.current_spans.clear()  # type: ignore[attr-defined]
            agent.client.raised.clear()  # type: ignore[attr-defined]

    async def _step(self, step: str) -> None:
        if step == "completed":
            async for _ in self.completing.run("hi", stream=True):
                pass
        elif step == "run_completed":
            await self.completing.run("hi")
        elif step == "failed_mid_stream":
            try:
                async for _ in self.failing.run("hi", stream=True):
                    pass
            except self.failure:
                pass
        elif step == "closed_early":
            stream = self.completing.run("hi", stream=True)
            await stream.__anext__()
            await stream.close()
        elif step == "dropped":
            stream = self.completing.run("hi", stream=True)
            await stream.__anext__()
            del stream
        elif step == "cancelled":
            task = asyncio.ensure_future(_drain(self.blocking.run("hi", stream=True)))
            # Cancel once the model blocks (its second step), so the run is under way.
            while not task.done() and len(self.blocking.client.current_spans) < 2:  # type: ignore[attr-defined]
                await asyncio.sleep(0)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        else:
            raise ValueError(step)


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


async def run_soak_batch(
    cycles: int, framework: FrameworkSoak | None = None, framework_every: int = 0
) -> collections.Counter[str]:
    """Run `cycles` soak cycles (len(SOAK_CYCLE) generic runs each, plus one FRAMEWORK_SOAK_CYCLE
    through `framework` every `framework_every` cycles) in the running loop, then collect garbage (the
    dropped streams' finalizers); return the outcomes the spans must have, counted."""
    agent = SoakAgent()
    expected: collections.Counter[str] = collections.Counter()
    for cycle in range(cycles):
        for step, outcome in SOAK_CYCLE:
            await _soak_step(agent, step)
            expected[outcome] += 1
        if framework is not None and framework_every and cycle % framework_every == 0:
            for step, outcome in FRAMEWORK_SOAK_CYCLE:
                await framework.step(step)
                expected[outcome] += 1
    # Let the loop run the dropped async generators' aclose (scheduled by its asyncgen finalizer hook).
    await asyncio.sleep(0)
    gc.collect()
    return expected

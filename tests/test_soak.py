"""Soak: many runs with every ending leave no memory and no open invocation behind.

One process, one event loop: generic targets (completed async and sync, failed at call, failed
mid-stream, closed early async and sync, dropped and collected, cancelled) and every
FRAMEWORK_EVERY cycles the same endings through Agent Framework. Spans go to an exporter that drops
them after counting their outcomes. After a warm-up, tracemalloc's current size is taken after N runs
and after 2N runs, each after gc.collect().

Tolerances, from measurement (benchmarks/soak.py and this test, 2 cores, tracemalloc started after
the warm-up): the size settles at about 20 KB above the baseline (metric and SDK caches, free lists)
whatever N is (1,600 to 100,000 runs), and moves by less than 4 KB between batches. So: at most
128 KB after N runs, and at most 32 KB more after the next N (N = 800+ runs here: a leak of 40 bytes
a run, a tenth of one retained span, would exceed it). The open-invocation count must be exactly the
baseline. benchmarks/soak.py runs the full 100,000.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_agent_instrumentation import AgentInstrumentor
from otel_agent_instrumentation.invocation import open_invocation_count
from tests.concurrency_app import SOAK_TARGETS, CountingExporter, FrameworkSoak, run_soak_batch

WARM_UP_CYCLES = 50
CYCLES = 100  # N: 800 generic runs and 60 Agent Framework runs
FRAMEWORK_EVERY = 10
GROWTH_AFTER_N = 128 * 1024
GROWTH_N_TO_2N = 32 * 1024


@dataclass
class SoakFigures:
    runs: int = 0
    open_before: int = 0
    open_after: int = 0
    memory_baseline: int = 0
    memory_after_n: int = 0
    memory_after_2n: int = 0
    expected: collections.Counter[str] = field(default_factory=collections.Counter)
    exported: collections.Counter[str] = field(default_factory=collections.Counter)
    problems: list[str] = field(default_factory=list)


class _Problems(logging.Handler):
    """Our own failures (WARNING and up) and OpenTelemetry's "Failed to detach context"."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


async def _soak(figures: SoakFigures) -> None:
    framework = FrameworkSoak()
    figures.expected += await run_soak_batch(WARM_UP_CYCLES, framework, FRAMEWORK_EVERY)
    gc.collect()
    figures.open_before = open_invocation_count()
    tracemalloc.start()
    try:
        figures.memory_baseline = tracemalloc.get_traced_memory()[0]
        figures.expected += await run_soak_batch(CYCLES, framework, FRAMEWORK_EVERY)
        gc.collect()
        figures.memory_after_n = tracemalloc.get_traced_memory()[0]
        figures.expected += await run_soak_batch(CYCLES, framework, FRAMEWORK_EVERY)
        gc.collect()
        figures.memory_after_2n = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    figures.open_after = open_invocation_count()


@pytest.fixture(scope="module")
def figures() -> Iterator[SoakFigures]:
    exporter = CountingExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    problems = _Problems()
    watched = [logging.getLogger(name) for name in ("otel_agent_instrumentation", "opentelemetry.context")]
    ours = watched[0]
    # Records below INFO are not even created (the abandoned runs' DEBUG line): pytest's capture
    # handlers would otherwise keep every one and the soak would measure them.
    level = ours.level
    ours.setLevel(logging.INFO)
    for logger in watched:
        logger.addHandler(problems)
    instrumentor = AgentInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, targets=SOAK_TARGETS)
    result = SoakFigures()
    try:
        asyncio.run(_soak(result))
    finally:
        instrumentor.uninstrument()
        for logger in watched:
            logger.removeHandler(problems)
        ours.setLevel(level)
        tracer_provider.shutdown()
        meter_provider.shutdown()
    result.runs = sum(result.expected.values())
    result.exported = exporter.outcomes
    result.problems = problems.messages
    gc.collect()
    gc.freeze()  # the autouse gc.collect() after each test would walk the whole heap (~0.35 s)
    try:
        yield result
    finally:
        gc.unfreeze()


def test_soak_ends_every_run_once_with_its_outcome(figures: SoakFigures) -> None:
    assert figures.exported == figures.expected
    assert set(figures.expected) == {"completed", "failed", "closed_early", "abandoned", "cancelled"}


def test_soak_leaves_the_open_invocation_count_at_its_baseline(figures: SoakFigures) -> None:
    assert figures.open_after == figures.open_before


def test_soak_memory_after_n_runs_is_back_to_baseline(figures: SoakFigures) -> None:
    growth = figures.memory_after_n - figures.memory_baseline
    assert growth <= GROWTH_AFTER_N, f"{growth} bytes above the baseline after {figures.runs} runs in all"


def test_soak_memory_does_not_grow_from_n_to_2n_runs(figures: SoakFigures) -> None:
    growth = figures.memory_after_2n - figures.memory_after_n
    assert growth <= GROWTH_N_TO_2N, f"{growth} bytes more after the second batch of {CYCLES} cycles"


def test_soak_logs_no_failure(figures: SoakFigures) -> None:
    assert figures.problems == []

"""Soak: 100,000 agent runs with mixed endings in one process; memory and open invocations after.

    .venv/bin/python benchmarks/soak.py [--runs 100000] [--framework-share 0.05]

The runs are the cycles of tests/concurrency_app.py (generic targets: completed async and sync, failed
at call, failed mid-stream, closed early async and sync, dropped and collected, cancelled), plus
about `--framework-share` of them through Agent Framework streamed runs with the same endings. Spans
go through a SimpleSpanProcessor to an exporter that counts outcomes and drops them; metrics go to an
SDK MeterProvider with an in-memory reader. tracemalloc starts after a warm-up of 2,000 runs;
"after" is taken after gc.collect(). Not a test: tests/test_soak.py checks the same at a smaller N.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import time
import tracemalloc
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from otel_agent_instrumentation import AgentInstrumentor
from otel_agent_instrumentation.invocation import open_invocation_count
from tests.concurrency_app import (
    FRAMEWORK_SOAK_CYCLE,
    SOAK_CYCLE,
    SOAK_TARGETS,
    CountingExporter,
    FrameworkSoak,
    run_soak_batch,
)

WARM_UP_CYCLES = 250
BATCH_CYCLES = 500


def kib(size: int) -> str:
    return f"{size / 1024:,.1f} KiB"


async def soak(cycles: int, framework: FrameworkSoak | None, every: int) -> tuple[int, float, int, int, int, int, int]:
    """(runs, seconds, tracemalloc before, after, peak, open invocations before, after)."""
    await run_soak_batch(WARM_UP_CYCLES, framework, every)
    gc.collect()
    open_before = open_invocation_count()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    runs = 0
    done = 0
    while done < cycles:
        batch = min(BATCH_CYCLES, cycles - done)
        runs += sum((await run_soak_batch(batch, framework, every)).values())
        done += batch
    seconds = time.perf_counter() - start
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return runs, seconds, before, after, peak, open_before, open_invocation_count()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--framework-share", type=float, default=0.05)
    args = parser.parse_args()
    logging.getLogger("agent_framework").setLevel(logging.ERROR)  # one warning per scripted agent

    # Each cycle: len(SOAK_CYCLE) generic runs, and every `every` cycles len(FRAMEWORK_SOAK_CYCLE) more.
    every = 0
    framework = None
    if args.framework_share > 0:
        every = max(1, round(len(FRAMEWORK_SOAK_CYCLE) / (args.framework_share * len(SOAK_CYCLE))))
        framework = FrameworkSoak()
    per_cycle = len(SOAK_CYCLE) + (len(FRAMEWORK_SOAK_CYCLE) / every if every else 0)
    cycles = max(1, round(args.runs / per_cycle))

    exporter = CountingExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    AgentInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, targets=SOAK_TARGETS)
    runs, seconds, before, after, peak, open_before, open_after = asyncio.run(soak(cycles, framework, every))
    framework_runs = sum(1 for cycle in range(cycles) if every and cycle % every == 0) * len(FRAMEWORK_SOAK_CYCLE)

    print(f"runs                 {runs:,} measured ({framework_runs:,} through Agent Framework), after a warm-up")
    print(f"seconds              {seconds:.1f} ({seconds / runs * 1e6:.0f} us a run, tracemalloc on)")
    print(f"tracemalloc before   {kib(before)}")
    print(f"tracemalloc after    {kib(after)} (growth {after - before:+,} bytes, after gc.collect())")
    print(f"tracemalloc peak     {kib(peak)}")
    print(f"open invocations     before {open_before}, after {open_after}")
    print(f"spans by outcome     {dict(sorted(exporter.outcomes.items()))} (warm-up included)")


if __name__ == "__main__":
    main()

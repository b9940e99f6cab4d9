"""Overhead of the instrumentation, measured side by side in one process (a script, not a test).

    .venv/bin/python benchmarks/overhead.py [--runs N]

Every row is the median of interleaved batches. Spans go through a SimpleSpanProcessor to an exporter
that drops them, so the cost is the SDK's and ours, not an exporter's. Targets (DEVELOPERS.md):
added cost per run <= 2x one raw SDK span start+end; per update of a 1000-update stream <= 5% over
bare iteration; a suppressed run <= 1 us over bare.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from agent_framework import (
    Agent,
    BaseChatClient,
    ChatResponse,
    ChatResponseUpdate,
    Content,
    Message,
    observability,
)
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from otel_agent_instrumentation import AgentInstrumentor


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class BenchClient(BaseChatClient):
    def __init__(self, chunks: int) -> None:
        super().__init__()
        self.chunks = chunks

    def _inner_get_response(self, *, messages: Any, stream: bool, options: Any, **kwargs: Any) -> Any:
        return self._build_response_stream(self._updates()) if stream else self._whole()

    async def _updates(self) -> AsyncIterator[ChatResponseUpdate]:
        for _ in range(self.chunks):
            yield ChatResponseUpdate(role="assistant", contents=[Content.from_text("w")])

    async def _whole(self) -> ChatResponse:
        return ChatResponse(messages=[Message(role="assistant", contents=["w"])], response_id="r")


def agent(chunks: int = 3) -> Agent:
    return Agent(BenchClient(chunks), name="bench", default_options={"model": "m"})


async def run_once(a: Agent) -> None:
    await a.run("hi")


async def stream_once(a: Agent) -> None:
    async for _ in a.run("hi", stream=True):
        pass


def plain_call() -> str:
    return "x"


class Target:
    def run(self) -> str:
        return "x"


def time_async(fn: Callable[[], Any], n: int) -> float:
    async def loop() -> float:
        start = time.perf_counter_ns()
        for _ in range(n):
            await fn()
        return (time.perf_counter_ns() - start) / n / 1000

    return asyncio.run(loop())


def time_sync(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - start) / n / 1000


def median_of(measure: Callable[[], float], batches: int) -> float:
    return statistics.median(measure() for _ in range(batches))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--batches", type=int, default=7)
    args = parser.parse_args()
    n, batches = args.runs, args.batches

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(DropExporter()))
    trace.set_tracer_provider(provider)
    tracer = provider.get_tracer("bench")
    instrumentor = AgentInstrumentor()

    def raw_span() -> None:
        tracer.start_span("raw").end()

    a3, a1000 = agent(3), agent(1000)
    modes: dict[str, Callable[[], None]] = {}

    def bare() -> None:
        observability.disable_instrumentation()

    def builtin() -> None:
        observability.enable_instrumentation(force=True)

    def ours() -> None:
        observability.disable_instrumentation()
        instrumentor.instrument(tracer_provider=provider, targets=["__main__:Target.run"])

    modes = {"bare": bare, "framework built-in": builtin, "ours": ours}
    results: dict[str, dict[str, float]] = {m: {} for m in modes}
    gc.disable()
    for _ in range(batches):
        for mode, setup in modes.items():
            setup()
            row = results[mode]
            row.setdefault("run", []).append(time_async(lambda: run_once(a3), n))  # type: ignore[attr-defined]
            row.setdefault("stream", []).append(time_async(lambda: stream_once(a3), n))  # type: ignore[attr-defined]
            row.setdefault("stream1000", []).append(  # type: ignore[attr-defined]
                time_async(lambda: stream_once(a1000), max(n // 30, 5))
            )
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()
    raw = median_of(lambda: time_sync(raw_span, n * 10), batches)
    target = Target()
    plain = median_of(lambda: time_sync(target.run, n * 100), batches)
    instrumentor.instrument(tracer_provider=provider, targets=["__main__:Target.run"])

    def suppressed_calls() -> float:
        with suppress_instrumentation():
            return time_sync(target.run, n * 100)

    suppressed = median_of(suppressed_calls, batches)
    traced_call = median_of(lambda: time_sync(target.run, n * 10), batches)
    instrumentor.uninstrument()
    gc.enable()

    med = {m: {k: statistics.median(v) for k, v in row.items()} for m, row in results.items()}  # type: ignore[call-overload]
    print(f"raw SDK span start+end: {raw:.2f} us\n")
    print(
        f"{'agent-framework-core run':30} {'bare us':>9} {'built-in +us':>13} {'ours +us':>9} {'ours/raw span':>14} "
        f"{'ours/built-in':>14}"
    )
    for key, label in (("run", "run (stream=False)"), ("stream", "run (stream=True, 4 updates)")):
        base = med["bare"][key]
        builtin_added = med["framework built-in"][key] - base
        ours_added = med["ours"][key] - base
        print(
            f"{label:30} {base:9.1f} {builtin_added:13.1f} {ours_added:9.1f} {ours_added / raw:14.2f} "
            f"{ours_added / builtin_added if builtin_added > 0 else float('nan'):14.2f}"
        )
    base = med["bare"]["stream1000"]
    per_update_added = (med["ours"]["stream1000"] - base) / 1001
    print(
        f"\n1000-update stream: bare {base / 1001:.2f} us/update, ours +{per_update_added:.3f} us/update "
        f"(ratio {med['ours']['stream1000'] / base:.3f})"
    )
    print(
        f"user target, plain call: {plain:.3f} us; traced +{traced_call - plain:.2f} us "
        f"({(traced_call - plain) / raw:.2f}x raw span); suppressed +{suppressed - plain:.3f} us"
    )


if __name__ == "__main__":
    main()

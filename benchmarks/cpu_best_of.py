"""CPU time per run of a benchmark subject, bare, ours and OpenInference: best of many short batches.

    python benchmarks/cpu_best_of.py [--framework llama_index] [--rounds 40] [--calls 10]

For subjects whose bare run takes milliseconds (LlamaIndex: a workflow of step tasks), overhead.py's wall-clock
medians move by more than a whole run on a shared machine. This times process CPU time (`time.process_time`:
every thread of this process, none of the machine's other processes) over `--calls` calls, in rounds that run
every mode in turn, and reports each mode's fastest round: the closest estimate of its unloaded cost. Same SDK
setup as overhead.py (one TracerProvider, a SimpleSpanProcessor to an exporter that drops the spans, an SDK
MeterProvider); each window checks that the mode made spans (none bare). A script, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import inspect
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.subjects import load
from otel_agent_instrumentation import AgentInstrumentor


class DropExporter(SpanExporter):
    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


async def cpu_us_per_call(call: Callable[[], Any], calls: int) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        for _ in range(calls):
            value = call()
            if inspect.isawaitable(value):
                await value
        return (time.process_time() - start) / calls * 1e6
    finally:
        gc.enable()


async def main(args: argparse.Namespace) -> None:
    subject = load(args.framework)
    exporter = DropExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    meters = MeterProvider(metric_readers=[InMemoryMetricReader()])
    ours = AgentInstrumentor()
    modes: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
        "bare": (lambda: None, lambda: None),
        "ours": (lambda: ours.instrument(tracer_provider=provider, meter_provider=meters), ours.uninstrument),
    }
    anchor = subject.openinference
    if anchor is not None:
        module, _, class_name = args.openinference.rpartition(":")
        try:
            instrumentor = getattr(importlib.import_module(module), class_name)()
            modes["openinference"] = (
                lambda: instrumentor.instrument(tracer_provider=provider),
                instrumentor.uninstrument,
            )
        except ImportError as error:
            print(f"openinference: not installed ({error.name})")
    assert subject.stream is not None
    shapes: dict[str, Callable[[], Any]] = {"run": subject.run, "stream (3 chunks)": subject.stream(3)}
    for shape, call in shapes.items():
        times: dict[str, list[float]] = {mode: [] for mode in modes}
        for on, off in modes.values():  # warm-up
            on()
            await cpu_us_per_call(call, args.calls)
            off()
        for _ in range(args.rounds):
            for mode, (on, off) in modes.items():
                on()
                before = exporter.count
                times[mode].append(await cpu_us_per_call(call, args.calls))
                off()
                assert (exporter.count > before) == (mode != "bare"), f"{mode}: spans {before} -> {exporter.count}"
        best = {mode: min(values) for mode, values in times.items()}
        added = ", ".join(f"{mode} +{best[mode] - best['bare']:.0f}" for mode in modes if mode != "bare")
        spread = f"{min(times['bare']):.0f}-{max(times['bare']):.0f}"
        print(
            f"{args.framework} {shape}: CPU us per call, best of {args.rounds}: bare {best['bare']:.0f}, {added} "
            f"(bare rounds {spread})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", default="llama_index")
    parser.add_argument(
        "--openinference",
        default="openinference.instrumentation.llama_index:LlamaIndexInstrumentor",
        help="module:Class of the OpenInference instrumentor to compare with",
    )
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=10)
    asyncio.run(main(parser.parse_args()))

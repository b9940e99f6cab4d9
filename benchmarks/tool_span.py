"""What one tool call span costs: an agno `FunctionCall.execute` bare, traced by us, and a raw SDK span.

    python benchmarks/tool_span.py [--rounds N] [--calls N]

Same SDK setup as overhead.py: one TracerProvider with a SimpleSpanProcessor to an exporter that drops
the spans, and an SDK MeterProvider (its reader never collects). Each round times every mode once, for
--calls calls, garbage collector off inside the window; the four modes that call `execute` run back to
back, in an order that turns each round. `execute` itself is about 100 us of agno's own work and varies
by more than a span costs on a busy machine, so each mode's cost is the median over the rounds of its
difference to the round's bare window, not the difference of two medians. Modes:
  bare       FunctionCall.execute() with no instrumentation
  ours       the same call with AgentInstrumentor on: one execute_tool span and its duration record
  sdk span   the span the SDK makes for us, with nothing of ours, around the same call: the same name,
             kind and start attributes, the outcome at the end, the gen_ai.execute_tool.duration record
  our code   ours with the API's no-op tracer and meter: our wrapper, readers and bookkeeping alone
  raw around a raw span (start, the same call, end) around the same call: a raw span's cost in place
  raw span   tracer.start_span("raw").end() on the same provider, alone in a loop
The target (BRIEF_TREE.md): a tool call span costs the SDK's span plus at most one raw span of our own
code: ours - sdk span <= raw span. Code that runs around a 100 us call runs with colder caches than the
same code in a tight loop, so "raw span" (alone) is the cheaper unit and "raw around" the one measured
in the same place as ours; both ratios are printed. A script, not a test.
"""

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Agno posts usage telemetry to its API after every run unless told not to (agno/agent/_init.py:64).
os.environ["AGNO_TELEMETRY"] = "false"

from agno.tools.function import Function, FunctionCall
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import NoOpTracerProvider, SpanKind

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.overhead import DropExporter
from otel_agent_instrumentation import AgentInstrumentor, semconv


# No `from __future__ import annotations` in this module: agno resolves a tool's type hints at every
# call (tools/function.py `_build_entrypoint_args`), and string annotations would cost a compile each.
def lookup(word: str) -> str:
    """Looks a word up."""
    return word


def make_call() -> FunctionCall:
    return FunctionCall(function=Function.from_callable(lookup), arguments={"word": "otter"}, call_id="call-1")


def time_calls(call: Callable[[], Any], count: int) -> float:
    """Microseconds per call over `count` calls, garbage collector off."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in range(count):
            call()
        return (time.perf_counter_ns() - start) / count / 1000
    finally:
        gc.enable()


# A mode: (switch on, the timed call, switch off).
Mode = tuple[Callable[[], None], Callable[[], Any], Callable[[], None]]


def main() -> None:
    parser = argparse.ArgumentParser(description="The cost of one agno tool call span.")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--calls", type=int, default=200, help="calls per mode per round")
    options = parser.parse_args()

    exporter = DropExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    tracer = provider.get_tracer("bench")
    duration = meter_provider.get_meter("bench").create_histogram(semconv.METRIC_EXECUTE_TOOL_DURATION, unit="s")
    instrumentor = AgentInstrumentor()
    call = make_call()

    start_attributes = {
        semconv.GEN_AI_OPERATION_NAME: semconv.EXECUTE_TOOL,
        semconv.GEN_AI_TOOL_NAME: "lookup",
        semconv.GEN_AI_TOOL_TYPE: semconv.TOOL_TYPE_FUNCTION,
        semconv.GEN_AI_TOOL_CALL_ID: "call-1",
        semconv.GEN_AI_TOOL_DESCRIPTION: "Looks a word up.",
    }
    metric_attributes = {
        semconv.GEN_AI_OPERATION_NAME: semconv.EXECUTE_TOOL,
        semconv.GEN_AI_TOOL_NAME: "lookup",
        semconv.GEN_AI_TOOL_TYPE: semconv.TOOL_TYPE_FUNCTION,
    }
    end_attributes = {semconv.OUTCOME: "completed"}

    def execute() -> Any:
        return call.execute()  # looked up at each call: the patched method when we are on

    def sdk_span_around() -> Any:
        span = tracer.start_span("execute_tool lookup", kind=SpanKind.INTERNAL, attributes=start_attributes)
        start = time.perf_counter()
        result = call.execute()
        span.set_attributes(end_attributes)
        span.end()
        duration.record(time.perf_counter() - start, metric_attributes)
        return result

    def raw_span() -> None:
        tracer.start_span("raw").end()

    def raw_span_around() -> Any:
        span = tracer.start_span("raw")
        result = call.execute()
        span.end()
        return result

    def ours_on() -> None:
        instrumentor.instrument(tracer_provider=provider, meter_provider=meter_provider)

    def our_code_on() -> None:
        instrumentor.instrument(tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider())

    def ours_off() -> None:
        instrumentor.uninstrument()

    def nothing() -> None:
        pass

    modes: dict[str, Mode] = {
        "bare": (nothing, execute, nothing),
        "ours": (ours_on, execute, ours_off),
        "sdk span": (nothing, sdk_span_around, nothing),
        "our code": (our_code_on, execute, ours_off),
        "raw around": (nothing, raw_span_around, nothing),
        "raw span": (nothing, raw_span, nothing),
    }
    paired = ["bare", "ours", "sdk span", "our code", "raw around"]

    # Checked before timing: ours makes one span per call, bare none, and the app gets the same result.
    ours_on()
    traced = execute()
    ours_off()
    spans_after_ours = exporter.count
    bare = execute()
    if (spans_after_ours, exporter.count, traced.status, traced.result) != (1, 1, bare.status, bare.result):
        raise SystemExit(f"mode check failed: spans {spans_after_ours}/{exporter.count}, {traced!r} vs {bare!r}")

    # Everything built so far lives to the end: keep it out of the collector's walks.
    gc.freeze()
    times: dict[str, list[float]] = {name: [] for name in modes}
    for on, timed, off in modes.values():  # warm-up
        on()
        time_calls(timed, max(options.calls // 10, 1))
        off()
    for round_number in range(options.rounds):
        turn = round_number % len(paired)
        for name in [*paired[turn:], *paired[:turn], "raw span"]:
            on, timed, off = modes[name]
            on()
            try:
                times[name].append(time_calls(timed, options.calls))
            finally:
                off()

    def over_bare(name: str) -> float:
        return statistics.median(t - b for t, b in zip(times[name], times["bare"], strict=True))

    ours, sdk, code, raw_around = (over_bare(name) for name in ("ours", "sdk span", "our code", "raw around"))
    raw = statistics.median(times["raw span"])
    print(f"{options.rounds} rounds x {options.calls} calls; us per call, median over rounds")
    print(f"  bare execute {statistics.median(times['bare']):.2f}")
    print(f"  sdk span around it +{sdk:.2f}, raw span around it +{raw_around:.2f}, our code alone +{code:.2f}")
    print(f"tool span: ours +{ours:.2f} us, raw span {raw:.2f} us, ours above raw span {ours - raw:+.2f} us")
    above = ours - sdk
    print(
        f"ours above the SDK's span: {above:+.2f} us = {above / raw:.2f} raw spans alone,"
        f" {above / raw_around:.2f} raw spans around the call"
    )


if __name__ == "__main__":
    main()

"""What a run inside `suppress_instrumentation()` costs of ours, counted in alternating rounds.

    python benchmarks/suppressed.py [--frameworks pydantic_ai,langgraph] [--rounds 8] [--calls 20]

Needs valgrind on PATH, and the `test` extra. A script, not a test; each framework takes a few minutes.

Why: `instructions.py` counts a suppressed run as the difference of two segments, all bare calls then all
suppressed ones. For a framework whose run is millions of instructions, the framework's own count drifts
between segments (its caches and lists grow, dictionaries resize) by tens of thousands of instructions, more
than the few calls of ours a suppressed run makes: two counts of the same OpenAI Agents run gave +2.1k and
+19.4k.

How: `--rounds` rounds, each a segment of `--calls` bare calls then one of as many suppressed calls with
our patches applied (applied and reverted between the segments, with a call after each change so that the
first call of a segment does not pay for the type caches the change invalidated). A round's difference is
ours plus that round's drift; the drift changes sign and size from round to round, so the median of the
rounds is reported with their range. The counts are taken under callgrind as in instructions.py (a mark is
a call of `os.getppid()`, garbage collector off inside a segment), with the no-op SDK. Instructions are
turned into microseconds at a raw SDK span's rate, timed here beside its count: about 8.7k instructions
per us on an idle 2-core machine.

Not stacking: applying each patch several times over (so a run passes each of our layers several times)
multiplies ours for plain-function patches, but a wrapt FunctionWrapper wrapping another one makes each
call of the outer pay attribute lookups delegated through the inner proxies (an OpenAI Agents turn hook:
8.3k instructions for one layer, 39k per layer for ten more), which no real run pays.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


async def child(framework: str, rounds: int, calls_per_segment: int) -> None:
    """Runs under callgrind: the raw span, then per shape `rounds` pairs of bare and suppressed segments."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import NoOpTracerProvider

    from benchmarks.overhead import call_once, prepared_calls
    from benchmarks.subjects import load
    from otel_agent_instrumentation import AgentInstrumentor

    calls = prepared_calls(load(framework)).calls
    calls.pop("long", None)
    instrumentor = AgentInstrumentor()
    no_op = {"tracer_provider": NoOpTracerProvider(), "meter_provider": NoOpMeterProvider()}
    from benchmarks.instructions import SegmentMarks

    marks = SegmentMarks()
    mark = marks.mark

    tracer = TracerProvider().get_tracer("unit")
    for _ in range(20):
        tracer.start_span("raw").end()
    gc.disable()
    mark(f"raw_span:0:{calls_per_segment}")
    for _ in range(calls_per_segment):
        tracer.start_span("raw").end()
    mark(None)
    gc.enable()
    # instrument() imports every installed framework: done once here, what the set-up left is frozen so that
    # the collections before each segment do not walk it (as in instructions.py's child).
    instrumentor.instrument(**no_op)
    instrumentor.uninstrument()
    gc.collect()
    gc.freeze()
    with suppress_instrumentation():
        for shape, call in calls.items():
            for _ in range(3):
                await call_once(call)
            for round_index in range(rounds):
                for mode in ("bare", "suppressed"):
                    if mode == "suppressed":
                        instrumentor.instrument(**no_op)
                    try:
                        await call_once(call)
                        gc.collect()
                        gc.disable()
                        mark(f"{mode}:{shape}:{round_index}:{calls_per_segment}")
                        for _ in range(calls_per_segment):
                            await call_once(call)
                        mark(None)
                        gc.enable()
                    finally:
                        if mode == "suppressed":
                            instrumentor.uninstrument()
    print(json.dumps({"labels": marks.labels}))


def raw_span_us() -> float:
    """A raw SDK span, timed here: best of 7 batches of 2000."""
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("unit")
    best = float("inf")
    for _ in range(7):
        start = time.perf_counter_ns()
        for _ in range(2000):
            tracer.start_span("raw").end()
        best = min(best, (time.perf_counter_ns() - start) / 2000 / 1000)
    return best


def count(framework: str, rounds: int, calls_per_segment: int) -> dict[str, float]:
    """label (mode:shape:round) -> instructions per call."""
    from benchmarks.instructions import counted_segments, per_call

    arguments = [framework, "--rounds", str(rounds), "--calls", str(calls_per_segment)]
    return per_call(counted_segments(__file__, arguments))


def round_differences(per_call: dict[str, float], shape: str, rounds: int) -> list[float]:
    """Suppressed minus bare, per round, in instructions per call."""
    return [per_call[f"suppressed:{shape}:{i}"] - per_call[f"bare:{shape}:{i}"] for i in range(rounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--frameworks", default="pydantic_ai,openai_agents,langgraph,smolagents", help="comma-separated"
    )
    parser.add_argument("--rounds", type=int, default=8, help="pairs of bare and suppressed segments per shape")
    parser.add_argument("--calls", type=int, default=20, help="calls per segment")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.rounds, args.calls))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not on PATH")
    unit_us = raw_span_us()
    print(f"a raw SDK span here: {unit_us:.2f} us")
    print("| framework, shape | bare | suppressed over bare, median of rounds | range of rounds | median in us |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for framework in args.frameworks.split(","):
        per_call = count(framework, args.rounds, args.calls)
        per_us = per_call["raw_span:0"] / unit_us  # instructions per microsecond at a raw span's rate
        for shape in ("run", "stream"):
            if f"bare:{shape}:0" not in per_call:
                continue
            differences = round_differences(per_call, shape, args.rounds)
            median = statistics.median(differences)
            bare = statistics.median(per_call[f"bare:{shape}:{i}"] for i in range(args.rounds))
            print(
                f"| {framework}, {shape} | {bare / 1000:.1f}k | {median / 1000:+.1f}k "
                f"| {min(differences) / 1000:+.1f}k to {max(differences) / 1000:+.1f}k | {median / per_us:.2f} us |"
            )


if __name__ == "__main__":
    main()

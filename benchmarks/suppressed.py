"""What a run inside `suppress_instrumentation()` costs of ours, counted by stacking our patches.

    python benchmarks/suppressed.py [--frameworks pydantic_ai,langgraph] [--calls 100] [--depth 11]

Needs valgrind on PATH, and the `test` extra. A script, not a test; each framework takes a few minutes.

Why: `instructions.py` counts a suppressed run as the difference of two runs, suppressed and bare. For a
framework whose run is millions of instructions, two runs of the same code differ by tens of thousands
(allocation and dictionary state), more than the few calls of ours a suppressed run makes.

How: every patch of ours is applied `--depth` times, each on top of the one before (`_instrument` run again:
a patch's original is then the patch below it). A suppressed run passes each patched layer `depth` times, so
count(depth) - count(1) is `depth - 1` times what ours costs per suppressed run, while the framework's own
noise stays what it is: divided by `depth - 1`. The counts are taken under callgrind as in instructions.py
(a mark is a call of `os.getppid()`, 100 calls per segment, garbage collector off), with the no-op SDK.
Instructions are turned into microseconds at the rate of a raw SDK span on the machine (timed here, with
the span's instruction count), which reads about 8.7k instructions per us on an idle 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from otel_agent_instrumentation import AgentInstrumentor


async def child(framework: str, calls_per_depth: int, depth: int) -> None:
    """Runs under callgrind: marks bare, depth 1 and depth `depth` suppressed calls of each shape."""
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
    labels: list[str | None] = [None]

    def mark(label: str | None) -> None:
        os.getppid()  # callgrind dumps its count here
        labels.append(label)

    tracer = TracerProvider().get_tracer("unit")
    for _ in range(20):
        tracer.start_span("raw").end()
    gc.disable()
    mark(f"raw_span:{calls_per_depth}")
    for _ in range(calls_per_depth):
        tracer.start_span("raw").end()
    mark(None)
    gc.enable()
    for layers in (0, 1, depth):
        no_op = {"tracer_provider": NoOpTracerProvider(), "meter_provider": NoOpMeterProvider()}
        with stacked_patches(instrumentor, layers, **no_op), suppress_instrumentation():
            for shape, call in calls.items():
                for _ in range(3):
                    await call_once(call)
                gc.collect()
                gc.disable()
                mark(f"{layers}:{shape}:{calls_per_depth}")
                for _ in range(calls_per_depth):
                    await call_once(call)
                mark(None)
                gc.enable()
    print(json.dumps({"labels": labels}))


@contextlib.contextmanager
def stacked_patches(instrumentor: AgentInstrumentor, layers: int, **kwargs: Any) -> Iterator[None]:
    """Every patch of `instrumentor` applied `layers` times, each on top of the one before; all reverted after."""
    patches = []
    try:
        for _ in range(layers):
            instrumentor._instrument(**kwargs)
            patches.extend(instrumentor._patches)
        yield
    finally:
        for patch in reversed(patches):
            patch.revert()
        instrumentor._patches = []


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


def count(framework: str, calls_per_depth: int, depth: int) -> dict[str, float]:
    from benchmarks.instructions import _totals

    with tempfile.TemporaryDirectory() as directory:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--dump-before=os_getppid",
            f"--callgrind-out-file={directory}/out",
            sys.executable,
            __file__,
            "--child",
            framework,
            "--calls",
            str(calls_per_depth),
            "--depth",
            str(depth),
        ]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if done.returncode != 0:
            raise RuntimeError(f"{framework}: the child failed:\n{done.stderr[-2000:]}")
        labels = json.loads(done.stdout.strip().splitlines()[-1])["labels"]
        totals = _totals(Path(directory))
    if len(totals) != len(labels):
        raise RuntimeError(f"{framework}: {len(totals)} counts for {len(labels)} segments")
    per_call: dict[str, float] = {}
    for label, total in zip(labels, totals, strict=True):
        if label is not None:
            name, calls = label.rsplit(":", 1)
            per_call[name] = total / int(calls)
    return per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--frameworks", default="pydantic_ai,openai_agents,langgraph,smolagents", help="comma-separated"
    )
    parser.add_argument("--calls", type=int, default=100, help="calls per segment")
    parser.add_argument("--depth", type=int, default=11, help="how many times each patch is stacked")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.depth < 2:
        parser.error("--depth must be at least 2")
    if args.child:
        asyncio.run(child(args.child, args.calls, args.depth))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not on PATH")
    unit_us = raw_span_us()
    print(f"a raw SDK span here: {unit_us:.2f} us")
    print("| framework, shape | bare | suppressed over bare (difference) | ours per suppressed run (stacked) | in us |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for framework in args.frameworks.split(","):
        per_call = count(framework, args.calls, args.depth)
        per_us = per_call["raw_span"] / unit_us  # instructions per microsecond at a raw span's rate
        for shape in ("run", "stream"):
            if f"0:{shape}" not in per_call:
                continue
            bare, one, stacked = per_call[f"0:{shape}"], per_call[f"1:{shape}"], per_call[f"{args.depth}:{shape}"]
            ours = (stacked - one) / (args.depth - 1)
            print(
                f"| {framework}, {shape} | {bare / 1000:.1f}k | {(one - bare) / 1000:+.1f}k "
                f"| {ours / 1000:.1f}k | {ours / per_us:.2f} us |"
            )


if __name__ == "__main__":
    main()

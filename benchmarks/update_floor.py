"""What any per-pull stream proxy costs an update of AutoGen's `run_stream`, against ours: issue 13's per-update
target (<= 1.05x bare) checked against the least a proxy that keeps our guarantees can do.

    python benchmarks/update_floor.py [--runs 5]

Needs valgrind on PATH, and the `test` extra. A script, not a test; about three minutes.

The guarantees (stream.py): the stream the application gets is the framework's own object behind a proxy
(same type to `isinstance`, same methods), and the run's span is current while each pull runs the agent's
code and not between pulls. The least a Python proxy can do for that is an `async def __anext__` that
attaches a context, awaits the framework's pull and detaches. Four consumers iterate the same agent's stream:

  bare           the framework's async generator itself
  proxy          a Python proxy whose `__anext__` awaits the framework's and does nothing else
  proxy_context  that proxy attaching a context for each pull and detaching it (the floor of any proxy
                 that makes a span current per pull)
  ours           our instrumentation (SDK providers), the stream behind our proxy

Per update is the difference between a 1004-update and a 4-update run, over 1000, so that what a run costs
once (the span, the metrics) is not spread over its updates. Instructions as in instructions.py.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry import context

# The contextvar set and reset ours uses (the OpenTelemetry API's attach/detach add three Python frames each).
from otel_agent_instrumentation._context import attach_context, detach_context

PULL_CONTEXT = context.set_value("update_floor", True)

MODES = ("bare", "proxy", "proxy_context", "ours")
SHORT, LONG = 4, 1004  # updates a run yields: the task message, the model's chunks, its answer, the task result


class Proxy:
    """A stream proxy that does nothing but forward each pull from a frame of its own."""

    def __init__(self, stream: AsyncIterator[Any]) -> None:
        self.stream = stream

    def __aiter__(self) -> Proxy:
        return self

    async def __anext__(self) -> Any:
        return await anext(self.stream)  # the stream's slot, as `async for` calls it (no method bound a pull)


class ContextProxy(Proxy):
    """Proxy, with a context attached for each pull (what makes a span current while the pull runs)."""

    async def __anext__(self) -> Any:
        token = attach_context(PULL_CONTEXT)
        try:
            return await anext(self.stream)
        finally:
            detach_context(token)


async def child(runs: int) -> None:
    """Runs under callgrind: each mode's 4-update and 1004-update runs, one segment each."""
    from autogen_agentchat.agents import AssistantAgent

    from benchmarks.overhead import BenchEnv
    from benchmarks.subjects.autogen_agentchat import TOKEN, BenchClient
    from otel_agent_instrumentation import AgentInstrumentor

    agents = {
        updates: AssistantAgent("bench", model_client=BenchClient(updates - 3), model_client_stream=True)
        for updates in (SHORT, LONG)
    }

    async def consume(updates: int, wrap: Callable[[Any], Any]) -> int:
        agent = agents[updates]
        await agent.on_reset(TOKEN)
        pulled = 0
        async for _ in wrap(agent.run_stream(task="hi")):
            pulled += 1
        return pulled

    from benchmarks.instructions import SegmentMarks

    marks = SegmentMarks()
    mark = marks.mark

    env = BenchEnv()
    instrumentor = AgentInstrumentor()
    wraps: dict[str, Callable[[Any], Any]] = {"proxy": Proxy, "proxy_context": ContextProxy}
    for mode in MODES:
        if mode == "ours":
            instrumentor.instrument(tracer_provider=env.provider, meter_provider=env.meter_provider)
            # instrument() imported every installed framework: frozen, what it left is not walked by the
            # collections before each segment (as in instructions.py's child).
            gc.collect()
            gc.freeze()
        wrap = wraps.get(mode, lambda stream: stream)
        for updates in (SHORT, LONG):
            for _ in range(2):
                pulled = await consume(updates, wrap)
                if pulled != updates:
                    raise RuntimeError(f"{mode}: a run yielded {pulled} updates, not {updates}")
            gc.collect()
            gc.disable()
            mark(f"{mode}@{updates}:{runs}")
            for _ in range(runs):
                await consume(updates, wrap)
            mark(None)
            gc.enable()
    instrumentor.uninstrument()
    print(json.dumps({"labels": marks.labels}))


def per_update(per_run: dict[str, float]) -> dict[str, float]:
    """mode -> instructions per update: (LONG-update run - SHORT-update run) / (LONG - SHORT)."""
    return {mode: (per_run[f"{mode}@{LONG}"] - per_run[f"{mode}@{SHORT}"]) / (LONG - SHORT) for mode in MODES}


def report(updates: dict[str, float]) -> None:
    bare = updates["bare"]
    print("| consumer | per update | over bare | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for mode in MODES:
        print(f"| {mode} | {updates[mode]:.0f} | {updates[mode] - bare:+.0f} | {updates[mode] / bare:.3f}x |")
    print(f"5% of a bare update: {0.05 * bare:.0f} instructions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per mode and length")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.runs))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not on PATH")
    from benchmarks.instructions import counted_segments, per_call

    report(per_update(per_call(counted_segments(__file__, ["--runs", str(args.runs)]))))


if __name__ == "__main__":
    main()

"""Strands Agents (strands-agents 1.61.1): an Agent on an offline `Model` subclass, no tools.

builtin: Strands' own telemetry (`strands.telemetry.tracer`): `invoke_agent`, `execute_event_loop_cycle` and
`chat` spans per run. Its Tracer singleton takes its tracer from the global provider once, when the first agent
is built, so the switch is its `tracer` attribute: the benchmark's provider's tracer (on) or a no-op tracer (bare,
and every other mode). Under ours the Strands agent span is stood down and its cycle and chat spans are not
recorded (no tracer), as in an application without a global provider.
openinference: `openinference-instrumentation-strands-agents`'s `StrandsAgentsToOpenInferenceProcessor`, a span
processor that rewrites Strands' own spans (its README: Strands' telemetry on, the processor added to the
provider), in the benchmark's extra processor slot.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import Any

from opentelemetry.trace import NoOpTracer
from strands import Agent
from strands.models import Model
from strands.telemetry.tracer import get_tracer

from benchmarks.subjects import Anchor, Env, StreamCall, StreamOutput, Subject

USAGE = {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}


class BenchModel(Model):  # type: ignore[misc]  # strands is read through Any where mypy runs
    """Answers "w", in `chunks` text deltas."""

    def __init__(self, chunks: int = 1) -> None:
        self.config: dict[str, Any] = {"model_id": "bench"}
        self.chunks = chunks

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> Any:
        return self.config

    async def structured_output(self, *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError
        yield {}

    async def stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {}}}
        for _ in range(self.chunks):
            yield {"contentBlockDelta": {"delta": {"text": "w"}}}
        yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "end_turn"}}
        yield {"metadata": {"usage": USAGE, "metrics": {"latencyMs": 0}}}


def make_agent(chunks: int = 1) -> Agent:
    # No conversation manager growth between runs: each run starts from an empty history.
    return Agent(name="bench", model=BenchModel(chunks), callback_handler=None)


RUN_AGENT = make_agent()


async def run() -> str:
    RUN_AGENT.messages.clear()
    result = await RUN_AGENT.invoke_async("hi")
    return str(result).strip()


def stream(chunks: int) -> StreamCall:
    agent = make_agent(chunks)

    async def call() -> StreamOutput:
        agent.messages.clear()
        updates, text = 0, []
        async for event in agent.stream_async("hi"):
            updates += 1
            if "data" in event:
                text.append(event["data"])
        return updates, "".join(text)

    return call


def strands_tracing_off() -> None:
    get_tracer().tracer = NoOpTracer()


def builtin_on(env: Env) -> None:
    get_tracer().tracer = env.provider.get_tracer("strands.telemetry.tracer")


def openinference_on(env: Env) -> None:
    module = importlib.import_module("openinference.instrumentation.strands_agents")
    builtin_on(env)
    env.set_extra_processor(module.StrandsAgentsToOpenInferenceProcessor())


def openinference_off() -> None:
    strands_tracing_off()


SUBJECT = Subject(
    framework="strands",
    asynchronous=True,
    run=run,
    stream=stream,
    builtin=Anchor("Strands' own telemetry (strands.telemetry.tracer)", builtin_on, strands_tracing_off),
    openinference=Anchor("StrandsAgentsToOpenInferenceProcessor", openinference_on, openinference_off),
    stream_label="Agent.stream_async",
    prepare=strands_tracing_off,
)

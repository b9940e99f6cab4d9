"""OpenAI Agents SDK (openai-agents 0.24.0): an Agent on the SDK's own offline `agents.testing.ScriptedModel`.

builtin: the SDK's own tracing (not OpenTelemetry) with one local no-op `TracingProcessor`: the default
processor exports to api.openai.com, so it is replaced at import and never used.
openinference: `OpenAIAgentsInstrumentor`, which needs the SDK's tracing on and installs its own
processor in place of the registered ones (restored by its uninstrument in 2.6.0).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import agents
from agents import Agent, Runner, TracingProcessor
from agents.testing import ModelStep, ScriptedModel, assistant_message
from agents.testing.model import _stream_events_for_step
from openai.types.responses import ResponseTextDeltaEvent

from benchmarks.subjects import Anchor, Env, StreamCall, StreamOutput, Subject, openinference_anchor


class DropProcessor(TracingProcessor):
    """Receives the SDK's traces and spans, counts the spans and keeps nothing."""

    def __init__(self) -> None:
        self.spans = 0

    def on_trace_start(self, trace: Any) -> None:
        pass

    def on_trace_end(self, trace: Any) -> None:
        pass

    def on_span_start(self, span: Any) -> None:
        pass

    def on_span_end(self, span: Any) -> None:
        self.spans += 1

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


DROP = DropProcessor()
# Before anything runs: no processor that could reach the network, and tracing off (bare runs).
agents.set_trace_processors([DROP])
agents.set_tracing_disabled(True)


def _answer_step(chunks: int) -> ModelStep:
    """A step whose stream is the SDK's own event sequence for one message, with its single text delta
    repeated `chunks` times (a factory, so the events are not deep-copied on every enqueue)."""
    step = ModelStep(output=[assistant_message("w" * chunks)])
    events = _stream_events_for_step(step, preserve_raw_usage=False)
    at = next(i for i, e in enumerate(events) if isinstance(e, ResponseTextDeltaEvent))
    delta = events[at].model_copy(update={"delta": "w"})
    sequence = [*events[:at], *([delta] * chunks), *events[at + 1 :]]

    async def replay(call: Any) -> AsyncIterator[Any]:
        for event in sequence:
            yield event

    return ModelStep.stream(replay, output=step.output)


def make_agent(chunks: int = 3) -> tuple[Agent[Any], ScriptedModel, ModelStep]:
    model = ScriptedModel([])
    return Agent(name="bench", instructions="be terse", model=model), model, _answer_step(chunks)


RUN_AGENT, RUN_MODEL, RUN_STEP = make_agent()


async def run() -> str:
    RUN_MODEL.enqueue(RUN_STEP)  # ScriptedModel plays each step once
    result = await Runner.run(RUN_AGENT, "hi")
    return str(result.final_output)


def stream(chunks: int) -> StreamCall:
    agent, model, step = make_agent(chunks)

    async def call() -> StreamOutput:
        model.enqueue(step)
        result = Runner.run_streamed(agent, "hi")
        updates, text = 0, []
        async for event in result.stream_events():
            updates += 1
            if event.type == "raw_response_event" and isinstance(event.data, ResponseTextDeltaEvent):
                text.append(event.data.delta)
        return updates, f"{''.join(text)}|{result.final_output}"

    return call


def builtin_on(env: Env) -> None:
    agents.set_trace_processors([DROP])
    agents.set_tracing_disabled(False)


def builtin_off() -> None:
    agents.set_tracing_disabled(True)
    agents.set_trace_processors([DROP])


SUBJECT = Subject(
    framework="openai_agents",
    asynchronous=True,
    run=run,
    stream=stream,
    builtin=Anchor(
        "SDK tracing (not OpenTelemetry), local no-op TracingProcessor",
        builtin_on,
        builtin_off,
        recorded=lambda: DROP.spans,
    ),
    openinference=openinference_anchor(
        "OpenAIAgentsInstrumentor (SDK tracing on)",
        "openinference.instrumentation.openai_agents",
        "OpenAIAgentsInstrumentor",
        before=builtin_on,
        after=builtin_off,
    ),
    stream_label="Runner.run_streamed + stream_events()",
)

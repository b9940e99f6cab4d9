"""Pydantic AI (pydantic-ai-slim 2.68.0): an Agent on an offline FunctionModel.

builtin: pydantic-ai's own OpenTelemetry instrumentation, `InstrumentationSettings(tracer_provider=...)`
applied to every agent with `Agent.instrument_all` (the same settings as `Agent(instrument=...)`).
openinference: that instrumentation plus OpenInference's `OpenInferenceSpanProcessor` in front of the
exporter (OpenInference instruments pydantic-ai only by rewriting its spans).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.instrumented import InstrumentationSettings

from benchmarks.subjects import Anchor, Env, StreamCall, StreamOutput, Subject


async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart("w")])


def make_agent(chunks: int = 3) -> Agent[None, str]:
    async def stream_text(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for _ in range(chunks):
            yield "w"

    return Agent(FunctionModel(respond, stream_function=stream_text, model_name="m"), name="bench")


RUN_AGENT = make_agent()


async def run() -> str:
    result = await RUN_AGENT.run("hi")
    return result.output


def stream(chunks: int) -> StreamCall:
    agent = make_agent(chunks)

    async def call() -> StreamOutput:
        async with agent.run_stream("hi") as result:
            # debounce_by=None: every chunk is its own update (the default groups chunks by time).
            texts = [text async for text in result.stream_text(delta=True, debounce_by=None)]
        return len(texts), "".join(texts)

    return call


def builtin_on(env: Env) -> None:
    Agent.instrument_all(InstrumentationSettings(tracer_provider=env.provider))


def builtin_off() -> None:
    Agent.instrument_all(False)


def openinference_on(env: Env) -> None:
    from openinference.instrumentation.pydantic_ai import OpenInferenceSpanProcessor

    builtin_on(env)
    env.set_extra_processor(OpenInferenceSpanProcessor())


SUBJECT = Subject(
    framework="pydantic_ai",
    asynchronous=True,
    run=run,
    stream=stream,
    builtin=Anchor("InstrumentationSettings(tracer_provider=...)", builtin_on, builtin_off),
    openinference=Anchor("InstrumentationSettings + OpenInferenceSpanProcessor", openinference_on, builtin_off),
    stream_label="Agent.run_stream + stream_text(delta=True)",
)

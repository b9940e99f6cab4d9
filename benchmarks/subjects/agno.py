"""Agno 3.1.10: an Agent on an offline `Model` subclass.

builtin: none of its own (`agno.tracing.setup_tracing` is OpenInference's AgnoInstrumentor with a
database exporter, so it is the openinference column). openinference: `AgnoInstrumentor`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

# Agno posts usage telemetry to its API after every run unless told not to (agno/agent/_init.py:64).
os.environ["AGNO_TELEMETRY"] = "false"

from agno.agent import Agent
from agno.models.base import Model
from agno.models.response import ModelResponse
from agno.run.agent import RunContentEvent

from benchmarks.subjects import StreamCall, StreamOutput, Subject, openinference_anchor


@dataclass
class BenchModel(Model):
    """Answers "w"; streamed, `chunks` chunks of "w"."""

    id: str = "bench"
    name: str | None = "Bench"
    provider: str | None = "Bench"
    chunks: int = 3

    def invoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return ModelResponse(role="assistant", content="w")

    async def ainvoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return self.invoke()

    def invoke_stream(self, *args: Any, **kwargs: Any) -> Iterator[ModelResponse]:
        for _ in range(self.chunks):
            yield ModelResponse(role="assistant", content="w")

    async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ModelResponse]:
        for _ in range(self.chunks):
            yield ModelResponse(role="assistant", content="w")

    def _parse_provider_response(self, response: Any, **kwargs: Any) -> Any:
        return response

    def _parse_provider_response_delta(self, response: Any) -> Any:
        return response


def make_agent(chunks: int = 3) -> Agent:
    return Agent(name="bench", model=BenchModel(chunks=chunks), telemetry=False)


RUN_AGENT = make_agent()


async def run() -> str:
    output = await RUN_AGENT.arun("hi")
    return str(output.content)


def stream(chunks: int) -> StreamCall:
    agent = make_agent(chunks)

    async def call() -> StreamOutput:
        updates, text = 0, []
        async for event in agent.arun("hi", stream=True):
            updates += 1
            if isinstance(event, RunContentEvent) and isinstance(event.content, str):
                text.append(event.content)
        return updates, "".join(text)

    return call


SUBJECT = Subject(
    framework="agno",
    asynchronous=True,
    run=run,
    stream=stream,
    builtin=None,
    openinference=openinference_anchor("AgnoInstrumentor", "openinference.instrumentation.agno", "AgnoInstrumentor"),
    stream_label="Agent.arun(stream=True)",
    note="no built-in tracing (agno.tracing is the OpenInference instrumentor)",
)

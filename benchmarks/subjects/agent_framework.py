"""Microsoft Agent Framework (agent-framework-core 1.23.0): an Agent on an offline chat client.

builtin: the framework's own telemetry (`observability.enable_instrumentation`), which reads the global
tracer provider on every span. openinference: that telemetry plus OpenInference's
`AgentFrameworkToOpenInferenceProcessor` in front of the exporter (OpenInference instruments Agent
Framework only by rewriting its spans).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
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

from benchmarks.subjects import Anchor, Env, StreamCall, StreamOutput, Subject


class BenchClient(BaseChatClient):
    """Answers "w" (one response), or streams `chunks` updates of "w"."""

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


def make_agent(chunks: int = 3) -> Agent:
    return Agent(BenchClient(chunks), name="bench", default_options={"model": "m"})


RUN_AGENT = make_agent()


async def run() -> str:
    response = await RUN_AGENT.run("hi")
    return response.text


def stream(chunks: int) -> StreamCall:
    agent = make_agent(chunks)

    async def call() -> StreamOutput:
        texts = [update.text async for update in agent.run("hi", stream=True)]
        return len(texts), "".join(texts)

    return call


def builtin_on(env: Env) -> None:
    env.use_global_provider(True)
    observability.enable_instrumentation(force=True)


def builtin_off() -> None:
    observability.disable_instrumentation()


def openinference_on(env: Env) -> None:
    from openinference.instrumentation.agent_framework import AgentFrameworkToOpenInferenceProcessor

    builtin_on(env)
    env.set_extra_processor(AgentFrameworkToOpenInferenceProcessor())


SUBJECT = Subject(
    framework="agent_framework",
    asynchronous=True,
    run=run,
    stream=stream,
    builtin=Anchor("observability.enable_instrumentation", builtin_on, builtin_off),
    openinference=Anchor("framework telemetry + AgentFrameworkToOpenInferenceProcessor", openinference_on, builtin_off),
    stream_label="Agent.run(stream=True)",
    # The framework's telemetry is on by default (a no-op without a global provider); bare runs have it off.
    prepare=builtin_off,
)

"""LlamaIndex 0.14.25 (llama-index-workflows 2.26.1): a FunctionAgent on `MockFunctionCallingLLM` with a scripted
response generator, no tools.

builtin: none as OpenTelemetry (LlamaIndex's own instrumentation is its dispatcher, which records nothing unless a
handler is attached). openinference: `LlamaIndexInstrumentor` (it attaches its span and event handlers to that
dispatcher). A run is `await agent.run(user_msg=...)`; a stream is `handler.stream_events()` read to its end, then
the handler awaited: LlamaIndex yields one `AgentStream` event per model chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from llama_index.core.agent.workflow import AgentStream, FunctionAgent
from llama_index.core.llms import ChatMessage, MockFunctionCallingLLM

from benchmarks.subjects import StreamCall, StreamOutput, Subject, openinference_anchor


def answer(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
    return ChatMessage(role="assistant", content="w")


def chunked(chunks: int) -> Any:
    def generate(messages: Sequence[ChatMessage], **kwargs: Any) -> AsyncIterator[ChatMessage]:
        async def deltas() -> AsyncIterator[ChatMessage]:
            for _ in range(chunks):
                yield ChatMessage(role="assistant", content="w")

        return deltas()

    return generate


def make_agent(generator: Any, streaming: bool) -> FunctionAgent:
    llm = MockFunctionCallingLLM(response_generator=generator)
    return FunctionAgent(name="bench", description="benchmark agent", llm=llm, streaming=streaming)


RUN_AGENT = make_agent(answer, streaming=False)


async def run() -> str:
    return str(await RUN_AGENT.run(user_msg="hi"))


def stream(chunks: int) -> StreamCall:
    agent = make_agent(chunked(chunks), streaming=True)

    async def call() -> StreamOutput:
        handler = agent.run(user_msg="hi")
        updates, text = 0, []
        async for event in handler.stream_events():
            updates += 1
            if isinstance(event, AgentStream):
                text.append(event.delta)
        await handler
        return updates, "".join(text)

    return call


SUBJECT = Subject(
    framework="llama_index",
    asynchronous=True,
    run=run,
    stream=stream,
    builtin=None,
    openinference=openinference_anchor(
        "LlamaIndexInstrumentor", "openinference.instrumentation.llama_index", "LlamaIndexInstrumentor"
    ),
    stream_label="handler.stream_events()",
    note="no OpenTelemetry of its own (its dispatcher records nothing without a handler)",
)

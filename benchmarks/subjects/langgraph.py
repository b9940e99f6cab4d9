"""LangGraph 1.2.24: a prebuilt agent graph (`create_react_agent`, no tools) on an offline chat model.

builtin: none (LangGraph and langchain-core have no OpenTelemetry tracing of their own; their LangSmith
tracer is off without an API key). openinference: `LangChainInstrumentor` (openinference-instrumentation-
langchain), a LangChain callback handler that makes a span of every LangChain run (the graph, each node,
the model call, ...).
The stream is `astream(stream_mode="messages")`: one update per model chunk.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from benchmarks.subjects import StreamCall, StreamOutput, Subject, openinference_anchor


class BenchModel(BaseChatModel):
    """Answers "w"; streamed, `chunks` chunks of "w"."""

    chunks: int = 3

    @property
    def _llm_type(self) -> str:
        return "bench"

    def bind_tools(self, tools: Any, **kwargs: Any) -> BenchModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="w"))])

    async def _agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return self._generate(messages)

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        for _ in range(self.chunks):
            yield ChatGenerationChunk(message=AIMessageChunk(content="w"))

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        for _ in range(self.chunks):
            yield ChatGenerationChunk(message=AIMessageChunk(content="w"))


def make_agent(chunks: int = 3) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent: "moved to langchain.agents"
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(BenchModel(chunks=chunks), [], name="bench")


RUN_AGENT = make_agent()
INPUT: Any = {"messages": [("user", "hi")]}


async def run() -> str:
    state = await RUN_AGENT.ainvoke(INPUT)
    return str(state["messages"][-1].content)


def stream(chunks: int) -> StreamCall:
    agent = make_agent(chunks)

    async def call() -> StreamOutput:
        updates, text = 0, []
        async for message, _metadata in agent.astream(INPUT, stream_mode="messages"):
            updates += 1
            if isinstance(message.content, str):
                text.append(message.content)
        return updates, "".join(text)

    return call


SUBJECT = Subject(
    framework="langgraph",
    asynchronous=True,
    run=run,
    stream=stream,
    builtin=None,
    openinference=openinference_anchor(
        "LangChainInstrumentor", "openinference.instrumentation.langchain", "LangChainInstrumentor"
    ),
    stream_label='Pregel.astream(stream_mode="messages")',
    note="no built-in OpenTelemetry tracing (LangSmith's tracer is off without an API key)",
)

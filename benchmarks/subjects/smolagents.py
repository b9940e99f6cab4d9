"""smolagents 1.26.0: a ToolCallingAgent on an offline `Model` that answers with the final_answer tool.

builtin: none (smolagents has no tracing of its own). openinference: `SmolagentsInstrumentor`.
smolagents is synchronous: run and stream are plain calls.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from smolagents import ToolCallingAgent
from smolagents.memory import FinalAnswerStep
from smolagents.models import (
    ChatMessage,
    ChatMessageStreamDelta,
    ChatMessageToolCall,
    ChatMessageToolCallFunction,
    ChatMessageToolCallStreamDelta,
    MessageRole,
    Model,
)
from smolagents.monitoring import AgentLogger, LogLevel, TokenUsage

from benchmarks.subjects import StreamCall, StreamOutput, Subject, openinference_anchor

USAGE = TokenUsage(input_tokens=1, output_tokens=1)


class BenchModel(Model):  # type: ignore[misc]  # smolagents ships no type information
    """Calls final_answer("w"); streamed, `chunks` content deltas of "w" first."""

    def __init__(self, chunks: int = 3) -> None:
        super().__init__(model_id="bench")
        self.chunks = chunks

    def generate(self, messages: Any, stop_sequences: Any = None, **kwargs: Any) -> ChatMessage:
        call = ChatMessageToolCall(
            function=ChatMessageToolCallFunction(name="final_answer", arguments={"answer": "w"}),
            id="c",
            type="function",
        )
        return ChatMessage(role=MessageRole.ASSISTANT, content="", tool_calls=[call], token_usage=USAGE)

    def generate_stream(self, messages: Any, stop_sequences: Any = None, **kwargs: Any) -> Iterator[Any]:
        for _ in range(self.chunks):
            yield ChatMessageStreamDelta(content="w")
        function = ChatMessageToolCallFunction(name="final_answer", arguments=json.dumps({"answer": "w"}))
        call = ChatMessageToolCallStreamDelta(index=0, id="c", type="function", function=function)
        yield ChatMessageStreamDelta(content="", tool_calls=[call], token_usage=USAGE)


def make_agent(chunks: int = 3, streaming: bool = False) -> ToolCallingAgent:
    # stream_outputs=True renders a rich Live display on the logger's console whatever the level
    # (smolagents 1.26.0 agents.py:1298): the console writes nowhere.
    logger = AgentLogger(LogLevel.OFF, console=Console(file=io.StringIO()))
    return ToolCallingAgent(tools=[], model=BenchModel(chunks), name="bench", logger=logger, stream_outputs=streaming)


RUN_AGENT = make_agent()


def run() -> str:
    return str(RUN_AGENT.run("q"))


def stream(chunks: int) -> StreamCall:
    agent = make_agent(chunks, streaming=True)

    def call() -> StreamOutput:
        updates, text = 0, []
        for item in agent.run("q", stream=True):
            updates += 1
            if isinstance(item, ChatMessageStreamDelta) and item.content:
                text.append(item.content)
            elif isinstance(item, FinalAnswerStep):
                text.append(f"|{item.output}")
        return updates, "".join(text)

    return call


SUBJECT = Subject(
    framework="smolagents",
    asynchronous=False,
    run=run,
    stream=stream,
    builtin=None,
    openinference=openinference_anchor(
        "SmolagentsInstrumentor", "openinference.instrumentation.smolagents", "SmolagentsInstrumentor"
    ),
    stream_label="MultiStepAgent.run(stream=True), stream_outputs=True",
    note="no built-in tracing",
)

"""LangGraph, driven offline: a prebuilt agent graph (`create_react_agent`) on a scripted fake chat model,
with a callback handler recording the LangChain callbacks the run fires."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, cast
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool
from langgraph.warnings import LangGraphDeprecatedSinceV10

from tests.scenarios import CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation

with warnings.catch_warnings():
    warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)  # "moved to langchain.agents"
    from langgraph.prebuilt import create_react_agent

AGENT_NAME = "helper"

# One turn of the scripted model: the message it answers with, or the exception it raises.
Turn = AIMessage | BaseException


def usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}


def tool_call_turn(*calls: tuple[str, dict[str, Any], str]) -> AIMessage:
    """The model asking for tools (name, arguments, call id); tool-call messages get non-empty content."""
    return AIMessage(
        content="calling tools",
        tool_calls=[{"name": tool, "args": arguments, "id": call_id} for tool, arguments, call_id in calls],
        usage_metadata=cast(Any, usage(3, 1)),  # langchain-core's UsageMetadata TypedDict
    )


def answer(text: str = "hello world") -> AIMessage:
    return AIMessage(content=text, usage_metadata=cast(Any, usage(10, 5)))


class ScriptedChatModel(GenericFakeChatModel):
    """Plays its script, one turn per call; an exception in it is raised. `bind_tools` is itself (the
    script decides the tool calls); `block` makes an awaited call wait forever (to be cancelled)."""

    block: bool = False

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        return self

    def _turn(self) -> AIMessage:
        turn = next(self.messages)
        if isinstance(turn, BaseException):
            raise turn
        return cast(AIMessage, turn)  # the script's messages

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._turn())])

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        # Streamed (astream_events, stream_mode="messages"): the turn as one chunk, tool calls and usage kept.
        turn = self._turn()
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content=turn.content, tool_calls=turn.tool_calls, usage_metadata=turn.usage_metadata, id=turn.id
            )
        )

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        if self.block:
            await asyncio.Event().wait()
        for chunk in self._stream(messages, stop, None, **kwargs):
            yield chunk

    async def _agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        if self.block:
            await asyncio.Event().wait()
        return self._generate(messages, stop, None, **kwargs)


def scripted(script: Sequence[Turn], block: bool = False) -> ScriptedChatModel:
    # GenericFakeChatModel types its script as messages or strings; ours may hold exceptions too.
    return ScriptedChatModel(messages=cast(Any, iter(script)), block=block)


class ToolFailure(RuntimeError):
    """What the `fails` tool raises."""


@tool
def echo(text: str) -> str:
    """Echoes its text."""
    return f"echo:{text}"


@tool
def fails(text: str) -> str:
    """Always fails."""
    raise ToolFailure(f"tool broke on {text}")


class RecordingHandler(BaseCallbackHandler):
    """The LangChain callbacks a run fires, in order, as '<event>:<run name>[:<error class>]'."""

    run_inline = True  # called in the run's own thread or task, in order, also for async runs

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append(f"chain_start:{kwargs.get('name')}")

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append("chain_end")

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append(f"chain_error:{type(error).__name__}")

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append("chat_model_start")

    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append(f"tool_start:{serialized.get('name')}")

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append("tool_end")

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append(f"tool_error:{type(error).__name__}")


def make_agent(script: list[Turn], block: bool = False, name: str = AGENT_NAME, tools: list[Any] | None = None) -> Any:
    model = scripted(script, block)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangGraphDeprecatedSinceV10)
        return create_react_agent(model, [echo, fails] if tools is None else tools, name=name)


def script_for(ending: Ending) -> list[Turn]:
    if ending is Ending.RAISES_AT_CALL:
        return [ConnectionError("model connection dropped")]  # the first node fails: no update yet
    if ending is Ending.RAISES_MID_STREAM:
        # The first update (the model's tool call) is out, then the tool raises and the run fails with it.
        return [tool_call_turn(("fails", {"text": "x"}, "c1")), answer()]
    return [tool_call_turn(("echo", {"text": "hi"}, "c1")), answer()]


GRAPH_INPUT = {"messages": [("user", "hi")]}


def run_config(events: list[str]) -> dict[str, Any]:
    return {"callbacks": [RecordingHandler(events)], "configurable": {"thread_id": "thread-1"}}


def describe(update: Any) -> str:
    """An `updates` chunk: {node: {"messages": [...]}} -> 'node:last message content'."""
    parts = []
    for node, value in update.items():
        messages = value.get("messages") if isinstance(value, dict) else None
        parts.append(f"{node}:{messages[-1].content if messages else value}")
    return "|".join(parts)


def final_text(state: Any) -> str:
    return str(state["messages"][-1].content)


class LangGraphDriver:
    framework = "langgraph"
    agent_name = AGENT_NAME

    def cases(self) -> list[tuple[str, Ending]]:
        basic = [Ending.COMPLETES, Ending.RAISES_AT_CALL, Ending.RAISES_MID_STREAM, Ending.CONCURRENT]
        return (
            [("run", ending) for ending in [*basic, Ending.OTHER_TASK]]
            + [("arun", ending) for ending in [*basic, Ending.CANCELLED, Ending.OTHER_TASK, Ending.DROPPED]]
            + [("stream", ending) for ending in [*basic, Ending.BREAK_AND_CLOSE, Ending.DROPPED, Ending.OTHER_TASK]]
            + [
                ("astream", ending)
                for ending in [*basic, Ending.BREAK_AND_CLOSE, Ending.DROPPED, Ending.OTHER_TASK, Ending.CANCELLED]
            ]
        )

    def expected(self, mode: str, ending: Ending) -> Expected:
        if ending is Ending.RAISES_MID_STREAM:
            return Expected(error_type=f"{ToolFailure.__module__}.{ToolFailure.__qualname__}", outcome="failed")
        return default_expectation(ending, streamed="stream" in mode, error_type="ConnectionError")

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        try:
            await getattr(self, f"_{mode}")(observed, ending)
        except BaseException as error:  # the observation is the point
            observed.record_error(error)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        return await self.perform(mode, ending)  # LangGraph has no OpenTelemetry tracing of its own

    @staticmethod
    def _agent(observed: Observed, ending: Ending) -> Any:
        return make_agent(script_for(ending), block=ending is Ending.CANCELLED)

    async def _run(self, observed: Observed, ending: Ending) -> None:
        if ending is Ending.CONCURRENT:
            states = await asyncio.gather(
                *(
                    asyncio.to_thread(self._agent(observed, ending).invoke, GRAPH_INPUT, run_config(observed.hooks))
                    for _ in range(CONCURRENT_RUNS)
                )
            )
            observed.result = "|".join(sorted(final_text(state) for state in states))
            observed.hooks.sort()
            return
        agent = self._agent(observed, ending)
        if ending is Ending.OTHER_TASK:
            state = await asyncio.to_thread(agent.invoke, GRAPH_INPUT, run_config(observed.hooks))
        else:
            state = agent.invoke(GRAPH_INPUT, run_config(observed.hooks))
        observed.returned = state
        observed.result = final_text(state)
        observed.result_type = type(state).__name__

    async def _arun(self, observed: Observed, ending: Ending) -> None:
        def call() -> Any:
            return self._agent(observed, ending).ainvoke(GRAPH_INPUT, run_config(observed.hooks))

        if ending is Ending.CONCURRENT:
            states = await asyncio.gather(*(call() for _ in range(CONCURRENT_RUNS)))
            observed.result = "|".join(sorted(final_text(state) for state in states))
            observed.hooks.sort()
            return
        if ending is Ending.CANCELLED:
            task = asyncio.ensure_future(call())
            await _until_the_model_is_called(observed)
            task.cancel()
            await task
            return
        if ending is Ending.DROPPED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
                pending = call()
                observed.returned = type(pending)
                del pending
                gc.collect()
            return
        pending = call()
        state = await (asyncio.create_task(_await(pending)) if ending is Ending.OTHER_TASK else pending)
        observed.result = final_text(state)
        observed.result_type = type(state).__name__

    async def _stream(self, observed: Observed, ending: Ending) -> None:
        if ending is Ending.CONCURRENT:
            streams = [
                self._agent(observed, ending).stream(GRAPH_INPUT, run_config(observed.hooks), stream_mode="updates")
                for _ in range(CONCURRENT_RUNS)
            ]
            updates = await asyncio.gather(*(asyncio.to_thread(_drain, stream) for stream in streams))
            observed.updates = sorted("/".join(run) for run in updates)
            observed.hooks.sort()
            return
        stream: Any = self._agent(observed, ending).stream(
            GRAPH_INPUT, run_config(observed.hooks), stream_mode="updates"
        )
        observed.returned = stream
        if ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            for update in stream:
                observed.updates.append(describe(update))
                break
            if ending is Ending.BREAK_AND_CLOSE:
                stream.close()
            else:
                observed.returned = None
                del stream
                gc.collect()  # the generator's frame and the loop refer to each other
        elif ending is Ending.OTHER_TASK:
            observed.updates = await asyncio.to_thread(_drain, stream)
        else:
            for update in stream:
                observed.updates.append(describe(update))

    async def _astream(self, observed: Observed, ending: Ending) -> None:
        def open_stream() -> Any:
            return self._agent(observed, ending).astream(GRAPH_INPUT, run_config(observed.hooks), stream_mode="updates")

        if ending is Ending.CONCURRENT:
            runs = await asyncio.gather(*(_adrain(open_stream()) for _ in range(CONCURRENT_RUNS)))
            observed.updates = sorted("/".join(run) for run in runs)
            observed.hooks.sort()
            return
        stream: Any = open_stream()
        observed.returned = stream
        if ending is Ending.CANCELLED:
            task = asyncio.create_task(_acollect(stream, observed))
            await _until_the_model_is_called(observed)
            task.cancel()
            await task
        elif ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            async for update in stream:
                observed.updates.append(describe(update))
                break
            if ending is Ending.BREAK_AND_CLOSE:
                await stream.aclose()
            else:
                observed.returned = None
                del stream
                gc.collect()
                # The loop's async-generator finalizer closes it in a task of its own, which reports the
                # close to the callbacks a few loop iterations later (bounded: a missing report shows).
                for _ in range(200):
                    if observed.hooks[-1].startswith("chain_error"):
                        break
                    await asyncio.sleep(0)
        elif ending is Ending.OTHER_TASK:
            await asyncio.create_task(_acollect(stream, observed))
        else:
            await _acollect(stream, observed)


async def _until_the_model_is_called(observed: Observed) -> None:
    while "chat_model_start" not in observed.hooks:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.005)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _drain(stream: Iterator[Any]) -> list[str]:
    return [describe(update) for update in stream]


async def _adrain(stream: AsyncIterator[Any]) -> list[str]:
    return [describe(update) async for update in stream]


async def _acollect(stream: AsyncIterator[Any], observed: Observed) -> None:
    async for update in stream:
        observed.updates.append(describe(update))


DRIVER = LangGraphDriver()

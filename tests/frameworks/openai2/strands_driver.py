"""Strands Agents, driven offline: a scripted `strands.models.Model` subclass yielding Bedrock-style stream
events, `@strands.tool` tools, and recording hooks and callback handler."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from types import FrameType
from typing import Any

from pydantic import BaseModel
from strands import Agent, tool
from strands.hooks import AfterInvocationEvent, BeforeInvocationEvent
from strands.models import Model

from tests.scenarios import CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation

AGENT_NAME = "scribe"
MODEL_ID = "scripted-strands-v1"

# One turn of the model: the tool calls it asks for, as (name, arguments), or its answer.
Turn = list[tuple[str, dict[str, Any]]] | str


class ScriptedModel(Model):  # type: ignore[misc]  # strands is read through Any where mypy runs
    """Plays `script`, one turn per model call (the last repeats), as Bedrock-style stream events (the shapes
    strands/models/openai.py `format_chunk` makes): an answer streams one `contentBlockDelta` per word; tool call
    ids are call_1, call_2, ... in the order asked for. 10/5 tokens per answer, 3/1 per tool-call turn.
    `fail`: ConnectionError after the first word. `block`: waits forever after the first word."""

    def __init__(self, script: tuple[Turn, ...] = ("hello world",), fail: bool = False, block: bool = False) -> None:
        self.config: dict[str, Any] = {"model_id": MODEL_ID}
        self.script = script
        self.fail = fail
        self.block = block
        self.blocked = asyncio.Event()
        self.turns = 0
        self.call_ids = 0

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> Any:
        return self.config

    async def structured_output(
        self, output_model: type[Any], prompt: Any, system_prompt: str | None = None, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        if self.fail:
            raise ConnectionError("model connection dropped")
        yield {"output": output_model(text="hello world")}

    async def stream(self, messages: Any, tool_specs: Any = None, system_prompt: Any = None, **kwargs: Any) -> Any:
        turn = self.script[min(self.turns, len(self.script) - 1)]
        self.turns += 1
        yield {"messageStart": {"role": "assistant"}}
        if isinstance(turn, str):
            yield {"contentBlockStart": {"start": {}}}
            words = turn.split(" ")
            for index, word in enumerate(words):
                yield {"contentBlockDelta": {"delta": {"text": word if index == len(words) - 1 else word + " "}}}
                if self.block:
                    self.blocked.set()
                    await asyncio.Event().wait()
                if self.fail:
                    raise ConnectionError("stream dropped mid-way")
            yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "end_turn"}}
            usage = (10, 5)
        else:
            for tool_name, arguments in turn:
                self.call_ids += 1
                use = {"name": tool_name, "toolUseId": f"call_{self.call_ids}"}
                yield {"contentBlockStart": {"start": {"toolUse": use}}}
                yield {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(arguments)}}}}
                yield {"contentBlockStop": {}}
            yield {"messageStop": {"stopReason": "tool_use"}}
            usage = (3, 1)
        yield {
            "metadata": {
                "usage": {"inputTokens": usage[0], "outputTokens": usage[1], "totalTokens": sum(usage)},
                "metrics": {"latencyMs": 1},
            }
        }


class ToolFailure(RuntimeError):
    """What the `fails` tool raises."""


@tool  # type: ignore[untyped-decorator]
def echo(text: str) -> str:
    """Echoes its text."""
    return f"echo:{text}"


@tool  # type: ignore[untyped-decorator]
def fails(text: str) -> str:
    """Always fails."""
    raise ToolFailure(f"tool broke on {text}")


class Answer(BaseModel):
    text: str


def recording(calls: list[str]) -> dict[str, Any]:
    """Agent arguments that record the invocation hooks and what the callback handler is given."""

    def callback_handler(**kwargs: Any) -> None:
        if "data" in kwargs:
            calls.append(f"callback:data:{kwargs['data']}")
        elif "result" in kwargs:
            calls.append(f"callback:result:{kwargs['result'].stop_reason}")

    def before(event: BeforeInvocationEvent) -> None:
        calls.append("before_invocation")

    def after(event: AfterInvocationEvent) -> None:
        result = getattr(event, "result", None)
        calls.append(f"after_invocation:{getattr(result, 'stop_reason', None)}")

    return {"callback_handler": callback_handler, "hooks": [_Hooks(before, after)]}


class _Hooks:
    """A HookProvider registering the two recorders."""

    def __init__(self, before: Any, after: Any) -> None:
        self.before = before
        self.after = after

    def register_hooks(self, registry: Any, **kwargs: Any) -> None:
        registry.add_callback(BeforeInvocationEvent, self.before)
        registry.add_callback(AfterInvocationEvent, self.after)


def make_agent(calls: list[str], name: str = AGENT_NAME, tools: list[Any] | None = None, **model: Any) -> Agent:
    return Agent(
        name=name,
        description="writes things",
        system_prompt="Be brief.",
        model=ScriptedModel(**model),
        tools=tools,
        **recording(calls),
    )


def make_tool_agent(script: tuple[Turn, ...], tools: list[Any], name: str = AGENT_NAME, **kwargs: Any) -> Agent:
    return Agent(name=name, model=ScriptedModel(script=script), tools=tools, callback_handler=None, **kwargs)


BAD_LIMITS = {"turns": 0}  # Agent._validate_limits raises TypeError: the run's first step


def describe(event: Any) -> str:
    """An event the stream yielded, as the app would tell it apart."""
    if not isinstance(event, dict):
        return type(event).__name__
    if "data" in event:
        return f"data:{event['data']}"
    if "result" in event:
        return f"result:{event['result']}"
    return ",".join(sorted(key for key in event if key in _EVENT_KEYS)) or "other"


_EVENT_KEYS = {"init_event_loop", "start", "start_event_loop", "message", "event", "current_tool_use", "complete"}


def _result(observed: Observed, result: Any) -> None:
    observed.result = f"{result.stop_reason}:{result}"
    observed.result_type = type(result).__name__


_STRANDS_AGENT_FILE = os.path.join("strands", "agent", "agent.py")


def _in_strands_run() -> bool:
    """Whether the detach being logged is Strands' own, from `stream_async` (its run baggage and agent span are
    attached across the generator's yields, agent.py:1432-1479): the filter runs inside OpenTelemetry's detach."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "stream_async" and code.co_filename.endswith(_STRANDS_AGENT_FILE):
            return True
        frame = frame.f_back
    return False


class _DropStrandsDetachErrors(logging.Filter):
    """A stream closed by asyncio's async-generator finalizer (it was dropped) runs Strands' `finally` in another
    Context than its attach, and OpenTelemetry logs "Failed to detach context", with or without us. Only those
    records are dropped: a detach failure of ours still fails the test (conftest.no_detach_errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not ("Failed to detach context" in record.getMessage() and _in_strands_run())


@contextlib.contextmanager
def strands_detach_errors_dropped() -> Iterator[None]:
    detach_filter = _DropStrandsDetachErrors()
    otel_context_logger = logging.getLogger("opentelemetry.context")
    otel_context_logger.addFilter(detach_filter)
    try:
        yield
    finally:
        otel_context_logger.removeFilter(detach_filter)


async def let_the_loop_close_dropped_streams() -> None:
    """asyncio's async-generator finalizer schedules `aclose()` of a collected generator; let it run."""
    for _ in range(5):
        await asyncio.sleep(0)


class StrandsDriver:
    framework = "strands"
    agent_name = AGENT_NAME

    def cases(self) -> list[tuple[str, Ending]]:
        basic = [Ending.COMPLETES, Ending.RAISES_AT_CALL, Ending.RAISES_MID_STREAM, Ending.CONCURRENT]
        awaited = [*basic, Ending.CANCELLED, Ending.DROPPED, Ending.OTHER_TASK]
        streamed = [*awaited, Ending.BREAK_AND_CLOSE]
        return (
            [("call", ending) for ending in basic]
            + [("invoke_async", ending) for ending in awaited]
            + [("stream_async", ending) for ending in streamed]
            + [("structured_output_async", ending) for ending in (Ending.COMPLETES, Ending.RAISES_AT_CALL)]
        )

    def expected(self, mode: str, ending: Ending) -> Expected:
        if ending is Ending.RAISES_AT_CALL:
            return Expected(error_type="ValueError" if mode.startswith("structured") else "TypeError", outcome="failed")
        return default_expectation(ending, streamed=mode == "stream_async", error_type="ConnectionError")

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        model = {"fail": ending is Ending.RAISES_MID_STREAM, "block": ending is Ending.CANCELLED}
        with strands_detach_errors_dropped(), warnings.catch_warnings():
            # structured_output(_async) is deprecated in 1.61.1 and warns at every call.
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                await getattr(self, f"_{mode}")(observed, ending, model)
            except BaseException as error:  # the observation is the point
                observed.record_error(error)
            await let_the_loop_close_dropped_streams()
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        return await self.perform(mode, ending)  # Strands' own spans go to the global provider: none in tests

    @staticmethod
    def _limits(ending: Ending) -> dict[str, Any]:
        return {"limits": BAD_LIMITS} if ending is Ending.RAISES_AT_CALL else {}

    async def _call(self, observed: Observed, ending: Ending, model: dict[str, Any]) -> None:
        if ending is Ending.CONCURRENT:
            results = await asyncio.gather(
                *(asyncio.to_thread(make_agent(observed.hooks), "hi") for _ in range(CONCURRENT_RUNS))
            )
            observed.result = "|".join(sorted(str(result) for result in results))
            observed.hooks.sort()
            return
        result = make_agent(observed.hooks, **model)("hi", **self._limits(ending))
        observed.returned = result
        _result(observed, result)

    async def _invoke_async(self, observed: Observed, ending: Ending, model: dict[str, Any]) -> None:
        if ending is Ending.CONCURRENT:
            results = await asyncio.gather(
                *(make_agent(observed.hooks).invoke_async("hi") for _ in range(CONCURRENT_RUNS))
            )
            observed.result = "|".join(sorted(str(result) for result in results))
            observed.hooks.sort()
            return
        agent = make_agent(observed.hooks, **model)
        if ending is Ending.CANCELLED:
            task = asyncio.ensure_future(agent.invoke_async("hi"))
            await agent.model.blocked.wait()
            task.cancel()
            await task
            return
        if ending is Ending.DROPPED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
                pending = agent.invoke_async("hi")
                observed.returned = type(pending)
                del pending
                gc.collect()
            return
        pending = agent.invoke_async("hi", **self._limits(ending))
        observed.returned = pending
        result = await (asyncio.create_task(_await(pending)) if ending is Ending.OTHER_TASK else pending)
        _result(observed, result)

    async def _stream_async(self, observed: Observed, ending: Ending, model: dict[str, Any]) -> None:
        if ending is Ending.CONCURRENT:
            streams = [make_agent(observed.hooks).stream_async("hi") for _ in range(CONCURRENT_RUNS)]
            texts = await asyncio.gather(*(_collect(stream) for stream in streams))
            observed.updates = sorted("|".join(text) for text in texts)
            observed.hooks.sort()
            return
        agent = make_agent(observed.hooks, **model)
        stream: Any = agent.stream_async("hi", **self._limits(ending))
        observed.returned = stream
        if ending is Ending.CANCELLED:
            task = asyncio.create_task(_observe(stream, observed))
            await agent.model.blocked.wait()
            task.cancel()
            await task
        elif ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            async for event in stream:
                observed.updates.append(describe(event))
                break
            if ending is Ending.BREAK_AND_CLOSE:
                await stream.aclose()
            else:
                observed.returned = None
                del stream, event  # the last references: collected here, closed by asyncio's finalizer
                gc.collect()
        elif ending is Ending.OTHER_TASK:
            await asyncio.create_task(_observe(stream, observed))
        else:
            await _observe(stream, observed)

    async def _structured_output_async(self, observed: Observed, ending: Ending, model: dict[str, Any]) -> None:
        agent = make_agent(observed.hooks, **model)
        # No prompt and no history: ValueError, inside the run (after BeforeInvocationEvent).
        prompt = None if ending is Ending.RAISES_AT_CALL else "hi"
        answer = await agent.structured_output_async(Answer, prompt)
        observed.result = answer.text
        observed.result_type = type(answer).__name__


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def _observe(stream: Any, observed: Observed) -> None:
    async for event in stream:
        observed.updates.append(describe(event))


async def _collect(stream: Any) -> list[str]:
    return [event["data"] async for event in stream if "data" in event]


DRIVER = StrandsDriver()

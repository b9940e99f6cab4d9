"""Agno, driven offline: a scripted `Model` subclass and recording pre/post hooks."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

# Agno posts usage telemetry to its API after every run unless told not to (agno/agent/_init.py:64).
os.environ["AGNO_TELEMETRY"] = "false"

from agno.agent import Agent
from agno.db.in_memory import InMemoryDb
from agno.metrics import MessageMetrics
from agno.models.base import Model
from agno.models.response import ModelResponse
from agno.run.background import await_background_runs
from agno.team import Team
from pydantic import BaseModel

from tests.scenarios import CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation

AGENT_NAME = "scribe"
MODEL_ID = "scripted-agno-v1"


def usage(input_tokens: int, output_tokens: int) -> MessageMetrics:
    return MessageMetrics(
        input_tokens=input_tokens, output_tokens=output_tokens, total_tokens=input_tokens + output_tokens
    )


@dataclass
class ScriptedModel(Model):
    """Answers "hello world" (two chunks when streamed, 10/5 tokens); or fails, or blocks."""

    id: str = MODEL_ID
    name: str | None = "Scripted"
    provider: str | None = "ScriptedProvider"
    fail: bool = False  # ConnectionError: at the call (non-stream) or after the first chunk (stream)
    block: bool = False  # wait forever (after the first chunk when streamed), to be cancelled
    text: str = "hello world"

    def invoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        if self.fail:
            raise ConnectionError("model connection dropped")
        return ModelResponse(role="assistant", content=self.text, response_usage=usage(10, 5))

    async def ainvoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        if self.block:
            await asyncio.Event().wait()
        return self.invoke()

    def invoke_stream(self, *args: Any, **kwargs: Any) -> Iterator[ModelResponse]:
        yield ModelResponse(role="assistant", content="hello ")
        if self.fail:
            raise ConnectionError("stream dropped mid-way")
        yield ModelResponse(content="world", response_usage=usage(10, 5))

    async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ModelResponse]:
        yield ModelResponse(role="assistant", content="hello ")
        if self.block:
            await asyncio.Event().wait()
        if self.fail:
            raise ConnectionError("stream dropped mid-way")
        yield ModelResponse(content="world", response_usage=usage(10, 5))

    def _parse_provider_response(self, response: Any, **kwargs: Any) -> Any:
        return response

    def _parse_provider_response_delta(self, response: Any) -> Any:
        return response


# One turn of a tool-calling model: the tool calls it asks for, as (name, arguments), or its answer.
Turn = list[tuple[str, dict[str, Any]]] | str


@dataclass
class ToolCallingModel(ScriptedModel):
    """Plays `script`, one turn per model call (the last repeats); tool call ids are call_1, call_2, ...
    in the order the calls are asked for. Streamed, each turn is one chunk."""

    script: tuple[Turn, ...] = ("hello world",)
    turns: int = 0
    call_ids: int = 0

    def _turn(self) -> ModelResponse:
        turn = self.script[min(self.turns, len(self.script) - 1)]
        self.turns += 1
        if isinstance(turn, str):
            return ModelResponse(role="assistant", content=turn, response_usage=usage(10, 5))
        calls = []
        for tool, arguments in turn:
            self.call_ids += 1
            function = {"name": tool, "arguments": json.dumps(arguments)}
            calls.append({"id": f"call_{self.call_ids}", "type": "function", "function": function})
        return ModelResponse(role="assistant", tool_calls=calls, response_usage=usage(3, 1))

    def invoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._turn()

    async def ainvoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._turn()

    def invoke_stream(self, *args: Any, **kwargs: Any) -> Iterator[ModelResponse]:
        yield self._turn()

    async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ModelResponse]:
        yield self._turn()


class ToolFailure(RuntimeError):
    """What the `fails` tool raises."""


def echo(text: str) -> str:
    """Echoes its text."""
    return f"echo:{text}"


async def aecho(text: str) -> str:
    """Echoes its text, awaited."""
    return f"aecho:{text}"


def fails(text: str) -> str:
    """Always fails."""
    raise ToolFailure(f"tool broke on {text}")


def make_tool_agent(script: tuple[Turn, ...], tools: list[Any], name: str = AGENT_NAME) -> Agent:
    return Agent(name=name, model=ToolCallingModel(script=script), tools=tools, telemetry=False)


class StrictInput(BaseModel):
    x: int


BAD_INPUT = {"x": "not-an-int"}  # input_schema validation fails at call time (agent/_run.py:1374)


def recording_hooks(calls: list[str]) -> dict[str, Any]:
    def pre_hook(run_input: Any, **kwargs: Any) -> None:
        calls.append("pre_hook")

    def post_hook(run_output: Any, **kwargs: Any) -> None:
        calls.append(f"post_hook:{getattr(run_output, 'content', None)!r}")

    return {"pre_hooks": [pre_hook], "post_hooks": [post_hook]}


def make_agent(calls: list[str], strict: bool = False, **model: Any) -> Agent:
    return Agent(
        name=AGENT_NAME,
        description="writes things",
        instructions="Be brief.",
        model=ScriptedModel(**model),
        input_schema=StrictInput if strict else None,
        telemetry=False,
        **recording_hooks(calls),
    )


def make_team(calls: list[str], input_schema: type[BaseModel] | None = None, **model: Any) -> Team:
    # Named like the agent: the lifecycle table checks every span's name against one agent_name.
    model.pop("strict", None)
    return Team(
        name=AGENT_NAME,
        members=[make_agent([])],
        model=ScriptedModel(**model),
        telemetry=False,
        input_schema=input_schema,
        **recording_hooks(calls),
    )


def describe(item: Any) -> str:
    text = type(item).__name__
    error_type = getattr(item, "error_type", None)
    if error_type:
        return f"{text}({error_type}: {getattr(item, 'content', None)})"
    content = getattr(item, "content", None)
    return f"{text}({content})" if isinstance(content, str) else text


def _result(observed: Observed, output: Any) -> None:
    observed.result = f"{output.status.value}:{output.content}"
    observed.result_type = type(output).__name__


class AgnoDriver:
    framework = "agno"
    agent_name = AGENT_NAME

    def cases(self) -> list[tuple[str, Ending]]:
        basic = [Ending.COMPLETES, Ending.RAISES_AT_CALL, Ending.RAISES_MID_STREAM, Ending.CONCURRENT]
        awaited = [*basic, Ending.CANCELLED, Ending.OTHER_TASK]
        streamed = [*basic, Ending.BREAK_AND_CLOSE, Ending.DROPPED, Ending.OTHER_TASK]
        return (
            [("run", ending) for ending in basic]
            + [("arun", ending) for ending in [*awaited, Ending.DROPPED]]
            + [("arun_stream", ending) for ending in [*streamed, Ending.CANCELLED]]
            + [("run_stream", ending) for ending in streamed]
            + [("team_arun", ending) for ending in awaited]
            + [("arun_background", ending) for ending in [Ending.COMPLETES, Ending.RAISES_MID_STREAM, Ending.DROPPED]]
        )

    def expected(self, mode: str, ending: Ending) -> Expected:
        if ending is Ending.RAISES_AT_CALL:
            return Expected(error_type="ValueError", outcome="failed")
        if ending is Ending.RAISES_MID_STREAM:
            # Returned, not raised: the run call completes and the span is ERROR. A non-stream Agent
            # run keeps no error type (_OTHER); streams and teams carry agno's error event.
            error_type = "_OTHER" if mode in ("run", "arun", "arun_background") else "ConnectionError"
            # A background run's span ends with its task, from the status agno left: failed.
            return Expected(error_type=error_type, outcome="failed")
        return default_expectation(ending, streamed="stream" in mode, error_type="ValueError")

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        model: dict[str, Any] = {
            "fail": ending is Ending.RAISES_MID_STREAM,
            "block": ending is Ending.CANCELLED,
            "strict": ending is Ending.RAISES_AT_CALL,
        }
        try:
            if mode == "team_arun":
                await self._team_arun(observed, ending, model)
            elif mode in ("run", "arun", "arun_background"):
                await getattr(self, f"_{mode}")(observed, ending, model)
            else:
                await getattr(self, f"_{mode}")(make_agent(observed.hooks, **model), observed, ending)
        except BaseException as error:  # the observation is the point
            observed.record_error(error)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        return await self.perform(mode, ending)  # agno core has no tracing of its own

    @staticmethod
    def _input(model: dict[str, Any]) -> Any:
        return BAD_INPUT if model.get("strict") else "hi"

    async def _run(self, observed: Observed, ending: Ending, model: dict[str, Any]) -> None:
        if ending is Ending.CONCURRENT:
            outputs = await asyncio.gather(
                *(asyncio.to_thread(make_agent(observed.hooks).run, "hi") for _ in range(CONCURRENT_RUNS))
            )
            observed.result = "|".join(sorted(str(o.content) for o in outputs))
            observed.hooks.sort()
            return
        output = make_agent(observed.hooks, **model).run(self._input(model))
        observed.returned = output
        _result(observed, output)

    async def _arun(self, observed: Observed, ending: Ending, model: dict[str, Any]) -> None:
        await self._awaited(lambda: make_agent(observed.hooks, **model).arun(self._input(model)), observed, ending)

    async def _arun_background(self, observed: Observed, ending: Ending, model: dict[str, Any]) -> None:
        agent = make_agent(observed.hooks, **model)
        agent.db = InMemoryDb()  # type: ignore[no-untyped-call]  # background runs need one; agno leaves it untyped
        if ending is Ending.DROPPED:
            await self._awaited(lambda: agent.arun("hi", background=True), observed, ending)
            return
        output = await agent.arun("hi", background=True)
        observed.updates.append(output.status.value)  # what the call returned: PENDING, the run goes on
        await await_background_runs()
        _result(observed, output)

    async def _team_arun(self, observed: Observed, ending: Ending, model: dict[str, Any]) -> None:
        if ending is Ending.RAISES_AT_CALL:
            await make_team(observed.hooks, input_schema=StrictInput).arun(BAD_INPUT)  # raises at the call
            return
        await self._awaited(lambda: make_team(observed.hooks, **model).arun("hi"), observed, ending)

    async def _awaited(self, call: Any, observed: Observed, ending: Ending) -> None:
        if ending is Ending.CONCURRENT:
            outputs = await asyncio.gather(*(call() for _ in range(CONCURRENT_RUNS)))
            observed.result = "|".join(sorted(o.content for o in outputs))
            observed.hooks.sort()
            return
        if ending is Ending.CANCELLED:
            task = asyncio.ensure_future(call())
            while not observed.hooks:  # the pre_hook ran: the run is under way
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.005)
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
        observed.returned = pending
        output = await (asyncio.create_task(_await(pending)) if ending is Ending.OTHER_TASK else pending)
        _result(observed, output)

    async def _arun_stream(self, agent: Agent, observed: Observed, ending: Ending) -> None:
        if ending is Ending.CONCURRENT:
            streams = [make_agent(observed.hooks).arun("hi", stream=True) for _ in range(CONCURRENT_RUNS)]
            texts = await asyncio.gather(*(_adrain(s) for s in streams))
            observed.updates = sorted("".join(t) for t in texts)
            observed.hooks.sort()
            return
        stream: Any = agent.arun(BAD_INPUT if agent.input_schema else "hi", stream=True, stream_events=True)
        observed.returned = stream
        if ending is Ending.CANCELLED:
            task = asyncio.create_task(_acollect(stream, observed))
            while "RunContentEvent(hello )" not in observed.updates:
                await asyncio.sleep(0.001)
            task.cancel()
            await task
        elif ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            async for item in stream:
                observed.updates.append(describe(item))
                break
            if ending is Ending.BREAK_AND_CLOSE:
                await stream.aclose()
            else:
                observed.returned = None
                del stream  # the last reference: CPython finalizes it here, no gc pass needed
        elif ending is Ending.OTHER_TASK:
            await asyncio.create_task(_acollect(stream, observed))
        else:
            await _acollect(stream, observed)

    async def _run_stream(self, agent: Agent, observed: Observed, ending: Ending) -> None:
        if ending is Ending.CONCURRENT:
            streams = [make_agent(observed.hooks).run("hi", stream=True) for _ in range(CONCURRENT_RUNS)]
            texts = await asyncio.gather(*(asyncio.to_thread(_drain, s) for s in streams))
            observed.updates = sorted("".join(t) for t in texts)
            observed.hooks.sort()
            return
        stream: Any = agent.run(BAD_INPUT if agent.input_schema else "hi", stream=True, stream_events=True)
        observed.returned = stream
        if ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            for item in stream:
                observed.updates.append(describe(item))
                break
            if ending is Ending.BREAK_AND_CLOSE:
                stream.close()
            else:
                observed.returned = None
                del stream  # the last reference: CPython finalizes it here, no gc pass needed
        elif ending is Ending.OTHER_TASK:
            observed.updates = await asyncio.to_thread(lambda: [describe(item) for item in stream])
        else:
            observed.updates = [describe(item) for item in stream]


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def _acollect(stream: Any, observed: Observed) -> None:
    async for item in stream:
        observed.updates.append(describe(item))


async def _adrain(stream: Any) -> list[str]:
    return [item.content async for item in stream if isinstance(getattr(item, "content", None), str)]


def _drain(stream: Any) -> list[str]:
    return [item.content for item in stream if isinstance(getattr(item, "content", None), str)]


DRIVER = AgnoDriver()

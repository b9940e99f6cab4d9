"""Pydantic AI, driven offline: a FunctionModel scripted by the prompt and a capability recording the run hooks."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import Agent, ModelRetry, ToolFailed
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from tests.scenarios import CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation


class ModelFailure(RuntimeError):
    """What the scripted model raises."""


MODEL_FAILURE = f"{ModelFailure.__module__}.{ModelFailure.__qualname__}"
USER_ERROR = "pydantic_ai.exceptions.UserError"
CHUNKS = ("c0 ", "c1 ", "c2 ")


def _prompt(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


async def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    prompt = _prompt(messages)
    if prompt == "fail":
        raise ModelFailure("model failed")
    if prompt == "block":
        await asyncio.Event().wait()
    return ModelResponse(parts=[TextPart("".join(CHUNKS))])


async def _stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
    prompt = _prompt(messages)
    for index, chunk in enumerate(CHUNKS):
        if prompt == "fail" and index == 1:
            raise ModelFailure(f"model failed after {index} chunks")
        if prompt == "block" and index == 1:
            await asyncio.Event().wait()
        yield chunk
        await asyncio.sleep(0)


@dataclass
class Recorder(AbstractCapability[Any]):
    """Records the run hooks in the order pydantic-ai fires them."""

    calls: list[str] = field(default_factory=list)

    async def before_run(self, ctx: Any) -> None:
        self.calls.append("before_run")

    async def after_run(self, ctx: Any, *, result: Any) -> Any:
        self.calls.append("after_run")
        return result

    async def on_run_error(self, ctx: Any, *, error: BaseException) -> Any:
        self.calls.append(f"on_run_error({type(error).__name__})")
        raise error

    async def wrap_run(self, ctx: Any, *, handler: Any) -> Any:
        self.calls.append("wrap_run:enter")
        try:
            result = await handler()
        except BaseException as error:
            self.calls.append(f"wrap_run:raised({type(error).__name__})")
            raise
        self.calls.append("wrap_run:return")
        return result


def make_agent(calls: list[str], name: str | None = "scripted") -> Agent[None, str]:
    model = FunctionModel(_respond, stream_function=_stream, model_name="fn-model")
    return Agent(model, name=name, instructions="Be terse.", capabilities=[Recorder(calls)])


TOOL_ANSWER = "looked up"


def _tool_returned(messages: list[ModelMessage]) -> bool:
    return any(
        isinstance(part, ToolReturnPart)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
    )


async def _respond_with_tool(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    if _tool_returned(messages):
        return ModelResponse(parts=[TextPart(TOOL_ANSWER)])
    return ModelResponse(parts=[ToolCallPart("lookup", {}, tool_call_id="call-1")])


async def _stream_with_tool(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
    if _tool_returned(messages):
        yield TOOL_ANSWER
    else:
        yield {0: DeltaToolCall(name="lookup", json_args="{}", tool_call_id="call-1")}


def make_tool_agent(on_tool: Callable[[], object] = lambda: None) -> Agent[None, str]:
    """An agent whose model calls its `lookup` tool once (which calls `on_tool`), then answers TOOL_ANSWER."""
    model = FunctionModel(_respond_with_tool, stream_function=_stream_with_tool, model_name="fn-model")
    agent = Agent(model, name="scripted")

    @agent.tool_plain
    def lookup() -> str:
        on_tool()
        return "found"

    return agent


class ToolFailure(RuntimeError):
    """What the `fatal` tool raises."""


TOOL_FAILURE = f"{ToolFailure.__module__}.{ToolFailure.__qualname__}"


def make_tools_agent(*tool_names: str) -> Agent[None, str]:
    """`looker`, whose model calls each named tool (call ids c1, c2, ... in one response, run or streamed),
    then answers "done". Its tools: `lookup` (sync, returns), `broken` (async, raises ModelRetry: the model
    is asked to retry), `refused` (raises ToolFailed: the model is told the call failed), `fatal` (async,
    raises ToolFailure: the run fails)."""
    calls = [(tool_name, f"c{index}") for index, tool_name in enumerate(tool_names, 1)]

    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if _tool_returned(messages):
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(
            parts=[ToolCallPart(tool, {"word": "otter"}, tool_call_id=call_id) for tool, call_id in calls]
        )

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
        if _tool_returned(messages):
            yield "done"
            return
        yield {
            index: DeltaToolCall(name=tool, json_args='{"word": "otter"}', tool_call_id=call_id)
            for index, (tool, call_id) in enumerate(calls)
        }

    agent = Agent(FunctionModel(respond, stream_function=stream, model_name="fn-model"), name="looker")

    @agent.tool_plain
    def lookup(word: str) -> str:
        """Looks a word up."""
        return f"{word}: found"

    @agent.tool_plain(retries=3)
    async def broken(word: str) -> str:
        """Looks a word up, and asks for another."""
        raise ModelRetry(f"no entry for {word}, try another word")

    @agent.tool_plain
    def refused(word: str) -> str:
        """Refuses every word."""
        raise ToolFailed(f"will not look up {word}")

    @agent.tool_plain
    async def fatal(word: str) -> str:
        """Fails, and the run with it."""
        raise ToolFailure(f"fatal lookup of {word}")

    return agent


def _error(observed: Observed, error: BaseException) -> None:
    observed.error = error
    observed.error_type = f"{type(error).__module__}.{type(error).__qualname__}"
    observed.error_message = str(error)


def _prompt_for(ending: Ending) -> str:
    return {Ending.RAISES_MID_STREAM: "fail", Ending.CANCELLED: "block"}.get(ending, "ok")


class PydanticAIDriver:
    framework = "pydantic_ai"
    agent_name = "scripted"

    def cases(self) -> list[tuple[str, Ending]]:
        common = [
            Ending.COMPLETES,
            Ending.RAISES_AT_CALL,
            Ending.RAISES_MID_STREAM,
            Ending.CANCELLED,
            Ending.OTHER_TASK,
            Ending.CONCURRENT,
        ]
        stream = [*common, Ending.BREAK_AND_CLOSE, Ending.FINAL_WITHOUT_ITERATING]
        events = [*common, Ending.BREAK_AND_CLOSE, Ending.DROPPED]
        iterate = [
            Ending.COMPLETES,
            Ending.RAISES_AT_CALL,
            Ending.RAISES_MID_STREAM,
            Ending.BREAK_AND_CLOSE,
            Ending.CONCURRENT,
        ]
        # iter() streaming each node's events with node.stream(run.ctx): the model fails or blocks in a pull.
        iterate_nodes = [*iterate, Ending.CANCELLED]
        # run_stream dropped without __aexit__ is left out: pydantic-ai 2.68.0 itself then fails in the
        # asyncgen finalizer task and re-cancels the entering task (notes/pydantic_ai.md, section 6.2).
        return (
            [("run", e) for e in [*common, Ending.DROPPED]]
            + [("stream", e) for e in stream]
            + [("events", e) for e in events]
            + [("iter", e) for e in iterate]
            + [("iter_nodes", e) for e in iterate_nodes]
        )

    def expected(self, mode: str, ending: Ending) -> Expected:
        if ending is Ending.RAISES_AT_CALL:
            return Expected(error_type=USER_ERROR, outcome="failed")
        return default_expectation(ending, streamed=mode != "run", error_type=MODEL_FAILURE)

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        agent = make_agent(observed.hooks)
        try:
            if ending is Ending.CONCURRENT:
                await self._concurrent(mode, observed)
            else:
                await getattr(self, f"_{mode}")(agent, ending, observed)
        except BaseException as error:
            _error(observed, error)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        # pydantic-ai's own instrumentation is off by default: nothing to turn off.
        return await self.perform(mode, ending)

    async def _run(self, agent: Agent[None, str], ending: Ending, observed: Observed) -> None:
        kwargs: dict[str, Any] = {"run_id": ""} if ending is Ending.RAISES_AT_CALL else {}
        if ending is Ending.CANCELLED:
            task = asyncio.ensure_future(agent.run("block"))
            while "before_run" not in observed.hooks:
                await asyncio.sleep(0)  # loop turns, not wall time: the same point bare and instrumented
            task.cancel()
            await task
        elif ending is Ending.DROPPED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
                pending = agent.run("ok")
                observed.returned = type(pending)
                del pending
                gc.collect()
        elif ending is Ending.OTHER_TASK:
            pending = agent.run("ok")
            result = await asyncio.create_task(_await(pending))
            observed.result = result.output
        else:
            pending = agent.run(_prompt_for(ending), **kwargs)
            observed.returned = pending
            result = await pending
            observed.result = result.output
            observed.result_type = type(result).__name__

    async def _stream(self, agent: Agent[None, str], ending: Ending, observed: Observed) -> None:
        kwargs: dict[str, Any] = {"run_id": ""} if ending is Ending.RAISES_AT_CALL else {}
        manager = agent.run_stream(_prompt_for(ending), **kwargs)
        observed.returned = manager
        if ending is Ending.CANCELLED:
            task = asyncio.create_task(_stream_text(manager, observed))
            while not observed.updates:
                await asyncio.sleep(0)  # loop turns, not wall time: the same point bare and instrumented
            task.cancel()
            await task
        elif ending is Ending.OTHER_TASK:
            await asyncio.create_task(_stream_text(manager, observed))
        elif ending is Ending.BREAK_AND_CLOSE:
            async with manager as result:
                async for text in result.stream_text(delta=True, debounce_by=None):
                    observed.updates.append(text)
                    break
        elif ending is Ending.FINAL_WITHOUT_ITERATING:
            async with manager as result:
                observed.result = await result.get_output()
        else:
            await _stream_text(manager, observed)

    async def _events(self, agent: Agent[None, str], ending: Ending, observed: Observed) -> None:
        kwargs: dict[str, Any] = {"run_id": ""} if ending is Ending.RAISES_AT_CALL else {}
        manager = agent.run_stream_events(_prompt_for(ending), **kwargs)
        observed.returned = manager
        if ending is Ending.CANCELLED:
            task = asyncio.create_task(_events(manager, observed))
            while not observed.updates:
                await asyncio.sleep(0)  # loop turns, not wall time: the same point bare and instrumented
            task.cancel()
            await task
        elif ending is Ending.OTHER_TASK:
            # Entered, iterated and exited in three different tasks (works uninstrumented too).
            events = await asyncio.create_task(manager.__aenter__())
            observed.updates = await asyncio.create_task(_names(events))
            await asyncio.create_task(manager.__aexit__(None, None, None))
        elif ending is Ending.BREAK_AND_CLOSE:
            async with manager as events:
                async for event in events:
                    observed.updates.append(type(event).__name__)
                    break
        elif ending is Ending.DROPPED:
            events = await manager.__aenter__()
            observed.updates.append(type(await events.__anext__()).__name__)
            # Kept by the harness only, to close it after the test: pydantic-ai otherwise warns
            # "Unclosed <MemoryObjectReceiveStream>" at collection, with or without us.
            receive_stream = events._receive_stream
            del manager, events
            observed.returned = None
            gc.collect()
            await _cancel_orphaned_runs()
            receive_stream.close()
        else:
            await _events(manager, observed)

    async def _iter(self, agent: Agent[None, str], ending: Ending, observed: Observed) -> None:
        kwargs: dict[str, Any] = {"run_id": ""} if ending is Ending.RAISES_AT_CALL else {}
        manager = agent.iter(_prompt_for(ending), **kwargs)
        observed.returned = manager
        async with manager as run:
            async for node in run:
                observed.updates.append(type(node).__name__)
                if ending is Ending.BREAK_AND_CLOSE:
                    break
            if run.result is not None:
                observed.result = run.result.output

    async def _iter_nodes(self, agent: Agent[None, str], ending: Ending, observed: Observed) -> None:
        kwargs: dict[str, Any] = {"run_id": ""} if ending is Ending.RAISES_AT_CALL else {}
        manager = agent.iter(_prompt_for(ending), **kwargs)
        observed.returned = manager
        if ending is Ending.CANCELLED:
            task = asyncio.create_task(_stream_nodes(manager, observed))
            while not any(update.startswith("Part") for update in observed.updates):
                await asyncio.sleep(0)  # loop turns, not wall time: the same point bare and instrumented
            task.cancel()
            await task
        else:
            await _stream_nodes(manager, observed, stop_at_first_event=ending is Ending.BREAK_AND_CLOSE)

    async def _concurrent(self, mode: str, observed: Observed) -> None:
        agents = [make_agent(observed.hooks) for _ in range(CONCURRENT_RUNS)]
        if mode == "run":
            results = await asyncio.gather(*(a.run("ok") for a in agents))
            outputs = [r.output for r in results]
        else:
            per_run = [Observed() for _ in agents]
            runners = {"stream": _stream_text, "events": _events, "iter": _iterate, "iter_nodes": _stream_nodes}
            entries = {"stream": "run_stream", "events": "run_stream_events", "iter": "iter", "iter_nodes": "iter"}
            managers = [getattr(a, entries[mode])("ok") for a in agents]
            await asyncio.gather(*(runners[mode](m, o) for m, o in zip(managers, per_run, strict=True)))
            outputs = ["".join(o.updates) for o in per_run]
        observed.result = "|".join(sorted(outputs))
        observed.hooks.sort()


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def _stream_text(manager: Any, observed: Observed) -> None:
    async with manager as result:
        async for text in result.stream_text(delta=True, debounce_by=None):
            observed.updates.append(text)
        observed.result = await result.get_output()
        observed.result_type = result.__class__.__name__  # a proxy: type() differs, __class__ does not


async def _events(manager: Any, observed: Observed) -> None:
    async with manager as events:
        async for event in events:
            observed.updates.append(type(event).__name__)
        observed.result = events.result.output if events.result is not None else None
        observed.result_type = events.__class__.__name__  # a proxy: type() differs, __class__ does not


async def _iterate(manager: Any, observed: Observed) -> None:
    async with manager as run:
        async for node in run:
            observed.updates.append(type(node).__name__)


async def _stream_nodes(manager: Any, observed: Observed, stop_at_first_event: bool = False) -> None:
    """pydantic-ai's way to stream every event of an `iter()` run: each model request's and tool call
    step's events through `node.stream(run.ctx)`; updates are the node and event class names."""
    stream: AsyncIterable[Any]  # an AgentStream or a tool call step's events
    async with manager as run:
        async for node in run:
            observed.updates.append(type(node).__name__)
            if Agent.is_model_request_node(node) or Agent.is_call_tools_node(node):
                async with node.stream(run.ctx) as stream:
                    async for event in stream:
                        observed.updates.append(type(event).__name__)
                        if stop_at_first_event:
                            break
                if stop_at_first_event:
                    break
        if run.result is not None:
            observed.result = run.result.output


async def _names(events: Any) -> list[str]:
    return [type(event).__name__ async for event in events]


async def _cancel_orphaned_runs() -> None:
    """An `AgentRunEvents` dropped without `__aexit__` leaves its run task blocked forever (pydantic-ai
    2.68.0, agent/abstract.py:318); the test ends it so the loop closes cleanly, as it would at shutdown."""
    orphans = [t for t in asyncio.all_tasks() if "AgentRunEvents" in t.get_coro().__qualname__]  # type: ignore[union-attr]
    for task in orphans:
        task.cancel()
    await asyncio.gather(*orphans, return_exceptions=True)
    gc.collect()


DRIVER = PydanticAIDriver()

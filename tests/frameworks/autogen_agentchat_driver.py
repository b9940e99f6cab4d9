"""AutoGen AgentChat, driven offline: a scripted ChatCompletionClient that records its calls.

Modes: "run" (AssistantAgent.run), "stream" (AssistantAgent.run_stream with model streaming on),
"team_run" and "team_stream" (RoundRobinGroupChat of two agents, max_turns=2, model streaming off): a
team's run is an `invoke_workflow` span, the table's run span; each member turn's `invoke_agent` span
under it is checked by tests/test_autogen_agentchat.py (the member outcomes differ from the team's).
Two autogen-agentchat 0.7.5 hangs are kept out of the scenarios: cancelling a team's task waits for the
in-flight model call (the team's `finally` awaits `stop_when_idle`), so teams are cancelled the
framework's way, through their CancellationToken; and a streaming-model team hangs on its next run after
a model error, so team failures use a non-streaming model (and every scenario builds a fresh team).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import sys
import warnings
from collections.abc import AsyncGenerator, Awaitable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import CancellationToken, FunctionCall
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    ModelFamily,
    ModelInfo,
    RequestUsage,
)
from autogen_core.tools import FunctionTool, Tool, ToolSchema

from tests.scenarios import AWAITED_ENDINGS, CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation


class ModelFailure(Exception):
    """What the scripted model raises."""


MODEL_FAILURE = f"{ModelFailure.__module__}.{ModelFailure.__qualname__}"
MODEL = "fake-1"


@dataclass
class Script:
    text: str = "hello world"
    fail: bool = False  # raise ModelFailure (after one chunk when streaming)
    block: bool = False  # wait until cancelled (after one chunk when streaming)
    calls: list[str] = field(default_factory=list)
    blocked: asyncio.Event = field(default_factory=asyncio.Event)


class ScriptedClient(ChatCompletionClient):
    """Answers `script.text` with usage (3 prompt tokens, one completion token per word), or fails/blocks."""

    def __init__(self, script: Script) -> None:
        self.script = script
        # Where OpenAI/Anthropic/Ollama clients keep the model name (read by the adapter).
        self._create_args = {"model": MODEL}

    def _result(self) -> CreateResult:
        usage = RequestUsage(prompt_tokens=3, completion_tokens=len(self.script.text.split()))
        return CreateResult(finish_reason="stop", content=self.script.text, usage=usage, cached=False)

    async def _block(self, token: CancellationToken | None) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if token is not None:
            token.link_future(waiter)
        self.script.blocked.set()
        await waiter

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Any = "auto",
        json_output: Any = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        self.script.calls.append("create")
        await asyncio.sleep(0)
        if self.script.fail:
            raise ModelFailure("model failed")
        if self.script.block:
            await self._block(cancellation_token)
        return self._result()

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Any = "auto",
        json_output: Any = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
        max_consecutive_empty_chunk_tolerance: int = 0,
    ) -> AsyncGenerator[str | CreateResult, None]:
        self.script.calls.append("create_stream")
        for index, word in enumerate(self.script.text.split()):
            await asyncio.sleep(0)
            yield word + " "
            if index == 0 and self.script.fail:
                raise ModelFailure("model failed mid-stream")
            if index == 0 and self.script.block:
                await self._block(cancellation_token)
        yield self._result()

    async def close(self) -> None:
        pass

    def actual_usage(self) -> RequestUsage:
        return RequestUsage(prompt_tokens=0, completion_tokens=0)

    def total_usage(self) -> RequestUsage:
        return RequestUsage(prompt_tokens=0, completion_tokens=0)

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = ()) -> int:
        return 0

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = ()) -> int:
        return 10_000

    @property
    def capabilities(self) -> Any:
        return self.model_info

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            vision=False, function_calling=False, json_output=False, family=ModelFamily.UNKNOWN, structured_output=False
        )


class GatedClient(ScriptedClient):
    """A ScriptedClient whose answer waits until `gate` is set; `script.blocked` is set once it waits."""

    def __init__(self, script: Script, gate: asyncio.Event) -> None:
        super().__init__(script)
        self.gate = gate

    async def create(self, messages: Sequence[LLMMessage], **kwargs: Any) -> CreateResult:
        self.script.blocked.set()
        await self.gate.wait()
        return await super().create(messages, **kwargs)


class ToolFailure(Exception):
    """What the failing tool raises."""


def lookup(word: str) -> str:
    """Looks a word up."""
    return f"{word}: a word"


def explode() -> str:
    """Always fails."""
    raise ToolFailure("tool failed")


TOOLS = [FunctionTool(lookup, description="Looks a word up"), FunctionTool(explode, description="Always fails")]


class ToolCallingClient(ScriptedClient):
    """Asks for two tool calls on its first answer (`lookup`, id call-1, and `explode`, id call-2), then
    answers `script.text`."""

    def _result(self) -> CreateResult:
        usage = RequestUsage(prompt_tokens=3, completion_tokens=1)
        if self.script.calls.count("create") > 1:
            return super()._result()
        calls = [
            FunctionCall(id="call-1", name="lookup", arguments='{"word": "otter"}'),
            FunctionCall(id="call-2", name="explode", arguments="{}"),
        ]
        return CreateResult(finish_reason="function_calls", content=calls, usage=usage, cached=False)

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            vision=False, function_calling=True, json_output=False, family=ModelFamily.UNKNOWN, structured_output=False
        )


def make_agent(
    script: Script, name: str = "scripted", stream: bool = False, client: ChatCompletionClient | None = None
) -> AssistantAgent:
    return AssistantAgent(
        name,
        model_client=client or ScriptedClient(script),
        model_client_stream=stream,
        description="An offline scripted agent",
    )


def make_tool_agent(script: Script, name: str = "scripted") -> AssistantAgent:
    """An AssistantAgent with TOOLS whose model calls both (one succeeds, one raises) and then replies."""
    return AssistantAgent(
        name,
        model_client=ToolCallingClient(script),
        tools=[*TOOLS],
        reflect_on_tool_use=True,
        description="An offline agent with tools",
    )


def make_team(
    script: Script, members: Sequence[str] = ("a1", "a2"), agents: Sequence[AssistantAgent] = ()
) -> RoundRobinGroupChat:
    """Members named `members` on `script`'s model, or the given `agents`; one turn each (max_turns=2)."""
    return RoundRobinGroupChat(
        list(agents) or [make_agent(script, name) for name in members],
        max_turns=len(agents or members),
        name="scripted",
        description="An offline scripted team",
    )


def describe(item: Any) -> str:
    if isinstance(item, TaskResult):
        return f"TaskResult({[describe(m) for m in item.messages]}, stop_reason={item.stop_reason!r})"
    return f"{type(item).__name__}({getattr(item, 'source', '?')}:{getattr(item, 'content', '')!r})"


def _error(observed: Observed, error: BaseException) -> None:
    observed.error = error
    observed.error_type = type(error).__name__
    # A team's RuntimeError carries the member's traceback text; its frames are not the app's view.
    observed.error_message = (str(error).splitlines() or [""])[0]


def _in_framework_span() -> bool:
    """Whether the detach being logged is autogen-core's own invoke_agent span's: its
    `trace_invoke_agent_span` frame is on the stack (the filter runs inside OpenTelemetry's `detach`),
    leaving a block entered in another context (a generator resumed or closed from another task or GC)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "trace_invoke_agent_span" and code.co_filename.endswith(_FRAMEWORK_SPAN_FILE):
            return True
        frame = frame.f_back
    return False


_FRAMEWORK_SPAN_FILE = os.path.join("autogen_core", "_telemetry", "_genai.py")


class _DropFrameworkDetachErrors(logging.Filter):
    """autogen-core keeps its own invoke_agent span attached across run_stream's yields
    (_base_chat_agent.py:170), so a bare run's generator closed from GC or another task makes
    OpenTelemetry log "Failed to detach context": the framework's, not the agent's behaviour. Only those
    records are dropped, so a detach failure of ours still fails the test (conftest.no_detach_errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not ("Failed to detach context" in record.getMessage() and _in_framework_span())


@contextlib.contextmanager
def framework_detach_errors_dropped() -> Iterator[None]:
    """While it is open, autogen-core's own detach failures (`_DropFrameworkDetachErrors`) are not logged."""
    detach_filter = _DropFrameworkDetachErrors()
    otel_context_logger = logging.getLogger("opentelemetry.context")
    otel_context_logger.addFilter(detach_filter)
    try:
        yield
    finally:
        otel_context_logger.removeFilter(detach_filter)


class AutogenAgentChatDriver:
    framework = "autogen_agentchat"
    agent_name = "scripted"

    def cases(self) -> list[tuple[str, Ending]]:
        no_final = [ending for ending in Ending if ending is not Ending.FINAL_WITHOUT_ITERATING]
        run = AWAITED_ENDINGS
        return (
            [("run", e) for e in run]
            + [("stream", e) for e in no_final]
            + [("team_run", e) for e in run]
            + [("team_stream", e) for e in no_final]
        )

    def expected(self, mode: str, ending: Ending) -> Expected:
        team = mode.startswith("team")
        if ending is Ending.RAISES_AT_CALL:  # task=[]: "Task list cannot be empty."
            expected = Expected(error_type="ValueError", outcome="failed")
        else:
            # Teams re-raise a member's failure as RuntimeError (autogen-agentchat 0.7.5).
            failure = "RuntimeError" if team else MODEL_FAILURE
            expected = default_expectation(ending, streamed=mode.endswith("stream"), error_type=failure)
        # A team's run is a workflow; its member turns' agent spans: tests/test_autogen_agentchat.py.
        return dataclasses.replace(expected, operation="invoke_workflow") if team else expected

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        script = Script(fail=ending is Ending.RAISES_MID_STREAM, block=ending is Ending.CANCELLED, calls=observed.hooks)
        team = mode.startswith("team")
        runner: Any = make_team(script) if team else make_agent(script, stream=mode == "stream")
        try:
            if mode.endswith("run"):
                await self._run(runner, script, ending, observed)
            else:
                await self._stream(runner, script, ending, observed)
        except BaseException as error:  # the observation is the point
            _error(observed, error)
        if team:  # a closed or collected team finishes its `finally` a loop tick later
            for _ in range(1000):
                if not runner._is_running:
                    break
                await asyncio.sleep(0.001)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        with framework_detach_errors_dropped():
            return await self.perform(mode, ending)

    async def _run(self, runner: Any, script: Script, ending: Ending, observed: Observed) -> None:
        if ending is Ending.CANCELLED:
            token = CancellationToken()
            task = asyncio.ensure_future(runner.run(task="hi", cancellation_token=token))
            await script.blocked.wait()
            # A team's task.cancel() waits for the model call to return: teams are cancelled by token.
            if isinstance(runner, RoundRobinGroupChat):
                token.cancel()
            else:
                task.cancel()
            await task
        elif ending is Ending.DROPPED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
                pending = runner.run(task="hi")
                observed.returned = type(pending)
                del pending
                gc.collect()
        elif ending is Ending.OTHER_TASK:
            pending = runner.run(task="hi")
            observed.result = describe(await asyncio.create_task(_await(pending)))
        elif ending is Ending.CONCURRENT:
            runners = [
                make_team(script) if isinstance(runner, RoundRobinGroupChat) else make_agent(script)
                for _ in range(CONCURRENT_RUNS)
            ]
            results = await asyncio.gather(*(r.run(task="hi") for r in runners))
            observed.result = "|".join(sorted(describe(r) for r in results))
            observed.hooks.sort()
        else:
            pending = runner.run(task=[] if ending is Ending.RAISES_AT_CALL else "hi")
            observed.returned = pending
            result = await pending
            observed.result = describe(result)
            observed.result_type = type(result).__name__

    async def _stream(self, runner: Any, script: Script, ending: Ending, observed: Observed) -> None:
        if ending is Ending.CONCURRENT:
            team = isinstance(runner, RoundRobinGroupChat)
            runners = [make_team(script) if team else make_agent(script, stream=True) for _ in range(CONCURRENT_RUNS)]
            texts = await asyncio.gather(*(_describe_all(r.run_stream(task="hi")) for r in runners))
            observed.updates = sorted("".join(t) for t in texts)
            observed.hooks.sort()
            return
        token = CancellationToken()
        stream = runner.run_stream(task=[] if ending is Ending.RAISES_AT_CALL else "hi", cancellation_token=token)
        observed.returned = stream
        if ending is Ending.CANCELLED:
            task = asyncio.create_task(_collect(stream, observed))
            await script.blocked.wait()
            if isinstance(runner, RoundRobinGroupChat):
                token.cancel()
            else:
                task.cancel()
            await task
        elif ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            async for item in stream:
                observed.updates.append(describe(item))
                break
            if ending is Ending.BREAK_AND_CLOSE:
                await stream.aclose()
            else:
                del stream
                observed.returned = None
                gc.collect()
                for _ in range(5):  # the loop's asyncgen finalizer closes the generator in a task
                    await asyncio.sleep(0)
        elif ending is Ending.OTHER_TASK:
            observed.updates.append(describe(await stream.__anext__()))
            await asyncio.create_task(_collect(stream, observed))
        else:
            await _collect(stream, observed)


async def observe_run(runner: Any, **kwargs: Any) -> Observed:
    """`await runner.run(task="hi", **kwargs)` as the app sees it: the result, or the exception."""
    observed = Observed()
    try:
        result = await runner.run(task="hi", **kwargs)
        observed.result = describe(result)
        observed.result_type = type(result).__name__
    except Exception as error:  # the observation is the point
        _error(observed, error)
    return observed


async def observe_stream(runner: Any, **kwargs: Any) -> Observed:
    """Every item of `runner.run_stream(task="hi", **kwargs)` as the app sees it, or the exception."""
    observed = Observed()
    try:
        await _collect(runner.run_stream(task="hi", **kwargs), observed)
    except Exception as error:  # the observation is the point
        _error(observed, error)
    return observed


async def observe_close_mid_turn(team: Any, script: Script, gate: asyncio.Event) -> Observed:
    """Pull the team's first item (the task), wait until a member's model call waits on `gate`, close the
    stream (aclose), open the gate while the close is in progress, and report what the app saw."""
    observed = Observed()
    stream = team.run_stream(task="hi")
    observed.updates.append(describe(await stream.__anext__()))
    await script.blocked.wait()
    closing = asyncio.ensure_future(stream.aclose())
    await asyncio.sleep(0)
    observed.hooks.append(f"closed before the turn ended: {not closing.done()}")
    gate.set()
    await closing
    observed.hooks.extend(script.calls)
    observed.hooks.append(f"team running after the close: {team._is_running}")
    return observed


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


async def _collect(stream: Any, observed: Observed) -> None:
    async for item in stream:
        observed.updates.append(describe(item))


async def _describe_all(stream: Any) -> list[str]:
    return [describe(item) async for item in stream]


DRIVER = AutogenAgentChatDriver()

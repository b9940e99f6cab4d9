"""Google ADK, driven offline: a scripted `BaseLlm` subclass, `InMemoryRunner`, and a plugin and agent
callbacks that record every hook ADK fires, in order.

ADK's own telemetry writes to the global TracerProvider; nothing here sets one, so in the shared table its
spans are non-recording and only ours (on the test's private provider) are counted.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncGenerator
from typing import Any

from google.adk.agents import LlmAgent
from google.adk.apps import App
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.plugins.base_plugin import BasePlugin
from google.adk.runners import InMemoryRunner
from google.genai import types

from tests.scenarios import CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation

AGENT_NAME = "scribe"
MODEL_ID = "scripted-adk-v1"
USER = "user-1"


class ModelFailure(RuntimeError):
    """What the scripted model raises."""


MODEL_FAILURE = f"{ModelFailure.__module__}.{ModelFailure.__qualname__}"


def usage(input_tokens: int, output_tokens: int) -> types.GenerateContentResponseUsageMetadata:
    return types.GenerateContentResponseUsageMetadata(
        prompt_token_count=input_tokens,
        candidates_token_count=output_tokens,
        total_token_count=input_tokens + output_tokens,
    )


def text_response(text: str, input_tokens: int = 10, output_tokens: int = 5) -> LlmResponse:
    return LlmResponse(
        content=types.Content(role="model", parts=[types.Part(text=text)]),
        finish_reason=types.FinishReason.STOP,
        usage_metadata=usage(input_tokens, output_tokens),
    )


def tool_call(name: str, call_id: str, **arguments: Any) -> LlmResponse:
    call = types.FunctionCall(name=name, args=arguments, id=call_id)
    return LlmResponse(
        content=types.Content(role="model", parts=[types.Part(function_call=call)]),
        finish_reason=types.FinishReason.STOP,
        usage_metadata=usage(3, 1),
    )


# One model turn: a response to give, "fail" (raise ModelFailure) or "block" (wait until cancelled).
Turn = LlmResponse | str


class ScriptedLlm(BaseLlm):  # type: ignore[misc]  # ADK is read through Any in .venv's mypy
    """Plays `script`, one turn per model call; the last turn repeats."""

    model: str = MODEL_ID
    script: list[Any] = []
    turns: int = 0

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        turn = self.script[min(self.turns, len(self.script) - 1)] if self.script else text_response("hello world")
        self.turns += 1
        if turn == "fail":
            raise ModelFailure("model connection dropped")
        if turn == "block":
            await asyncio.Event().wait()
        yield turn


def echo(text: str) -> str:
    """Echoes its text."""
    return f"echo:{text}"


async def wait(text: str) -> str:
    """Waits until the run is cancelled."""
    await asyncio.Event().wait()
    return text


class RecordingPlugin(BasePlugin):  # type: ignore[misc]  # as above
    """Records the plugin callbacks ADK fires (run, agent, model, tool, errors)."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__(name="recorder")
        self.calls = calls

    async def before_run_callback(self, *, invocation_context: Any) -> None:
        self.calls.append("plugin:before_run")

    async def after_run_callback(self, *, invocation_context: Any) -> None:
        self.calls.append("plugin:after_run")

    async def on_run_error_callback(self, *, invocation_context: Any, error: Exception) -> None:
        self.calls.append(f"plugin:run_error:{type(error).__name__}")

    async def before_agent_callback(self, *, agent: Any, callback_context: Any) -> None:
        self.calls.append(f"plugin:before_agent:{agent.name}")

    async def after_agent_callback(self, *, agent: Any, callback_context: Any) -> None:
        self.calls.append(f"plugin:after_agent:{agent.name}")

    async def on_agent_error_callback(self, *, agent: Any, callback_context: Any, error: Exception) -> None:
        self.calls.append(f"plugin:agent_error:{agent.name}:{type(error).__name__}")

    async def before_model_callback(self, *, callback_context: Any, llm_request: Any) -> None:
        self.calls.append("plugin:before_model")

    async def after_model_callback(self, *, callback_context: Any, llm_response: Any) -> None:
        self.calls.append("plugin:after_model")

    async def on_model_error_callback(self, *, callback_context: Any, llm_request: Any, error: Exception) -> None:
        self.calls.append(f"plugin:model_error:{type(error).__name__}")

    async def before_tool_callback(self, *, tool: Any, tool_args: Any, tool_context: Any) -> None:
        self.calls.append(f"plugin:before_tool:{tool.name}")

    async def after_tool_callback(self, *, tool: Any, tool_args: Any, tool_context: Any, result: Any) -> None:
        self.calls.append(f"plugin:after_tool:{tool.name}")


def agent_callbacks(calls: list[str]) -> dict[str, Any]:
    """The agent's own callbacks (after_agent_callback among them), recording."""

    def before_agent(callback_context: Any) -> None:
        calls.append(f"before_agent:{callback_context.agent_name}")

    def after_agent(callback_context: Any) -> None:
        calls.append(f"after_agent:{callback_context.agent_name}")

    def before_model(callback_context: Any, llm_request: Any) -> None:
        calls.append("before_model")

    def after_model(callback_context: Any, llm_response: Any) -> None:
        calls.append("after_model")

    return {
        "before_agent_callback": before_agent,
        "after_agent_callback": after_agent,
        "before_model_callback": before_model,
        "after_model_callback": after_model,
    }


def make_agent(calls: list[str], script: list[Any] | None = None, name: str = AGENT_NAME, **extra: Any) -> LlmAgent:
    return LlmAgent(
        name=name,
        description="writes things",
        model=ScriptedLlm(script=script or [text_response("hello world")]),
        tools=[echo, wait],
        **agent_callbacks(calls),
        **extra,
    )


def make_runner(agent: Any, calls: list[str]) -> InMemoryRunner:
    return InMemoryRunner(app=App(name="adk_tests", root_agent=agent, plugins=[RecordingPlugin(calls)]))


async def new_session(runner: InMemoryRunner) -> str:
    session = await runner.session_service.create_session(app_name=runner.app_name, user_id=USER)
    return str(session.id)


def message(text: str = "hi") -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


def describe(event: Any) -> str:
    parts = event.content.parts if event.content and event.content.parts else []
    described = []
    for part in parts:
        if part.text is not None:
            described.append(f"text:{part.text}")
        elif part.function_call is not None:
            described.append(f"call:{part.function_call.name}")
        elif part.function_response is not None:
            described.append(f"response:{part.function_response.name}")
    return f"{event.author}[{','.join(described)}]"


# The scripts of the table's endings. A tool call first (two events: the call and its response), then an
# answer, a failure or a wait.
SCRIPTS: dict[Ending, list[Any]] = {
    Ending.RAISES_AT_CALL: ["fail"],
    Ending.RAISES_MID_STREAM: [tool_call("echo", "call_1", text="x"), "fail"],
    Ending.CANCELLED: [tool_call("echo", "call_1", text="x"), "block"],
    # Closed or dropped while a tool waits: the run is at a known point when the consumer lets go. (run_async's
    # node path waits for each event to be consumed; Runner.run's thread runs ahead of its consumer, which waits
    # until the tool was called.)
    Ending.BREAK_AND_CLOSE: [tool_call("wait", "call_1", text="x")],
    Ending.DROPPED: [tool_call("wait", "call_1", text="x")],
}
WAITING = "plugin:before_tool:wait"
DEFAULT_SCRIPT: list[Any] = [tool_call("echo", "call_1", text="x"), text_response("hello world")]


class GoogleAdkDriver:
    framework = "google_adk"
    agent_name = AGENT_NAME

    def cases(self) -> list[tuple[str, Ending]]:
        basic = [Ending.COMPLETES, Ending.RAISES_AT_CALL, Ending.RAISES_MID_STREAM, Ending.CONCURRENT]
        streamed = [*basic, Ending.BREAK_AND_CLOSE, Ending.DROPPED, Ending.OTHER_TASK]
        return [("run_async", ending) for ending in [*streamed, Ending.CANCELLED]] + [
            ("run", ending) for ending in streamed
        ]

    def expected(self, mode: str, ending: Ending) -> Expected:
        return default_expectation(ending, streamed=True, error_type=MODEL_FAILURE)

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        try:
            if ending is Ending.CONCURRENT:
                await getattr(self, f"_concurrent_{mode}")(observed)
            else:
                runner = make_runner(make_agent(observed.hooks, SCRIPTS.get(ending, DEFAULT_SCRIPT)), observed.hooks)
                session_id = await new_session(runner)
                await getattr(self, f"_{mode}")(runner, session_id, observed, ending)
        except BaseException as error:  # the observation is the point
            observed.record_error(error)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        return await self.perform(mode, ending)  # ADK's own telemetry has no side effects on the run

    async def _run_async(self, runner: InMemoryRunner, session_id: str, observed: Observed, ending: Ending) -> None:
        stream: Any = runner.run_async(user_id=USER, session_id=session_id, new_message=message())
        observed.returned = stream
        if ending is Ending.CANCELLED:
            task = asyncio.create_task(_acollect(stream, observed))
            while observed.hooks.count("before_model") < 2:  # the second model call is under way: it blocks
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.005)
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
                del stream
                gc.collect()
                await _settle()  # asyncio closes a collected async generator in a task of its own
        elif ending is Ending.OTHER_TASK:
            await asyncio.create_task(_acollect(stream, observed))
        else:
            await _acollect(stream, observed)

    async def _run(self, runner: InMemoryRunner, session_id: str, observed: Observed, ending: Ending) -> None:
        stream: Any = runner.run(user_id=USER, session_id=session_id, new_message=message())
        observed.returned = stream
        if ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            for event in stream:
                observed.updates.append(describe(event))
                break
            await _until(WAITING, observed)
            if ending is Ending.BREAK_AND_CLOSE:
                stream.close()
            else:
                observed.returned = None
                del stream  # the last reference: its finally cancels the run's task and joins its thread
                gc.collect()
        elif ending is Ending.OTHER_TASK:
            observed.updates = await asyncio.to_thread(lambda: [describe(event) for event in stream])
        else:
            observed.updates = [describe(event) for event in stream]

    async def _concurrent_run_async(self, observed: Observed) -> None:
        async def one() -> list[str]:
            runner = make_runner(make_agent(observed.hooks, DEFAULT_SCRIPT), observed.hooks)
            session_id = await new_session(runner)
            return [
                describe(e) async for e in runner.run_async(user_id=USER, session_id=session_id, new_message=message())
            ]

        results = await asyncio.gather(*(one() for _ in range(CONCURRENT_RUNS)))
        observed.updates = sorted("|".join(result) for result in results)
        observed.hooks.sort()

    async def _concurrent_run(self, observed: Observed) -> None:
        lock = threading.Lock()

        def one() -> list[str]:
            calls: list[str] = []
            runner = make_runner(make_agent(calls, DEFAULT_SCRIPT), calls)
            session_id = asyncio.run(new_session(runner))
            result = [describe(e) for e in runner.run(user_id=USER, session_id=session_id, new_message=message())]
            with lock:
                observed.hooks.extend(calls)
            return result

        results = await asyncio.gather(*(asyncio.to_thread(one) for _ in range(CONCURRENT_RUNS)))
        observed.updates = sorted("|".join(result) for result in results)
        observed.hooks.sort()


async def _acollect(stream: Any, observed: Observed) -> None:
    async for event in stream:
        observed.updates.append(describe(event))


async def _until(hook: str, observed: Observed) -> None:
    while hook not in observed.hooks:
        await asyncio.sleep(0.001)


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.005)


DRIVER = GoogleAdkDriver()

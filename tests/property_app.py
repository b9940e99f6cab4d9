"""A small app for the property-based lifecycle specs: one agent class per stream shape, each
counting the side effects its consumer can see (a result hook that fires only when the stream
completes, a cleanup that fires in `finally`), plus an offline Agent Framework chat client.

Every stream can be told to fail at update k (chosen when it is created) and can be held at its next
pull (so the consumer's task can be cancelled while it awaits). The span current at each pull is
recorded, so the specs can check that the agent's code runs under the agent span.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from agent_framework import Agent, BaseChatClient, ChatResponse, ChatResponseUpdate, Content, Message
from agents import function_tool
from agents.testing import ModelStep, assistant_message, function_call
from agno.agent import Agent as AgnoAgent
from agno.models.response import ModelResponse
from autogen_agentchat.agents import AssistantAgent
from opentelemetry import trace
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tests.frameworks import agno_driver, pydantic_ai_driver, smolagents_driver
from tests.frameworks import autogen_agentchat_driver as autogen_driver
from tests.frameworks import openai_agents_driver as openai_driver
from tests.frameworks.agent_framework_driver import RecordingProvider

UPDATES = 3


class AppFailure(RuntimeError):
    """What an app stream raises at its failure step."""


@dataclass
class Script:
    """What one stream does: `fail_at` raises AppFailure before that update; `held` makes the next
    pull wait (and set `waiting`) until it is cancelled."""

    fail_at: int | None = None
    held: bool = False
    waiting: asyncio.Event | None = None


@dataclass
class Effects:
    """The app-visible side effects of one run, compared between bare and instrumented runs."""

    completed: int = 0  # result hook: the stream ran to its end
    cleanups: int = 0  # `finally` of the stream body
    sessions_closed: int = 0  # `finally` of the session (context manager) body
    raised: int = 0  # AppFailures the app raised
    # The last one, to check the consumer caught that very object (the spec clears it after each step,
    # since its traceback keeps the stream alive).
    last_raised: BaseException | None = None
    # (current span id, time.time_ns()) at each pull, read inside the agent's code.
    pull_spans: list[tuple[int, int]] = field(default_factory=list)

    def record(self, error: AppFailure) -> AppFailure:
        self.raised += 1
        self.last_raised = error
        return error

    def counts(self) -> tuple[int, int, int, int]:
        return self.completed, self.cleanups, self.sessions_closed, self.raised


def _current_span() -> tuple[int, int]:
    return trace.get_current_span().get_span_context().span_id, time.time_ns()


async def _hold(script: Script) -> None:
    if script.held:
        script.waiting = script.waiting or asyncio.Event()
        script.waiting.set()
        await asyncio.Event().wait()  # until the consumer's task is cancelled


class PropertyAgent:
    """A user's agent with the three generic result shapes (targets in the specs)."""

    name = "property"

    def __init__(self, script: Script, effects: Effects) -> None:
        self.script = script
        self.effects = effects

    def _fail(self, index: int) -> AppFailure:
        return self.effects.record(AppFailure(f"failed at {index}"))

    async def astream(self) -> AsyncIterator[str]:
        try:
            for index in range(UPDATES):
                self.effects.pull_spans.append(_current_span())
                await _hold(self.script)
                if index == self.script.fail_at:
                    raise self._fail(index)
                yield f"u{index}"
            self.effects.completed += 1
        finally:
            self.effects.cleanups += 1

    def stream(self) -> Iterator[str]:
        try:
            for index in range(UPDATES):
                self.effects.pull_spans.append(_current_span())
                if index == self.script.fail_at:
                    raise self._fail(index)
                yield f"u{index}"
            self.effects.completed += 1
        finally:
            self.effects.cleanups += 1

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncIterator[str]]:
        try:
            yield self.astream()
        finally:
            self.effects.sessions_closed += 1


class HoldingChatClient(BaseChatClient):
    """An offline chat client streaming UPDATES text chunks then usage; fails or holds per its script."""

    def __init__(self, script: Script, effects: Effects) -> None:
        super().__init__()
        self.script = script
        self.effects = effects

    def _inner_get_response(self, *, messages: Any, stream: bool, options: Any, **kwargs: Any) -> Any:
        if stream:
            return self._build_response_stream(self._updates())
        return self._response()

    async def _updates(self) -> AsyncIterator[ChatResponseUpdate]:
        for index in range(UPDATES):
            self.effects.pull_spans.append(_current_span())
            await _hold(self.script)
            if index == self.script.fail_at:
                raise self.effects.record(AppFailure(f"failed at {index}"))
            yield ChatResponseUpdate(
                role="assistant", contents=[Content.from_text(f"u{index} ")], response_id="r1", model="fake-1"
            )
        yield ChatResponseUpdate(
            role="assistant",
            contents=[Content.from_usage({"input_token_count": 5, "output_token_count": UPDATES})],
            response_id="r1",
            finish_reason="stop",
        )

    async def _response(self) -> ChatResponse:
        return ChatResponse(messages=[Message(role="assistant", contents=["unused"])], response_id="r1")


def make_agent(script: Script, effects: Effects, hooks: list[str]) -> Agent:
    """An Agent Framework agent on the holding client; `hooks` records before_run/after_run calls."""
    return Agent(
        HoldingChatClient(script, effects),
        name="property",
        default_options={"model": "fake-1"},
        context_providers=[RecordingProvider(hooks)],
    )


# -- the other frameworks' offline fakes, holding and failing per a Script ---------------------------
# Each subclasses its driver's fake (tests/frameworks/<fw>_driver.py) and replaces only its streaming
# call: UPDATES chunks, AppFailure-like failure at `script.fail_at`, `_hold` before each chunk, and the
# span current at the call recorded in `effects.pull_spans`.


class AutogenHoldingClient(autogen_driver.ScriptedClient):
    """AutoGen's scripted ChatCompletionClient, streaming "u0 u1 u2" word by word."""

    def __init__(self, script: Script, effects: Effects, calls: list[str]) -> None:
        super().__init__(autogen_driver.Script(text=" ".join(f"u{i}" for i in range(UPDATES)), calls=calls))
        self.property_script = script
        self.effects = effects

    async def create_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        self.script.calls.append("create_stream")
        self.effects.pull_spans.append(_current_span())
        for index, word in enumerate(self.script.text.split()):
            await _hold(self.property_script)
            if index == self.property_script.fail_at:
                raise autogen_driver.ModelFailure(f"failed at {index}")
            yield word + " "
        yield self._result()


def make_autogen_agent(script: Script, effects: Effects, calls: list[str]) -> Any:
    return AssistantAgent(
        "scripted",
        model_client=AutogenHoldingClient(script, effects, calls),
        model_client_stream=True,
        description="An offline scripted agent",
    )


class SmolagentsRecordingModel(smolagents_driver.ScriptedModel):
    """smolagents' scripted model: ECHO until `fail_at` (then it raises), else ECHO, ECHO, final."""

    def __init__(self, script: Script, effects: Effects) -> None:
        failing = script.fail_at is not None
        actions: list[Any] = [smolagents_driver.ECHO] * (script.fail_at if failing else 2)  # type: ignore[operator]
        actions.append(
            ("raise", smolagents_driver.ModelFailure("model down")) if failing else smolagents_driver.final()
        )
        super().__init__(actions)
        self.effects = effects

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        self.effects.pull_spans.append(_current_span())
        return super().generate(*args, **kwargs)


def make_smolagents_agent(script: Script, effects: Effects, hooks: list[str]) -> Any:
    agent = smolagents_driver.make_agent(hooks=hooks)
    agent.model = SmolagentsRecordingModel(script, effects)
    return agent


@dataclass
class AgnoHoldingModel(agno_driver.ScriptedModel):
    """Agno's scripted model, streaming UPDATES chunks; a failure is agno's ConnectionError."""

    property_script: Any = None
    effects: Any = None

    async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ModelResponse]:
        self.effects.pull_spans.append(_current_span())
        for index in range(UPDATES):
            await _hold(self.property_script)
            if index == self.property_script.fail_at:
                raise ConnectionError(f"failed at {index}")
            yield ModelResponse(role="assistant", content=f"u{index} ")
        yield ModelResponse(content="", response_usage=agno_driver.usage(10, UPDATES))


def make_agno_agent(script: Script, effects: Effects, hooks: list[str]) -> Any:
    return AgnoAgent(
        name=agno_driver.AGENT_NAME,
        description="writes things",
        instructions="Be brief.",
        model=AgnoHoldingModel(property_script=script, effects=effects),
        telemetry=False,
        **agno_driver.recording_hooks(hooks),
    )


# -- frameworks whose run is a background task: the hold spins on loop turns ------------------------
# A hold there is in the run's task, not the consumer's: cancelling the consumer may not reach it, and
# a pull can complete (an event was already queued) while the run reaches the hold. Spinning until the
# consumer's step lifts `held` never leaves a run blocked after that step; every wait counts loop
# turns (asyncio.sleep(0)), never wall time, so bare and instrumented runs see the same interleaving.


async def _hold_in_background(script: Script) -> None:
    if script.held:
        if script.waiting is not None:
            script.waiting.set()
        while script.held:
            await asyncio.sleep(0)


def make_pydantic_ai_agent(script: Script, effects: Effects, hooks: list[str]) -> Any:
    """The Pydantic AI driver's agent and Recorder capability on a FunctionModel streaming UPDATES chunks."""

    async def stream(messages: Any, info: AgentInfo) -> AsyncIterator[str]:
        for index in range(UPDATES):
            effects.pull_spans.append(_current_span())
            await _hold_in_background(script)
            if index == script.fail_at:
                raise effects.record(AppFailure(f"failed at {index}"))
            yield f"u{index} "

    agent = pydantic_ai_driver.make_agent(hooks)
    agent.model = FunctionModel(pydantic_ai_driver._respond, stream_function=stream, model_name="fn-model")
    return agent


@function_tool
async def echo(text: str) -> str:
    """Echo the text back (a coroutine: the SDK runs a sync tool in a thread, on wall time)."""
    return text


def make_openai_agent(script: Script, effects: Effects) -> Any:
    """The OpenAI Agents driver's agent on the SDK's ScriptedModel: UPDATES model turns (an `echo` tool
    call each, then the final answer), the turn `fail_at` raising AppFailure, each turn held per the script."""

    def turn(index: int) -> ModelStep:
        async def respond(call: Any) -> ModelStep:
            effects.pull_spans.append(_current_span())
            await _hold_in_background(script)
            if index == script.fail_at:
                raise effects.record(AppFailure(f"failed at {index}"))
            if index == UPDATES - 1:
                return ModelStep(output=[assistant_message("done")])
            return ModelStep(output=[function_call("echo", {"text": f"u{index}"}, call_id=f"call-{index}")])

        return ModelStep.respond(respond)

    agent = openai_driver.make_agent(turn(0), tools=[echo])
    agent.model.extend(turn(index) for index in range(1, UPDATES))  # type: ignore[union-attr]
    return agent

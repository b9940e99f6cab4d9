"""Microsoft Agent Framework, driven offline: a scripted chat client and a recording context provider."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

from agent_framework import (
    Agent,
    AgentResponse,
    AgentResponseUpdate,
    BaseAgent,
    BaseChatClient,
    ChatResponse,
    ChatResponseUpdate,
    Content,
    ContextProvider,
    Message,
    ResponseStream,
    observability,
)
from agent_framework.observability import AgentTelemetryLayer
from opentelemetry import trace

from tests.scenarios import AWAITED_ENDINGS, CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation


class ModelFailure(RuntimeError):
    """What the scripted model raises."""


MODEL_FAILURE = f"{ModelFailure.__module__}.{ModelFailure.__qualname__}"


@dataclass
class Script:
    chunks: int = 3
    fail_at: int | None = None  # raise ModelFailure after this many chunks
    block_at: int | None = None  # wait forever after this many chunks (to be cancelled)


class ScriptedChatClient(BaseChatClient):
    """A chat client that streams `script.chunks` text chunks, then usage; or fails or blocks."""

    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script
        self.raised: list[BaseException] = []
        # The span current at each model step: children of the agent span must see it.
        self.current_spans: list[int] = []

    def _step(self) -> None:
        self.current_spans.append(trace.get_current_span().get_span_context().span_id)

    def _fail(self, message: str) -> ModelFailure:
        error = ModelFailure(message)
        self.raised.append(error)
        return error

    def _inner_get_response(self, *, messages: Any, stream: bool, options: Any, **kwargs: Any) -> Any:
        script = self.script
        if stream:
            return self._build_response_stream(self._updates(script))
        return self._response(script)

    async def _updates(self, script: Script) -> AsyncIterator[ChatResponseUpdate]:
        for index in range(script.chunks):
            self._step()
            if script.fail_at == index:
                raise self._fail(f"model failed after {index} chunks")
            if script.block_at == index:
                await asyncio.Event().wait()
            yield ChatResponseUpdate(
                role="assistant", contents=[Content.from_text(f"chunk{index} ")], response_id="resp-1", model="fake-1"
            )
        yield ChatResponseUpdate(
            role="assistant",
            contents=[Content.from_usage({"input_token_count": 7, "output_token_count": script.chunks})],
            response_id="resp-1",
            finish_reason="stop",
        )

    async def _response(self, script: Script) -> ChatResponse:
        self._step()
        if script.fail_at is not None:
            raise self._fail("model failed")
        if script.block_at is not None:
            await asyncio.Event().wait()
        return ChatResponse(
            messages=[Message(role="assistant", contents=["".join(f"chunk{i} " for i in range(script.chunks))])],
            response_id="resp-1",
            usage_details={"input_token_count": 7, "output_token_count": script.chunks},
            finish_reason="stop",
        )


class RecordingProvider(ContextProvider):
    """Records before_run/after_run calls: the result hooks an instrumentation must not fire."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__("recorder")
        self.calls = calls

    async def before_run(self, **kwargs: Any) -> None:
        self.calls.append("before_run")

    async def after_run(self, **kwargs: Any) -> None:
        response = getattr(kwargs.get("context"), "response", None)
        self.calls.append(f"after_run:{getattr(response, 'text', None)!r}")


def make_agent(
    script: Script, calls: list[str], name: str = "scripted", client: ScriptedChatClient | None = None
) -> Agent:
    return Agent(
        client if client is not None else ScriptedChatClient(script),
        name=name,
        description="An offline scripted agent",
        default_options={"model": "fake-1", "temperature": 0.0},
        context_providers=[RecordingProvider(calls)],
    )


class DeferredStreamBase(BaseAgent):
    """An agent whose `run(stream=True)` returns an awaitable that resolves to its ResponseStream, the
    shape `AgentTelemetryLayer` turns into a stream with `ResponseStream.from_awaitable` ("subclasses
    that instead return an Awaitable defer their work into the first pull"). `stream_shape="list"`
    returns a plain list instead, which the layer refuses; `"raise"` raises ModelFailure at the call.
    Records when each part of it runs."""

    def __init__(self, calls: list[str], stream_shape: str = "awaitable") -> None:
        super().__init__(name="deferred", description="An agent that opens its stream when first pulled")
        self.calls = calls
        self.stream_shape = stream_shape
        self.raised: list[BaseException] = []

    def run(self, messages: Any = None, *, stream: bool = False, **kwargs: Any) -> Any:
        self.calls.append("run")
        if not stream:
            return self._respond()
        if self.stream_shape == "list":
            return []
        if self.stream_shape == "raise":
            self.raised.append(ModelFailure("refused at the call"))
            raise self.raised[-1]
        return self._open_stream()

    async def _open_stream(self) -> ResponseStream[AgentResponseUpdate, AgentResponse[Any]]:
        self.calls.append("open")
        return ResponseStream(self._updates(), finalizer=AgentResponse.from_updates)

    async def _updates(self) -> AsyncIterator[AgentResponseUpdate]:
        for index in range(2):
            yield AgentResponseUpdate(
                role="assistant", contents=[Content.from_text(f"part{index} ")], response_id="deferred-1"
            )
        yield AgentResponseUpdate(
            role="assistant",
            contents=[Content.from_usage({"input_token_count": 5, "output_token_count": 2})],
            response_id="deferred-1",
            finish_reason="stop",
        )

    async def _respond(self) -> AgentResponse[Any]:
        self.calls.append("respond")
        return AgentResponse.from_updates([update async for update in self._updates()])


class DeferredStreamAgent(AgentTelemetryLayer, DeferredStreamBase):  # type: ignore[misc]  # a simpler run signature
    """The framework's telemetry layer over `DeferredStreamBase`, composed as its docs show."""


class AgentFrameworkDriver:
    framework = "agent_framework"
    agent_name = "scripted"

    def cases(self) -> list[tuple[str, Ending]]:
        run = AWAITED_ENDINGS
        return [("run", ending) for ending in run] + [("stream", ending) for ending in Ending]

    def expected(self, mode: str, ending: Ending) -> Expected:
        if ending is Ending.RAISES_AT_CALL:
            return Expected(error_type="TypeError", outcome="failed")
        if mode == "run" and ending is Ending.DROPPED:
            # A coroutine nobody awaits: the run never happened.
            return Expected(outcome="abandoned")
        return default_expectation(ending, streamed=mode == "stream", error_type=MODEL_FAILURE)

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        script = Script()
        if ending is Ending.RAISES_MID_STREAM:
            script = Script(fail_at=1) if mode == "stream" else Script(fail_at=0)
        elif ending is Ending.CANCELLED:
            script = Script(block_at=1)
        agent = make_agent(script, observed.hooks)
        if mode == "run":
            await self._run(agent, ending, observed)
        else:
            await self._stream(agent, ending, observed)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        # The framework's built-in telemetry (on by default) calls get_final_response() when a stream
        # is closed early, firing after_run (agent-framework 1.23.0); the agent itself does not.
        observability.disable_instrumentation()
        try:
            return await self.perform(mode, ending)
        finally:
            observability.enable_instrumentation(force=True)

    async def _run(self, agent: Agent, ending: Ending, observed: Observed) -> None:
        try:
            if ending is Ending.RAISES_AT_CALL:
                _call_with_bad_middleware(agent, stream=False)
            elif ending is Ending.CANCELLED:
                task = asyncio.ensure_future(agent.run("hello"))
                await asyncio.sleep(0.01)
                task.cancel()
                await task
            elif ending is Ending.DROPPED:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
                    pending = agent.run("hello")
                    observed.returned = type(pending)
                    del pending
                    gc.collect()
            elif ending is Ending.OTHER_TASK:
                pending = agent.run("hello")
                response = await asyncio.create_task(_await(pending))
                observed.result = response.text
            elif ending is Ending.CONCURRENT:
                responses = await asyncio.gather(
                    *(make_agent(Script(), observed.hooks).run("hello") for _ in range(CONCURRENT_RUNS))
                )
                observed.result = "|".join(sorted(r.text for r in responses))
                observed.hooks.sort()
            else:
                pending = agent.run("hello")
                observed.returned = pending
                response = await pending
                observed.result = response.text
                observed.result_type = type(response).__name__
        except BaseException as error:
            observed.record_error(error)

    async def _stream(self, agent: Agent, ending: Ending, observed: Observed) -> None:
        try:
            if ending is Ending.RAISES_AT_CALL:
                _call_with_bad_middleware(agent, stream=True)
                return
            if ending is Ending.CONCURRENT:
                streams = [
                    make_agent(Script(), observed.hooks).run("hello", stream=True) for _ in range(CONCURRENT_RUNS)
                ]
                texts = await asyncio.gather(*(_texts(s) for s in streams))
                observed.updates = sorted("".join(t) for t in texts)
                observed.hooks.sort()
                return
            stream = agent.run("hello", stream=True)
            observed.returned = stream
            if ending is Ending.CANCELLED:
                task = asyncio.create_task(_collect(stream, observed))
                while not observed.updates:
                    await asyncio.sleep(0.001)
                task.cancel()
                await task
            elif ending is Ending.BREAK_AND_CLOSE:
                async for update in stream:
                    observed.updates.append(update.text)
                    break
                await stream.close()
            elif ending is Ending.DROPPED:
                async for update in stream:
                    observed.updates.append(update.text)
                    break
                del stream
                observed.returned = None
                gc.collect()
            elif ending is Ending.FINAL_WITHOUT_ITERATING:
                response = await stream.get_final_response()
                observed.result = response.text
            elif ending is Ending.OTHER_TASK:
                await asyncio.create_task(_collect(stream, observed))
                observed.result = (await stream.get_final_response()).text
            else:
                await _collect(stream, observed)
                response = await stream.get_final_response()
                observed.result = response.text
                observed.result_type = type(response).__name__
        except BaseException as error:
            observed.record_error(error)


def _call_with_bad_middleware(agent: Agent, stream: bool) -> None:
    """Agent.run validates `middleware` synchronously (TypeError) after it built its inner coroutine,
    which then warns "never awaited" when collected: the framework's, with or without us."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            agent.run("hello", stream=stream, middleware=object())  # type: ignore[call-overload]
        finally:
            gc.collect()


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


async def _collect(stream: Any, observed: Observed) -> None:
    async for update in stream:
        observed.updates.append(update.text)


async def _texts(stream: Any) -> list[str]:
    return [update.text async for update in stream]


DRIVER = AgentFrameworkDriver()

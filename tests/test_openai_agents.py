"""OpenAI Agents SDK specifics: entry points that call each other, nested runs, the real streamed
result, what the span reads, how a streamed run ends, and the SDK's own tracing left alone."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import socket
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import agents
import pytest
from agents import Agent, RunConfig, Runner, RunResultStreaming
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from agents.models.openai_responses import OpenAIResponsesModel
from agents.testing import ModelStep, ScriptedModel, function_call
from agents.tracing import TracingProcessor, set_trace_processors, set_tracing_disabled
from openai import AsyncOpenAI
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks.openai_agents_driver import (
    MODEL_FAILURE,
    ModelFailure,
    answer,
    blocking,
    failure,
    make_agent,
)


class NamedScriptedModel(ScriptedModel):
    """A scripted model with a model name, as the SDK's OpenAI models have (`.model`)."""

    model = "scripted-1"


def _only_span(telemetry: Telemetry) -> Any:
    spans = telemetry.agent_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


async def _run_loop_done(result: RunResultStreaming) -> None:
    task = result.run_loop_task
    assert task is not None
    await asyncio.wait([task])


def _run_sync_in_thread(call: Any) -> Any:
    """run_sync refuses a running loop and leaves the thread's default loop open (run.py:2592): run
    it in its own thread and close that loop there, as the application's thread would at exit."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as error:  # handed back to the test
            box["error"] = error
        finally:
            asyncio.get_event_loop_policy().get_event_loop().close()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


# -- entry points -------------------------------------------------------------------------------


def test_run_sync_gives_one_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    result = _run_sync_in_thread(lambda: Runner.run_sync(make_agent(answer()), "hello"))
    assert result.final_output == "hello"
    assert _only_span(telemetry).attributes[semconv.OUTCOME] == "completed"


def test_run_sync_model_failure_ends_span_error(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    with pytest.raises(ModelFailure):
        _run_sync_in_thread(lambda: Runner.run_sync(make_agent(failure()), "hello"))
    span = _only_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[semconv.ERROR_TYPE] == MODEL_FAILURE


async def test_agent_as_tool_is_child_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    inner = make_agent(answer("inner answer"), name="inner")
    outer = Agent(
        name="outer",
        model=ScriptedModel(
            [
                ModelStep(output=[function_call("ask_inner", {"input": "q"}, call_id="c1")]),
                answer("outer answer"),
            ]
        ),
        tools=[inner.as_tool(tool_name="ask_inner", tool_description="asks the inner agent")],
    )
    result = await Runner.run(outer, "hello")
    assert result.final_output == "outer answer"
    spans = {span.name: span for span in telemetry.agent_spans()}
    assert set(spans) == {"invoke_agent outer", "invoke_agent inner"}
    assert spans["invoke_agent inner"].parent is not None
    assert spans["invoke_agent inner"].parent.span_id == spans["invoke_agent outer"].context.span_id


async def test_agent_as_tool_in_streamed_run_is_child_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    inner = make_agent(answer("inner answer"), name="inner")
    outer = Agent(
        name="outer",
        model=ScriptedModel(
            [ModelStep(output=[function_call("ask_inner", {"input": "q"}, call_id="c1")]), answer("outer answer")]
        ),
        tools=[inner.as_tool(tool_name="ask_inner", tool_description="asks the inner agent")],
    )
    result = Runner.run_streamed(outer, "hello")
    async for _ in result.stream_events():
        pass
    assert result.final_output == "outer answer"
    spans = {span.name: span for span in telemetry.agent_spans()}
    assert set(spans) == {"invoke_agent outer", "invoke_agent inner"}
    assert spans["invoke_agent inner"].parent is not None
    assert spans["invoke_agent inner"].parent.span_id == spans["invoke_agent outer"].context.span_id


async def test_streamed_run_work_is_parented_under_agent_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    seen: list[Any] = []

    @agents.function_tool
    def probe() -> str:
        """Records the current span."""
        seen.append(trace.get_current_span())
        return "ok"

    agent = Agent(
        name="prober",
        model=ScriptedModel([ModelStep(output=[function_call("probe", {}, call_id="c1")]), answer()]),
        tools=[probe],
    )
    result = Runner.run_streamed(agent, "hello")
    async for _ in result.stream_events():
        pass
    span = _only_span(telemetry)
    assert [s.get_span_context().span_id for s in seen] == [span.context.span_id]


# -- the streamed result is the SDK's own object --------------------------------------------------


async def test_run_streamed_returns_the_real_result(instrumentation: Instrumentation) -> None:
    instrumentation.on()
    result = Runner.run_streamed(make_agent(answer()), "hello")
    assert type(result) is RunResultStreaming
    assert dataclasses.replace(result).current_agent is result.current_agent
    async for _ in result.stream_events():
        pass


# -- what the span reads ------------------------------------------------------------------------


async def test_run_span_reads_agent_request_and_usage(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    agent = make_agent(answer(), handoff_description="answers briefly")
    agent.model = NamedScriptedModel([answer()])
    await Runner.run(
        agent, "hello", conversation_id="conv-1", run_config=RunConfig(model_settings=agents.ModelSettings(top_p=0.5))
    )
    attributes = _only_span(telemetry).attributes
    assert attributes[semconv.GEN_AI_AGENT_NAME] == "scripted"
    assert attributes[semconv.GEN_AI_AGENT_DESCRIPTION] == "answers briefly"
    assert attributes[semconv.GEN_AI_REQUEST_MODEL] == "scripted-1"
    assert attributes[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert attributes[semconv.GEN_AI_REQUEST_TOP_P] == 0.5
    assert attributes[semconv.GEN_AI_CONVERSATION_ID] == "conv-1"
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 11
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert attributes[semconv.GEN_AI_RESPONSE_ID] == "resp-1"


async def test_streamed_span_reads_usage(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    result = Runner.run_streamed(make_agent(answer()), "hello")
    async for _ in result.stream_events():
        pass
    attributes = _only_span(telemetry).attributes
    assert (attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (11, 7)


async def test_content_capture_records_messages(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    await Runner.run(make_agent(answer()), "hello")
    attributes = _only_span(telemetry).attributes
    assert "hello" in attributes[semconv.GEN_AI_INPUT_MESSAGES]
    assert "be terse" in attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]
    assert '"assistant"' in attributes[semconv.GEN_AI_OUTPUT_MESSAGES]


async def test_content_not_recorded_by_default(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await Runner.run(make_agent(answer()), "hello")
    assert semconv.GEN_AI_INPUT_MESSAGES not in _only_span(telemetry).attributes


# -- gen_ai.provider.name ------------------------------------------------------------------------


class UsersOwnProvider(agents.ModelProvider):
    """A model provider of the application's own: the names it resolves say nothing of the provider."""

    def get_model(self, model_name: str | None) -> agents.Model:
        return ScriptedModel([answer()])


def _offline_client() -> AsyncOpenAI:
    return AsyncOpenAI(api_key="offline", base_url="http://127.0.0.1:9/v1")  # never called


PROVIDER_CASES = [
    pytest.param(lambda: OpenAIResponsesModel("gpt-4.1", _offline_client()), None, "openai", id="responses-model"),
    pytest.param(
        lambda: OpenAIChatCompletionsModel("gpt-4.1", _offline_client()), None, "openai", id="chat-completions-model"
    ),
    pytest.param(lambda: "gpt-4.1", None, "openai", id="name-default-provider"),
    pytest.param(lambda: None, None, "openai", id="default-model"),
    pytest.param(
        lambda: "gpt-4.1", RunConfig(model="litellm/anthropic/claude-3-5-sonnet"), "anthropic", id="litellm-name"
    ),
    pytest.param(lambda: "litellm/gemini/gemini-2.0-flash", None, "gcp.gemini", id="litellm-name-mapped"),
    pytest.param(lambda: "gpt-4.1", RunConfig(model_provider=UsersOwnProvider()), "_OTHER", id="users-provider"),
    # A Model subclass that is none of the SDK's provider models.
    pytest.param(lambda: ScriptedModel([answer()]), None, "_OTHER", id="other-model-class"),
]


@pytest.mark.parametrize(("model", "run_config", "provider"), PROVIDER_CASES)
async def test_provider_name_on_span_and_duration(
    model: Any, run_config: RunConfig | None, provider: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result = Runner.run_streamed(Agent(name="probe", model=model()), "hello", run_config=run_config)
    result.cancel()  # before the run task starts: no model is resolved, built or called
    await _run_loop_done(result)
    assert _only_span(telemetry).attributes[semconv.GEN_AI_PROVIDER_NAME] == provider
    (point,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    assert point.attributes[semconv.GEN_AI_PROVIDER_NAME] == provider


async def test_provider_name_of_litellm_model_is_its_prefix(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    pytest.importorskip("litellm")
    from agents.extensions.models.litellm_model import LitellmModel

    instrumentation.on()
    result = Runner.run_streamed(Agent(name="probe", model=LitellmModel("anthropic/claude-3-5-sonnet")), "hello")
    result.cancel()
    await _run_loop_done(result)
    assert _only_span(telemetry).attributes[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"


# -- how a streamed run ends ----------------------------------------------------------------------


async def test_unread_stream_run_completes_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    result = Runner.run_streamed(make_agent(answer()), "hello")
    await _run_loop_done(result)
    assert _only_span(telemetry).attributes[semconv.OUTCOME] == "completed"


async def test_cancel_after_turn_of_last_turn_completes_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result = Runner.run_streamed(make_agent(answer()), "hello")
    async for _ in result.stream_events():
        result.cancel(mode="after_turn")
    assert result.final_output == "hello"
    assert _only_span(telemetry).attributes[semconv.OUTCOME] == "completed"


async def test_cancel_after_turn_before_final_output_ends_span_closed_early(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()

    @agents.function_tool
    def lookup() -> str:
        """Looks something up."""
        return "found"

    agent = Agent(
        name="two-turns",
        model=ScriptedModel([ModelStep(output=[function_call("lookup", {}, call_id="c1")]), answer()]),
        tools=[lookup],
    )
    result = Runner.run_streamed(agent, "hello")
    async for _ in result.stream_events():
        result.cancel(mode="after_turn")
    assert result.final_output is None
    assert _only_span(telemetry).attributes[semconv.OUTCOME] == "closed_early"


async def test_result_cancel_without_consumer_ends_span_closed_early(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result = Runner.run_streamed(make_agent(blocking()), "hello")
    await asyncio.sleep(0.01)
    result.cancel()
    await _run_loop_done(result)
    span = _only_span(telemetry)
    assert span.attributes[semconv.OUTCOME] == "closed_early"
    assert span.status.status_code is StatusCode.UNSET


async def test_stream_failure_error_matches_consumer_exception(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result = Runner.run_streamed(make_agent(failure()), "hello")
    with pytest.raises(ModelFailure) as raised:
        async for _ in result.stream_events():
            pass
    assert raised.value is result.run_loop_exception
    assert _only_span(telemetry).status.description == "model failed"


# -- a run the application drops while it waits forever ----------------------------------------


@contextmanager
def _dropped_run_noise() -> Iterator[None]:
    """Drop what collecting a pending run makes Python report, as it does for an uninstrumented run:
    asyncio's "Task was destroyed but it is pending!" and the SDK's own errors from its coroutines being
    closed by the collector (context variables reset outside their context, "coroutine ignored
    GeneratorExit"), which pytest would turn into failures. Our own failures are log records."""
    loop = asyncio.get_running_loop()
    loop_handler = loop.get_exception_handler()
    unraisable_hook = sys.unraisablehook
    loop.set_exception_handler(lambda _loop, _context: None)
    sys.unraisablehook = lambda _unraisable: None
    try:
        yield
    finally:
        loop.set_exception_handler(loop_handler)
        sys.unraisablehook = unraisable_hook


def _our_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("otel_agent") and r.levelno >= logging.WARNING]


def _blocks_forever(entered: asyncio.Event) -> ModelStep:
    """A model call that says it has started, then waits on a future nothing will ever set."""

    async def respond(call: Any) -> Any:
        entered.set()
        await asyncio.get_running_loop().create_future()

    return ModelStep.respond(respond)


async def test_dropped_pending_streamed_run_is_abandoned_and_collected(
    instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    instrumentation.on()
    entered = asyncio.Event()
    result = Runner.run_streamed(make_agent(_blocks_forever(entered)), "hello")
    await entered.wait()  # the run task is suspended in the model from here on
    result_ref = weakref.ref(result)
    with _dropped_run_noise():
        del result  # with its run_loop_task, never consumed
        gc.collect()
    assert result_ref() is None
    assert _only_span(telemetry).attributes[semconv.OUTCOME] == "abandoned"
    assert _our_warnings(caplog) == []


async def test_dropped_pending_run_task_is_abandoned_and_collected(
    instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    instrumentation.on()
    entered = asyncio.Event()
    task = asyncio.ensure_future(Runner.run(make_agent(_blocks_forever(entered)), "hello"))
    await entered.wait()
    task_ref = weakref.ref(task)
    with _dropped_run_noise():
        del task
        gc.collect()
    assert task_ref() is None
    assert _only_span(telemetry).attributes[semconv.OUTCOME] == "abandoned"
    assert _our_warnings(caplog) == []


# -- time to first chunk --------------------------------------------------------------------------


async def test_streamed_run_records_one_time_to_first_chunk(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result = Runner.run_streamed(make_agent(answer()), "hello")
    async for _ in result.stream_events():
        pass
    (point,) = telemetry.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
    assert (point.count, dict(point.attributes)) == (
        1,
        {
            semconv.GEN_AI_OPERATION_NAME: semconv.INVOKE_AGENT,
            semconv.GEN_AI_PROVIDER_NAME: semconv.PROVIDER_OTHER,
            semconv.GEN_AI_AGENT_NAME: "scripted",
        },
    )


async def test_run_records_no_time_to_first_chunk(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await Runner.run(make_agent(answer()), "hello")
    assert telemetry.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK) == []


async def test_streamed_run_leaves_event_queue_unshadowed(instrumentation: Instrumentation) -> None:
    instrumentation.on()
    result = Runner.run_streamed(make_agent(answer()), "hello")
    async for _ in result.stream_events():
        pass
    assert "put_nowait" not in vars(result._event_queue)


# -- the SDK's own tracing ----------------------------------------------------------------------


class _RecordingProcessor(TracingProcessor):
    def __init__(self) -> None:
        self.spans: list[str] = []

    def on_trace_start(self, trace: Any) -> None: ...
    def on_trace_end(self, trace: Any) -> None: ...
    def on_span_start(self, span: Any) -> None: ...

    def on_span_end(self, span: Any) -> None:
        self.spans.append(type(span.span_data).__name__)

    def shutdown(self) -> None: ...
    def force_flush(self) -> None: ...


async def test_sdk_tracing_keeps_its_agent_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    recorder = _RecordingProcessor()
    instrumentation.on()
    # Only our recorder (never the SDK's hosted exporter); the process keeps tracing off afterwards.
    set_trace_processors([recorder])
    set_tracing_disabled(False)
    try:
        await Runner.run(make_agent(answer()), "hello")
    finally:
        set_tracing_disabled(True)
        set_trace_processors([])
    assert "AgentSpanData" in recorder.spans
    assert len(telemetry.agent_spans()) == 1


async def test_runs_make_no_network_attempt(instrumentation: Instrumentation, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[Any] = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: attempts.append(address))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: attempts.append(address))
    instrumentation.on()
    await Runner.run(make_agent(answer()), "hello")
    result = Runner.run_streamed(make_agent(answer()), "hello")
    async for _ in result.stream_events():
        pass
    agents.tracing.get_trace_provider().force_flush()
    assert attempts == []

"""OpenAI Agents SDK specifics: entry points that call each other, nested runs, the real streamed
result, what the span reads, how a streamed run ends, and the SDK's own tracing left alone."""

from __future__ import annotations

import asyncio
import collections
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
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_agent_instrumentation import semconv
from tests.conftest import (
    ERROR,
    INTERNAL,
    UNSET,
    Instrumentation,
    Telemetry,
    TreeRow,
    attributes,
    span_tree,
    tool_spans,
)
from tests.frameworks.openai_agents_driver import (
    MODEL_FAILURE,
    TOOL_FAILURE,
    ModelFailure,
    RecordingHooks,
    ToolFailure,
    answer,
    blocking,
    broken,
    failure,
    fatal,
    lookup,
    make_agent,
    make_handoff_agents,
    make_tool_agent,
    tool_step,
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


MODES = ("run", "stream")


def spans_named(telemetry: Telemetry, name: str) -> list[ReadableSpan]:
    return sorted((span for span in telemetry.finished() if span.name == name), key=lambda span: span.start_time or 0)


async def _run(mode: str, agent: Agent[Any], hooks: RecordingHooks | None = None) -> Any:
    """The run's result: `Runner.run`, or `Runner.run_streamed` with every event read."""
    if mode == "run":
        return await Runner.run(agent, "hello", hooks=hooks)
    result = Runner.run_streamed(agent, "hello", hooks=hooks)
    async for _ in result.stream_events():
        pass
    return result


def _items(result: Any) -> list[tuple[str, Any]]:
    """What the app reads of a run: its items (kind and output) and its final output."""
    items = [(type(item).__name__, getattr(item, "output", None)) for item in result.new_items]
    return [*items, ("final_output", result.final_output), ("last_agent", result.last_agent.name)]


async def _observed(mode: str, make: Any) -> tuple[list[tuple[str, Any]], list[str]]:
    """The items and the hooks of one run of the agent `make()` builds."""
    calls: list[str] = []
    result = await _run(mode, make(), RecordingHooks(calls))
    return _items(result), calls


async def _raised(mode: str, make: Any) -> tuple[type[BaseException], str, type[BaseException] | None]:
    """The exception a run of the agent `make()` builds raises to the app: its class, message and cause's class."""
    with pytest.raises(Exception) as raised:
        await _run(mode, make())
    cause = raised.value.__cause__
    return type(raised.value), str(raised.value), type(cause) if cause is not None else None


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


def _ask_inner_agent() -> Agent[Any]:
    """`outer`, whose model calls `inner` (an agent used as a tool, `ask_inner`) once (5/3 tokens), then answers
    (11/7); `inner` answers at once (11/7)."""
    inner = make_agent(answer("inner answer"), name="inner")
    return Agent(
        name="outer",
        model=ScriptedModel([tool_step(("ask_inner", {"input": "q"}, "c1")), answer("outer answer")]),
        tools=[inner.as_tool(tool_name="ask_inner", tool_description="asks the inner agent")],
    )


# An agent used as a tool: the tool call is an execute_tool span, the agent's own run (Runner.run inside the
# tool) its child.
AS_TOOL_TREE: list[TreeRow] = [
    ("invoke_agent outer", INTERNAL, None, UNSET),
    ("execute_tool ask_inner", INTERNAL, "invoke_agent outer", UNSET),
    ("invoke_agent inner", INTERNAL, "execute_tool ask_inner", UNSET),
]


@pytest.mark.parametrize("mode", MODES)
async def test_agent_as_tool_runs_under_its_tool_call_span(
    mode: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result = await _run(mode, _ask_inner_agent())
    assert result.final_output == "outer answer"
    assert span_tree(telemetry) == AS_TOOL_TREE


async def test_agent_as_tool_result_is_the_same_with_and_without_us(instrumentation: Instrumentation) -> None:
    bare = _items(await Runner.run(_ask_inner_agent(), "hello"))
    instrumentation.on()
    assert _items(await Runner.run(_ask_inner_agent(), "hello")) == bare


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
    # The tool's code runs under its execute_tool span, the child of the agent span.
    (tool_span,) = tool_spans(telemetry, "probe")
    assert [s.get_span_context().span_id for s in seen] == [tool_span.context.span_id]
    assert tool_span.parent is not None
    assert tool_span.parent.span_id == _only_span(telemetry).context.span_id


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


@dataclasses.dataclass
class _TeamSettings(agents.ModelSettings):
    """Model settings of an application's own class: read setting by setting, not off the SDK class's fields."""

    team: str = "docs"


async def test_run_span_reads_the_settings_of_a_model_settings_subclass(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_agent(answer())
    agent.model_settings = _TeamSettings(temperature=0.7, top_p=0.9)
    await Runner.run(agent, "hello")
    attributes = _only_span(telemetry).attributes
    assert (attributes[semconv.GEN_AI_REQUEST_TEMPERATURE], attributes[semconv.GEN_AI_REQUEST_TOP_P]) == (0.7, 0.9)


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
    queue = result._event_queue
    assert ("put_nowait" in vars(queue), type(queue._queue)) == (False, collections.deque)  # type: ignore[attr-defined]


def _instance_dict_made(obj: object) -> bool:
    # CPython keeps a plain instance's attributes as inline values until something asks for its __dict__;
    # from then on the collector sees that dict among the object's referents.
    return any(type(referent) is dict for referent in gc.get_referents(obj))


async def test_streamed_run_keeps_event_queue_attributes_inline(instrumentation: Instrumentation) -> None:
    # Its attribute reads stay on the interpreter's fast path: a made __dict__ cost ~4k instructions per event.
    # Queues that make their __dict__ for any new attribute (the class's shared keys full) are made here too.
    asked = asyncio.Queue[Any]()
    vars(asked)
    if _instance_dict_made(asyncio.Queue()) or not _instance_dict_made(asked):
        pytest.skip("this interpreter does not show when an instance's __dict__ is made")
    for index in range(40):
        setattr(asyncio.Queue(), f"filler_{index}", index)
    instrumentation.on()
    result = Runner.run_streamed(make_agent(answer()), "hello")
    async for _ in result.stream_events():
        pass
    assert not _instance_dict_made(result._event_queue)


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


async def _sdk_spans_of(agent: Agent[Any]) -> list[str]:
    """The SDK's own trace spans (their data classes, in end order) of one run of `agent`."""
    recorder = _RecordingProcessor()
    # Only our recorder (never the SDK's hosted exporter); the process keeps tracing off afterwards.
    set_trace_processors([recorder])
    set_tracing_disabled(False)
    try:
        await Runner.run(agent, "hello")
    finally:
        set_tracing_disabled(True)
        set_trace_processors([])
    return recorder.spans


async def test_sdk_tracing_of_tool_calls_and_handoffs_is_the_same_with_and_without_us(
    instrumentation: Instrumentation,
) -> None:
    bare = await _sdk_spans_of(make_handoff_agents())
    instrumentation.on()
    assert await _sdk_spans_of(make_handoff_agents()) == bare
    assert {"FunctionSpanData", "HandoffSpanData", "AgentSpanData"} <= set(bare)


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


# -- tool calls ---------------------------------------------------------------------------------------------------

# One response calls `lookup` (a sync tool) and `broken` (an async tool that raises; by default the SDK answers
# the model with an error message and the run goes on).
TOOLS_TREE: list[TreeRow] = [
    ("invoke_agent looker", INTERNAL, None, UNSET),
    ("execute_tool lookup", INTERNAL, "invoke_agent looker", UNSET),
    ("execute_tool broken", INTERNAL, "invoke_agent looker", ERROR),
]


@pytest.mark.parametrize("mode", MODES)
async def test_tool_calls_are_execute_tool_spans_of_the_agent(
    mode: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result = await _run(mode, make_tool_agent(lookup, broken))
    assert result.final_output == "done"
    assert span_tree(telemetry) == TOOLS_TREE


@pytest.mark.parametrize("mode", MODES)
async def test_tool_runs_are_the_same_with_and_without_us(mode: str, instrumentation: Instrumentation) -> None:
    bare = await _observed(mode, lambda: make_tool_agent(lookup, broken))
    instrumentation.on()
    assert await _observed(mode, lambda: make_tool_agent(lookup, broken)) == bare


async def test_tool_span_has_the_tools_identity_and_the_models_call_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await Runner.run(make_tool_agent(lookup, broken), "hello")
    ((looked_up,), (failed,)) = tool_spans(telemetry, "lookup"), tool_spans(telemetry, "broken")
    assert {key: value for key, value in attributes(looked_up).items() if key.startswith("gen_ai.")} == {
        semconv.GEN_AI_OPERATION_NAME: "execute_tool",
        semconv.GEN_AI_TOOL_NAME: "lookup",
        semconv.GEN_AI_TOOL_TYPE: "function",
        semconv.GEN_AI_TOOL_DESCRIPTION: "Looks a word up.",
        semconv.GEN_AI_TOOL_CALL_ID: "c1",
    }
    assert attributes(failed)[semconv.GEN_AI_TOOL_CALL_ID] == "c2"


async def test_a_tool_failure_the_sdk_answers_the_model_with_is_a_failed_tool_call(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await Runner.run(make_tool_agent(broken), "hello")
    (span,) = tool_spans(telemetry, "broken")
    assert (
        span.status.status_code,
        span.status.description,
        attributes(span)[semconv.ERROR_TYPE],
        attributes(span)[semconv.OUTCOME],
        [event.name for event in span.events],
    ) == (ERROR, "no entry for otter", TOOL_FAILURE, "failed", ["exception"])
    (point,) = telemetry.metric_points(semconv.METRIC_EXECUTE_TOOL_DURATION)
    assert point.attributes[semconv.ERROR_TYPE] == TOOL_FAILURE
    assert attributes(_only_span(telemetry))[semconv.OUTCOME] == "completed"


async def test_a_tool_failure_a_custom_failure_function_answers_is_a_failed_tool_call(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    @agents.function_tool(failure_error_function=lambda context, error: f"sorry: {error}")
    def picky(word: str) -> str:
        """Refuses every word."""
        raise ToolFailure(f"will not look up {word}")

    instrumentation.on()
    result = await Runner.run(make_tool_agent(picky), "hello")
    assert result.final_output == "done"
    (span,) = tool_spans(telemetry, "picky")
    assert (span.status.status_code, attributes(span)[semconv.ERROR_TYPE], attributes(span)[semconv.OUTCOME]) == (
        ERROR,
        TOOL_FAILURE,
        "failed",
    )


# `fatal` has no failure_error_function: its exception ends the tool call, and the SDK fails the run with a
# UserError caused by it.
FATAL_TREE: list[TreeRow] = [
    ("invoke_agent looker", INTERNAL, None, ERROR),
    ("execute_tool fatal", INTERNAL, "invoke_agent looker", ERROR),
]


@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_error_that_propagates_fails_the_tool_call_and_the_run(
    mode: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    with pytest.raises(agents.UserError):
        await _run(mode, make_tool_agent(fatal))
    assert span_tree(telemetry) == FATAL_TREE
    ((tool_span,), agent_span) = tool_spans(telemetry, "fatal"), _only_span(telemetry)
    assert (attributes(tool_span)[semconv.ERROR_TYPE], attributes(agent_span)[semconv.ERROR_TYPE]) == (
        TOOL_FAILURE,
        "agents.exceptions.UserError",
    )


@pytest.mark.parametrize("mode", MODES)
async def test_a_propagating_tool_error_reaches_the_app_as_without_us(
    mode: str, instrumentation: Instrumentation
) -> None:
    bare = await _raised(mode, lambda: make_tool_agent(fatal))
    instrumentation.on()
    assert await _raised(mode, lambda: make_tool_agent(fatal)) == bare
    assert bare == (agents.UserError, "Error running tool fatal: fatal lookup", ToolFailure)


async def test_tool_arguments_and_result_are_recorded_only_with_content_capture(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    keys = (semconv.GEN_AI_TOOL_CALL_ARGUMENTS, semconv.GEN_AI_TOOL_CALL_RESULT)
    instrumentation.on()
    await Runner.run(make_tool_agent(lookup), "hello")
    instrumentation.off()
    instrumentation.on(capture_content="SPAN_ONLY")
    await Runner.run(make_tool_agent(lookup, broken), "hello")
    assert [[attributes(span).get(key) for key in keys] for span in tool_spans(telemetry, "lookup")] == [
        [None, None],
        ['{"word":"otter"}', "otter: found"],
    ]
    (failed,) = tool_spans(telemetry, "broken")
    assert attributes(failed)[semconv.GEN_AI_TOOL_CALL_RESULT] == agents.default_tool_error_function(None, None)  # type: ignore[arg-type]


async def test_a_tool_that_times_out_is_a_failed_tool_call_and_the_run_goes_on(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    @agents.function_tool(timeout=0.01)
    async def slow(word: str) -> str:
        """Takes too long."""
        await asyncio.sleep(10)
        return "late"

    instrumentation.on()
    result = await Runner.run(make_tool_agent(slow), "hello")
    assert result.final_output == "done"
    (span,) = tool_spans(telemetry, "slow")
    assert (span.status.status_code, attributes(span)[semconv.ERROR_TYPE], attributes(span)[semconv.OUTCOME]) == (
        ERROR,
        "agents.exceptions.ToolTimeoutError",
        "failed",
    )


# -- handoffs -----------------------------------------------------------------------------------------------------

# triage hands the run to specialist, which calls `lookup` and `broken` and answers: the run's span is the
# starting agent's, the agent that takes over is its child for the turns it runs, and its tool calls are under it.
HANDOFF_TREE: list[TreeRow] = [
    ("invoke_agent triage", INTERNAL, None, UNSET),
    ("invoke_agent specialist", INTERNAL, "invoke_agent triage", UNSET),
    ("execute_tool lookup", INTERNAL, "invoke_agent specialist", UNSET),
    ("execute_tool broken", INTERNAL, "invoke_agent specialist", ERROR),
]


@pytest.mark.parametrize("mode", MODES)
async def test_the_agent_a_run_is_handed_off_to_is_a_child_of_the_run(
    mode: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result = await _run(mode, make_handoff_agents())
    assert (result.final_output, result.last_agent.name) == ("special", "specialist")
    assert span_tree(telemetry) == HANDOFF_TREE


@pytest.mark.parametrize("mode", MODES)
async def test_handoff_runs_are_the_same_with_and_without_us(mode: str, instrumentation: Instrumentation) -> None:
    bare = await _observed(mode, make_handoff_agents)
    instrumentation.on()
    assert await _observed(mode, make_handoff_agents) == bare
    assert "handoff:triage->specialist" in bare[1]


@pytest.mark.parametrize(
    ("agents_of_run", "followed"),
    [(lambda: make_tool_agent(lookup), False), (make_handoff_agents, True)],
    ids=["agent without handoffs", "agent with handoffs"],
)
@pytest.mark.parametrize("mode", MODES)
async def test_only_the_turns_of_a_run_that_can_hand_off_pass_through_our_turn_hook(
    mode: str,
    agents_of_run: Any,
    followed: bool,
    instrumentation: Instrumentation,
    telemetry: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A run whose agent has no handoffs stays with it: its turns (here a tool call's, then the answer's) have
    # nothing to follow and go straight to the SDK, our turn wrapper off their path; its spans are the same.
    from otel_agent_instrumentation.adapters import openai_agents as adapter

    turns_followed: list[object] = []
    follow = adapter._handoffs_of_turn

    def spy(*args: Any) -> Any:
        turns_followed.append(args)
        return follow(*args)

    monkeypatch.setattr(adapter, "_handoffs_of_turn", spy)
    instrumentation.on()
    await _run(mode, agents_of_run())
    assert (bool(turns_followed), len(telemetry.agent_spans()) > 0) == (followed, True)


async def test_handed_off_agent_span_reads_the_agent_and_the_usage_of_its_own_turns(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await Runner.run(make_handoff_agents(), "hello", conversation_id="conv-1")
    (run_span,), (specialist,) = (
        spans_named(telemetry, "invoke_agent triage"),
        spans_named(telemetry, "invoke_agent specialist"),
    )
    keys = (
        semconv.GEN_AI_AGENT_NAME,
        semconv.GEN_AI_AGENT_DESCRIPTION,
        semconv.GEN_AI_CONVERSATION_ID,
        semconv.GEN_AI_USAGE_INPUT_TOKENS,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
        semconv.OUTCOME,
    )
    # triage's turn 5/3 tokens, specialist's two turns 5/3 and 11/7: the run's span has the run's usage.
    assert [attributes(specialist).get(key) for key in keys] == [
        "specialist",
        "answers lookups",
        "conv-1",
        16,
        10,
        "completed",
    ]
    assert [attributes(run_span).get(key) for key in keys[3:]] == [21, 13, "completed"]


def _token_sums(telemetry: Telemetry) -> dict[str, int]:
    """Each token type's sum over every gen_ai.client.token.usage point recorded."""
    sums: dict[str, int] = {}
    for point in telemetry.metric_points(semconv.METRIC_CLIENT_TOKEN_USAGE):
        token_type = str(point.attributes[semconv.GEN_AI_TOKEN_TYPE])
        sums[token_type] = sums.get(token_type, 0) + int(point.sum)
    return sums


async def test_handed_off_agents_tokens_are_counted_once_in_the_token_usage_metric(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await Runner.run(make_handoff_agents(), "hello")
    # The run's usage (21/13, above) once: the specialist's share is in it.
    assert _token_sums(telemetry) == {semconv.TOKEN_TYPE_INPUT: 21, semconv.TOKEN_TYPE_OUTPUT: 13}


@pytest.mark.parametrize("mode", MODES)
async def test_agent_used_as_a_tool_reads_the_usage_of_its_own_run(
    mode: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await _run(mode, _ask_inner_agent())
    (inner,), (outer,) = spans_named(telemetry, "invoke_agent inner"), spans_named(telemetry, "invoke_agent outer")
    usage = (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
    # The SDK adds inner's 11/7 to outer's usage (outer's own calls: 5/3 and 11/7).
    assert [attributes(inner).get(key) for key in usage] == [11, 7]
    assert [attributes(outer).get(key) for key in usage] == [27, 17]


async def test_agent_used_as_a_tools_tokens_are_counted_once_in_the_token_usage_metric(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await Runner.run(_ask_inner_agent(), "hello")
    assert _token_sums(telemetry) == {semconv.TOKEN_TYPE_INPUT: 27, semconv.TOKEN_TYPE_OUTPUT: 17}


@pytest.mark.parametrize("mode", MODES)
async def test_a_run_that_fails_after_a_handoff_fails_the_handed_off_agent_too(
    mode: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    with pytest.raises(ModelFailure):
        await _run(mode, make_handoff_agents(failure()))
    assert span_tree(telemetry) == [
        ("invoke_agent triage", INTERNAL, None, ERROR),
        ("invoke_agent specialist", INTERNAL, "invoke_agent triage", ERROR),
    ]
    assert [
        (attributes(span)[semconv.ERROR_TYPE], attributes(span)[semconv.OUTCOME]) for span in telemetry.agent_spans()
    ] == [(MODEL_FAILURE, "failed")] * 2


async def test_an_agent_that_hands_off_again_ends_before_the_next_one_starts(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # a -> b -> a: every agent that takes the run over is a child of the run, the starting agent's turns
    # after it gets the run back too.
    b = Agent(name="b", model=ScriptedModel([tool_step(("transfer_to_a", {}, "c2"))]))
    a = Agent(name="a", model=ScriptedModel([tool_step(("transfer_to_b", {}, "c1")), answer("back")]), handoffs=[b])
    b.handoffs = [a]
    instrumentation.on()
    result = await Runner.run(a, "hello")
    assert result.final_output == "back"
    assert span_tree(telemetry) == [
        ("invoke_agent a", INTERNAL, None, UNSET),
        ("invoke_agent b", INTERNAL, "invoke_agent a", UNSET),
        ("invoke_agent a", INTERNAL, "invoke_agent a", UNSET),
    ]
    (b_span,), (_, a_again) = spans_named(telemetry, "invoke_agent b"), spans_named(telemetry, "invoke_agent a")
    assert (b_span.end_time or 0) <= (a_again.start_time or 0)


async def test_a_run_resumed_in_the_agent_it_was_handed_off_to_runs_under_that_agents_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    @agents.function_tool(needs_approval=True)
    def guarded(word: str) -> str:
        """Needs approval."""
        return f"{word}: approved"

    specialist = Agent(
        name="specialist",
        model=ScriptedModel([tool_step(("guarded", {"word": "otter"}, "c2")), answer()]),
        tools=[guarded],
    )
    triage = Agent(
        name="triage", model=ScriptedModel([tool_step(("transfer_to_specialist", {}, "c1"))]), handoffs=[specialist]
    )
    first = await Runner.run(triage, "hello")
    state = first.to_state()
    state.approve(first.interruptions[0])
    instrumentation.on()
    resumed = await Runner.run(triage, state)  # the approved call runs in specialist's resumed turn
    assert resumed.final_output == "hello"
    assert span_tree(telemetry) == [
        ("invoke_agent triage", INTERNAL, None, UNSET),
        ("invoke_agent specialist", INTERNAL, "invoke_agent triage", UNSET),
        ("execute_tool guarded", INTERNAL, "invoke_agent specialist", UNSET),
    ]


async def test_a_streamed_run_stopped_after_a_handoff_ends_the_handed_off_agent_closed_early(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    entered = asyncio.Event()
    result = Runner.run_streamed(make_handoff_agents(_blocks_forever(entered)), "hello")
    await entered.wait()  # in specialist's model call
    result.cancel()
    await _run_loop_done(result)
    assert [
        (span.name, attributes(span)[semconv.OUTCOME], span.status.status_code) for span in telemetry.agent_spans()
    ] == [
        ("invoke_agent specialist", "closed_early", UNSET),
        ("invoke_agent triage", "closed_early", UNSET),
    ]


async def test_a_run_cancelled_after_a_handoff_ends_the_handed_off_agent_cancelled(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    entered = asyncio.Event()
    task = asyncio.ensure_future(Runner.run(make_handoff_agents(_blocks_forever(entered)), "hello"))
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [
        (span.name, attributes(span)[semconv.OUTCOME], span.status.status_code) for span in telemetry.agent_spans()
    ] == [
        ("invoke_agent specialist", "cancelled", ERROR),
        ("invoke_agent triage", "cancelled", ERROR),
    ]


async def test_a_dropped_run_after_a_handoff_ends_the_handed_off_agent_abandoned(
    instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    instrumentation.on()
    entered = asyncio.Event()
    task = asyncio.ensure_future(Runner.run(make_handoff_agents(_blocks_forever(entered)), "hello"))
    await entered.wait()
    with _dropped_run_noise():
        del task
        gc.collect()
    assert sorted((span.name, attributes(span)[semconv.OUTCOME]) for span in telemetry.agent_spans()) == [
        ("invoke_agent specialist", "abandoned"),
        ("invoke_agent triage", "abandoned"),
    ]
    assert _our_warnings(caplog) == []

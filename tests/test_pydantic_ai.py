"""Pydantic AI specifics: one span per run, inferred names unchanged, facts read, built-in span stood down."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import baggage, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from pydantic_ai import Agent, AgentRunResultEvent, DeferredToolRequests
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.durable_exec import replay_scope
from pydantic_ai.exceptions import CallDeferred, MessageHistoryMutatedWarning, SkipToolExecution, UserError
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RequestUsage

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
from tests.frameworks.pydantic_ai_driver import (
    MODEL_FAILURE,
    TOOL_FAILURE,
    ModelFailure,
    ToolFailure,
    make_agent,
    make_tool_agent,
    make_tools_agent,
)


def _in_thread(function: Any) -> Any:
    """run_sync drives a loop of its own; run it off the test's loop and close that loop after."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = function()
        finally:
            loop = asyncio.get_event_loop()
            loop.close()
            asyncio.set_event_loop(None)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    return box["value"]


async def _inferred(entry: str) -> str | None:
    unnamed_agent = make_agent([], name=None)
    if entry == "run":
        await unnamed_agent.run("ok")
    elif entry == "run_stream":
        await _stream_inline(unnamed_agent)
    elif entry == "run_stream_events":
        await _events_inline(unnamed_agent)
    else:
        _in_thread(lambda: unnamed_agent.run_sync("ok"))
    return unnamed_agent.name


async def _stream_inline(local_agent: Agent[None, str]) -> None:
    async with local_agent.run_stream("ok") as result:
        await result.get_output()


async def _events_inline(local_agent: Agent[None, str]) -> None:
    async with local_agent.run_stream_events("ok") as events:
        async for _ in events:
            pass


async def test_run_sync_emits_one_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    agent = make_agent([])
    _in_thread(lambda: agent.run_sync("ok"))
    assert [span.name for span in telemetry.agent_spans()] == ["invoke_agent scripted"]


async def test_run_records_model_usage_and_conversation_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result = await make_agent([]).run("ok", conversation_id="conv-1")
    (span,) = telemetry.agent_spans()
    attributes = span.attributes or {}
    assert attributes[semconv.GEN_AI_REQUEST_MODEL] == "fn-model"
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == result.usage.input_tokens
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == result.usage.output_tokens
    assert attributes[semconv.GEN_AI_CONVERSATION_ID] == "conv-1"


def _usage_response(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    return ModelResponse(
        parts=[TextPart("done")],
        finish_reason="length",
        usage=RequestUsage(input_tokens=7, output_tokens=3, cache_read_tokens=2, cache_write_tokens=1),
    )


@pytest.mark.parametrize("capture_content", ["NO_CONTENT", "SPAN_ONLY"])
async def test_awaited_run_records_what_its_results_properties_say(
    capture_content: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # Without content capture the result's facts are read off its run state, with it through its properties.
    instrumentation.on(capture_content=capture_content)
    result = await Agent(FunctionModel(_usage_response), name="usage").run("ok", conversation_id="conv-9")
    (span,) = telemetry.agent_spans()
    recorded = span.attributes or {}
    assert {
        key: recorded.get(key)
        for key in (
            semconv.GEN_AI_USAGE_INPUT_TOKENS,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
            semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            semconv.GEN_AI_CONVERSATION_ID,
            semconv.GEN_AI_RESPONSE_FINISH_REASONS,
        )
    } == {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: result.usage.input_tokens,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: result.usage.output_tokens,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: result.usage.cache_read_tokens,
        semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: result.usage.cache_write_tokens,
        semconv.GEN_AI_CONVERSATION_ID: result.conversation_id,
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: (result.response.finish_reason,),
    }


async def test_run_stream_records_usage_of_the_finished_stream(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_agent([])
    async with agent.run_stream("ok") as result:
        await result.get_output()
    (span,) = telemetry.agent_spans()
    assert (span.attributes or {})[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == result.usage.output_tokens


async def test_run_stream_records_the_usage_of_the_whole_run_after_a_tool_call(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    async with make_tool_agent().run_stream("ok") as result:
        await result.get_output()
    (span,) = telemetry.agent_spans()
    recorded = span.attributes or {}
    tokens = (recorded[semconv.GEN_AI_USAGE_INPUT_TOKENS], recorded[semconv.GEN_AI_USAGE_OUTPUT_TOKENS])
    assert result.usage.requests == 2 and tokens == (result.usage.input_tokens, result.usage.output_tokens)


async def test_run_stream_closed_early_records_the_usage_streamed_so_far(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    async with make_agent([]).run_stream("ok") as result:
        async for _ in result.stream_text(delta=True, debounce_by=None):
            break
        streamed_so_far = result.usage
    (span,) = telemetry.agent_spans()
    recorded = span.attributes or {}
    tokens = (recorded[semconv.GEN_AI_USAGE_INPUT_TOKENS], recorded[semconv.GEN_AI_USAGE_OUTPUT_TOKENS])
    assert tokens == (streamed_so_far.input_tokens, streamed_so_far.output_tokens)


async def test_inferred_agent_name_is_unchanged_by_instrumentation(instrumentation: Instrumentation) -> None:
    entries = ("run", "run_sync", "run_stream", "run_stream_events")
    bare = {entry: await _inferred(entry) for entry in entries}
    instrumentation.on()
    traced = {entry: await _inferred(entry) for entry in entries}
    assert traced == bare
    assert bare["run"] == "unnamed_agent"


async def test_span_is_named_after_the_inferred_agent_name(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await _inferred("run")
    assert [span.name for span in telemetry.agent_spans()] == ["invoke_agent unnamed_agent"]


async def test_nested_agent_run_is_a_child_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    inner = make_agent([], name="inner")

    async def outer_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        answer = await inner.run("ok")
        return ModelResponse(parts=[TextPart(answer.output)])

    outer = Agent(FunctionModel(outer_model), name="outer")
    instrumentation.on()
    await outer.run("ok")
    spans = {span.name: span for span in telemetry.agent_spans()}
    assert spans["invoke_agent inner"].parent is not None
    assert spans["invoke_agent inner"].parent.span_id == spans["invoke_agent outer"].context.span_id


async def test_builtin_agent_span_is_stood_down_by_default(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    agent = make_agent([])
    agent.instrument = InstrumentationSettings(tracer_provider=telemetry.tracer_provider)
    instrumentation.on()
    await agent.run("ok")
    (ours,) = telemetry.agent_spans()
    chat = [span for span in telemetry.finished() if span.name.startswith("chat ")]
    assert chat and all(span.parent is not None and span.parent.span_id == ours.context.span_id for span in chat)


async def test_builtin_agent_span_is_kept_with_keep_framework_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    agent = make_agent([])
    agent.instrument = InstrumentationSettings(tracer_provider=telemetry.tracer_provider)
    instrumentation.on(keep_framework_spans=True)
    await agent.run("ok")
    assert len(telemetry.agent_spans()) == 2


async def test_run_stream_with_builtin_instrumentation_shows_the_block_our_span_and_gives_the_caller_its_own_back(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    from opentelemetry import trace

    agent = make_agent([])
    agent.instrument = InstrumentationSettings(tracer_provider=telemetry.tracer_provider)
    instrumentation.on()
    caller = trace.get_current_span()
    in_block: list[int] = []
    async with agent.run_stream("ok") as result:
        async for _ in result.stream_text(delta=True, debounce_by=None):
            in_block.append(trace.get_current_span().get_span_context().span_id)
    assert trace.get_current_span() is caller
    (ours,) = telemetry.agent_spans()
    spans = telemetry.finished()
    # Where pydantic-ai's own spans would be current without us (it sets its run context for the block):
    # ours, or its chat span under ours.
    in_run = {span.context.span_id for span in spans if span is ours or _is_under(span, ours, spans)}
    assert in_block and set(in_block) <= in_run


# -- the application's own error in the block ----------------------------------------------------------------------


async def _raise_in_block(entry: str, error: BaseException, after_completion: bool) -> None:
    """Leave the entry point's `async with` block by raising the application's own `error`, after the run
    completed (the output read, every node or event pulled) or right after entering it."""
    agent = make_agent([])
    if entry == "run_stream":
        async with agent.run_stream("ok") as result:
            if after_completion:
                await result.get_output()
            raise error
    elif entry == "iter":
        async with agent.iter("ok") as run:
            async for _ in run:
                if not after_completion:
                    raise error
            raise error
    else:
        async with agent.run_stream_events("ok") as events:
            async for _ in events:
                if not after_completion:
                    raise error
            raise error


@pytest.mark.parametrize("entry", ["run_stream", "iter", "run_stream_events"])
@pytest.mark.parametrize(("after_completion", "outcome"), [(True, "completed"), (False, "closed_early")])
async def test_app_error_in_the_block_is_not_the_runs(
    instrumentation: Instrumentation, telemetry: Telemetry, entry: str, after_completion: bool, outcome: str
) -> None:
    instrumentation.on()
    app_error = KeyError("the app's own")
    with pytest.raises(KeyError) as raised:
        await _raise_in_block(entry, app_error, after_completion)
    assert raised.value is app_error
    (span,) = telemetry.agent_spans()
    assert (span.status.status_code, attributes(span)[semconv.OUTCOME]) == (StatusCode.UNSET, outcome)


# -- agent.iter() with node.stream(run.ctx) ------------------------------------------------------------------------


async def _stream_every_node(agent: Agent[None, str], prompt: str = "ok", on_event: Any = None) -> list[str]:
    """pydantic-ai's documented way to stream every event of a run; returns the event class names."""
    seen: list[str] = []
    async with agent.iter(prompt) as run:
        async for node in run:
            if Agent.is_model_request_node(node) or Agent.is_call_tools_node(node):
                async with node.stream(run.ctx) as stream:
                    async for event in stream:
                        seen.append(type(event).__name__)
                        if on_event is not None:
                            on_event()
    return seen


def _current_span_id() -> int:
    return trace.get_current_span().get_span_context().span_id


def _with_builtin_instrumentation(agent: Agent[None, str], telemetry: Telemetry) -> Agent[None, str]:
    agent.instrument = InstrumentationSettings(tracer_provider=telemetry.tracer_provider)
    return agent


def _is_under(span: ReadableSpan, ancestor: ReadableSpan, spans: list[ReadableSpan]) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    parent = span.parent
    while parent is not None:
        if parent.span_id == ancestor.context.span_id:
            return True
        above = by_id.get(parent.span_id)
        parent = above.parent if above is not None else None
    return False


async def test_iter_node_streams_run_the_model_and_tools_under_the_agent_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    agent = _with_builtin_instrumentation(make_tool_agent(), telemetry)
    instrumentation.on()
    await _stream_every_node(agent)
    spans = telemetry.finished()
    (ours,) = telemetry.agent_spans()
    framework = [span for span in spans if span is not ours]
    assert {"chat fn-model", "execute_tool lookup"} <= {span.name for span in framework}
    assert [span.name for span in framework if not _is_under(span, ours, spans)] == []


async def test_iter_node_streams_yield_the_same_events_as_bare(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    bare = await _stream_every_node(_with_builtin_instrumentation(make_tool_agent(), telemetry))
    instrumentation.on()
    traced = await _stream_every_node(_with_builtin_instrumentation(make_tool_agent(), telemetry))
    assert traced == bare


async def test_iter_node_streams_show_the_block_the_runs_span_and_give_the_caller_its_own_back(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # With its instrumentation on, pydantic-ai sets its run's context in the consumer's task for the
    # block (without us the block sees its run span and baggage). With ours on, its run span is stood
    # down: the block sees ours (or a span under it), never one outside the run; the caller's comes back.
    agent = _with_builtin_instrumentation(make_tool_agent(), telemetry)
    instrumentation.on()
    caller = trace.get_current_span()
    current: list[int] = []
    await _stream_every_node(
        agent, on_event=lambda: current.append(trace.get_current_span().get_span_context().span_id)
    )
    assert trace.get_current_span() is caller
    (ours,) = telemetry.agent_spans()
    spans = telemetry.finished()
    in_run = {span.context.span_id for span in spans if span is ours or _is_under(span, ours, spans)}
    assert current and set(current) <= in_run


async def test_iter_node_stream_failure_is_the_runs(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    with pytest.raises(ModelFailure):
        await _stream_every_node(make_agent([]), prompt="fail")
    (span,) = telemetry.agent_spans()
    assert (attributes(span)[semconv.OUTCOME], attributes(span)[semconv.ERROR_TYPE]) == ("failed", MODEL_FAILURE)


# -- time to first chunk of run_stream -----------------------------------------------------------------------------

_AFTER_THE_FIRST_ITEM = 0.2  # seconds the consumer spends after its first item


@pytest.mark.parametrize("method", ["stream_text", "stream_output", "stream_response"])
async def test_run_stream_time_to_first_chunk_is_the_first_streamed_item(
    instrumentation: Instrumentation, telemetry: Telemetry, method: str
) -> None:
    instrumentation.on()
    async with make_agent([]).run_stream("ok") as result:
        items = 0
        async for _ in getattr(result, method)(debounce_by=None):
            items += 1
            if items == 1:
                await asyncio.sleep(_AFTER_THE_FIRST_ITEM)
    (first_chunk,) = telemetry.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
    (duration,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    assert (first_chunk.count, duration.sum - first_chunk.sum >= _AFTER_THE_FIRST_ITEM) == (1, True)


async def test_run_stream_read_without_streaming_has_no_time_to_first_chunk(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    async with make_agent([]).run_stream("ok") as result:
        await result.get_output()
    assert telemetry.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK) == []


# -- gen_ai.provider.name ------------------------------------------------------------------------------------------


def _function_agent() -> Agent[None, str]:
    return make_agent([])


def _test_model_agent() -> Agent[None, str]:
    return Agent(TestModel(), name="scripted")


@pytest.mark.parametrize(
    ("make", "run_kwargs", "provider"),
    [
        (_function_agent, {}, "function"),
        (_test_model_agent, {}, "test"),
        (_function_agent, {"model": TestModel()}, "test"),
        (_function_agent, {"model": "test"}, "test"),
    ],
    ids=["agent FunctionModel", "agent TestModel", "call-time Model", "call-time 'test'"],
)
async def test_provider_name_is_the_systems_of_the_model_the_run_uses(
    instrumentation: Instrumentation,
    telemetry: Telemetry,
    make: Any,
    run_kwargs: dict[str, Any],
    provider: str,
) -> None:
    instrumentation.on()
    await make().run("ok", **run_kwargs)
    (duration,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    recorded = (
        telemetry.agent_attributes()[semconv.GEN_AI_PROVIDER_NAME],
        duration.attributes[semconv.GEN_AI_PROVIDER_NAME],
    )
    assert recorded == (provider, provider)


async def test_provider_name_follows_an_agent_override(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    agent = _function_agent()
    instrumentation.on()
    with agent.override(model=TestModel()):
        await agent.run("ok")
    assert telemetry.agent_attributes()[semconv.GEN_AI_PROVIDER_NAME] == "test"


@pytest.mark.parametrize(
    ("model_id", "provider"),
    [("openai:gpt-4o", "openai"), ("openai-chat:gpt-4o", "openai"), ("gateway/chat:gpt-4o", "openai")],
)
@pytest.mark.parametrize("where", ["agent", "call"])
async def test_provider_name_of_a_model_id_is_read_without_building_the_model(
    instrumentation: Instrumentation,
    telemetry: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
    model_id: str,
    provider: str,
    where: str,
) -> None:
    # No API key: pydantic-ai fails building the model inside the run, before any request is made.
    for variable in ("OPENAI_API_KEY", "PYDANTIC_AI_GATEWAY_API_KEY", "PAIG_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    instrumentation.on()
    if where == "agent":
        agent: Agent[None, str] = Agent(model_id, name="scripted", defer_model_check=True)
        run = agent.run("ok")
    else:
        run = _function_agent().run("ok", model=model_id)
    with pytest.raises(UserError):
        await run
    (duration,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    recorded = (
        telemetry.agent_attributes()[semconv.GEN_AI_PROVIDER_NAME],
        duration.attributes[semconv.GEN_AI_PROVIDER_NAME],
    )
    assert recorded == (provider, provider)


# -- pydantic-ai's run wrapper keeps doing what is not telemetry ---------------------------------------------------


async def _warnings_of_a_run_mutating_its_history(entry: str, telemetry: Telemetry) -> list[str]:
    """A run continuing a history whose first prompt the app mutates in place after the first model request."""
    earlier = UserPromptPart("earlier")
    history: list[ModelMessage] = [ModelRequest(parts=[earlier]), ModelResponse(parts=[TextPart("ok")])]

    def mutate() -> None:
        earlier.content = "mutated in place"

    agent = _with_builtin_instrumentation(make_tool_agent(on_tool=mutate), telemetry)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if entry == "run":
            await agent.run("ok", message_history=history)
        else:
            async with agent.iter("ok", message_history=history) as run:
                async for _ in run:
                    pass
    return [str(w.message) for w in caught if issubclass(w.category, MessageHistoryMutatedWarning)]


@pytest.mark.parametrize("entry", ["run", "iter"])
async def test_history_mutation_warning_is_the_same_with_our_span(
    instrumentation: Instrumentation, telemetry: Telemetry, entry: str
) -> None:
    bare = await _warnings_of_a_run_mutating_its_history(entry, telemetry)
    instrumentation.on()
    traced = await _warnings_of_a_run_mutating_its_history(entry, telemetry)
    assert (len(bare), traced) == (1, bare)


async def _baggage_seen_by_the_tool(entry: str, telemetry: Telemetry) -> dict[str, object]:
    seen: dict[str, object] = {}
    agent = _with_builtin_instrumentation(make_tool_agent(on_tool=lambda: seen.update(baggage.get_all())), telemetry)
    if entry == "run":
        await agent.run("ok", run_id="run-1", conversation_id="conv-1")
    else:
        async with agent.iter("ok", run_id="run-1", conversation_id="conv-1") as run:
            async for _ in run:
                pass
    return seen


@pytest.mark.parametrize("entry", ["run", "iter"])
async def test_run_baggage_is_the_same_with_our_span(
    instrumentation: Instrumentation, telemetry: Telemetry, entry: str
) -> None:
    bare = await _baggage_seen_by_the_tool(entry, telemetry)
    instrumentation.on()
    traced = await _baggage_seen_by_the_tool(entry, telemetry)
    assert (bare["gen_ai.agent.name"], traced) == ("scripted", bare)


@dataclass
class _MarksTheRunSpan(AbstractCapability[Any]):
    """An app capability that sets an attribute on the current span when the run starts (pydantic-ai's
    documented way for capabilities to annotate its run span)."""

    async def before_run(self, ctx: Any) -> None:
        trace.get_current_span().set_attribute("app.mark", "set before the run")


@pytest.mark.parametrize("in_replay_scope", [False, True], ids=["plain run", "durable replay scope"])
async def test_attribute_a_capability_sets_on_the_current_run_span_lands_on_ours(
    instrumentation: Instrumentation, telemetry: Telemetry, in_replay_scope: bool
) -> None:
    # In a durable replay scope pydantic-ai makes its run span current itself: the stand-in passes writes on.
    agent = Agent(make_agent([]).model, name="scripted", capabilities=[_MarksTheRunSpan()])
    agent.instrument = InstrumentationSettings(tracer_provider=telemetry.tracer_provider)
    instrumentation.on()
    with replay_scope() if in_replay_scope else contextlib.nullcontext():
        await agent.run("ok")
    (ours,) = telemetry.agent_spans()
    assert attributes(ours).get("app.mark") == "set before the run"


async def test_run_stream_with_builtin_span_kept_leaves_caller_context_alone(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    agent = _with_builtin_instrumentation(make_agent([]), telemetry)
    instrumentation.on(keep_framework_spans=True)
    caller = trace.get_current_span()
    async with agent.run_stream("ok") as result:
        async for _ in result.stream_text(delta=True, debounce_by=None):
            pass  # to the end of the text, which ends the run before the block does
    assert trace.get_current_span() is caller


# -- tool calls ---------------------------------------------------------------------------------------------------

# Every way to run an agent: run, run_stream, run_stream_events, and iter() streaming every node.
MODES = ("run", "run_stream", "run_stream_events", "iter")


async def _run_in(mode: str, agent: Agent[Any, Any]) -> list[ModelMessage]:
    """Run `agent` the `mode` way to its end; the run's messages."""
    if mode == "run":
        return (await agent.run("hello")).all_messages()
    if mode == "run_stream":
        async with agent.run_stream("hello") as result:
            await result.get_output()
        return result.all_messages()
    if mode == "run_stream_events":
        async with agent.run_stream_events("hello") as events:
            async for event in events:
                if isinstance(event, AgentRunResultEvent):
                    return event.result.all_messages()
        raise AssertionError("the run ended with no AgentRunResultEvent")
    async with agent.iter("hello") as run:
        async for node in run:
            if Agent.is_model_request_node(node) or Agent.is_call_tools_node(node):
                async with node.stream(run.ctx) as stream:
                    async for _ in stream:
                        pass
    assert run.result is not None
    return run.result.all_messages()


def _seen_by_the_app(messages: list[ModelMessage]) -> list[tuple[Any, ...]]:
    """The parts of a run's messages, without their timestamps and ids."""
    return [
        (
            type(part).__name__,
            getattr(part, "tool_name", None),
            getattr(part, "content", None),
            getattr(part, "outcome", None),
        )
        for message in messages
        for part in message.parts
    ]


# One response calls `lookup` (sync, returns) and `broken` (async, raises ModelRetry: pydantic-ai asks the model
# to retry and the run goes on).
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
    await _run_in(mode, make_tools_agent("lookup", "broken"))
    assert span_tree(telemetry) == TOOLS_TREE


@pytest.mark.parametrize("mode", MODES)
async def test_tool_runs_are_the_same_with_and_without_us(mode: str, instrumentation: Instrumentation) -> None:
    bare = _seen_by_the_app(await _run_in(mode, make_tools_agent("lookup", "broken")))
    instrumentation.on()
    assert _seen_by_the_app(await _run_in(mode, make_tools_agent("lookup", "broken"))) == bare


async def test_tool_span_has_the_tools_identity_and_the_models_call_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await make_tools_agent("lookup", "broken").run("hello")
    ((looked_up,), (retried,)) = tool_spans(telemetry, "lookup"), tool_spans(telemetry, "broken")
    assert {key: value for key, value in attributes(looked_up).items() if key.startswith("gen_ai.")} == {
        semconv.GEN_AI_OPERATION_NAME: "execute_tool",
        semconv.GEN_AI_TOOL_NAME: "lookup",
        semconv.GEN_AI_TOOL_TYPE: "function",
        semconv.GEN_AI_TOOL_DESCRIPTION: "Looks a word up.",
        semconv.GEN_AI_TOOL_CALL_ID: "c1",
    }
    assert attributes(retried)[semconv.GEN_AI_TOOL_CALL_ID] == "c2"


@pytest.mark.parametrize(
    ("tool", "error_type", "message"),
    [
        ("broken", "pydantic_ai.exceptions.ModelRetry", "no entry for otter, try another word"),
        ("refused", "pydantic_ai.exceptions.ToolFailed", "will not look up otter"),
    ],
)
async def test_a_tool_failure_pydantic_ai_returns_to_the_model_is_a_failed_tool_call(
    tool: str, error_type: str, message: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result = await make_tools_agent(tool).run("hello")
    assert result.output == "done"
    (span,) = tool_spans(telemetry, tool)
    assert (
        span.status.status_code,
        span.status.description,
        attributes(span)[semconv.ERROR_TYPE],
        attributes(span)[semconv.OUTCOME],
        [event.name for event in span.events],
    ) == (ERROR, message, error_type, "failed", ["exception"])
    (point,) = telemetry.metric_points(semconv.METRIC_EXECUTE_TOOL_DURATION)
    assert point.attributes[semconv.ERROR_TYPE] == error_type
    assert attributes(telemetry.agent_spans()[0])[semconv.OUTCOME] == "completed"


# `fatal` raises an exception pydantic-ai lets out of the tool call: the run fails with it.
FATAL_TREE: list[TreeRow] = [
    ("invoke_agent looker", INTERNAL, None, ERROR),
    ("execute_tool fatal", INTERNAL, "invoke_agent looker", ERROR),
]


@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_error_that_propagates_fails_the_tool_call_and_the_run(
    mode: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    with pytest.raises(ToolFailure):
        await _run_in(mode, make_tools_agent("fatal"))
    assert span_tree(telemetry) == FATAL_TREE
    assert [attributes(span)[semconv.ERROR_TYPE] for span in telemetry.finished()] == [TOOL_FAILURE] * 2


@pytest.mark.parametrize("mode", MODES)
async def test_a_propagating_tool_error_reaches_the_app_as_without_us(
    mode: str, instrumentation: Instrumentation
) -> None:
    async def raised() -> tuple[type[BaseException], str]:
        with pytest.raises(ToolFailure) as error:
            await _run_in(mode, make_tools_agent("fatal"))
        return type(error.value), str(error.value)

    bare = await raised()
    instrumentation.on()
    assert await raised() == bare == (ToolFailure, "fatal lookup of otter")


async def test_tool_arguments_and_result_are_recorded_only_with_content_capture(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    keys = (semconv.GEN_AI_TOOL_CALL_ARGUMENTS, semconv.GEN_AI_TOOL_CALL_RESULT)
    instrumentation.on()
    await make_tools_agent("lookup").run("hello")
    instrumentation.off()
    instrumentation.on(capture_content="SPAN_ONLY")
    await make_tools_agent("lookup").run("hello")
    assert [[attributes(span).get(key) for key in keys] for span in tool_spans(telemetry, "lookup")] == [
        [None, None],
        ['{"word":"otter"}', "otter: found"],
    ]


async def test_a_sync_tools_code_runs_under_its_tool_call_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    seen: list[int] = []
    agent = make_tool_agent(on_tool=lambda: seen.append(_current_span_id()))  # a sync tool, run in a worker thread
    instrumentation.on()
    await agent.run("ok")
    (span,) = tool_spans(telemetry, "lookup")
    assert seen == [span.context.span_id]


@dataclass
class _SkipsLookups(AbstractCapability[Any]):
    """Answers every tool call itself (a cache): pydantic-ai's control flow, not a failure."""

    async def before_tool_execute(self, ctx: Any, *, call: Any, tool_def: Any, args: Any) -> Any:
        raise SkipToolExecution("from the cache")


async def test_a_tool_call_a_hook_answers_itself_is_a_completed_tool_call(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    agent = make_tools_agent("lookup")
    instrumentation.on(capture_content="SPAN_ONLY")
    result = await agent.run("hello", capabilities=[_SkipsLookups()])
    assert result.output == "done"
    (span,) = tool_spans(telemetry, "lookup")
    assert (
        span.status.status_code,
        attributes(span)[semconv.OUTCOME],
        attributes(span)[semconv.GEN_AI_TOOL_CALL_RESULT],
    ) == (
        UNSET,
        "completed",
        "from the cache",
    )


async def test_a_tool_call_the_tool_defers_is_a_completed_tool_call(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    async def call_it(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart("later", {}, tool_call_id="c1")])

    agent: Agent[None, str | DeferredToolRequests] = Agent(
        FunctionModel(call_it), name="deferrer", output_type=[str, DeferredToolRequests]
    )

    @agent.tool_plain
    def later() -> str:
        """Runs outside the agent."""
        raise CallDeferred()

    instrumentation.on()
    result = await agent.run("hello")
    assert isinstance(result.output, DeferredToolRequests)
    (span,) = tool_spans(telemetry, "later")
    assert (span.status.status_code, attributes(span)[semconv.OUTCOME]) == (UNSET, "completed")


# With pydantic-ai's own instrumentation on, its chat and execute_tool spans are the run's, under our agent span;
# we add no execute_tool span of our own.
BUILTIN_TOOLS_TREE: list[TreeRow] = [
    ("invoke_agent looker", INTERNAL, None, UNSET),
    ("chat fn-model", SpanKind.CLIENT, "invoke_agent looker", UNSET),
    ("execute_tool lookup", INTERNAL, "invoke_agent looker", UNSET),
    ("execute_tool broken", INTERNAL, "invoke_agent looker", ERROR),
    ("chat fn-model", SpanKind.CLIENT, "invoke_agent looker", UNSET),
]


@pytest.mark.parametrize("mode", MODES)
async def test_with_pydantic_ais_instrumentation_its_tool_spans_are_under_ours_and_we_add_none(
    mode: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    agent = make_tools_agent("lookup", "broken")
    agent.instrument = InstrumentationSettings(tracer_provider=telemetry.tracer_provider)
    instrumentation.on()
    await _run_in(mode, agent)
    assert span_tree(telemetry) == BUILTIN_TOOLS_TREE
    scopes = [(span.name, getattr(span.instrumentation_scope, "name", None)) for span in telemetry.finished()]
    ours = [span_name for span_name, scope in scopes if scope == "otel_agent_instrumentation"]
    assert ours == ["invoke_agent looker"]


async def test_run_stream_cancelled_before_its_output_ends_closed_early_as_it_has_no_settled_result(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_agent([])
    async with agent.run_stream("ok") as result:
        await result.cancel()
        with pytest.raises(UserError):
            result.result  # noqa: B018 - pydantic-ai's own answer: no settled result
    (span,) = telemetry.agent_spans()
    assert (span.attributes or {})[semconv.OUTCOME] == "closed_early"

"""Pydantic AI specifics: one span per run, inferred names unchanged, facts read, built-in span stood down."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.exceptions import UserError
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.test import TestModel

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks.pydantic_ai_driver import make_agent


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


async def test_run_stream_records_usage_of_the_finished_stream(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_agent([])
    async with agent.run_stream("ok") as result:
        await result.get_output()
    (span,) = telemetry.agent_spans()
    assert (span.attributes or {})[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == result.usage.output_tokens


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


async def test_run_stream_with_builtin_instrumentation_leaves_caller_context_alone(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    from opentelemetry import trace

    agent = make_agent([])
    agent.instrument = InstrumentationSettings(tracer_provider=telemetry.tracer_provider)
    instrumentation.on()
    caller = trace.get_current_span()
    async with agent.run_stream("ok") as result:
        async for _ in result.stream_text(delta=True, debounce_by=None):
            assert trace.get_current_span() is caller
    assert trace.get_current_span() is caller
    assert len(telemetry.agent_spans()) == 1


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

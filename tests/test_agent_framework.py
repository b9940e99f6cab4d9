"""Microsoft Agent Framework specifics: the after_run bug, the ResponseStream shape, attributes,
context propagation, content capture, metrics, and the framework's own agent span."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from agent_framework import AgentSession, ResponseStream, observability
from agent_framework.observability import ChatTelemetryLayer
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry, attributes
from tests.frameworks.agent_framework_driver import (
    MODEL_FAILURE,
    DeferredStreamAgent,
    ModelFailure,
    Script,
    ScriptedChatClient,
    make_agent,
)

ROOT = Path(__file__).resolve().parent.parent


def client_of(agent: object) -> ScriptedChatClient:
    client = agent.client  # type: ignore[attr-defined]
    assert isinstance(client, ScriptedChatClient)
    return client


async def test_stream_failing_mid_way_fires_no_after_run_and_ends_span_error(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    hooks: list[str] = []
    agent = make_agent(Script(fail_at=1), hooks)
    stream = agent.run("hello", stream=True)
    with pytest.raises(ModelFailure) as raised:
        async for _ in stream:
            pass
    assert raised.value is client_of(agent).raised[0]
    assert hooks == ["before_run"]
    (span,) = telemetry.agent_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "model failed after 1 chunks"
    assert attributes(span)[semconv.ERROR_TYPE] == "tests.frameworks.agent_framework_driver.ModelFailure"
    assert [event.name for event in span.events] == ["exception"]


async def test_early_close_fires_no_after_run(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    hooks: list[str] = []
    stream = make_agent(Script(), hooks).run("hello", stream=True)
    async for _ in stream:
        break
    await stream.close()
    assert hooks == ["before_run"]
    assert telemetry.agent_attributes()[semconv.OUTCOME] == "closed_early"


async def test_async_with_exit_ends_span_closed_early(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    hooks: list[str] = []
    async with make_agent(Script(), hooks).run("hello", stream=True) as stream:
        async for _ in stream:
            break
    assert hooks == ["before_run"]
    assert telemetry.agent_attributes()[semconv.OUTCOME] == "closed_early"


async def test_abandoned_stream_fires_no_after_run_and_ends_once(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    hooks: list[str] = []
    stream = make_agent(Script(), hooks).run("hello", stream=True)
    async for _ in stream:
        break
    del stream
    gc.collect()
    assert hooks == ["before_run"]
    (span,) = telemetry.agent_spans()
    assert attributes(span)[semconv.OUTCOME] == "abandoned"
    assert span.status.status_code is StatusCode.UNSET


async def test_builtin_telemetry_alone_fires_after_run_on_early_close(telemetry: Telemetry) -> None:
    # The upstream behaviour this package exists to avoid (agent-framework-core 1.23.0): without us,
    # the framework's own telemetry asks for the final response when a stream is closed early.
    hooks: list[str] = []
    stream = make_agent(Script(), hooks).run("hello", stream=True)
    async for _ in stream:
        break
    await stream.close()
    assert hooks == ["before_run", "after_run:'chunk0 '"]


async def test_stream_stays_a_response_stream(instrumentation: Instrumentation) -> None:
    instrumentation.on()
    stream = make_agent(Script(), []).run("hello", stream=True)
    assert isinstance(stream, ResponseStream)
    assert await stream is stream
    async for _ in stream:
        pass


async def test_chained_result_hook_keeps_the_span_and_runs(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    seen: list[str] = []
    stream = make_agent(Script(), []).run("hello", stream=True)
    chained = stream.with_result_hook(lambda response: seen.append(response.text))
    assert chained is stream
    async for _ in chained:
        pass
    assert seen == ["chunk0 chunk1 chunk2 "]
    assert telemetry.agent_attributes()[semconv.OUTCOME] == "completed"


async def consume_mapped() -> tuple[list[str], str]:
    stream = make_agent(Script(), []).run("hello", stream=True)
    mapped = stream.map(lambda update: update.text.upper(), lambda updates: "".join(updates))
    return [text async for text in mapped], await mapped.get_final_response()


async def test_mapped_stream_takes_the_run_over(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    # Compared with the bare run, not a literal list: how many updates a mapped stream yields is the
    # framework's (1.26.0 yields one more empty update than 1.23.0).
    bare = await consume_mapped()
    instrumentation.on()
    traced = await consume_mapped()
    assert traced == bare
    assert bare[0][:3] == ["CHUNK0 ", "CHUNK1 ", "CHUNK2 "] and bare[1] == "CHUNK0 CHUNK1 CHUNK2 "
    (span,) = telemetry.agent_spans()
    assert attributes(span)[semconv.OUTCOME] == "completed"


# Streams the application builds over the agent's stream; each takes the run over.
CHAINS: dict[str, Callable[[Any], Any]] = {
    "map": lambda stream: stream.map(lambda update: update.text.upper(), "".join),
    "flat_map": lambda stream: stream.flat_map(lambda update: list(update.text), "".join),
    "with_finalizer": lambda stream: stream.with_finalizer(len),
}

RESULT_FACTS = (
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_RESPONSE_ID,
    semconv.GEN_AI_RESPONSE_FINISH_REASONS,
)


def result_facts(span_attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {key: span_attributes.get(key) for key in RESULT_FACTS}


async def chained_run(chain: Callable[[Any], Any]) -> tuple[list[str], Any]:
    stream = chain(make_agent(Script(), []).run("hello", stream=True))
    updates = [str(getattr(update, "text", update)) async for update in stream]
    return updates, await stream.get_final_response()


@pytest.mark.parametrize("chain", CHAINS.values(), ids=CHAINS.keys())
async def test_chained_stream_reports_the_facts_of_the_agent_updates(
    instrumentation: Instrumentation, telemetry: Telemetry, chain: Callable[[Any], Any]
) -> None:
    instrumentation.on()
    async for _ in make_agent(Script(), []).run("hello", stream=True):
        pass
    async for _ in chain(make_agent(Script(), []).run("hello", stream=True)):
        pass
    plain, chained = telemetry.agent_spans()
    assert result_facts(attributes(chained)) == result_facts(attributes(plain))
    assert result_facts(attributes(plain)) == {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 7,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 3,
        semconv.GEN_AI_RESPONSE_ID: "resp-1",
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
    }


@pytest.mark.parametrize("chain", CHAINS.values(), ids=CHAINS.keys())
async def test_chained_stream_yields_what_it_yields_bare(
    instrumentation: Instrumentation, chain: Callable[[Any], Any]
) -> None:
    bare = await chained_run(chain)
    instrumentation.on()
    assert await chained_run(chain) == bare


async def test_model_steps_run_under_the_agent_span_in_another_task(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_agent(Script(), [])
    stream = agent.run("hello", stream=True)

    async def consume() -> None:
        async for _ in stream:
            pass

    await asyncio.create_task(consume())
    (span,) = telemetry.agent_spans()
    assert set(client_of(agent).current_spans) == {span.context.span_id}


async def test_attributes_come_from_the_agent_and_response(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_agent(Script(), [])
    session = AgentSession(service_session_id="thread-42")
    async for _ in agent.run("hello", stream=True, session=session):
        pass
    attributes = telemetry.agent_attributes()
    assert attributes[semconv.GEN_AI_AGENT_NAME] == "scripted"
    assert attributes[semconv.GEN_AI_AGENT_DESCRIPTION] == "An offline scripted agent"
    assert attributes[semconv.GEN_AI_REQUEST_MODEL] == "fake-1"
    assert attributes[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.0
    assert attributes[semconv.GEN_AI_CONVERSATION_ID] == "thread-42"
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 7
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert attributes[semconv.GEN_AI_RESPONSE_ID] == "resp-1"


class MistralScriptedChatClient(ScriptedChatClient):
    """A chat client declaring its provider as Agent Framework's Mistral client does."""

    OTEL_PROVIDER_NAME: ClassVar[str] = "mistralai"


class TelemetryScriptedChatClient(ChatTelemetryLayer[Any], ScriptedChatClient):
    """A chat client with the framework's telemetry layer, whose provider is set per instance."""


@pytest.mark.parametrize(
    ("client", "provider"),
    [(ScriptedChatClient, semconv.PROVIDER_OTHER), (MistralScriptedChatClient, "mistral_ai")],
    ids=["undeclared", "declared"],
)
async def test_provider_name_comes_from_the_chat_client(
    instrumentation: Instrumentation, telemetry: Telemetry, client: type[ScriptedChatClient], provider: str
) -> None:
    instrumentation.on()
    await make_agent(Script(), [], client=client(Script())).run("hello")
    (point,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    on_span = telemetry.agent_attributes()[semconv.GEN_AI_PROVIDER_NAME]
    assert (on_span, point.attributes[semconv.GEN_AI_PROVIDER_NAME]) == (provider, provider)


async def test_provider_name_set_on_the_chat_client_instance_wins(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    client = TelemetryScriptedChatClient(Script(), otel_provider_name="Anthropic")
    await make_agent(Script(), [], client=client).run("hello")
    assert telemetry.agent_attributes()[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"


async def test_content_is_not_captured_by_default(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await make_agent(Script(), []).run("secret question")
    attributes = telemetry.agent_attributes()
    assert semconv.GEN_AI_INPUT_MESSAGES not in attributes
    assert semconv.GEN_AI_OUTPUT_MESSAGES not in attributes


async def test_span_only_capture_records_messages_as_convention_json(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    await make_agent(Script(), []).run("secret question")
    attributes = telemetry.agent_attributes()
    assert json.loads(str(attributes[semconv.GEN_AI_INPUT_MESSAGES])) == [
        {"role": "user", "parts": [{"type": "text", "content": "secret question"}]}
    ]
    assert json.loads(str(attributes[semconv.GEN_AI_OUTPUT_MESSAGES])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "chunk0 chunk1 chunk2 "}],
            "name": "scripted",
            "finish_reason": "stop",
        }
    ]


async def test_metrics_record_duration_with_error_type_and_token_usage(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await make_agent(Script(), []).run("hello")
    with pytest.raises(ModelFailure):
        await make_agent(Script(fail_at=0), []).run("hello")
    durations = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    assert sorted(str(p.attributes.get(semconv.ERROR_TYPE)) for p in durations) == [
        "None",
        "tests.frameworks.agent_framework_driver.ModelFailure",
    ]
    tokens = {
        p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p.sum
        for p in telemetry.metric_points(semconv.METRIC_CLIENT_TOKEN_USAGE)
    }
    assert tokens == {"input": 7, "output": 3}


async def test_stream_records_time_to_first_chunk(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    async for _ in make_agent(Script(), []).run("hello", stream=True):
        pass
    (point,) = telemetry.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
    assert point.count == 1


# The framework's own telemetry layer, stood down while our span owns the run: what it does besides
# telemetry still happens (the adapter's module docstring lists each step).


async def deferred_stream_run() -> tuple[list[str], list[str], list[str], str]:
    """What the application sees of a streamed run of an agent whose run returns an awaitable."""
    calls: list[str] = []
    stream = DeferredStreamAgent(calls).run("hello", stream=True)
    called = list(calls)
    updates = [update.text async for update in stream]
    return called, updates, calls, (await stream.get_final_response()).text


async def test_agent_returning_an_awaitable_streams_as_it_does_bare(instrumentation: Instrumentation) -> None:
    bare = await deferred_stream_run()
    instrumentation.on()
    assert await deferred_stream_run() == bare


async def test_span_of_an_agent_returning_an_awaitable_ends_with_its_stream(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    stream = DeferredStreamAgent([]).run("hello", stream=True)
    assert await stream is stream
    assert telemetry.agent_spans() == []
    async for _ in stream:
        pass
    assert {key: telemetry.agent_attributes().get(key) for key in (semconv.OUTCOME, *RESULT_FACTS)} == {
        semconv.OUTCOME: "completed",
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 5,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 2,
        semconv.GEN_AI_RESPONSE_ID: "deferred-1",
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
    }


def streamed_run_error(agent: DeferredStreamAgent) -> BaseException:
    try:
        agent.run("hello", stream=True)
    except BaseException as error:
        return error
    raise AssertionError("run(stream=True) returned")


async def test_streamed_run_raising_at_the_call_raises_the_same_object(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = DeferredStreamAgent([], stream_shape="raise")
    assert streamed_run_error(agent) is agent.raised[0]
    assert telemetry.agent_attributes()[semconv.ERROR_TYPE] == MODEL_FAILURE


async def test_streamed_run_returning_no_stream_raises_as_it_does_bare(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    bare = streamed_run_error(DeferredStreamAgent([], stream_shape="list"))
    instrumentation.on()
    traced = streamed_run_error(DeferredStreamAgent([], stream_shape="list"))
    assert (
        (type(traced), str(traced))
        == (type(bare), str(bare))
        == (
            RuntimeError,
            "Streaming telemetry requires a ResponseStream result.",
        )
    )
    assert telemetry.agent_attributes()[semconv.ERROR_TYPE] == "RuntimeError"


async def hooks_of_a_consumed_stream(consume: Callable[[Any], Any]) -> list[str]:
    hooks: list[str] = []
    stream = make_agent(Script(), hooks).run("hello", stream=True)
    stream.with_cleanup_hook(lambda: hooks.append("cleanup")).with_result_hook(lambda _: hooks.append("result"))
    await consume(stream)
    return hooks


async def iterate(stream: Any) -> None:
    async for _ in stream:
        pass


async def final_response(stream: Any) -> None:
    await stream.get_final_response()


@pytest.mark.parametrize("consume", [iterate, final_response], ids=["iterated", "final_response"])
async def test_consumed_stream_fires_result_hooks_before_later_cleanup_hooks_as_bare(
    instrumentation: Instrumentation, consume: Callable[[Any], Any]
) -> None:
    bare = await hooks_of_a_consumed_stream(consume)
    instrumentation.on()
    assert await hooks_of_a_consumed_stream(consume) == bare


async def not_awaited_then_awaited_run() -> tuple[list[str], list[str]]:
    calls: list[str] = []
    pending = DeferredStreamAgent(calls).run("hello")
    before_await = list(calls)
    await pending
    return before_await, calls


async def test_run_starts_the_agent_when_awaited_as_it_does_bare(instrumentation: Instrumentation) -> None:
    bare = await not_awaited_then_awaited_run()
    instrumentation.on()
    assert await not_awaited_then_awaited_run() == bare


async def run_with_framework_telemetry_off() -> tuple[str, list[str]]:
    observability.disable_instrumentation()
    try:
        returned = DeferredStreamAgent([]).run("hello", stream=True)
        stream = await returned
        # What isinstance() and inspect see: a returned coroutine may be our proxy of it (type() differs).
        return returned.__class__.__name__, [update.text async for update in stream]
    finally:
        observability.enable_instrumentation(force=True)


async def test_with_framework_telemetry_off_a_streamed_run_returns_what_the_agent_returns(
    instrumentation: Instrumentation,
) -> None:
    bare = await run_with_framework_telemetry_off()
    instrumentation.on()
    assert await run_with_framework_telemetry_off() == bare


async def test_suppressed_run_makes_no_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    with suppress_instrumentation():
        await make_agent(Script(), []).run("hello")
    assert telemetry.agent_spans() == []


def _run_example_under_opentelemetry_instrument(extra_env: dict[str, str]) -> list[dict[str, object]]:
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        **extra_env,
    }
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    completed = subprocess.run(
        [str(instrument), sys.executable, str(ROOT / "examples" / "offline_agent.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    decoder = json.JSONDecoder()
    spans: list[dict[str, object]] = []
    text = completed.stdout
    index = text.find("{")
    while index != -1:
        span, end = decoder.raw_decode(text, index)
        spans.append(span)
        index = text.find("{", end)
    return spans


def test_opentelemetry_instrument_makes_one_agent_span_per_run_with_chat_children() -> None:
    spans = _run_example_under_opentelemetry_instrument({})
    agents = [s for s in spans if str(s["name"]).startswith("invoke_agent")]
    chats = [s for s in spans if str(s["name"]).startswith("chat")]
    assert [s["name"] for s in agents] == ["invoke_agent geographer"] * 3
    agent_ids = {s["context"]["span_id"] for s in agents}  # type: ignore[index]
    assert len(chats) == 3
    assert {s["parent_id"] for s in chats} == agent_ids


def test_keep_framework_spans_keeps_the_framework_agent_span_too() -> None:
    spans = _run_example_under_opentelemetry_instrument({"OTEL_PYTHON_AGENTS_KEEP_FRAMEWORK_SPANS": "true"})
    agents = [s for s in spans if str(s["name"]).startswith("invoke_agent")]
    assert len(agents) == 6


def test_disabled_instrumentations_env_turns_us_off() -> None:
    spans = _run_example_under_opentelemetry_instrument({"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "agents"})
    agents = [s for s in spans if str(s["name"]).startswith("invoke_agent")]
    # Only the framework's own agent spans remain, and they carry no outcome of ours.
    assert len(agents) == 3
    assert all("otel_agent_instrumentation.outcome" not in s["attributes"] for s in agents)  # type: ignore[operator]


async def test_with_framework_telemetry_off_the_span_of_an_agent_returning_an_awaitable_ends_with_its_stream(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The framework's telemetry off: run(stream=True) returns the agent's awaitable as it is (bare too);
    # the stream it resolves to is the rest of the run.
    instrumentation.on()
    observability.disable_instrumentation()
    try:
        stream = await DeferredStreamAgent([]).run("hello", stream=True)
        assert telemetry.agent_spans() == []
        async for _ in stream:
            pass
    finally:
        observability.enable_instrumentation(force=True)
    assert {key: telemetry.agent_attributes().get(key) for key in (semconv.OUTCOME, *RESULT_FACTS)} == {
        semconv.OUTCOME: "completed",
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 5,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 2,
        semconv.GEN_AI_RESPONSE_ID: "deferred-1",
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
    }

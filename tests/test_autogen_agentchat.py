"""AutoGen AgentChat specifics: one span for a team's run -> run_stream, team reuse after an early
close, nesting, attributes read, and autogen-core's own invoke_agent span stood down or kept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import ChatAgent, Team
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks.autogen_agentchat_driver import (
    MODEL,
    ModelFailure,
    Script,
    ScriptedClient,
    make_agent,
    make_team,
)


@pytest.fixture
def framework_tracing(monkeypatch: pytest.MonkeyPatch, telemetry: Telemetry) -> None:
    """autogen-core takes its tracer from the global provider at each span: point it at ours."""
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: telemetry.tracer_provider)


def attributes_of(telemetry: Telemetry) -> dict[str, Any]:
    (span,) = telemetry.agent_spans()
    return dict(span.attributes or {})


async def test_team_run_through_run_stream_makes_one_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await make_team(Script()).run(task="hi")
    assert [span.name for span in telemetry.agent_spans()] == ["invoke_agent scripted"]


async def test_team_break_then_aclose_runs_again(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    team = make_team(Script())
    stream = team.run_stream(task="hi")
    async for _ in stream:
        break
    await stream.aclose()
    result = await asyncio.wait_for(team.run(task="again"), timeout=2)
    assert result.stop_reason == "Maximum number of turns 2 reached."


async def test_team_break_then_aclose_ends_both_spans(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    team = make_team(Script())
    stream = team.run_stream(task="hi")
    async for _ in stream:
        break
    await stream.aclose()
    await asyncio.wait_for(team.run(task="again"), timeout=2)
    outcomes = [(span.attributes or {}).get(semconv.OUTCOME) for span in telemetry.agent_spans()]
    assert outcomes == ["closed_early", "completed"]


async def test_same_team_run_while_running_ends_span_value_error(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    team = make_team(Script())
    results = await asyncio.gather(team.run(task="one"), team.run(task="two"), return_exceptions=True)
    assert isinstance(results[1], ValueError)
    errors = sorted(str((span.attributes or {}).get(semconv.ERROR_TYPE)) for span in telemetry.agent_spans())
    assert errors == ["None", "ValueError"]


async def test_team_member_failure_raises_the_frameworks_runtime_error(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    with pytest.raises(RuntimeError, match=r"^ModelFailure: model failed"):
        await make_team(Script(fail=True)).run(task="hi")
    (span,) = telemetry.agent_spans()
    assert span.status.status_code is StatusCode.ERROR


async def test_agent_run_inside_another_agents_run_is_child_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    inner = make_agent(Script(), name="inner")

    class DelegatingClient(ScriptedClient):
        async def create(self, messages: Sequence[LLMMessage], **kwargs: Any) -> CreateResult:
            await inner.run(task="sub-task")
            return await super().create(messages, **kwargs)

    outer = make_agent(Script(), name="outer")
    outer._model_client = DelegatingClient(Script())
    await outer.run(task="hi")
    spans = {span.name: span for span in telemetry.agent_spans()}
    inner_parent = spans["invoke_agent inner"].parent
    assert inner_parent is not None
    assert inner_parent.span_id == spans["invoke_agent outer"].context.span_id


async def test_agent_run_reads_name_description_and_model(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await make_agent(Script()).run(task="hi")
    attributes = attributes_of(telemetry)
    assert (
        attributes[semconv.GEN_AI_AGENT_NAME],
        attributes[semconv.GEN_AI_AGENT_DESCRIPTION],
        attributes[semconv.GEN_AI_REQUEST_MODEL],
    ) == ("scripted", "An offline scripted agent", MODEL)


async def test_agent_run_sums_models_usage(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await make_agent(Script(text="hello world")).run(task="hi")
    attributes = attributes_of(telemetry)
    assert (attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (3, 2)


async def test_team_run_sums_models_usage_of_every_turn(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await make_team(Script(text="hello world")).run(task="hi")
    attributes = attributes_of(telemetry)
    assert (attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (6, 4)


async def test_streamed_run_sums_usage_once_not_again_from_task_result(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    async for _ in make_agent(Script(text="hello world"), stream=True).run_stream(task="hi"):
        pass
    attributes = attributes_of(telemetry)
    assert (attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (3, 2)


async def test_stream_closed_before_the_reply_records_no_usage(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    stream = make_agent(Script(), stream=True).run_stream(task="hi")
    async for _ in stream:
        break
    await stream.aclose()
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in attributes_of(telemetry)


async def test_team_stop_reason_is_not_a_finish_reason(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await make_team(Script()).run(task="hi")
    assert semconv.GEN_AI_RESPONSE_FINISH_REASONS not in attributes_of(telemetry)


async def test_capture_content_records_task_and_last_reply(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    await make_agent(Script(text="hello world")).run(task="hi")
    attributes = attributes_of(telemetry)
    assert (
        json.loads(str(attributes[semconv.GEN_AI_INPUT_MESSAGES]))[0]["parts"][0]["content"],
        json.loads(str(attributes[semconv.GEN_AI_OUTPUT_MESSAGES]))[0]["parts"][0]["content"],
    ) == ("hi", "hello world")


# -- gen_ai.provider.name ------------------------------------------------------------------------


def offline_client(kind: str) -> ChatCompletionClient:
    """A real model client, built offline: the runs below end before any model call. autogen-ext's
    provider clients import optional packages (tiktoken for OpenAI/Azure): skipped where they are absent."""
    if kind in ("openai", "azure", "cached openai"):
        pytest.importorskip("tiktoken")
        from autogen_ext.models.openai import AzureOpenAIChatCompletionClient, OpenAIChatCompletionClient

        if kind == "azure":
            return AzureOpenAIChatCompletionClient(
                model="gpt-4o",
                azure_deployment="gpt-4o",
                azure_endpoint="https://offline.invalid",
                api_version="2024-06-01",
                api_key="offline",
            )
        client = OpenAIChatCompletionClient(model="gpt-4o", api_key="offline")
        if kind == "cached openai":
            from autogen_ext.models.cache import ChatCompletionCache

            return ChatCompletionCache(client)
        return client
    if kind == "anthropic":
        pytest.importorskip("anthropic")
        from autogen_ext.models.anthropic import AnthropicChatCompletionClient

        return AnthropicChatCompletionClient(model="claude-3-5-sonnet-20241022", api_key="offline")
    if kind == "ollama":
        pytest.importorskip("ollama")
        from autogen_ext.models.ollama import OllamaChatCompletionClient

        return OllamaChatCompletionClient(model="llama3.2")
    if kind == "replay":
        from autogen_ext.models.replay import ReplayChatCompletionClient

        return ReplayChatCompletionClient(["unused"])
    return ScriptedClient(Script())


async def close_before_first_pull(runner: Any) -> None:
    stream = runner.run_stream(task="hi")
    await stream.aclose()  # the run ends before any model call


def assert_provider(telemetry: Telemetry, provider: str) -> None:
    assert attributes_of(telemetry)[semconv.GEN_AI_PROVIDER_NAME] == provider
    (point,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    assert point.attributes[semconv.GEN_AI_PROVIDER_NAME] == provider


@pytest.mark.parametrize(
    ("client", "provider"),
    [
        ("openai", "openai"),
        ("azure", "azure.ai.openai"),
        ("anthropic", "anthropic"),
        ("ollama", "ollama"),
        ("cached openai", "openai"),
        ("replay", "_OTHER"),
        ("scripted", "_OTHER"),
    ],
)
async def test_agent_provider_name_is_its_model_clients(
    client: str, provider: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await close_before_first_pull(AssistantAgent("probe", model_client=offline_client(client)))
    assert_provider(telemetry, provider)


@pytest.mark.parametrize(
    ("clients", "provider"),
    [
        (("openai", "openai"), "openai"),
        (("openai", "anthropic"), "_OTHER"),
        (("openai", "scripted"), "_OTHER"),
    ],
)
async def test_team_provider_name_is_the_one_all_members_use(
    clients: tuple[str, str], provider: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    members: list[ChatAgent | Team] = [
        AssistantAgent(f"a{i}", model_client=offline_client(kind)) for i, kind in enumerate(clients)
    ]
    await close_before_first_pull(RoundRobinGroupChat(members, max_turns=2, name="probe"))
    assert_provider(telemetry, provider)


async def test_stream_consumer_runs_in_the_callers_context(
    instrumentation: Instrumentation, framework_tracing: None
) -> None:
    instrumentation.on()
    caller = trace.get_current_span()
    seen = [trace.get_current_span() async for _ in make_agent(Script(), stream=True).run_stream(task="hi")]
    assert all(span is caller for span in seen)


# -- what standing autogen-core's span down changes for the app (see the adapter's docstring) ------


class CurrentSpanClient(ScriptedClient):
    """Records the span current in each model call, the code inside autogen-core's span block; raises
    `failure`, when given, as that very object."""

    def __init__(self, script: Script, failure: Exception | None = None) -> None:
        super().__init__(script)
        self.current: list[trace.Span] = []
        self.failure = failure

    async def create(self, messages: Sequence[LLMMessage], **kwargs: Any) -> CreateResult:
        self.current.append(trace.get_current_span())
        if self.failure is not None:
            raise self.failure
        return await super().create(messages, **kwargs)


def span_ids(spans: Sequence[trace.Span]) -> list[int]:
    return [span.get_span_context().span_id for span in spans]


async def test_stood_down_agent_run_has_our_span_current_in_its_code(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    instrumentation.on()
    client = CurrentSpanClient(Script())
    await AssistantAgent("scripted", model_client=client).run(task="hi")
    (span,) = telemetry.agent_spans()
    assert span_ids(client.current) == [span.context.span_id]


async def test_kept_framework_span_is_current_in_the_agents_code(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    instrumentation.on(keep_framework_spans=True)
    client = CurrentSpanClient(Script())
    await AssistantAgent("scripted", model_client=client).run(task="hi")
    spans = {span.kind: span for span in telemetry.agent_spans()}
    assert span_ids(client.current) == [spans[SpanKind.CLIENT].context.span_id]


async def test_stood_down_member_turns_have_the_team_span_current(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    instrumentation.on()
    clients = [CurrentSpanClient(Script()), CurrentSpanClient(Script())]
    members: list[ChatAgent | Team] = [AssistantAgent(f"a{i}", model_client=c) for i, c in enumerate(clients)]
    await RoundRobinGroupChat(members, max_turns=2, name="scripted").run(task="hi")
    (team_span,) = telemetry.agent_spans()
    assert span_ids(clients[0].current + clients[1].current) == [team_span.context.span_id] * 2


async def test_stood_down_agent_run_raises_the_model_clients_exception_object(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    instrumentation.on()
    failure = ModelFailure("model failed")
    with pytest.raises(ModelFailure) as raised:
        await AssistantAgent("scripted", model_client=CurrentSpanClient(Script(), failure)).run(task="hi")
    assert raised.value is failure


async def test_framework_agent_span_stood_down_by_default(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    instrumentation.on()
    await make_agent(Script()).run(task="hi")
    assert [span.kind for span in telemetry.agent_spans()] == [SpanKind.INTERNAL]


async def test_framework_member_spans_stood_down_by_default(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    instrumentation.on()
    await make_team(Script()).run(task="hi")
    assert [span.name for span in telemetry.agent_spans()] == ["invoke_agent scripted"]


async def test_framework_agent_span_kept_as_child_with_keep_framework_spans(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    instrumentation.on(keep_framework_spans=True)
    await make_agent(Script()).run(task="hi")
    spans = {span.kind: span for span in telemetry.agent_spans()}
    parent = spans[SpanKind.CLIENT].parent
    assert parent is not None
    assert parent.span_id == spans[SpanKind.INTERNAL].context.span_id


async def test_framework_member_spans_kept_with_keep_framework_spans(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    instrumentation.on(keep_framework_spans=True)
    await make_team(Script()).run(task="hi")
    assert sorted(span.name for span in telemetry.agent_spans()) == [
        "invoke_agent a1",
        "invoke_agent a2",
        "invoke_agent scripted",
    ]


async def test_framework_spans_unchanged_when_uninstrumented(telemetry: Telemetry, framework_tracing: None) -> None:
    await make_agent(Script()).run(task="hi")
    assert [span.kind for span in telemetry.agent_spans()] == [SpanKind.CLIENT]

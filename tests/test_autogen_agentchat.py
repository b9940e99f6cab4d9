"""AutoGen AgentChat specifics: one workflow span for a team's run -> run_stream, team reuse after an
early close, nesting, attributes read, autogen-core's own invoke_agent span stood down (replaced by ours)
or kept, and the trace tree: a team's workflow span, one agent span per member turn, autogen-core's tool
spans under the agent span that called them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import ChatAgent, Team
from autogen_agentchat.teams import RoundRobinGroupChat, SelectorGroupChat
from autogen_core import CancellationToken, SingleThreadedAgentRuntime
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks.autogen_agentchat_driver import (
    MODEL,
    MODEL_FAILURE,
    GatedClient,
    ModelFailure,
    Script,
    ScriptedClient,
    framework_detach_errors_dropped,
    make_agent,
    make_team,
    make_tool_agent,
    observe_close_mid_turn,
    observe_run,
    observe_stream,
)


@pytest.fixture
def framework_tracing(monkeypatch: pytest.MonkeyPatch, telemetry: Telemetry) -> None:
    """autogen-core takes its tracer from the global provider at each span: point it at ours."""
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: telemetry.tracer_provider)


def attributes_of(telemetry: Telemetry) -> dict[str, Any]:
    (span,) = telemetry.agent_spans()
    return dict(span.attributes or {})


def workflow_spans(telemetry: Telemetry) -> list[ReadableSpan]:
    return [span for span in telemetry.finished() if span.name.startswith("invoke_workflow")]


def member_attributes(telemetry: Telemetry) -> dict[str, dict[str, Any]]:
    """Each member turn's span attributes, by span name (one turn per member)."""
    return {span.name: dict(span.attributes or {}) for span in telemetry.agent_spans()}


Node = tuple[str, SpanKind, str | None, StatusCode]


def tree(spans: Sequence[ReadableSpan]) -> list[Node]:
    """(name, kind, parent's name, status) of every span, in start order; a parent that was not recorded
    is "unrecorded"."""
    ordered = sorted(spans, key=lambda span: span.start_time or 0)
    names = {span.context.span_id: span.name for span in ordered}
    return [
        (
            span.name,
            span.kind,
            names.get(span.parent.span_id, "unrecorded") if span.parent else None,
            span.status.status_code,
        )
        for span in ordered
    ]


def genai_tree(spans: Sequence[ReadableSpan]) -> list[Node]:
    """`tree` of the GenAI spans alone (invoke_workflow, invoke_agent, execute_tool, any scope), each
    under its nearest GenAI ancestor: autogen-core's runtime message spans sit between them when the
    global provider records them."""
    by_id = {span.context.span_id: span for span in spans}
    genai = [span for span in spans if (span.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME)]
    kept = {span.context.span_id for span in genai}

    def nearest(span: ReadableSpan) -> str | None:
        parent = span.parent.span_id if span.parent else None
        while parent is not None and parent not in kept:
            above = by_id.get(parent)
            parent = above.parent.span_id if above is not None and above.parent else None
        return by_id[parent].name if parent is not None else None

    ordered = sorted(genai, key=lambda span: span.start_time or 0)
    return [(span.name, span.kind, nearest(span), span.status.status_code) for span in ordered]


def outcomes(telemetry: Telemetry) -> dict[str, list[object]]:
    found: dict[str, list[object]] = {}
    for span in sorted(telemetry.finished(), key=lambda span: span.start_time or 0):
        found.setdefault(span.name, []).append((span.attributes or {}).get(semconv.OUTCOME))
    return found


INTERNAL, CLIENT = SpanKind.INTERNAL, SpanKind.CLIENT
UNSET, ERROR = StatusCode.UNSET, StatusCode.ERROR
WORKFLOW = "invoke_workflow scripted"
WRITER_CRITIC = [
    (WORKFLOW, INTERNAL, None, UNSET),
    ("invoke_agent writer", INTERNAL, WORKFLOW, UNSET),
    ("invoke_agent critic", INTERNAL, WORKFLOW, UNSET),
]


def writer_critic(script: Script) -> RoundRobinGroupChat:
    return make_team(script, members=("writer", "critic"))


async def test_team_run_through_run_stream_makes_one_workflow_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await make_team(Script()).run(task="hi")
    assert [span.name for span in workflow_spans(telemetry)] == ["invoke_workflow scripted"]


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
    outcomes = [(span.attributes or {}).get(semconv.OUTCOME) for span in workflow_spans(telemetry)]
    assert outcomes == ["closed_early", "completed"]


async def test_same_team_run_while_running_ends_span_value_error(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    team = make_team(Script())
    results = await asyncio.gather(team.run(task="one"), team.run(task="two"), return_exceptions=True)
    assert isinstance(results[1], ValueError)
    errors = sorted(str((span.attributes or {}).get(semconv.ERROR_TYPE)) for span in workflow_spans(telemetry))
    assert errors == ["None", "ValueError"]


async def test_team_member_failure_raises_the_frameworks_runtime_error(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    with pytest.raises(RuntimeError, match=r"^ModelFailure: model failed"):
        await make_team(Script(fail=True)).run(task="hi")
    (span,) = workflow_spans(telemetry)
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


async def test_team_member_turns_each_record_their_models_usage(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await make_team(Script(text="hello world")).run(task="hi")
    usage = {
        name: (attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS], attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS])
        for name, attributes in member_attributes(telemetry).items()
    }
    assert usage == {"invoke_agent a1": (3, 2), "invoke_agent a2": (3, 2)}


async def test_team_usage_is_recorded_once_on_the_member_turns_not_on_the_workflow(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await make_team(Script(text="hello world")).run(task="hi")
    input_tokens = [
        point.sum
        for point in telemetry.metric_points(semconv.METRIC_CLIENT_TOKEN_USAGE)
        if point.attributes[semconv.GEN_AI_TOKEN_TYPE] == semconv.TOKEN_TYPE_INPUT
    ]
    (workflow,) = workflow_spans(telemetry)
    assert (sorted(input_tokens), semconv.GEN_AI_USAGE_INPUT_TOKENS in (workflow.attributes or {})) == ([3, 3], False)


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
    finish_reasons = [
        (span.attributes or {}).get(semconv.GEN_AI_RESPONSE_FINISH_REASONS) for span in telemetry.finished()
    ]
    assert finish_reasons == [None, None, None]


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


def answering_offline(client: ChatCompletionClient) -> ChatCompletionClient:
    """The real client (its class is what the provider is read from), answering as the scripted model."""
    client.create = ScriptedClient(Script()).create  # type: ignore[method-assign]
    return client


@pytest.mark.parametrize(
    ("clients", "providers"),
    [
        (("openai", "openai"), ("openai", "openai")),
        (("openai", "anthropic"), ("openai", "anthropic")),
        (("openai", "scripted"), ("openai", "_OTHER")),
    ],
)
async def test_member_turn_provider_name_is_its_agents_model_clients(
    clients: tuple[str, str], providers: tuple[str, str], instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    members: list[ChatAgent | Team] = [
        AssistantAgent(f"a{i}", model_client=answering_offline(offline_client(kind))) for i, kind in enumerate(clients)
    ]
    instrumentation.on()
    await RoundRobinGroupChat(members, max_turns=2, name="probe").run(task="hi")
    found = {
        name: attributes[semconv.GEN_AI_PROVIDER_NAME] for name, attributes in member_attributes(telemetry).items()
    }
    assert found == {"invoke_agent a0": providers[0], "invoke_agent a1": providers[1]}


async def test_workflow_span_and_metric_have_no_provider(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await close_before_first_pull(make_team(Script()))
    (span,) = workflow_spans(telemetry)
    (point,) = telemetry.metric_points(semconv.METRIC_WORKFLOW_DURATION)
    recorded = [semconv.GEN_AI_PROVIDER_NAME in attributes for attributes in (span.attributes or {}, point.attributes)]
    assert recorded == [False, False]


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


async def test_stood_down_member_turns_have_their_member_span_current(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    instrumentation.on()
    clients = [CurrentSpanClient(Script()), CurrentSpanClient(Script())]
    members: list[ChatAgent | Team] = [AssistantAgent(f"a{i}", model_client=c) for i, c in enumerate(clients)]
    await RoundRobinGroupChat(members, max_turns=2, name="scripted").run(task="hi")
    spans = {span.name: span.context.span_id for span in telemetry.agent_spans()}
    assert span_ids(clients[0].current + clients[1].current) == [spans["invoke_agent a0"], spans["invoke_agent a1"]]


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


async def test_framework_member_spans_replaced_by_ours_by_default(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    team = make_team(Script())
    instrumentation.on()
    await team.run(task="hi")
    assert genai_tree(telemetry.finished()) == [
        ("create_agent a1", CLIENT, None, UNSET),
        ("create_agent a2", CLIENT, None, UNSET),
        (WORKFLOW, INTERNAL, None, UNSET),
        ("invoke_agent a1", INTERNAL, WORKFLOW, UNSET),
        ("invoke_agent a2", INTERNAL, WORKFLOW, UNSET),
    ]


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
    team = make_team(Script())
    instrumentation.on(keep_framework_spans=True)
    await team.run(task="hi")
    assert genai_tree(telemetry.finished()) == [
        ("create_agent a1", CLIENT, None, UNSET),
        ("create_agent a2", CLIENT, None, UNSET),
        (WORKFLOW, INTERNAL, None, UNSET),
        ("invoke_agent a1", INTERNAL, WORKFLOW, UNSET),
        ("invoke_agent a1", CLIENT, "invoke_agent a1", UNSET),
        ("invoke_agent a2", INTERNAL, WORKFLOW, UNSET),
        ("invoke_agent a2", CLIENT, "invoke_agent a2", UNSET),
    ]


async def test_framework_spans_unchanged_when_uninstrumented(telemetry: Telemetry, framework_tracing: None) -> None:
    await make_agent(Script()).run(task="hi")
    assert [span.kind for span in telemetry.agent_spans()] == [SpanKind.CLIENT]


# -- the trace tree: a team's run is a workflow, each member turn an agent run, tools autogen-core's ----


async def test_team_run_is_a_workflow_with_an_agent_span_per_member_turn(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await writer_critic(Script()).run(task="hi")
    assert tree(telemetry.finished()) == WRITER_CRITIC


async def test_team_run_stream_is_a_workflow_with_an_agent_span_per_member_turn(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    async for _ in writer_critic(Script()).run_stream(task="hi"):
        pass
    assert tree(telemetry.finished()) == WRITER_CRITIC


@pytest.mark.parametrize("observe", [observe_run, observe_stream], ids=["run", "run_stream"])
async def test_team_app_sees_the_same_messages_bare_and_instrumented(
    observe: Any, instrumentation: Instrumentation
) -> None:
    with framework_detach_errors_dropped():
        bare = await observe(writer_critic(Script()))
    instrumentation.on()
    assert await observe(writer_critic(Script())) == bare


async def test_member_failure_ends_its_turn_failed_and_the_workflow_with_the_teams_runtime_error(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    with pytest.raises(RuntimeError, match=r"^ModelFailure: model failed"):
        await writer_critic(Script(fail=True)).run(task="hi")
    assert tree(telemetry.finished()) == [
        (WORKFLOW, INTERNAL, None, ERROR),
        ("invoke_agent writer", INTERNAL, WORKFLOW, ERROR),
    ]
    errors = {span.name: (span.attributes or {}).get(semconv.ERROR_TYPE) for span in telemetry.finished()}
    assert errors == {WORKFLOW: "RuntimeError", "invoke_agent writer": MODEL_FAILURE}


async def test_member_failure_app_sees_the_same_exception_bare_and_instrumented(
    instrumentation: Instrumentation,
) -> None:
    with framework_detach_errors_dropped():
        bare = await observe_run(writer_critic(Script(fail=True)))
    instrumentation.on()
    traced = await observe_run(writer_critic(Script(fail=True)))
    assert (traced, traced.error_type) == (bare, "RuntimeError")


def gated_writer_critic(script: Script, gate: asyncio.Event) -> RoundRobinGroupChat:
    writer = make_agent(script, "writer", client=GatedClient(script, gate))
    return make_team(script, agents=[writer, make_agent(script, "critic")])


async def test_team_stream_closed_mid_member_turn_ends_every_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # autogen-agentchat 0.7.5 does not stop a member turn when the consumer closes the team's stream:
    # aclose() waits for the runtime to go idle, so the turn in flight and the next ones run to the end.
    instrumentation.on()
    script = Script()
    await observe_close_mid_turn(gated_writer_critic(script, gate := asyncio.Event()), script, gate)
    assert tree(telemetry.finished()) == WRITER_CRITIC
    assert outcomes(telemetry) == {
        WORKFLOW: ["closed_early"],
        "invoke_agent writer": ["completed"],
        "invoke_agent critic": ["completed"],
    }


async def test_team_stream_closed_mid_member_turn_app_sees_the_same_bare_and_instrumented(
    instrumentation: Instrumentation,
) -> None:
    script = Script()
    with framework_detach_errors_dropped():
        bare = await observe_close_mid_turn(gated_writer_critic(script, gate := asyncio.Event()), script, gate)
    instrumentation.on()
    script = Script()
    traced = await observe_close_mid_turn(gated_writer_critic(script, gate := asyncio.Event()), script, gate)
    assert traced == bare
    assert "closed before the turn ended: True" in traced.hooks


async def test_team_cancelled_mid_member_turn_ends_the_turn_and_the_workflow_cancelled(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    script = Script(block=True)
    token = CancellationToken()
    task = asyncio.ensure_future(writer_critic(script).run(task="hi", cancellation_token=token))
    await script.blocked.wait()
    token.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tree(telemetry.finished()) == [
        (WORKFLOW, INTERNAL, None, ERROR),
        ("invoke_agent writer", INTERNAL, WORKFLOW, ERROR),
    ]
    assert outcomes(telemetry) == {WORKFLOW: ["cancelled"], "invoke_agent writer": ["cancelled"]}


async def test_agent_tool_calls_are_autogen_cores_execute_tool_spans_under_the_agent_span(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    agent = make_tool_agent(Script())
    telemetry.spans.clear()  # autogen-core's create_agent span, made at construction
    instrumentation.on()
    await agent.run(task="hi")
    assert tree(telemetry.finished()) == [
        ("invoke_agent scripted", INTERNAL, None, UNSET),
        ("execute_tool lookup", INTERNAL, "invoke_agent scripted", UNSET),
        ("execute_tool explode", INTERNAL, "invoke_agent scripted", ERROR),
    ]
    call_ids = {
        span.name: (span.attributes or {}).get(semconv.GEN_AI_TOOL_CALL_ID)
        for span in telemetry.finished()
        if span.name.startswith("execute_tool")
    }
    assert call_ids == {"execute_tool lookup": "call-1", "execute_tool explode": "call-2"}


async def test_agent_tool_calls_app_sees_the_same_messages_bare_and_instrumented(
    instrumentation: Instrumentation, framework_tracing: None
) -> None:
    with framework_detach_errors_dropped():
        bare = await observe_stream(make_tool_agent(Script()))
    instrumentation.on()
    traced = await observe_stream(make_tool_agent(Script()))
    assert traced == bare
    assert any("tool failed" in update for update in traced.updates)


async def test_member_tool_calls_are_under_the_member_span_with_autogen_cores_runtime_spans(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    team = make_team(Script(), agents=[make_tool_agent(Script(), "writer"), make_agent(Script(), "critic")])
    instrumentation.on()
    await team.run(task="hi")
    assert genai_tree(telemetry.finished()) == [
        ("create_agent writer", CLIENT, None, UNSET),
        ("create_agent critic", CLIENT, None, UNSET),
        (WORKFLOW, INTERNAL, None, UNSET),
        ("invoke_agent writer", INTERNAL, WORKFLOW, UNSET),
        ("execute_tool lookup", INTERNAL, "invoke_agent writer", UNSET),
        ("execute_tool explode", INTERNAL, "invoke_agent writer", ERROR),
        ("invoke_agent critic", INTERNAL, WORKFLOW, UNSET),
    ]


async def test_team_that_ran_before_instrument_gets_member_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The team's member containers are built at its first run, here uninstrumented.
    team = writer_critic(Script())
    await team.run(task="hi")
    instrumentation.on()
    await team.run(task="again")
    assert tree(telemetry.finished()) == WRITER_CRITIC


async def test_team_run_again_after_uninstrument_and_instrument_gets_member_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    team = writer_critic(Script())
    instrumentation.on()
    await team.run(task="hi")
    instrumentation.off()
    telemetry.spans.clear()
    instrumentation.on()
    await team.run(task="again")
    assert tree(telemetry.finished()) == WRITER_CRITIC


async def test_member_turn_captures_the_messages_handed_to_the_member_and_its_reply(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    await writer_critic(Script(text="hello world")).run(task="hi")

    def contents(attributes: dict[str, Any], key: str) -> list[tuple[str, str]]:
        return [(m.get("name"), m["parts"][0]["content"]) for m in json.loads(str(attributes[key]))]

    captured = {
        name: (
            contents(attributes, semconv.GEN_AI_INPUT_MESSAGES),
            contents(attributes, semconv.GEN_AI_OUTPUT_MESSAGES),
        )
        for name, attributes in member_attributes(telemetry).items()
    }
    assert captured == {
        "invoke_agent writer": ([("user", "hi")], [("writer", "hello world")]),
        "invoke_agent critic": ([("user", "hi"), ("writer", "hello world")], [("critic", "hello world")]),
    }


async def test_team_member_that_is_a_team_is_a_nested_workflow_not_an_agent_turn(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    inner = RoundRobinGroupChat([make_agent(Script(), "critic")], max_turns=1, name="inner")
    team = RoundRobinGroupChat([make_agent(Script(), "writer"), inner], max_turns=2, name="scripted")
    instrumentation.on()
    await team.run(task="hi")
    assert tree(telemetry.finished()) == [
        (WORKFLOW, INTERNAL, None, UNSET),
        ("invoke_agent writer", INTERNAL, WORKFLOW, UNSET),
        ("invoke_workflow inner", INTERNAL, WORKFLOW, UNSET),
        ("invoke_agent critic", INTERNAL, "invoke_workflow inner", UNSET),
    ]


async def test_selector_group_chat_selection_model_has_no_agent_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The selector's model picks "critic" first; then only "writer" is left (no repeated speaker).
    selector = ScriptedClient(Script(text="critic"))
    members: list[ChatAgent | Team] = [make_agent(Script(), "writer"), make_agent(Script(), "critic")]
    team = SelectorGroupChat(members, model_client=selector, max_turns=2, name="scripted")
    instrumentation.on()
    await team.run(task="hi")
    assert tree(telemetry.finished()) == [
        (WORKFLOW, INTERNAL, None, UNSET),
        ("invoke_agent critic", INTERNAL, WORKFLOW, UNSET),
        ("invoke_agent writer", INTERNAL, WORKFLOW, UNSET),
    ]


async def test_team_that_ran_instrumented_makes_no_spans_after_uninstrument(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    team = writer_critic(Script())
    instrumentation.on()
    await team.run(task="hi")
    instrumentation.off()
    telemetry.spans.clear()
    await team.run(task="again")
    assert telemetry.finished() == []


# -- a team on a runtime the app owns --------------------------------------------------------------------


async def run_on_app_runtime(telemetry: Telemetry, stream: bool) -> list[str]:
    """The app starts its runtime under a span of its own, then runs a writer/critic team on it."""
    tracer = telemetry.tracer_provider.get_tracer("app")
    runtime = SingleThreadedAgentRuntime()
    with tracer.start_as_current_span("app startup"):
        runtime.start()
    team = RoundRobinGroupChat(
        [make_agent(Script(), "writer"), make_agent(Script(), "critic")], max_turns=2, name="scripted", runtime=runtime
    )
    try:
        if stream:
            return [type(item).__name__ async for item in team.run_stream(task="hi")]
        return [type(message).__name__ for message in (await team.run(task="hi")).messages]
    finally:
        await runtime.stop()


@pytest.mark.parametrize("stream", [False, True], ids=["run", "run_stream"])
async def test_team_on_the_apps_runtime_has_its_member_turns_under_the_workflow_span(
    instrumentation: Instrumentation, telemetry: Telemetry, stream: bool
) -> None:
    # autogen-core links a message's handling to its sender without parenting it: the turns run in the
    # context the app started the runtime in, here its startup span.
    instrumentation.on()
    await run_on_app_runtime(telemetry, stream)
    assert tree(telemetry.finished()) == [("app startup", INTERNAL, None, UNSET), *WRITER_CRITIC]


@pytest.mark.parametrize("stream", [False, True], ids=["run", "run_stream"])
async def test_team_on_the_apps_runtime_is_seen_by_the_app_as_without_us(
    instrumentation: Instrumentation, telemetry: Telemetry, stream: bool
) -> None:
    bare = await run_on_app_runtime(telemetry, stream)
    instrumentation.on()
    assert await run_on_app_runtime(telemetry, stream) == bare
    assert bare


async def test_team_on_the_apps_runtime_with_autogen_cores_spans_has_its_turns_under_the_workflow(
    instrumentation: Instrumentation, telemetry: Telemetry, framework_tracing: None
) -> None:
    instrumentation.on()
    await run_on_app_runtime(telemetry, stream=False)
    assert [row for row in genai_tree(telemetry.finished()) if not row[0].startswith("create_agent")] == WRITER_CRITIC

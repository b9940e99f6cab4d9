"""Google ADK: one invoke_agent span of ours per agent run, ADK's model and tool spans under it, ADK's own run
and agent spans stood down (or kept with keep_framework_spans), and everything ADK does besides those spans as
without us. The endings table is tests/frameworks/otel144/google_adk_driver.py.

ADK's telemetry writes to the global TracerProvider and MeterProvider. This module sets both once, to an SDK
provider whose processor forwards to the current test's exporter, and hands the same providers to
`instrument()`, so one exporter sees ADK's spans and ours in one tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest
from google.adk.agents import LlmAgent, LoopAgent, ParallelAgent, SequentialAgent
from google.adk.agents.live_request_queue import LiveRequestQueue
from google.adk.agents.run_config import RunConfig
from google.adk.apps import App
from google.adk.models.base_llm import BaseLlm
from google.adk.models.base_llm_connection import BaseLlmConnection
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import InMemoryRunner
from google.adk.telemetry import TelemetryConfig, _instrumentation
from google.adk.tools.agent_tool import AgentTool
from google.genai import types
from opentelemetry import baggage, metrics, trace
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_agent_instrumentation import semconv
from tests.conftest import ERROR, INTERNAL, UNSET, Instrumentation, Telemetry, attributes, span_tree
from tests.frameworks.otel144.google_adk_driver import (
    AGENT_NAME,
    DRIVER,
    MODEL_ID,
    USER,
    ModelFailure,
    RecordingPlugin,
    ScriptedLlm,
    agent_callbacks,
    describe,
    echo,
    message,
    new_session,
    text_response,
    tool_call,
)
from tests.scenarios import Ending

OURS = "otel_agent_instrumentation"
ADKS = "gcp.vertex.agent"


class ToolFailure(RuntimeError):
    """What the `fails` tool raises."""


def fails(text: str) -> str:
    """Always fails."""
    raise ToolFailure(f"tool broke on {text}")


class _Forwarding(SpanProcessor):
    """Ends spans into whichever exporter the running test installed."""

    exporter: InMemorySpanExporter | None = None

    def on_end(self, span: ReadableSpan) -> None:
        exporter = self.exporter
        if exporter is not None:
            exporter.export([span])


_FORWARDING = _Forwarding()
_TRACER_PROVIDER = TracerProvider()
_TRACER_PROVIDER.add_span_processor(_FORWARDING)
_METRICS = InMemoryMetricReader()
_METER_PROVIDER = MeterProvider(metric_readers=[_METRICS])


@pytest.fixture(scope="module", autouse=True)
def global_providers() -> None:
    """ADK's spans and metrics go to the global providers: ours, set once for the process."""
    trace.set_tracer_provider(_TRACER_PROVIDER)
    metrics.set_meter_provider(_METER_PROVIDER)
    assert trace.get_tracer_provider() is _TRACER_PROVIDER, "another test set the global TracerProvider first"
    assert metrics.get_meter_provider() is _METER_PROVIDER, "another test set the global MeterProvider first"


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    """conftest's fixture, on the global providers (ADK's spans and ours in one exporter)."""
    spans = InMemorySpanExporter()
    _FORWARDING.exporter = spans
    yield Telemetry(spans, _METRICS, _TRACER_PROVIDER, _METER_PROVIDER)
    _FORWARDING.exporter = None


def quietly(build: Any) -> Any:
    """Build an ADK object that warns on construction (SequentialAgent & co. are deprecated for Workflow)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return build()


def scripted(*turns: Any) -> ScriptedLlm:
    return ScriptedLlm(script=list(turns))


def agent(name: str, *turns: Any, tools: list[Any] | None = None, **extra: Any) -> LlmAgent:
    return LlmAgent(name=name, model=scripted(*turns), tools=tools or [], **extra)


def runner_for(root: Any, calls: list[str] | None = None) -> InMemoryRunner:
    plugins = [RecordingPlugin(calls)] if calls is not None else []
    return InMemoryRunner(app=App(name="adk_tests", root_agent=root, plugins=plugins))


async def run(
    root: Any, calls: list[str] | None = None, session_id: str | None = None, run_config: RunConfig | None = None
) -> list[str]:
    """Run `root` through Runner.run_async to its end; the events it yielded, or the exception's class name."""
    runner = runner_for(root, calls)
    session = session_id or await new_session(runner)
    if session_id is not None:
        await runner.session_service.create_session(app_name=runner.app_name, user_id=USER, session_id=session_id)
    events: list[str] = []
    try:
        stream = runner.run_async(user_id=USER, session_id=session, new_message=message(), run_config=run_config)
        async for event in stream:
            events.append(describe(event))
    except Exception as error:
        events.append(f"raised {type(error).__name__}")
    return events


def scoped_tree(telemetry: Telemetry) -> list[tuple[str, str, str | None, Any]]:
    """span_tree with each span's instrumentation scope instead of its kind (all are INTERNAL)."""
    spans = sorted(telemetry.finished(), key=lambda span: span.start_time or 0)
    names = {span.context.span_id: span.name for span in spans if span.context is not None}
    return [
        (
            span.name,
            span.instrumentation_scope.name if span.instrumentation_scope else "",
            names.get(span.parent.span_id) if span.parent else None,
            span.status.status_code,
        )
        for span in spans
    ]


def ours(telemetry: Telemetry) -> list[ReadableSpan]:
    return [s for s in telemetry.finished() if s.instrumentation_scope and s.instrumentation_scope.name == OURS]


def by_name(telemetry: Telemetry, name: str) -> Mapping[str, Any]:
    (span,) = [s for s in ours(telemetry) if s.name == name]
    return attributes(span)


GENERATE = f"generate_content {MODEL_ID}"
TOOL_TURNS = (tool_call("echo", "call_1", text="x"), text_response("hello world"))


# -- the tree ----------------------------------------------------------------------------------------------------


async def test_a_run_is_one_agent_span_of_ours_over_adks_model_and_tool_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    events = await run(agent(AGENT_NAME, *TOOL_TURNS, tools=[echo]))
    assert events == ["scribe[call:echo]", "scribe[response:echo]", "scribe[text:hello world]"]
    assert scoped_tree(telemetry) == [
        ("invoke_agent scribe", OURS, None, UNSET),
        (GENERATE, ADKS, "invoke_agent scribe", UNSET),
        ("execute_tool echo", ADKS, "invoke_agent scribe", UNSET),
        (GENERATE, ADKS, "invoke_agent scribe", UNSET),
    ]
    assert all(kind is INTERNAL for _, kind, _, _ in span_tree(telemetry))


async def test_bare_adk_emits_a_workflow_and_an_agent_span_that_ours_replaces(telemetry: Telemetry) -> None:
    # What "stood down and replaced" replaces: ADK's invoke_workflow (schema v2) and invoke_agent spans.
    await run(agent(AGENT_NAME, *TOOL_TURNS, tools=[echo]))
    assert scoped_tree(telemetry) == [
        ("invoke_workflow scribe", ADKS, None, UNSET),
        ("invoke_agent scribe", ADKS, "invoke_workflow scribe", UNSET),
        (GENERATE, ADKS, "invoke_agent scribe", UNSET),
        ("execute_tool echo", ADKS, "invoke_agent scribe", UNSET),
        (GENERATE, ADKS, "invoke_agent scribe", UNSET),
    ]


async def test_a_tool_that_succeeds_and_one_that_raises(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    turns = (tool_call("echo", "call_1", text="x"), tool_call("fails", "call_2", text="y"), text_response("never"))
    events = await run(agent(AGENT_NAME, *turns, tools=[echo, fails]))
    assert events[-1] == "raised ToolFailure"  # an ADK tool that raises fails the run
    assert scoped_tree(telemetry) == [
        ("invoke_agent scribe", OURS, None, ERROR),
        (GENERATE, ADKS, "invoke_agent scribe", UNSET),
        ("execute_tool echo", ADKS, "invoke_agent scribe", UNSET),
        (GENERATE, ADKS, "invoke_agent scribe", UNSET),
        ("execute_tool fails", ADKS, "invoke_agent scribe", ERROR),
    ]
    run_attributes = by_name(telemetry, "invoke_agent scribe")
    assert run_attributes[semconv.ERROR_TYPE] == f"{ToolFailure.__module__}.{ToolFailure.__qualname__}"
    assert run_attributes[semconv.OUTCOME] == "failed"


async def test_sequential_agent_is_an_agent_span_with_its_sub_agents_as_children(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    first = agent("first", *TOOL_TURNS, tools=[echo])
    second = agent("second", text_response("done"))
    await run(quietly(lambda: SequentialAgent(name="pipeline", sub_agents=[first, second])))
    assert scoped_tree(telemetry) == [
        ("invoke_agent pipeline", OURS, None, UNSET),
        ("invoke_agent first", OURS, "invoke_agent pipeline", UNSET),
        (GENERATE, ADKS, "invoke_agent first", UNSET),
        ("execute_tool echo", ADKS, "invoke_agent first", UNSET),
        (GENERATE, ADKS, "invoke_agent first", UNSET),
        ("invoke_agent second", OURS, "invoke_agent pipeline", UNSET),
        (GENERATE, ADKS, "invoke_agent second", UNSET),
    ]
    for span in ours(telemetry):
        assert attributes(span)[semconv.GEN_AI_OPERATION_NAME] == "invoke_agent"


async def test_parallel_agent_is_an_agent_span_with_each_branch_a_child(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    left, right = agent("left", text_response("l")), agent("right", text_response("r"))
    await run(quietly(lambda: ParallelAgent(name="fan_out", sub_agents=[left, right])))
    tree = scoped_tree(telemetry)
    assert tree[0] == ("invoke_agent fan_out", OURS, None, UNSET)
    assert sorted(tree[1:]) == sorted(
        [
            ("invoke_agent left", OURS, "invoke_agent fan_out", UNSET),
            (GENERATE, ADKS, "invoke_agent left", UNSET),
            ("invoke_agent right", OURS, "invoke_agent fan_out", UNSET),
            (GENERATE, ADKS, "invoke_agent right", UNSET),
        ]
    )


async def test_loop_agent_is_an_agent_span_with_a_child_per_iteration(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    step = agent("step", text_response("again"))
    await run(quietly(lambda: LoopAgent(name="loop", sub_agents=[step], max_iterations=2)))
    assert scoped_tree(telemetry) == [
        ("invoke_agent loop", OURS, None, UNSET),
        ("invoke_agent step", OURS, "invoke_agent loop", UNSET),
        (GENERATE, ADKS, "invoke_agent step", UNSET),
        ("invoke_agent step", OURS, "invoke_agent loop", UNSET),
        (GENERATE, ADKS, "invoke_agent step", UNSET),
    ]


# AgentTool builds its Runner with the `plugins` argument ADK itself deprecates.
@pytest.mark.filterwarnings("ignore:The `plugins` argument is deprecated:DeprecationWarning")
async def test_an_agent_used_as_a_tool_is_an_agent_span_under_adks_tool_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    helper = agent("helper", text_response("helped"), description="helps")
    coordinator = agent(
        "coordinator",
        tool_call("helper", "call_h", request="x"),
        text_response("done"),
        tools=[AgentTool(agent=helper)],
    )
    await run(coordinator)
    assert scoped_tree(telemetry) == [
        ("invoke_agent coordinator", OURS, None, UNSET),
        (GENERATE, ADKS, "invoke_agent coordinator", UNSET),
        ("execute_tool helper", ADKS, "invoke_agent coordinator", UNSET),
        ("invoke_agent helper", OURS, "execute_tool helper", UNSET),
        (GENERATE, ADKS, "invoke_agent helper", UNSET),
        (GENERATE, ADKS, "invoke_agent coordinator", UNSET),
    ]


async def test_keep_framework_spans_keeps_adks_run_and_agent_spans_under_ours(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(keep_framework_spans=True)
    first = agent("first", text_response("one"))
    await run(quietly(lambda: SequentialAgent(name="pipeline", sub_agents=[first])))
    assert scoped_tree(telemetry) == [
        ("invoke_agent pipeline", OURS, None, UNSET),
        ("invoke_workflow pipeline", ADKS, "invoke_agent pipeline", UNSET),
        ("invoke_agent pipeline", ADKS, "invoke_workflow pipeline", UNSET),
        ("invoke_agent first", OURS, "invoke_agent pipeline", UNSET),
        ("invoke_agent first", ADKS, "invoke_agent first", UNSET),
        (GENERATE, ADKS, "invoke_agent first", UNSET),
    ]


async def test_runner_run_in_its_thread_gives_the_same_tree_and_leaves_the_callers_context(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    runner = runner_for(agent(AGENT_NAME, *TOOL_TURNS, tools=[echo]))
    session_id = await new_session(runner)
    caller = otel_context.get_current()

    def consume() -> list[str]:
        stream = runner.run(user_id=USER, session_id=session_id, new_message=message())
        seen = []
        for event in stream:
            seen.append(describe(event))
            assert trace.get_current_span() is trace.INVALID_SPAN  # ours is current only inside a pull
        return seen

    assert await asyncio.to_thread(consume) == [
        "scribe[call:echo]",
        "scribe[response:echo]",
        "scribe[text:hello world]",
    ]
    assert otel_context.get_current() is caller
    assert scoped_tree(telemetry) == [
        ("invoke_agent scribe", OURS, None, UNSET),
        (GENERATE, ADKS, "invoke_agent scribe", UNSET),
        ("execute_tool echo", ADKS, "invoke_agent scribe", UNSET),
        (GENERATE, ADKS, "invoke_agent scribe", UNSET),
    ]


async def test_a_run_inside_a_tool_is_a_child_of_the_tool_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    async def consult(question: str) -> str:
        """Asks another agent."""
        return " ".join(await run(agent("oracle", text_response("42"))))

    instrumentation.on()
    await run(agent(AGENT_NAME, tool_call("consult", "call_1", question="?"), text_response("ok"), tools=[consult]))
    assert scoped_tree(telemetry) == [
        ("invoke_agent scribe", OURS, None, UNSET),
        (GENERATE, ADKS, "invoke_agent scribe", UNSET),
        ("execute_tool consult", ADKS, "invoke_agent scribe", UNSET),
        ("invoke_agent oracle", OURS, "execute_tool consult", UNSET),
        (GENERATE, ADKS, "invoke_agent oracle", UNSET),
        (GENERATE, ADKS, "invoke_agent scribe", UNSET),
    ]


# -- attributes --------------------------------------------------------------------------------------------------


async def test_session_id_is_the_conversation_id_of_every_agent_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    first = agent("first", text_response("one"))
    await run(quietly(lambda: SequentialAgent(name="pipeline", sub_agents=[first])), session_id="session-42")
    assert [attributes(span)[semconv.GEN_AI_CONVERSATION_ID] for span in ours(telemetry)] == ["session-42"] * 2


async def test_usage_is_the_runs_total_and_the_model_is_the_agents(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await run(agent(AGENT_NAME, *TOOL_TURNS, tools=[echo], description="writes things"))
    run_attributes = by_name(telemetry, "invoke_agent scribe")
    assert run_attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 3 + 10
    assert run_attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 1 + 5
    assert run_attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert run_attributes[semconv.GEN_AI_REQUEST_MODEL] == MODEL_ID
    assert run_attributes[semconv.GEN_AI_AGENT_DESCRIPTION] == "writes things"
    # What ADK's own model spans say for this model id (it reports gcp.gemini for ids naming no provider).
    model_span = next(s for s in telemetry.finished() if s.name == GENERATE)
    assert run_attributes[semconv.GEN_AI_PROVIDER_NAME] == attributes(model_span)[semconv.GEN_AI_PROVIDER_NAME]


async def test_no_message_content_by_default(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await run(agent(AGENT_NAME, *TOOL_TURNS, tools=[echo], instruction="Be brief."))
    run_attributes = by_name(telemetry, "invoke_agent scribe")
    for key in (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES, semconv.GEN_AI_SYSTEM_INSTRUCTIONS):
        assert key not in run_attributes


async def test_content_on_the_span_when_asked(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    await run(agent(AGENT_NAME, *TOOL_TURNS, tools=[echo], instruction="Be brief."))
    run_attributes = by_name(telemetry, "invoke_agent scribe")
    assert (
        run_attributes[semconv.GEN_AI_INPUT_MESSAGES]
        == '[{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]'
    )
    assert run_attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] == '[{"type": "text", "content": "Be brief."}]'
    assert run_attributes[semconv.GEN_AI_OUTPUT_MESSAGES] == (
        '[{"role": "assistant", "parts": [{"type": "text", "content": "hello world"}]}]'
    )


# -- transparency ------------------------------------------------------------------------------------------------


def pipeline_with_callbacks(calls: list[str], fail: bool) -> Any:
    first = LlmAgent(name="first", model=scripted(*TOOL_TURNS), tools=[echo], **agent_callbacks(calls))
    last_turn = "fail" if fail else text_response("done")
    second = LlmAgent(name="second", model=scripted(last_turn), **agent_callbacks(calls))
    agent_level = {key: value for key, value in agent_callbacks(calls).items() if "agent" in key}
    return quietly(lambda: SequentialAgent(name="pipeline", sub_agents=[first, second], **agent_level))


@pytest.mark.parametrize("fail", [False, True], ids=["completes", "fails"])
async def test_callbacks_and_plugins_fire_in_the_same_order_as_bare(
    fail: bool, instrumentation: Instrumentation
) -> None:
    bare: list[str] = []
    bare_events = await run(pipeline_with_callbacks(bare, fail), bare)
    instrumentation.on()
    traced: list[str] = []
    traced_events = await run(pipeline_with_callbacks(traced, fail), traced)
    assert traced_events == bare_events
    assert traced == bare
    assert "after_agent:first" in traced
    if fail:
        assert bare_events[-1] == f"raised {ModelFailure.__name__}"
        assert "plugin:agent_error:second:ModelFailure" in traced


async def test_the_exception_the_app_catches_is_the_one_the_model_raised(instrumentation: Instrumentation) -> None:
    instrumentation.on()
    model = scripted("fail")
    runner = runner_for(LlmAgent(name=AGENT_NAME, model=model))
    session_id = await new_session(runner)
    with pytest.raises(ModelFailure) as caught:
        async for _ in runner.run_async(user_id=USER, session_id=session_id, new_message=message()):
            pass
    assert str(caught.value) == "model connection dropped"


async def test_suppressed_runs_get_no_span_of_ours(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    with suppress_instrumentation():
        events = await run(agent(AGENT_NAME, *TOOL_TURNS, tools=[echo]))
    assert events[-1] == "scribe[text:hello world]"
    assert ours(telemetry) == []


async def test_after_uninstrument_adk_traces_exactly_as_bare(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    await run(agent(AGENT_NAME, *TOOL_TURNS, tools=[echo]))
    bare = scoped_tree(telemetry)
    telemetry.spans.clear()
    instrumentation.on()
    instrumentation.off()  # also asserts every patched attribute is the very same object again
    await run(agent(AGENT_NAME, *TOOL_TURNS, tools=[echo]))
    assert scoped_tree(telemetry) == bare


# -- what ADK's bypassed telemetry does besides its spans, kept (the adapter's docstring lists each) -------------


async def test_agent_code_runs_on_the_callers_context_as_bare(instrumentation: Instrumentation) -> None:
    """The caller's baggage and ADK's eval interval collector (`collect_busy_intervals`) reach the run's model
    and tool calls as without us (the stood-down context managers build on the caller's context)."""
    seen: list[Any] = []

    def look(text: str) -> str:
        """Reads the baggage."""
        seen.append(baggage.get_baggage("tenant"))
        return text

    async def measured() -> tuple[int, int]:
        token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
        try:
            with _instrumentation.collect_busy_intervals() as busy:
                await run(agent(AGENT_NAME, tool_call("look", "call_1", text="x"), text_response("ok"), tools=[look]))
        finally:
            otel_context.detach(token)
        return len(busy.model), len(busy.tool)

    bare = await measured()
    instrumentation.on()
    traced = await measured()
    assert traced == bare
    assert bare[0] >= 2 and bare[1] == 1  # each model pull timed (two calls), one tool call
    assert seen == ["acme", "acme"]


def adk_metric_counts() -> dict[tuple[str, str], float]:
    """(metric name, agent or workflow name) -> how many values ADK recorded and their sum (a histogram of
    per-run model or tool calls counts what the run's scope accumulated), cumulative."""
    counts: dict[tuple[str, str], float] = {}
    data = _METRICS.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            if scope.scope.name != ADKS:
                continue
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    point_attributes = point.attributes or {}
                    subject = point_attributes.get("gen_ai.agent.name") or point_attributes.get("gen_ai.workflow.name")
                    timed = metric.name.endswith(".duration")  # durations vary; how many were recorded does not
                    measures = ("count",) if timed else ("count", "sum") if hasattr(point, "count") else ("value",)
                    for measure in measures:
                        key = (f"{metric.name}.{measure}", str(subject))
                        counts[key] = counts.get(key, 0) + getattr(point, measure)
    return counts


async def test_adk_metrics_are_recorded_as_bare(instrumentation: Instrumentation) -> None:
    """record_agent_invocation steps 1-2 and record_invocation step 1: ADK's agent and workflow metrics."""

    async def recorded() -> dict[tuple[str, str], float]:
        before = adk_metric_counts()
        first = agent("metered_first", *TOOL_TURNS, tools=[echo])
        # ADK's experimental telemetry on: the turn's workflow-scope metrics are recorded too.
        experimental = RunConfig(
            telemetry=TelemetryConfig(
                adk_experimental_telemetry_opt_in=True, experimental_features_opt_in=frozenset({"workflow"})
            )
        )
        await run(quietly(lambda: SequentialAgent(name="metered", sub_agents=[first])), run_config=experimental)
        after = adk_metric_counts()
        return {key: count - before.get(key, 0) for key, count in after.items() if count != before.get(key, 0)}

    bare = await recorded()
    instrumentation.on()
    traced = await recorded()
    assert traced == bare
    assert bare[("gen_ai.invoke_agent.duration.count", "metered")] == 1
    assert bare[("gen_ai.invoke_agent.duration.count", "metered_first")] == 1
    assert bare[("gen_ai.invoke_workflow.duration.count", "metered")] == 1
    # What the agent's scope accumulated on the context its code ran in: its two model calls, one tool call.
    first_sums = {metric: value for (metric, subject), value in bare.items() if subject == "metered_first"}
    assert first_sums["gen_ai.invoke_agent.inference_calls.sum"] == 2
    assert first_sums["gen_ai.invoke_agent.tool_calls.sum"] == 1
    # What the turn's workflow scope (the runner's, on the context its code ran in) accumulated.
    turn_sums = {metric: value for (metric, subject), value in bare.items() if subject == "metered"}
    assert turn_sums["adk.experimental.invoke_workflow.inference_calls.sum"] == 2


async def test_legacy_schema_run_span_stood_down_and_call_llm_spans_kept(
    instrumentation: Instrumentation, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN=1: ADK's `invocation` span in place of invoke_workflow, and a `call_llm`
    # span around each model call. Ours replaces `invocation` and ADK's agent span; `call_llm` stays.
    monkeypatch.setenv("ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN", "1")
    instrumentation.on()
    await run(agent(AGENT_NAME, *TOOL_TURNS, tools=[echo]))
    assert scoped_tree(telemetry) == [
        ("invoke_agent scribe", OURS, None, UNSET),
        ("call_llm", ADKS, "invoke_agent scribe", UNSET),
        (GENERATE, ADKS, "call_llm", UNSET),
        ("execute_tool echo", ADKS, "invoke_agent scribe", UNSET),
        ("call_llm", ADKS, "invoke_agent scribe", UNSET),
        (GENERATE, ADKS, "call_llm", UNSET),
    ]


@pytest.mark.parametrize("mode", ["run_async", "run"])
async def test_a_stream_closed_early_fires_the_callbacks_it_fires_bare(
    mode: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # run_async's aclose() reaches the agent as GeneratorExit: no after_agent callback, after_run still fires.
    # Runner.run's close() cancels its thread's task: the agent's cancellation path fires after_agent.
    bare = await DRIVER.perform_bare(mode, Ending.BREAK_AND_CLOSE)
    instrumentation.on()
    traced = await DRIVER.perform(mode, Ending.BREAK_AND_CLOSE)
    assert traced == bare
    assert ("after_agent:scribe" in bare.hooks) is (mode == "run")
    assert bare.hooks[-1] == "plugin:after_run"
    assert by_name(telemetry, "invoke_agent scribe")[semconv.OUTCOME] == "closed_early"


# -- live runs (Runner.run_live, BaseAgent.run_live) -------------------------------------------------------------


class LiveConnection(BaseLlmConnection):  # type: ignore[misc]  # ADK is read through Any in .venv's mypy
    """Answers each content sent with "live hi" and a turn-complete response; ends when ADK closes it."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()

    async def send_history(self, history: list[Any]) -> None:
        pass

    async def send_content(self, content: Any) -> None:
        await self.inbox.put(content)

    async def send_realtime(self, blob: Any) -> None:
        pass

    async def receive(self) -> AsyncIterator[LlmResponse]:
        if await self.inbox.get() is None:
            return  # receive() returning without a response ends ADK's live flow
        yield LlmResponse(content=types.Content(role="model", parts=[types.Part(text="live hi")]))
        yield LlmResponse(turn_complete=True)

    async def close(self) -> None:
        await self.inbox.put(None)


class LiveLlm(BaseLlm):  # type: ignore[misc]  # as above
    model: str = "live-model"
    fail: bool = False

    async def generate_content_async(self, llm_request: Any, stream: bool = False) -> AsyncIterator[LlmResponse]:
        yield LlmResponse()

    @contextlib.asynccontextmanager
    async def connect(self, llm_request: Any) -> AsyncIterator[LiveConnection]:
        if self.fail:
            raise ModelFailure("live connection refused")
        yield LiveConnection()


async def run_live(calls: list[str], fail: bool = False, stop_after: int | None = None) -> list[str]:
    """One live turn: send "hi", close the request queue at the turn's end; the events, or what it raised."""
    runner = runner_for(LlmAgent(name="talker", model=LiveLlm(fail=fail), **agent_callbacks(calls)), calls)
    session_id = await new_session(runner)
    requests = LiveRequestQueue()
    requests.send_content(message())
    events: list[str] = []
    stream = runner.run_live(user_id=USER, session_id=session_id, live_request_queue=requests)
    try:
        async for event in stream:
            events.append(f"{describe(event)}{' turn_complete' if event.turn_complete else ''}")
            if stop_after is not None and len(events) == stop_after:
                await stream.aclose()
                break
            if event.turn_complete:
                requests.close()
    except Exception as error:
        events.append(f"raised {type(error).__name__}")
    return events


async def test_a_live_run_is_one_agent_span_of_ours(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    bare_calls: list[str] = []
    bare = await run_live(bare_calls)
    assert scoped_tree(telemetry) == [("invoke_agent talker", ADKS, None, UNSET)]  # what ADK emits bare
    telemetry.spans.clear()
    instrumentation.on()
    calls: list[str] = []
    assert await run_live(calls) == bare == ["talker[text:live hi]", "talker[] turn_complete"]
    assert calls == bare_calls
    assert scoped_tree(telemetry) == [("invoke_agent talker", OURS, None, UNSET)]
    run_attributes = by_name(telemetry, "invoke_agent talker")
    assert run_attributes[semconv.OUTCOME] == "completed"
    assert run_attributes[semconv.GEN_AI_REQUEST_MODEL] == "live-model"
    assert isinstance(run_attributes[semconv.GEN_AI_CONVERSATION_ID], str)


async def test_a_live_run_keeps_adks_agent_span_under_ours_when_asked(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(keep_framework_spans=True)
    await run_live([])
    assert scoped_tree(telemetry) == [
        ("invoke_agent talker", OURS, None, UNSET),
        ("invoke_agent talker", ADKS, "invoke_agent talker", UNSET),
    ]


async def test_a_live_run_closed_early_or_failing_ends_as_bare(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    bare_closed_calls: list[str] = []
    bare_closed = await run_live(bare_closed_calls, stop_after=1)
    bare_failed_calls: list[str] = []
    bare_failed = await run_live(bare_failed_calls, fail=True)
    telemetry.spans.clear()
    instrumentation.on()
    closed_calls: list[str] = []
    assert await run_live(closed_calls, stop_after=1) == bare_closed == ["talker[text:live hi]"]
    assert closed_calls == bare_closed_calls
    failed_calls: list[str] = []
    assert await run_live(failed_calls, fail=True) == bare_failed == [f"raised {ModelFailure.__name__}"]
    assert failed_calls == bare_failed_calls
    closed, failed = ours(telemetry)
    assert attributes(closed)[semconv.OUTCOME] == "closed_early"
    assert attributes(failed)[semconv.OUTCOME] == "failed"
    assert attributes(failed)[semconv.ERROR_TYPE] == f"{ModelFailure.__module__}.{ModelFailure.__qualname__}"


def our_token_sums() -> dict[str, int]:
    """Our `gen_ai.client.token.usage` summed per token type, cumulative."""
    sums: dict[str, int] = {}
    data = _METRICS.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            if scope.scope.name != OURS:
                continue
            for metric in scope.metrics:
                if metric.name == semconv.METRIC_CLIENT_TOKEN_USAGE:
                    for point in metric.data.data_points:
                        token_type = str((point.attributes or {}).get(semconv.GEN_AI_TOKEN_TYPE))
                        sums[token_type] = sums.get(token_type, 0) + int(getattr(point, "sum", 0))
    return sums


async def test_sub_agents_usage_is_on_their_spans_and_counted_once_in_the_token_metric(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    before = our_token_sums()
    first = agent("first", *TOOL_TURNS, tools=[echo])
    second = agent("second", text_response("done"))
    await run(quietly(lambda: SequentialAgent(name="pipeline", sub_agents=[first, second])))
    after = our_token_sums()
    usage = {
        span.name: (
            attributes(span)[semconv.GEN_AI_USAGE_INPUT_TOKENS],
            attributes(span)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS],
        )
        for span in ours(telemetry)
    }
    assert usage == {
        "invoke_agent pipeline": (3 + 10 + 10, 1 + 5 + 5),
        "invoke_agent first": (3 + 10, 1 + 5),
        "invoke_agent second": (10, 5),
    }
    added = {token_type: count - before.get(token_type, 0) for token_type, count in after.items()}
    assert added == {semconv.TOKEN_TYPE_INPUT: 23, semconv.TOKEN_TYPE_OUTPUT: 11}  # the pipeline's, once


def test_doctor_describes_adks_own_telemetry() -> None:
    from otel_agent_instrumentation.adapters.google_adk import ADAPTER
    from otel_agent_instrumentation.config import resolve

    assert ADAPTER.framework_telemetry is not None
    assert ADAPTER.framework_telemetry(resolve({})) == (
        "ADK telemetry always on (schema v2: invoke_workflow, invoke_agent, generate_content, execute_tool) on "
        "the global TracerProvider, recorded by the global TracerProvider; its run and agent spans stood down "
        "while ours owns the run, its model and tool spans kept under ours"
    )
    assert ADAPTER.framework_telemetry(resolve({"keep_framework_spans": True})).endswith(
        "kept, under ours (keep_framework_spans)"
    )


async def test_a_workflow_rooted_runner_keeps_adks_workflow_span_with_our_agent_spans_under_it(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # An ADK Workflow is a workflow, not an agent: ADK's own invoke_workflow span is the run's, ours are its agents'.
    from google.adk.workflow import START, Workflow

    instrumentation.on()
    first, second = agent("first", text_response("one")), agent("second", text_response("two"))
    events = await run(Workflow(name="flow", edges=[(START, first), (first, second)]))
    assert events == ["first[text:one]", "second[text:two]"]
    assert scoped_tree(telemetry) == [
        ("invoke_workflow flow", ADKS, None, UNSET),
        ("invoke_agent first", OURS, "invoke_workflow flow", UNSET),
        (GENERATE, ADKS, "invoke_agent first", UNSET),
        ("invoke_agent second", OURS, "invoke_workflow flow", UNSET),
        (GENERATE, ADKS, "invoke_agent second", UNSET),
    ]

"""CrewAI specifics: the crew's tree (workflow, agents, tools), tool failures, streams, usage, transparency.

The crew runs offline on a scripted `BaseLLM` (tests/frameworks/openai2/crewai_driver.py), or on crewai's own
OpenAI LLM class against the local OpenAI-compatible server (the last tests). No test may reach beyond
loopback (tests/separate/openai2/crewai_env.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from otel_agent_instrumentation import semconv
from tests.frameworks.openai2.crewai_driver import (
    AGENT_ROLE,
    ANSWER,
    CREW_NAME,
    MODEL_ID,
    RECORDING,
    ScriptedLLM,
    ToolFailure,
    echo,
    fails,
    make_agent,
    make_crew,
)
from tests.openai_server import ANSWER_USAGE, FINAL_ANSWER, MODEL, TOOL_CALL_USAGE, TOOL_RESULT, OpenAIServer, serve
from tests.separate.openai2 import crewai_env

# isort: split
from crewai import LLM, Crew, Process, Task
from crewai.events.event_bus import crewai_event_bus
from crewai.events.types.agent_events import AgentExecutionCompletedEvent, AgentExecutionStartedEvent
from crewai.events.types.crew_events import CrewKickoffCompletedEvent, CrewKickoffStartedEvent
from crewai.events.types.tool_usage_events import ToolUsageErrorEvent, ToolUsageFinishedEvent, ToolUsageStartedEvent
from crewai.tools import tool
from crewai.tools.tool_failure import ToolFailure as CrewToolFailure

from tests.conftest import ERROR, INTERNAL, UNSET, Instrumentation, Telemetry, TreeRow, attributes, span_tree

WORKFLOW = f"invoke_workflow {CREW_NAME}"
AGENT = f"invoke_agent {AGENT_ROLE}"
TOOL_FAILURE_TYPE = f"{ToolFailure.__module__}.{ToolFailure.__qualname__}"

# Text (ReAct) tool calls: echo, then fails, then the answer.
TEXT_SCRIPT: list[Any] = [
    'Thought: echo it.\nAction: echo\nAction Input: {"text": "hi"}',
    'Thought: now fails.\nAction: fails\nAction Input: {"text": "x"}',
    ANSWER,
]
# Native function calling: echo and fails asked for at once (crewai runs them in its thread pool).
NATIVE_SCRIPT: list[Any] = [[("echo", {"text": "hi"}), ("fails", {"text": "x"})], ANSWER]

TOOL_TREE: list[TreeRow] = [
    (WORKFLOW, INTERNAL, None, UNSET),
    (AGENT, INTERNAL, WORKFLOW, UNSET),
    ("execute_tool echo", INTERNAL, AGENT, UNSET),
    ("execute_tool fails", INTERNAL, AGENT, ERROR),
]


@pytest.fixture(autouse=True)
def offline() -> Iterator[None]:
    """Every test here fails if anything tried to reach beyond loopback."""
    crewai_env.assert_offline()
    yield
    crewai_env.assert_offline()


def text_tool_crew(**options: Any) -> Crew:
    return make_crew(script=TEXT_SCRIPT, tools=[echo, fails], **options)


def native_tool_crew(**options: Any) -> Crew:
    return make_crew(script=NATIVE_SCRIPT, tools=[echo, fails], native=True, **options)


def span(telemetry: Telemetry, name: str) -> ReadableSpan:
    (found,) = [s for s in telemetry.finished() if s.name == name]
    return found


async def kickoff(crew: Crew, mode: str) -> Any:
    """Run `crew` the way `mode` says; its CrewOutput."""
    if mode == "kickoff":
        return await asyncio.to_thread(crew.kickoff)  # crewai refuses sync runs inside a running loop
    if mode in ("kickoff_async", "akickoff"):
        return await getattr(crew, mode)()
    crew.stream = True
    if mode == "stream":

        def consume() -> Any:
            streaming: Any = crew.kickoff()
            [chunk for chunk in streaming]
            return streaming.result

        return await asyncio.to_thread(consume)
    streaming: Any = await getattr(crew, mode.removesuffix("_stream"))()
    [chunk async for chunk in streaming]
    return streaming.result


MODES = ["kickoff", "kickoff_async", "akickoff", "stream", "akickoff_stream"]


# -- the tree -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_text_tool_calls_are_children_of_the_agent_under_the_crews_workflow(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    instrumentation.on()
    await kickoff(text_tool_crew(), mode)
    assert span_tree(telemetry) == TOOL_TREE


@pytest.mark.parametrize("mode", MODES)
async def test_native_tool_calls_in_crewais_thread_pool_are_children_of_the_agent(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    instrumentation.on()
    await kickoff(native_tool_crew(), mode)
    assert sorted(span_tree(telemetry)) == sorted(TOOL_TREE)  # the two calls run at once


THREADS: list[str] = []


@tool("where")  # type: ignore[untyped-decorator]
def where(text: str) -> str:
    """Says which thread runs it and which span is current there."""
    current = trace.get_current_span()
    THREADS.append(threading.current_thread().name)
    return f"{getattr(current, 'name', None)}"


async def test_native_tool_body_runs_in_a_pool_thread_with_its_tool_span_current(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    THREADS.clear()
    script: list[Any] = [[("where", {"text": "a"}), ("echo", {"text": "b"})], ANSWER]
    instrumentation.on()
    await asyncio.to_thread(make_crew(script=script, tools=[where, echo], native=True).kickoff)
    assert [name.startswith("ThreadPoolExecutor") for name in THREADS] == [True]
    where_span = span(telemetry, "execute_tool where")
    assert where_span.parent is not None
    assert where_span.parent.span_id == span(telemetry, AGENT).context.span_id


def test_kickoff_async_running_kickoff_in_a_thread_is_one_workflow_run(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    asyncio.run(make_crew().kickoff_async())
    assert [s.name for s in telemetry.finished() if s.name.startswith("invoke_workflow")] == [WORKFLOW]


@tool("launch")  # type: ignore[untyped-decorator]
def launch(text: str) -> str:
    """Kicks off a crew of its own."""
    inner = make_crew(name="inner")
    inner.agents[0].role = "helper"
    return str(inner.kickoff().raw)


async def test_crew_kicked_off_from_a_tool_is_a_child_workflow_of_the_tool_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    script: list[Any] = ['Thought: launch.\nAction: launch\nAction Input: {"text": "go"}', ANSWER]
    instrumentation.on()
    await asyncio.to_thread(make_crew(script=script, tools=[launch]).kickoff)
    assert span_tree(telemetry) == [
        (WORKFLOW, INTERNAL, None, UNSET),
        (AGENT, INTERNAL, WORKFLOW, UNSET),
        ("execute_tool launch", INTERNAL, AGENT, UNSET),
        ("invoke_workflow inner", INTERNAL, "execute_tool launch", UNSET),
        ("invoke_agent helper", INTERNAL, "invoke_workflow inner", UNSET),
    ]


async def test_each_agents_task_is_its_own_child_of_the_workflow(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    writer = make_agent(ScriptedLLM(model=MODEL_ID))
    critic = make_agent(ScriptedLLM(model=MODEL_ID), role="critic")
    crew = Crew(
        name=CREW_NAME,
        agents=[writer, critic],
        tasks=[
            Task(description="Write.", expected_output="text", agent=writer),
            Task(description="Criticise.", expected_output="text", agent=critic),
        ],
    )
    instrumentation.on()
    await crew.akickoff()
    assert span_tree(telemetry) == [
        (WORKFLOW, INTERNAL, None, UNSET),
        (AGENT, INTERNAL, WORKFLOW, UNSET),
        ("invoke_agent critic", INTERNAL, WORKFLOW, UNSET),
    ]


async def test_agent_of_an_async_execution_task_in_crewais_thread_is_a_child_of_the_workflow(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # Task(async_execution=True) runs its agent in a thread of its own (task.py:609), over a copy of the context.
    researcher = make_agent(ScriptedLLM(model=MODEL_ID), role="researcher")
    writer = make_agent(ScriptedLLM(model=MODEL_ID))
    tasks = [
        Task(description="Research.", expected_output="notes", agent=researcher, async_execution=True),
        Task(description="Write.", expected_output="text", agent=writer),
    ]
    instrumentation.on()
    await asyncio.to_thread(Crew(name=CREW_NAME, agents=[researcher, writer], tasks=tasks).kickoff)
    assert span_tree(telemetry) == [
        (WORKFLOW, INTERNAL, None, UNSET),
        ("invoke_agent researcher", INTERNAL, WORKFLOW, UNSET),
        (AGENT, INTERNAL, WORKFLOW, UNSET),
    ]


async def test_hierarchical_crews_manager_delegates_to_a_coworker_under_its_delegation_tool(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    delegate = json.dumps({"task": "write", "context": "c", "coworker": AGENT_ROLE})
    manager = ScriptedLLM(
        model="manager-v1",
        script=[f"Thought: delegate.\nAction: Delegate work to coworker\nAction Input: {delegate}", ANSWER],
    )
    writer = make_agent(ScriptedLLM(model=MODEL_ID, script=[*TEXT_SCRIPT[:1], ANSWER]), [echo])
    crew = Crew(
        name=CREW_NAME,
        agents=[writer],
        tasks=[Task(description="Write.", expected_output="text")],
        process=Process.hierarchical,
        manager_llm=manager,
    )
    instrumentation.on()
    await crew.akickoff()
    assert span_tree(telemetry) == [
        (WORKFLOW, INTERNAL, None, UNSET),
        ("invoke_agent Crew Manager", INTERNAL, WORKFLOW, UNSET),
        ("execute_tool Delegate work to coworker", INTERNAL, "invoke_agent Crew Manager", UNSET),
        (AGENT, INTERNAL, "execute_tool Delegate work to coworker", UNSET),
        ("execute_tool echo", INTERNAL, AGENT, UNSET),
    ]


# -- tool spans ---------------------------------------------------------------------------------------------


async def test_native_tool_span_reads_the_tools_identity_and_the_models_call_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await kickoff(native_tool_crew(), "kickoff")
    identity = (
        semconv.GEN_AI_OPERATION_NAME,
        semconv.GEN_AI_TOOL_NAME,
        semconv.GEN_AI_TOOL_TYPE,
        semconv.GEN_AI_TOOL_DESCRIPTION,
        semconv.GEN_AI_TOOL_CALL_ID,
    )
    assert [[attributes(span(telemetry, f"execute_tool {n}")).get(k) for k in identity] for n in ("echo", "fails")] == [
        ["execute_tool", "echo", "function", "Echoes its text.", "call_1"],
        ["execute_tool", "fails", "function", "Always fails.", "call_2"],
    ]


async def test_text_tool_span_has_no_call_id_the_model_never_gave_one(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await kickoff(text_tool_crew(), "kickoff")
    attrs = attributes(span(telemetry, "execute_tool echo"))
    assert (attrs[semconv.GEN_AI_TOOL_DESCRIPTION], semconv.GEN_AI_TOOL_CALL_ID in attrs) == ("Echoes its text.", False)


@pytest.mark.parametrize("make", [text_tool_crew, native_tool_crew], ids=["text", "native"])
async def test_tool_that_raises_ends_error_with_its_exception_though_crewai_answers_the_model(
    instrumentation: Instrumentation, telemetry: Telemetry, make: Any
) -> None:
    instrumentation.on()
    output = await kickoff(make(), "kickoff")
    failed = span(telemetry, "execute_tool fails")
    attrs = attributes(failed)
    assert "hello world" in output.raw  # the run went on: crewai handed the model the error text
    assert (failed.status.status_code, failed.status.description) == (StatusCode.ERROR, "tool broke on x")
    assert (attrs[semconv.ERROR_TYPE], attrs[semconv.OUTCOME]) == (TOOL_FAILURE_TYPE, "failed")
    assert [event.name for event in failed.events] == ["exception"]


async def test_text_tool_retries_by_crewai_are_one_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    # crewai calls a raising text tool again (tool_usage.py:620-631, 740): the logical call is one span.
    instrumentation.on()
    await kickoff(text_tool_crew(), "kickoff")
    assert [s.name for s in telemetry.finished()].count("execute_tool fails") == 1


@tool("reports")  # type: ignore[untyped-decorator]
def reports(text: str) -> Any:
    """Reports a failure as a value."""
    return CrewToolFailure(message=f"channel {text} not found", code="channel_not_found")


@pytest.mark.parametrize("native", [False, True], ids=["text", "native"])
async def test_tool_failure_returned_as_a_value_ends_error_with_crewais_reason(
    instrumentation: Instrumentation, telemetry: Telemetry, native: bool
) -> None:
    script: list[Any] = (
        [[("reports", {"text": "x"})], ANSWER]
        if native
        else ['Thought: report.\nAction: reports\nAction Input: {"text": "x"}', ANSWER]
    )
    instrumentation.on()
    await asyncio.to_thread(make_crew(script=script, tools=[reports], native=native).kickoff)
    reported = span(telemetry, "execute_tool reports")
    assert (reported.status.status_code, reported.status.description) == (StatusCode.ERROR, "channel x not found")
    assert attributes(reported)[semconv.ERROR_TYPE] == "tool_reported"


async def test_tool_arguments_and_result_are_recorded_with_content_capture(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    await kickoff(native_tool_crew(), "kickoff")
    attrs = attributes(span(telemetry, "execute_tool echo"))
    assert (attrs[semconv.GEN_AI_TOOL_CALL_ARGUMENTS], attrs[semconv.GEN_AI_TOOL_CALL_RESULT]) == (
        '{"text": "hi"}',
        "echo:hi",
    )


async def test_no_content_is_recorded_by_default(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await kickoff(native_tool_crew(), "kickoff")
    content = {
        semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
        semconv.GEN_AI_TOOL_CALL_RESULT,
        semconv.GEN_AI_INPUT_MESSAGES,
        semconv.GEN_AI_OUTPUT_MESSAGES,
        semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
    }
    assert [sorted(content & set(attributes(s))) for s in telemetry.finished()] == [[], [], [], []]


# -- agent spans ----------------------------------------------------------------------------------------------


async def test_agent_span_reads_role_goal_and_model(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await kickoff(make_crew(), "akickoff")
    attrs = attributes(span(telemetry, AGENT))
    assert (
        attrs[semconv.GEN_AI_AGENT_NAME],
        attrs[semconv.GEN_AI_AGENT_DESCRIPTION],
        attrs[semconv.GEN_AI_REQUEST_MODEL],
    ) == (AGENT_ROLE, "write things", MODEL_ID)


async def test_agent_span_usage_is_its_executions_share_also_on_a_second_kickoff(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # crewai's LLM counters are cumulative for the instance (and crew.usage_metrics with them): the span
    # records what this execution added. Three model calls (two tool turns, the answer) at 10/5 each.
    crew = text_tool_crew()
    instrumentation.on()
    await kickoff(crew, "kickoff")
    crew.agents[0].llm.turns = 0
    await kickoff(crew, "kickoff")
    usage = [
        (attributes(s)[semconv.GEN_AI_USAGE_INPUT_TOKENS], attributes(s)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS])
        for s in telemetry.finished()
        if s.name == AGENT
    ]
    assert (usage, crew.usage_metrics.prompt_tokens) == ([(30, 15), (30, 15)], 60)


async def test_custom_llm_that_sets_no_provider_is_recorded_as_other(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # BaseLLM fills in "openai" for a model id without a "provider/" prefix: a scripted LLM is not OpenAI's.
    instrumentation.on()
    await kickoff(make_crew(), "akickoff")
    assert attributes(span(telemetry, AGENT))[semconv.GEN_AI_PROVIDER_NAME] == semconv.PROVIDER_OTHER


async def test_custom_llm_that_sets_a_provider_is_recorded_with_it(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    agent = make_agent(ScriptedLLM(model=MODEL_ID, provider="anthropic"))
    crew = Crew(name=CREW_NAME, agents=[agent], tasks=[Task(description="Write.", expected_output="x", agent=agent)])
    instrumentation.on()
    await crew.akickoff()
    assert attributes(span(telemetry, AGENT))[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"


@pytest.mark.parametrize("method", ["kickoff", "kickoff_async", "akickoff"])
async def test_standalone_agent_kickoff_is_one_agent_span_with_its_usage(
    instrumentation: Instrumentation, telemetry: Telemetry, method: str
) -> None:
    agent = make_agent(ScriptedLLM(model=MODEL_ID))
    instrumentation.on()
    if method == "kickoff":
        output = await asyncio.to_thread(agent.kickoff, "hi")
    else:
        output = await getattr(agent, method)("hi")
    attrs = attributes(span(telemetry, AGENT))
    assert output.raw == "hello world"
    assert [s.name for s in telemetry.finished()] == [AGENT]
    assert (attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS], attrs[semconv.OUTCOME]) == (10, "completed")


async def test_agent_kickoff_inside_an_event_loop_returns_the_same_coroutine_kind_and_one_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # Inside a running loop crewai's kickoff returns kickoff_async(...): a layer of the same run.
    agent = make_agent(ScriptedLLM(model=MODEL_ID))
    instrumentation.on()
    pending = agent.kickoff("hi")
    assert asyncio.iscoroutine(pending)
    assert (await pending).raw == "hello world"
    assert [s.name for s in telemetry.finished()] == [AGENT]


async def test_failed_task_ends_agent_and_workflow_error_with_the_models_exception(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    with pytest.raises(ConnectionError) as raised:
        await kickoff(make_crew(fail=True), "akickoff")
    assert span_tree(telemetry) == [(WORKFLOW, INTERNAL, None, ERROR), (AGENT, INTERNAL, WORKFLOW, ERROR)]
    assert [attributes(s)[semconv.ERROR_TYPE] for s in telemetry.finished()] == ["ConnectionError"] * 2
    assert str(raised.value) == "model connection dropped"


# -- streams ------------------------------------------------------------------------------------------------------


def test_streaming_output_is_crewais_own_object(instrumentation: Instrumentation) -> None:
    from crewai.types.streaming import CrewStreamingOutput

    instrumentation.on()
    streaming = make_crew(stream=True).kickoff()
    assert type(streaming) is CrewStreamingOutput
    streaming.close()


def test_stream_closed_early_ends_closed_early_after_crewai_joined_the_crews_thread(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    streaming: Any = text_tool_crew(stream=True).kickoff()
    next(iter(streaming))
    streaming.close()
    workflow = span(telemetry, WORKFLOW)
    assert attributes(workflow)[semconv.OUTCOME] == "closed_early"
    assert all((s.end_time or 0) <= (workflow.end_time or 0) for s in telemetry.finished())
    assert span_tree(telemetry) == TOOL_TREE


def test_stream_iterated_again_after_a_break_ends_with_its_end(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # Each for-loop over the output makes a new generator over the same chunks: a break is not the end.
    instrumentation.on()
    streaming: Any = make_crew(stream=True).kickoff()
    first: list[str] = []
    for chunk in streaming:
        first.append(chunk.content)
        break
    rest = [chunk.content for chunk in streaming]
    assert "".join(first + rest) != ""
    assert attributes(span(telemetry, WORKFLOW))[semconv.OUTCOME] == "completed"


async def test_async_stream_closed_by_leaving_async_with_ends_closed_early(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    streaming: Any = await make_crew(stream=True).akickoff()
    async with streaming:
        async for _chunk in streaming:
            break
    assert attributes(span(telemetry, WORKFLOW))[semconv.OUTCOME] == "closed_early"


def test_stream_failing_in_the_crews_thread_ends_failed_with_the_same_exception(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    streaming: Any = make_crew(stream=True, fail=True).kickoff()
    with pytest.raises(ConnectionError) as raised:
        list(streaming)
    workflow = span(telemetry, WORKFLOW)
    assert workflow.events[0].attributes is not None
    assert workflow.events[0].attributes["exception.message"] == str(raised.value)
    assert attributes(workflow)[semconv.ERROR_TYPE] == "ConnectionError"


def test_stream_never_iterated_starts_no_crew_and_its_close_ends_closed_early(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    streaming: Any = make_crew(stream=True).kickoff()
    streaming.close()
    assert [(s.name, attributes(s)[semconv.OUTCOME]) for s in telemetry.finished()] == [(WORKFLOW, "closed_early")]


# -- transparency ---------------------------------------------------------------------------------------------------

BUS_EVENTS = (
    CrewKickoffStartedEvent,
    AgentExecutionStartedEvent,
    ToolUsageStartedEvent,
    ToolUsageFinishedEvent,
    ToolUsageErrorEvent,
    AgentExecutionCompletedEvent,
    CrewKickoffCompletedEvent,
)


async def observe(crew: Crew, mode: str, parallel: bool) -> list[str]:
    """What the app sees of a run: callbacks (kickoff, task, step) and its event bus, in order, and the result.
    Tool calls crewai runs in parallel emit their events in either order: then the events are a multiset."""
    calls: list[str] = []
    events: list[tuple[int, str]] = []
    lock = threading.Lock()

    def record(_source: Any, event: Any) -> None:
        with lock:
            events.append((event.emission_sequence or 0, f"{type(event).__name__}:{getattr(event, 'tool_name', '')}"))

    RECORDING.set(calls)
    with crewai_event_bus.scoped_handlers():
        for event_type in BUS_EVENTS:
            crewai_event_bus.register_handler(event_type, record)
        output = await kickoff(crew, mode)
        crewai_event_bus.flush()
    names = [name for _, name in sorted(events)]
    return [*calls, *(sorted(names) if parallel else names), f"result:{output.raw}"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("make", [text_tool_crew, native_tool_crew], ids=["text", "native"])
async def test_callbacks_and_event_bus_see_the_same_as_without_us(
    instrumentation: Instrumentation, mode: str, make: Any
) -> None:
    parallel = make is native_tool_crew
    bare = await observe(make(), mode, parallel)
    instrumentation.on()
    traced = await observe(make(), mode, parallel)
    assert traced == bare
    assert "ToolUsageErrorEvent:fails" in traced and "before_kickoff" in traced


async def test_tool_exception_object_crewai_catches_is_the_one_the_tool_raised(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    seen: list[BaseException] = []

    def record(_source: Any, event: Any) -> None:
        seen.append(event.error)

    instrumentation.on()
    with crewai_event_bus.scoped_handlers():
        crewai_event_bus.register_handler(ToolUsageErrorEvent, record)
        await kickoff(native_tool_crew(), "kickoff")
        crewai_event_bus.flush()
    (error,) = seen
    (event,) = span(telemetry, "execute_tool fails").events
    assert type(error) is ToolFailure
    assert (event.attributes or {})["exception.message"] == str(error)


async def test_suppressed_instrumentation_makes_no_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    with suppress_instrumentation():
        await kickoff(native_tool_crew(), "akickoff")
        await kickoff(make_crew(), "stream")
    assert telemetry.finished() == []


async def test_uninstrument_restores_every_patched_method_and_makes_no_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    from crewai.agent.core import Agent
    from crewai.agents import agent_executor
    from crewai.tools import tool_usage
    from crewai.types.streaming import StreamingOutputBase

    originals = [
        vars(Crew)["kickoff"],
        vars(Agent)["execute_task"],
        vars(StreamingOutputBase)["__iter__"],
        vars(StreamingOutputBase)["aclose"],
        vars(tool_usage.ToolUsage)["_use"],
        agent_executor.failure_from_exception,
    ]
    instrumentation.on()
    instrumentation.off()  # checks every patch is the very same object again
    await kickoff(native_tool_crew(), "kickoff")
    assert telemetry.finished() == []
    assert [
        vars(Crew)["kickoff"],
        vars(Agent)["execute_task"],
        vars(StreamingOutputBase)["__iter__"],
        vars(StreamingOutputBase)["aclose"],
        vars(tool_usage.ToolUsage)["_use"],
        agent_executor.failure_from_exception,
    ] == originals


async def test_caller_context_is_unchanged_after_every_mode(instrumentation: Instrumentation) -> None:
    instrumentation.on()
    caller = trace.get_current_span()
    context_before = contextvars.copy_context()
    for mode in MODES:
        await kickoff(native_tool_crew(), mode)
        assert trace.get_current_span() is caller
    assert trace.get_current_span() is context_before.run(trace.get_current_span)


# -- crewai's own telemetry -------------------------------------------------------------------------------------------


async def test_crewai_installs_no_global_tracer_provider(instrumentation: Instrumentation) -> None:
    before = trace.get_tracer_provider()
    instrumentation.on()
    await kickoff(native_tool_crew(), "akickoff")
    assert trace.get_tracer_provider() is before


def test_network_guard_refuses_and_reports_a_connection_beyond_loopback() -> None:
    import socket

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)  # TEST-NET-1: never routed
    with pytest.raises(AssertionError, match=re.escape("192.0.2.1")):
        crewai_env.assert_offline()


# -- model calls through crewai's OpenAI LLM class, traced by opentelemetry-instrumentation-openai-v2 ----------------


@tool("get_weather")  # type: ignore[untyped-decorator]
def get_weather(city: str) -> str:
    """The weather in a city."""
    return TOOL_RESULT


@pytest.fixture
def openai_v2(telemetry: Telemetry) -> Iterator[None]:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]  # untyped in .venv, where mypy runs
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    yield
    instrumentor.uninstrument()


def weather_crew(server: OpenAIServer) -> Crew:
    # `openai/...` is crewai's native OpenAI provider (llms/providers/openai/completion.py, the openai client's
    # Chat Completions API); litellm, crewai's fallback for other model ids, is not installed.
    llm = LLM(model=f"openai/{MODEL}", base_url=server.base_url, api_key="offline")
    agent = make_agent(llm, [get_weather], role="weather")
    task = Task(description="What is the weather in Paris?", expected_output="the weather", agent=agent)
    return Crew(name="forecast", agents=[agent], tasks=[task])


@pytest.mark.parametrize("mode", ["kickoff", "akickoff", "stream"])
async def test_openai_v2_chat_spans_are_children_of_the_calling_agent(
    instrumentation: Instrumentation, telemetry: Telemetry, openai_v2: None, mode: str
) -> None:
    instrumentation.on()
    with serve() as server:
        output = await kickoff(weather_crew(server), mode)
    assert output.raw == FINAL_ANSWER
    assert span_tree(telemetry) == [
        ("invoke_workflow forecast", INTERNAL, None, UNSET),
        ("invoke_agent weather", INTERNAL, "invoke_workflow forecast", UNSET),
        (f"chat {MODEL}", SpanKind.CLIENT, "invoke_agent weather", UNSET),
        ("execute_tool get_weather", INTERNAL, "invoke_agent weather", UNSET),
        (f"chat {MODEL}", SpanKind.CLIENT, "invoke_agent weather", UNSET),
    ]


async def test_agent_usage_is_the_sum_of_its_chat_spans_usage(
    instrumentation: Instrumentation, telemetry: Telemetry, openai_v2: None
) -> None:
    instrumentation.on()
    with serve() as server:
        await kickoff(weather_crew(server), "kickoff")
    agent = attributes(span(telemetry, "invoke_agent weather"))
    chats = [attributes(s) for s in telemetry.finished() if s.name == f"chat {MODEL}"]
    keys = (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
    assert [agent[key] for key in keys] == [sum(int(chat[key]) for chat in chats) for key in keys]
    assert (agent[keys[0]], agent[keys[1]]) == (
        TOOL_CALL_USAGE.input_tokens + ANSWER_USAGE.input_tokens,
        TOOL_CALL_USAGE.output_tokens + ANSWER_USAGE.output_tokens,
    )
    assert agent[semconv.GEN_AI_PROVIDER_NAME] == "openai"


def test_doctor_describes_crewais_own_telemetry_as_the_tests_set_it() -> None:
    from otel_agent_instrumentation.adapters.crewai import ADAPTER
    from otel_agent_instrumentation.config import resolve

    assert ADAPTER.framework_telemetry is not None
    described = ADAPTER.framework_telemetry(resolve({}))
    assert described.startswith(
        "CrewAI telemetry off (CREWAI_DISABLE_TELEMETRY); trace upload to crewai's platform off"
    )

"""Microsoft Agent Framework workflows: a `Workflow` run is `invoke_workflow {workflow.name}` with the agents
its executors run as `invoke_agent` children; the framework's own `workflow.run` span is stood down for it
(kept with keep_framework_spans); `Workflow.as_agent()` is an agent whose workflow is a child workflow span.
Every ending of a workflow run, bare vs instrumented: tests/test_lifecycle.py with
tests/frameworks/agent_framework_workflow_driver.py."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest
from agent_framework import (
    Agent,
    BaseChatClient,
    ChatResponse,
    ChatResponseUpdate,
    Content,
    FunctionInvocationLayer,
    Message,
    Workflow,
    WorkflowBuilder,
    WorkflowContext,
    WorkflowExecutor,
    WorkflowRunState,
    executor,
    observability,
    workflow,
)
from agent_framework._workflows import _workflow
from agent_framework.observability import ChatTelemetryLayer
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation

from otel_agent_instrumentation import semconv
from tests.conftest import ERROR, INTERNAL, UNSET, Instrumentation, Telemetry, TreeRow, attributes, span_tree
from tests.frameworks.agent_framework_driver import MODEL_FAILURE, ModelFailure, Script, make_agent

WORKFLOW = "invoke_workflow review"


def review(writer_script: Script | None = None, critic_script: Script | None = None) -> Workflow:
    """writer -> critic, each an agent on the scripted chat client (no framework chat spans of its own)."""
    writer = make_agent(writer_script or Script(), [], name="writer")
    critic = make_agent(critic_script or Script(), [], name="critic")
    return WorkflowBuilder(name="review", start_executor=writer).add_edge(writer, critic).build()


async def consume(stream: Any) -> list[str]:
    return [str(event.type) async for event in stream]


# -- the tree -------------------------------------------------------------------------------------------


AGENTS_UNDER_THE_WORKFLOW: list[TreeRow] = [
    (WORKFLOW, INTERNAL, None, UNSET),
    ("invoke_agent writer", INTERNAL, WORKFLOW, UNSET),
    ("invoke_agent critic", INTERNAL, WORKFLOW, UNSET),
]


async def test_workflow_run_is_a_workflow_span_with_its_agents_as_children(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await review().run("hello")
    assert span_tree(telemetry) == AGENTS_UNDER_THE_WORKFLOW


async def test_streamed_workflow_run_is_a_workflow_span_with_its_agents_as_children(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await consume(review().run("hello", stream=True))
    assert span_tree(telemetry) == AGENTS_UNDER_THE_WORKFLOW


async def test_workflow_span_carries_the_workflow_name_and_no_agent_attributes(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await review().run("hello")
    (span,) = [span for span in telemetry.finished() if span.name == WORKFLOW]
    assert {key: value for key, value in attributes(span).items() if key.startswith("gen_ai.")} == {
        semconv.GEN_AI_OPERATION_NAME: "invoke_workflow",
        semconv.GEN_AI_WORKFLOW_NAME: "review",
    }
    (point,) = telemetry.metric_points(semconv.METRIC_WORKFLOW_DURATION)
    assert point.attributes[semconv.GEN_AI_WORKFLOW_NAME] == "review"


async def test_workflow_run_with_framework_telemetry_off_keeps_its_agents_under_the_workflow_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    observability.disable_instrumentation()
    try:
        await review().run("hello")
    finally:
        observability.enable_instrumentation(force=True)
    assert span_tree(telemetry) == AGENTS_UNDER_THE_WORKFLOW


async def test_workflow_built_without_a_name_is_a_workflow_span_without_one(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The builder names it "WorkflowBuilder-{uuid4}", a name per build: not the workflow's name.
    instrumentation.on()
    workflow = WorkflowBuilder(start_executor=make_agent(Script(), [], name="solo")).build()
    await workflow.run("hello")
    assert workflow.name.startswith("WorkflowBuilder-")
    (span,) = [span for span in telemetry.finished() if span.name.startswith("invoke_workflow")]
    assert (span.name, semconv.GEN_AI_WORKFLOW_NAME in attributes(span)) == ("invoke_workflow", False)


# -- with the framework's own telemetry recording -------------------------------------------------------


@pytest.fixture
def framework_tracing(monkeypatch: pytest.MonkeyPatch, telemetry: Telemetry) -> None:
    """The framework takes its tracer from the global provider at each span: point it at ours."""
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: telemetry.tracer_provider)


def lookup(city: str) -> str:
    """Looks a capital up."""
    return f"{city} is a capital"


class LookupFailed(RuntimeError):
    """What `explode` raises."""


def explode(city: str) -> str:
    """Always fails."""
    raise LookupFailed(f"no data for {city}")


class ToolCallingClient(FunctionInvocationLayer[Any], ChatTelemetryLayer[Any], BaseChatClient[Any]):
    """Asks for lookup and explode in its first turn, then answers; the framework's own layers run the tools
    and make its chat and tool spans. `tools=False`: answers at once."""

    OTEL_PROVIDER_NAME = "scripted"

    def __init__(self, tools: bool = True) -> None:
        super().__init__()
        self.tools = tools

    def _inner_get_response(self, *, messages: Any, stream: bool, options: Any, **kwargs: Any) -> Any:
        answered = any(
            getattr(content, "type", None) == "function_result"
            for message in messages
            for content in getattr(message, "contents", None) or ()
        )
        if stream:
            return self._build_response_stream(self._updates(answered))
        return self._response(answered)

    def _turn(self, answered: bool) -> tuple[list[Any], Literal["tool_calls", "stop"]]:
        if self.tools and not answered:
            return [
                Content.from_function_call("call-1", "lookup", arguments={"city": "Paris"}),
                Content.from_function_call("call-2", "explode", arguments={"city": "Rome"}),
            ], "tool_calls"
        return [Content.from_text("done")], "stop"

    async def _response(self, answered: bool) -> ChatResponse:
        contents, finish = self._turn(answered)
        return ChatResponse(
            messages=[Message(role="assistant", contents=contents)],
            response_id="r",
            model="fake-1",
            finish_reason=finish,
            usage_details={"input_token_count": 3, "output_token_count": 1},
        )

    async def _updates(self, answered: bool) -> AsyncIterator[ChatResponseUpdate]:
        contents, finish = self._turn(answered)
        yield ChatResponseUpdate(role="assistant", contents=contents, response_id="r", model="fake-1")
        yield ChatResponseUpdate(
            role="assistant",
            contents=[Content.from_usage({"input_token_count": 3, "output_token_count": 1})],
            finish_reason=finish,
        )


def tool_review() -> Workflow:
    writer = Agent(ToolCallingClient(), name="writer", tools=[lookup, explode], default_options={"model": "fake-1"})
    critic = Agent(ToolCallingClient(tools=False), name="critic", default_options={"model": "fake-1"})
    return WorkflowBuilder(name="review", start_executor=writer).add_edge(writer, critic).build()


def run_tree(telemetry: Telemetry) -> list[TreeRow]:
    """The tree of the run: the framework's `workflow.build` span (made when the workflow is built) left out."""
    return [row for row in span_tree(telemetry) if row[0] != "workflow.build"]


WRITER = "executor.process writer"
CRITIC = "executor.process critic"
# The framework's executor, edge and message spans sit between the workflow and its agents; its chat and
# tool spans are the agents' children. No workflow.run and no invoke_agent of the framework's.
FRAMEWORK_TREE: list[TreeRow] = [
    (WORKFLOW, INTERNAL, None, UNSET),
    ("edge_group.process InternalEdgeGroup", INTERNAL, WORKFLOW, UNSET),
    (WRITER, INTERNAL, WORKFLOW, UNSET),
    ("invoke_agent writer", INTERNAL, WRITER, UNSET),
    ("chat fake-1", INTERNAL, "invoke_agent writer", UNSET),
    ("execute_tool lookup", INTERNAL, "invoke_agent writer", UNSET),
    ("execute_tool explode", INTERNAL, "invoke_agent writer", ERROR),
    ("chat fake-1", INTERNAL, "invoke_agent writer", UNSET),
    ("message.send", trace.SpanKind.PRODUCER, WRITER, UNSET),
    ("edge_group.process SingleEdgeGroup", INTERNAL, WORKFLOW, UNSET),
    (CRITIC, INTERNAL, WORKFLOW, UNSET),
    ("invoke_agent critic", INTERNAL, CRITIC, UNSET),
    ("chat fake-1", INTERNAL, "invoke_agent critic", UNSET),
    ("message.send", trace.SpanKind.PRODUCER, CRITIC, UNSET),
]


@pytest.mark.usefixtures("framework_tracing")
@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
async def test_with_framework_telemetry_its_executor_chat_and_tool_spans_are_in_our_tree(
    instrumentation: Instrumentation, telemetry: Telemetry, stream: bool
) -> None:
    instrumentation.on()
    workflow = tool_review()
    if stream:
        await consume(workflow.run("hello", stream=True))
    else:
        await workflow.run("hello")
    assert run_tree(telemetry) == FRAMEWORK_TREE


@pytest.mark.usefixtures("framework_tracing")
async def test_framework_telemetry_alone_gives_its_workflow_run_span(telemetry: Telemetry) -> None:
    # Without us: its workflow.run span and its invoke_agent spans (what ours replace).
    await tool_review().run("hello")
    names = [row[0] for row in run_tree(telemetry)]
    assert names[:4] == ["workflow.run", "edge_group.process InternalEdgeGroup", WRITER, "invoke_agent writer"]
    assert names.count("workflow.run") == 1 and names.count("invoke_agent writer") == 1


@pytest.mark.usefixtures("framework_tracing")
async def test_keep_framework_spans_keeps_its_workflow_run_span_under_ours(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(keep_framework_spans=True)
    await review().run("hello")
    tree = run_tree(telemetry)
    assert tree[:4] == [
        (WORKFLOW, INTERNAL, None, UNSET),
        ("workflow.run", INTERNAL, WORKFLOW, UNSET),
        ("edge_group.process InternalEdgeGroup", INTERNAL, "workflow.run", UNSET),
        (WRITER, INTERNAL, "workflow.run", UNSET),
    ]
    # Its agent span kept as well, under ours.
    assert tree[4:6] == [
        ("invoke_agent writer", INTERNAL, WRITER, UNSET),
        ("invoke_agent writer", INTERNAL, "invoke_agent writer", UNSET),
    ]


# -- the stood-down span: every step besides telemetry kept ---------------------------------------------


def recording_workflow(seen: list[int]) -> Workflow:
    @executor(id="probe")
    async def probe(message: str, ctx: WorkflowContext[Any, str]) -> None:
        seen.append(trace.get_current_span().get_span_context().span_id)
        await ctx.yield_output(message.upper())

    return WorkflowBuilder(name="probing", start_executor=probe).build()


async def test_executor_code_runs_with_the_workflow_span_current(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The framework activates its run span around the run's steps (the start executor, each runner pull):
    # stood down, what it activates carries our span's context, so executors' children are ours.
    instrumentation.on()
    seen: list[int] = []
    result = await recording_workflow(seen).run("hi")
    (span,) = telemetry.finished()
    assert (result.get_outputs(), seen) == (["HI"], [span.context.span_id])


async def events_and_outputs(stream: bool) -> tuple[list[str], list[str], str]:
    """What the app sees of a run: the events, the outputs, and the workflow's final status."""
    workflow = recording_workflow([])
    if stream:
        response = workflow.run("hi", stream=True)
        events = await consume(response)
        result = await response.get_final_response()
    else:
        result = await workflow.run("hi", include_status_events=True)
        events = [str(event.type) for event in result]
    return events, result.get_outputs(), str(workflow.status)


@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
async def test_workflow_events_outputs_and_status_are_as_bare(instrumentation: Instrumentation, stream: bool) -> None:
    bare = await events_and_outputs(stream)
    instrumentation.on()
    assert await events_and_outputs(stream) == bare
    assert "output" in bare[0] and bare[2] == str(WorkflowRunState.IDLE)


async def test_a_run_after_a_run_is_allowed_as_bare(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    # The framework's one-run-at-a-time lock is a weak reference to the run's stream; our proxy neither
    # keeps it alive after the run nor lets it go during it.
    instrumentation.on()
    workflow = review()
    stream = workflow.run("hello", stream=True)
    with pytest.raises(Exception, match="already running"):
        workflow.run("again")
    await consume(stream)
    await workflow.run("again")
    # The refused call is a run that raised at the call: a failed span of its own.
    assert [row[3] for row in span_tree(telemetry) if row[0] == WORKFLOW] == [UNSET, ERROR, UNSET]


# -- endings: the workflow span and the agent span inside it --------------------------------------------


def outcomes(telemetry: Telemetry) -> dict[str, tuple[Any, Any]]:
    return {
        span.name: (attributes(span).get(semconv.OUTCOME), attributes(span).get(semconv.ERROR_TYPE))
        for span in telemetry.finished()
    }


FAILED = ("failed", MODEL_FAILURE)


async def test_agent_failing_fails_the_workflow_with_the_same_exception_object(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    workflow = review(writer_script=Script(fail_at=0))
    with pytest.raises(ModelFailure) as raised:
        await workflow.run("hello")
    writer = workflow.executors["writer"].agent  # type: ignore[attr-defined]
    assert raised.value is writer.client.raised[0]
    assert span_tree(telemetry) == [
        (WORKFLOW, INTERNAL, None, ERROR),
        ("invoke_agent writer", INTERNAL, WORKFLOW, ERROR),
    ]
    assert outcomes(telemetry) == {WORKFLOW: FAILED, "invoke_agent writer": FAILED}


async def test_agent_failing_mid_stream_fails_the_streamed_workflow_after_its_failed_events(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    events: list[str] = []
    with pytest.raises(ModelFailure):
        async for event in review(writer_script=Script(fail_at=1)).run("hello", stream=True):
            events.append(str(event.type))
    assert events[-3:] == ["executor_failed", "failed", "status"]
    assert outcomes(telemetry) == {WORKFLOW: FAILED, "invoke_agent writer": FAILED}


async def test_cancelled_workflow_run_cancels_the_agent_inside(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    task = asyncio.ensure_future(review(writer_script=Script(block_at=0)).run("hello"))
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    cancelled = ("cancelled", "asyncio.exceptions.CancelledError")
    assert outcomes(telemetry) == {WORKFLOW: cancelled, "invoke_agent writer": cancelled}


async def first_output_then(stream: Any) -> None:
    async for event in stream:
        if event.type == "output":
            return


async def test_stream_closed_mid_agent_ends_the_workflow_closed_early_and_the_agent_cancelled(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # Closing the workflow's stream makes the framework cancel the superstep in flight, and with it the
    # agent's run.
    instrumentation.on()
    stream = review(writer_script=Script(block_at=1)).run("hello", stream=True)
    await first_output_then(stream)
    await stream.close()
    assert outcomes(telemetry) == {
        WORKFLOW: ("closed_early", None),
        "invoke_agent writer": ("cancelled", "asyncio.exceptions.CancelledError"),
    }


async def test_stream_dropped_mid_agent_ends_the_workflow_abandoned(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    stream = review(writer_script=Script(block_at=1)).run("hello", stream=True)
    await first_output_then(stream)
    del stream
    gc.collect()
    await asyncio.sleep(0.01)  # the framework's generator finalizer cancels the superstep in the loop
    gc.collect()
    assert outcomes(telemetry)[WORKFLOW] == ("abandoned", None)


async def test_workflow_final_response_ends_the_workflow_span_completed(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result = await review().run("hello", stream=True).get_final_response()
    # Streamed, the agents' outputs are their updates (three text chunks and the usage, each).
    assert "".join(update.text for update in result.get_outputs()) == "chunk0 chunk1 chunk2 " * 2
    assert outcomes(telemetry)[WORKFLOW] == ("completed", None)


# -- a workflow as an agent, and a workflow inside a workflow --------------------------------------------


AS_AGENT_TREE: list[TreeRow] = [
    ("invoke_agent assistant", INTERNAL, None, UNSET),
    (WORKFLOW, INTERNAL, "invoke_agent assistant", UNSET),
    ("invoke_agent writer", INTERNAL, WORKFLOW, UNSET),
    ("invoke_agent critic", INTERNAL, WORKFLOW, UNSET),
]


@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
async def test_workflow_as_agent_is_an_agent_span_with_its_workflow_as_a_child(
    instrumentation: Instrumentation, telemetry: Telemetry, stream: bool
) -> None:
    instrumentation.on()
    agent = review().as_agent("assistant")
    if stream:
        async for _ in agent.run("hello", stream=True):
            pass
    else:
        await agent.run("hello")
    assert span_tree(telemetry) == AS_AGENT_TREE


async def as_agent_texts(stream: bool) -> list[str]:
    agent = review().as_agent("assistant")
    if stream:
        return [update.text async for update in agent.run("hello", stream=True)]
    return [message.text for message in (await agent.run("hello")).messages]


@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
async def test_workflow_as_agent_answers_as_bare(instrumentation: Instrumentation, stream: bool) -> None:
    bare = await as_agent_texts(stream)
    instrumentation.on()
    assert await as_agent_texts(stream) == bare
    assert bare


async def test_sub_workflow_is_a_workflow_span_under_its_parent_workflow(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    inner = WorkflowBuilder(name="inner", start_executor=make_agent(Script(), [], name="solo")).build()
    sub = WorkflowExecutor(inner, id="sub")
    await WorkflowBuilder(name="outer", start_executor=sub).build().run("hello")
    assert span_tree(telemetry) == [
        ("invoke_workflow outer", INTERNAL, None, UNSET),
        ("invoke_workflow inner", INTERNAL, "invoke_workflow outer", UNSET),
        ("invoke_agent solo", INTERNAL, "invoke_workflow inner", UNSET),
    ]


# -- switches --------------------------------------------------------------------------------------------


async def test_suppressed_workflow_run_makes_no_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    with suppress_instrumentation():
        await review().run("hello")
    assert telemetry.finished() == []


async def test_uninstrument_restores_the_workflow_methods_and_makes_no_more_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    run, start_workflow_span = Workflow.run, vars(_workflow)["start_workflow_span"]
    instrumentation.on()
    assert Workflow.run is not run and vars(_workflow)["start_workflow_span"] is not start_workflow_span
    instrumentation.off()
    assert Workflow.run is run and vars(_workflow)["start_workflow_span"] is start_workflow_span
    assert vars(_workflow)["start_workflow_span"] is observability.start_workflow_span
    await review().run("hello")
    assert telemetry.finished() == []


# -- a functional workflow (experimental) ---------------------------------------------------------------


def functional_review() -> Any:
    writer = make_agent(Script(), [], name="writer")
    critic = make_agent(Script(), [], name="critic")

    @workflow
    async def review(topic: str) -> str:
        draft = await writer.run(topic)
        return (await critic.run(draft.text)).text

    return review.build()


EXPERIMENTAL = pytest.mark.filterwarnings("ignore::agent_framework._feature_stage.ExperimentalWarning")


@EXPERIMENTAL
@pytest.mark.parametrize("stream", [False, True], ids=["run", "stream"])
async def test_functional_workflow_is_a_workflow_span_with_its_agents_as_children(
    instrumentation: Instrumentation, telemetry: Telemetry, stream: bool
) -> None:
    instrumentation.on()
    if stream:
        await consume(functional_review().run("hello", stream=True))
    else:
        await functional_review().run("hello")
    assert span_tree(telemetry) == AGENTS_UNDER_THE_WORKFLOW


@EXPERIMENTAL
@pytest.mark.usefixtures("framework_tracing")
async def test_functional_workflow_run_span_of_the_framework_is_stood_down(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await functional_review().run("hello")
    assert [
        row for row in run_tree(telemetry) if row[0].startswith(("workflow", "invoke"))
    ] == AGENTS_UNDER_THE_WORKFLOW


@EXPERIMENTAL
async def test_functional_workflow_as_agent_is_an_agent_span_with_its_workflow_as_a_child(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await functional_review().as_agent("assistant").run("hello")
    assert span_tree(telemetry) == AS_AGENT_TREE

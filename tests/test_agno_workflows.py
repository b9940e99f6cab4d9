"""Agno workflows: a `Workflow` run is `invoke_workflow {workflow.name}` with its agents' and teams' runs as
`invoke_agent` children (their tool calls under them), streamed or not, in steps run in threads, nested.
Every ending of a workflow run, bare vs instrumented: tests/test_lifecycle.py with
tests/frameworks/agno_workflow_driver.py."""

from __future__ import annotations

from typing import Any

import pytest
from agno.agent import Agent
from agno.db.in_memory import InMemoryDb
from agno.workflow import Parallel, Step, Workflow
from agno.workflow.types import StepInput
from opentelemetry.instrumentation.utils import suppress_instrumentation

from otel_agent_instrumentation import semconv
from tests.conftest import ERROR, INTERNAL, UNSET, Instrumentation, Telemetry, TreeRow, attributes, span_tree
from tests.frameworks.agno_driver import ScriptedModel, echo, fails, make_tool_agent
from tests.frameworks.agno_workflow_driver import background_workflow_runs
from tests.test_agno import TEAM_TREE, make_crew

WORKFLOW = "invoke_workflow report"
RESEARCHER = "invoke_agent researcher"


def researcher() -> Agent:
    """Calls echo and fails (agno answers the failure to the model), then answers."""
    return make_tool_agent(([("echo", {"text": "x"}), ("fails", {"text": "y"})], "found"), [echo, fails], "researcher")


def writer(fail: bool = False) -> Agent:
    return Agent(name="writer", model=ScriptedModel(fail=fail), telemetry=False)


def shout(step_input: StepInput) -> str:
    return str(step_input.previous_step_content).upper()


def report(*steps: Any) -> Workflow:
    # Agents, teams and plain functions are steps (agno's docs do so; its type hints are narrower).
    chosen: list[Any] = list(steps) or [researcher(), writer(), shout]
    return Workflow(name="report", steps=chosen, telemetry=False)


REPORT_TREE: list[TreeRow] = [
    (WORKFLOW, INTERNAL, None, UNSET),
    (RESEARCHER, INTERNAL, WORKFLOW, UNSET),
    ("execute_tool echo", INTERNAL, RESEARCHER, UNSET),
    ("execute_tool fails", INTERNAL, RESEARCHER, ERROR),
    ("invoke_agent writer", INTERNAL, WORKFLOW, UNSET),
]


async def run_report(mode: str) -> Any:
    """One run of `report()`, as the app would do it in `mode`: the output, or the items streamed."""
    workflow = report()
    if mode == "run":
        return workflow.run("hi").content
    if mode == "arun":
        return (await workflow.arun("hi")).content
    if mode == "run_stream":
        return [type(item).__name__ for item in workflow.run("hi", stream=True, stream_events=True)]
    return [type(item).__name__ async for item in workflow.arun("hi", stream=True, stream_events=True)]


MODES = ["run", "arun", "run_stream", "arun_stream"]


@pytest.mark.parametrize("mode", MODES)
async def test_workflow_run_is_a_workflow_span_with_its_agents_and_their_tools_as_children(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    instrumentation.on()
    await run_report(mode)
    assert span_tree(telemetry) == REPORT_TREE


@pytest.mark.parametrize("mode", MODES)
async def test_workflow_run_is_seen_by_the_app_as_without_us(instrumentation: Instrumentation, mode: str) -> None:
    bare = await run_report(mode)
    instrumentation.on()
    assert await run_report(mode) == bare
    assert bare


@pytest.mark.parametrize("mode", ["run_stream", "arun_stream"])
async def test_agents_streamed_by_a_workflow_step_end_completed_when_their_run_output_arrives(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    # A step asks its agent's stream for its run output and stops pulling there; the stream is never
    # exhausted, and the agent's span ends with that output, not when the stream is collected.
    instrumentation.on()
    await run_report(mode)
    agents = {span.name: attributes(span)[semconv.OUTCOME] for span in telemetry.agent_spans()}
    assert agents == {RESEARCHER: "completed", "invoke_agent writer": "completed"}


def test_workflow_span_carries_the_workflow_name_and_no_agent_attributes(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    report(writer()).run("hi")
    (span,) = [span for span in telemetry.finished() if span.name == WORKFLOW]
    assert {key: value for key, value in attributes(span).items() if key.startswith("gen_ai.")} == {
        semconv.GEN_AI_OPERATION_NAME: "invoke_workflow",
        semconv.GEN_AI_WORKFLOW_NAME: "report",
    }


def test_agent_failing_in_a_step_fails_its_span_while_the_workflow_goes_on(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # agno returns the agent's failure as its output; the step passes it on and the workflow completes.
    instrumentation.on()
    output = report(writer(fail=True), shout).run("hi")
    assert (output.status.value, output.content) == ("COMPLETED", "MODEL CONNECTION DROPPED")
    assert span_tree(telemetry) == [
        (WORKFLOW, INTERNAL, None, UNSET),
        ("invoke_agent writer", INTERNAL, WORKFLOW, ERROR),
    ]


def test_team_step_is_the_teams_tree_under_the_workflow(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    report(make_crew()).run("hi")
    assert span_tree(telemetry) == [
        (WORKFLOW, INTERNAL, None, UNSET),
        *[(name, kind, parent or WORKFLOW, status) for name, kind, parent, status in TEAM_TREE],
    ]


def test_parallel_steps_run_in_threads_are_children_of_the_workflow(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    both: Any = [Step(name="a", agent=writer()), Step(name="b", agent=researcher())]
    report(Parallel(*both, name="both")).run("hi")
    tree = span_tree(telemetry)
    assert tree[0] == (WORKFLOW, INTERNAL, None, UNSET)
    assert sorted(tree[1:]) == sorted(REPORT_TREE[1:])


def test_nested_workflow_is_a_workflow_span_under_its_parent(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    inner = Workflow(name="inner", steps=[Step(name="write", agent=writer())], telemetry=False)
    report(Step(name="nested", workflow=inner)).run("hi")
    assert span_tree(telemetry) == [
        (WORKFLOW, INTERNAL, None, UNSET),
        ("invoke_workflow inner", INTERNAL, WORKFLOW, UNSET),
        ("invoke_agent writer", INTERNAL, "invoke_workflow inner", UNSET),
    ]


async def test_background_workflow_span_is_open_while_the_run_goes_on_and_ends_with_it(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    workflow = report(writer())
    workflow.db = InMemoryDb()  # type: ignore[no-untyped-call]  # background runs need one
    output = await workflow.arun("hi", background=True)
    assert (output.status.value, telemetry.finished()) == ("PENDING", [])
    await background_workflow_runs()
    assert span_tree(telemetry) == [
        (WORKFLOW, INTERNAL, None, UNSET),
        ("invoke_agent writer", INTERNAL, WORKFLOW, UNSET),
    ]
    assert [attributes(span)[semconv.OUTCOME] for span in telemetry.finished()] == ["completed", "completed"]


def test_suppressed_workflow_run_makes_no_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    with suppress_instrumentation():
        report().run("hi")
    assert telemetry.finished() == []


def test_uninstrument_restores_the_workflow_methods_and_makes_no_more_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    run, arun = Workflow.run, Workflow.arun
    instrumentation.on()
    assert Workflow.run is not run and Workflow.arun is not arun
    instrumentation.off()
    assert Workflow.run is run and Workflow.arun is arun
    report().run("hi")
    assert telemetry.finished() == []


async def test_agent_stream_that_yields_its_run_output_ends_with_it_and_its_usage(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # What a workflow step does with an agent's stream (workflow/step.py:2376), done by an app.
    instrumentation.on()
    stream: Any = writer().arun("hi", stream=True, yield_run_output=True)
    async for item in stream:
        if type(item).__name__ == "RunOutput":
            break
    span = telemetry.agent_spans()[0]
    assert (attributes(span)[semconv.OUTCOME], attributes(span)[semconv.GEN_AI_USAGE_INPUT_TOKENS]) == ("completed", 10)
    await stream.aclose()  # its end changes nothing now
    assert len(telemetry.agent_spans()) == 1

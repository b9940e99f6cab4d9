"""LlamaIndex specifics: a run ends with the handler's result task, AgentWorkflow members and tool calls in the
tree, what the spans read, and LlamaIndex's own instrumentation untouched."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any

import pytest
from llama_index.core.agent.workflow import AgentWorkflow, CodeActAgent, FunctionAgent, ReActAgent
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from workflows import Context, Workflow, step
from workflows.errors import WorkflowCancelledByUser
from workflows.events import HumanResponseEvent, InputRequiredEvent, StartEvent, StopEvent
from workflows.handler import WorkflowHandler

from otel_agent_instrumentation import semconv
from tests.conftest import ERROR, INTERNAL, UNSET, Instrumentation, Telemetry, attributes, span_tree, tool_spans
from tests.frameworks.openai2.llama_index_driver import (
    AGENT_NAME,
    ScriptedModel,
    aecho,
    echo,
    fails,
    make_agent,
    recording_dispatcher,
    scripted_llm,
    settle,
)

TOOL_FAILURE = "tests.frameworks.openai2.llama_index_driver.ToolFailure"
ECHO_AND_FAILS: list[Any] = [[("call_1", "echo", {"text": "a"}), ("call_2", "fails", {"text": "b"})], "done"]


def only_agent_span(telemetry: Telemetry) -> ReadableSpan:
    spans = telemetry.agent_spans()
    assert len(spans) == 1, [span.name for span in telemetry.finished()]
    return spans[0]


def workflow_of(*agents: FunctionAgent, root: str) -> AgentWorkflow:
    return AgentWorkflow(agents=list(agents), root_agent=root, workflow_name="desk")


# -- the run's span ends with the run, not with run() or the event stream ------------------------------------------


async def test_run_returns_the_handler_and_the_span_ends_with_the_run(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    model = ScriptedModel(["hello world"], block_at=0)
    handler = make_agent(model).run(user_msg="hi")
    assert type(handler) is WorkflowHandler
    await model.blocked.wait()
    assert telemetry.agent_spans() == []  # run() returned long ago; the run goes on
    model.release.set()
    result = await handler
    assert str(result) == "hello world"
    assert attributes(only_agent_span(telemetry))[semconv.OUTCOME] == "completed"


async def test_closing_stream_events_early_leaves_the_run_and_its_span_open(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    model = ScriptedModel(["hello world"], block_at=0)
    handler = make_agent(model).run(user_msg="hi")
    stream = handler.stream_events()
    async for _ in stream:
        break
    await stream.aclose()
    await model.blocked.wait()
    assert telemetry.agent_spans() == []
    model.release.set()
    assert str(await handler) == "hello world"
    assert attributes(only_agent_span(telemetry))[semconv.OUTCOME] == "completed"


async def test_cancel_run_ends_the_span_cancelled_with_the_framework_error(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    model = ScriptedModel(["hello world"], block_at=0)
    handler = make_agent(model).run(user_msg="hi")
    await model.blocked.wait()
    await handler.cancel_run()
    with pytest.raises(WorkflowCancelledByUser):
        await handler
    span = only_agent_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)[semconv.OUTCOME] == "cancelled"
    assert attributes(span)[semconv.ERROR_TYPE] == "workflows.errors.WorkflowCancelledByUser"


async def test_a_dropped_handler_leaves_the_run_going_and_its_span_ends_with_it(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    model = ScriptedModel(["hello world"], block_at=0)
    handler: Any = make_agent(model).run(user_msg="hi")
    del handler
    gc.collect()
    await model.blocked.wait()
    assert telemetry.agent_spans() == []
    model.release.set()
    await settle()
    assert attributes(only_agent_span(telemetry))[semconv.OUTCOME] == "completed"


async def test_the_model_error_is_the_very_exception_the_app_gets(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    model = ScriptedModel(["hello world"], fail_at=0)
    with pytest.raises(ConnectionError) as raised:
        await make_agent(model).run(user_msg="hi")
    assert raised.value is model.raised
    span = only_agent_span(telemetry)
    assert (attributes(span)[semconv.ERROR_TYPE], attributes(span)[semconv.OUTCOME]) == ("ConnectionError", "failed")


# -- what an agent span and a tool span say ---------------------------------------------------------------------------


async def test_agent_span_reads_the_agent_and_records_no_content_by_default(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await make_agent(ScriptedModel(ECHO_AND_FAILS), tools=[echo, fails]).run(user_msg="hi")
    agent = attributes(only_agent_span(telemetry))
    assert agent[semconv.GEN_AI_AGENT_NAME] == AGENT_NAME
    assert agent[semconv.GEN_AI_AGENT_DESCRIPTION] == f"{AGENT_NAME} answers"
    assert agent[semconv.GEN_AI_PROVIDER_NAME] == semconv.PROVIDER_OTHER  # a mock LLM names no provider
    content_keys = {
        semconv.GEN_AI_INPUT_MESSAGES,
        semconv.GEN_AI_OUTPUT_MESSAGES,
        semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
        semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
        semconv.GEN_AI_TOOL_CALL_RESULT,
    }
    assert [key for span in telemetry.finished() for key in attributes(span) if key in content_keys] == []


async def test_content_capture_records_messages_and_tool_arguments_and_results(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    await make_agent(ScriptedModel(ECHO_AND_FAILS), tools=[echo, fails]).run(user_msg="hi")
    agent = attributes(only_agent_span(telemetry))
    assert json.loads(agent[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    ]
    assert json.loads(agent[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(agent[semconv.GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "done"}]}
    ]
    echo_call = attributes(tool_spans(telemetry, "echo")[0])
    assert json.loads(echo_call[semconv.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"text": "a"}
    assert echo_call[semconv.GEN_AI_TOOL_CALL_RESULT] == "echo:a"
    assert attributes(tool_spans(telemetry, "fails")[0])[semconv.GEN_AI_TOOL_CALL_RESULT] == "tool broke on b"


async def test_one_tool_call_ok_and_one_failing(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    result = await make_agent(ScriptedModel(ECHO_AND_FAILS), tools=[echo, fails]).run(user_msg="hi")
    assert str(result) == "done"  # the failure went back to the model as the tool's output
    assert sorted(span_tree(telemetry)[1:]) == sorted(
        [
            ("execute_tool echo", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
            ("execute_tool fails", INTERNAL, f"invoke_agent {AGENT_NAME}", ERROR),
        ]
    )
    assert span_tree(telemetry)[0] == (f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET)
    echo_call = attributes(tool_spans(telemetry, "echo")[0])
    failed_call = attributes(tool_spans(telemetry, "fails")[0])
    assert (echo_call[semconv.GEN_AI_TOOL_CALL_ID], failed_call[semconv.GEN_AI_TOOL_CALL_ID]) == ("call_1", "call_2")
    assert echo_call[semconv.GEN_AI_TOOL_TYPE] == semconv.TOOL_TYPE_FUNCTION
    assert "Echoes its text." in echo_call[semconv.GEN_AI_TOOL_DESCRIPTION]
    assert (failed_call[semconv.ERROR_TYPE], failed_call[semconv.OUTCOME]) == (TOOL_FAILURE, "failed")


async def test_an_unknown_tool_is_an_error_output_without_an_exception(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # A tool the agent does not have never reaches _call_tool: LlamaIndex answers the model itself, no span.
    instrumentation.on()
    await make_agent(ScriptedModel([[("call_1", "nope", {})], "done"]), tools=[echo]).run(user_msg="hi")
    assert [span.name for span in telemetry.finished()] == [f"invoke_agent {AGENT_NAME}"]


async def test_an_async_tool_and_a_sync_tool_in_llama_index_s_thread_are_children_of_the_agent(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("app")

    def traced_echo(text: str) -> str:
        """Echoes inside a span of the app's (LlamaIndex runs sync tools in its executor)."""
        with tracer.start_as_current_span("app work"):
            return text

    instrumentation.on()
    script: list[Any] = [[("call_1", "traced_echo", {"text": "a"})], [("call_2", "aecho", {"text": "b"})], "done"]
    await make_agent(ScriptedModel(script), tools=[traced_echo, aecho]).run(user_msg="hi")
    assert span_tree(telemetry) == [
        (f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET),
        ("execute_tool traced_echo", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
        ("app work", INTERNAL, "execute_tool traced_echo", UNSET),
        ("execute_tool aecho", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
    ]


# -- AgentWorkflow: the workflow, its members' turns, their tools ---------------------------------------------------


async def test_agent_workflow_tree_members_and_their_tools(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    triage = make_agent(
        ScriptedModel([[("h1", "handoff", {"to_agent": "clerk", "reason": "r"})]]),
        name="triage",
        can_handoff_to=["clerk"],
    )
    clerk = make_agent(ScriptedModel(ECHO_AND_FAILS), tools=[echo, fails], name="clerk")
    instrumentation.on()
    result = await workflow_of(triage, clerk, root="triage").run(user_msg="hi")
    assert str(result) == "done"
    rows = span_tree(telemetry)
    assert rows[:4] == [
        ("invoke_workflow desk", INTERNAL, None, UNSET),
        ("invoke_agent triage", INTERNAL, "invoke_workflow desk", UNSET),
        ("execute_tool handoff", INTERNAL, "invoke_agent triage", UNSET),
        ("invoke_agent clerk", INTERNAL, "invoke_workflow desk", UNSET),
    ]
    assert sorted(rows[4:]) == [
        ("execute_tool echo", INTERNAL, "invoke_agent clerk", UNSET),
        ("execute_tool fails", INTERNAL, "invoke_agent clerk", ERROR),
    ]
    workflow = attributes(telemetry.finished()[-1])
    assert workflow[semconv.GEN_AI_OPERATION_NAME] == semconv.INVOKE_WORKFLOW
    assert workflow[semconv.GEN_AI_WORKFLOW_NAME] == "desk"
    handoff = attributes(tool_spans(telemetry, "handoff")[0])
    assert handoff[semconv.GEN_AI_TOOL_CALL_ID] == "h1"


async def test_the_member_whose_turn_it_is_ends_with_the_workflow_failure(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    triage = make_agent(
        ScriptedModel([[("h1", "handoff", {"to_agent": "clerk", "reason": "r"})]]),
        name="triage",
        can_handoff_to=["clerk"],
    )
    clerk = make_agent(ScriptedModel(["done"], fail_at=0), name="clerk")
    instrumentation.on()
    with pytest.raises(ConnectionError):
        await workflow_of(triage, clerk, root="triage").run(user_msg="hi")
    assert span_tree(telemetry) == [
        ("invoke_workflow desk", INTERNAL, None, ERROR),
        ("invoke_agent triage", INTERNAL, "invoke_workflow desk", UNSET),
        ("execute_tool handoff", INTERNAL, "invoke_agent triage", UNSET),
        ("invoke_agent clerk", INTERNAL, "invoke_workflow desk", ERROR),
    ]
    clerk_span = next(span for span in telemetry.agent_spans() if span.name == "invoke_agent clerk")
    assert attributes(clerk_span)[semconv.ERROR_TYPE] == "ConnectionError"


async def test_cancel_run_cancels_the_workflow_and_the_member_in_its_turn(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    model = ScriptedModel(["done"], block_at=0)
    instrumentation.on()
    handler = workflow_of(make_agent(model, name="clerk"), root="clerk").run(user_msg="hi")
    await model.blocked.wait()
    await handler.cancel_run()
    with pytest.raises(WorkflowCancelledByUser):
        await handler
    outcomes = {span.name: attributes(span)[semconv.OUTCOME] for span in telemetry.finished()}
    assert outcomes == {"invoke_workflow desk": "cancelled", "invoke_agent clerk": "cancelled"}


async def test_a_custom_workflow_is_a_workflow_span_named_by_class_or_workflow_name(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    class Pipeline(Workflow):  # type: ignore[misc]  # untyped framework base
        @step  # type: ignore[untyped-decorator]
        async def only(self, ev: StartEvent) -> StopEvent:
            return StopEvent(result="piped")

    instrumentation.on()
    assert await Pipeline().run() == "piped"
    assert await Pipeline(workflow_name="etl").run() == "piped"
    assert [span.name for span in telemetry.finished()] == ["invoke_workflow Pipeline", "invoke_workflow etl"]


# -- nesting, concurrency --------------------------------------------------------------------------------------------


async def test_an_agent_called_from_a_tool_is_a_child_of_the_tool_call(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    async def ask_inner(question: str) -> str:
        """Asks the inner agent."""
        inner = make_agent(ScriptedModel(["inner says hi"]), name="inner")
        return str(await inner.run(user_msg=question))

    instrumentation.on()
    outer = make_agent(
        ScriptedModel([[("call_1", "ask_inner", {"question": "q"})], "done"]), tools=[ask_inner], name="outer"
    )
    await outer.run(user_msg="hi")
    assert span_tree(telemetry) == [
        ("invoke_agent outer", INTERNAL, None, UNSET),
        ("execute_tool ask_inner", INTERNAL, "invoke_agent outer", UNSET),
        ("invoke_agent inner", INTERNAL, "execute_tool ask_inner", UNSET),
    ]


async def test_concurrent_runs_each_have_their_own_tool_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agents = [
        make_agent(ScriptedModel([[(f"call_{i}", "echo", {"text": str(i)})], "done"]), tools=[echo], name=f"a{i}")
        for i in range(10)
    ]
    await asyncio.gather(*(agent.run(user_msg="hi") for agent in agents))
    by_id = {span.context.span_id: span for span in telemetry.finished()}
    for span in tool_spans(telemetry, "echo"):
        assert span.parent is not None
        parent = by_id[span.parent.span_id]
        assert parent.name == f"invoke_agent a{attributes(span)[semconv.GEN_AI_TOOL_CALL_ID].removeprefix('call_')}"
    assert len(tool_spans(telemetry, "echo")) == 10


# -- transparency: the same events, results, exceptions and LlamaIndex instrumentation -------------------------------


async def observe(model: ScriptedModel, tools: list[Any]) -> tuple[list[str], str, list[str]]:
    with recording_dispatcher() as records:
        handler = make_agent(model, tools=tools).run(user_msg="hi")
        events = [type(event).__name__ async for event in handler.stream_events()]
        try:
            outcome = str(await handler)
        except Exception as error:  # the observation is the point
            outcome = f"{type(error).__name__}: {error}"
        await settle()
    return events, outcome, records


# Tool calls one turn at a time: LlamaIndex runs a turn's tool calls as concurrent steps, whose events and
# aggregation steps interleave differently from run to run, with or without us.
ONE_TOOL_PER_TURN: list[Any] = [[("call_1", "echo", {"text": "a"})], [("call_2", "fails", {"text": "b"})], "done"]


@pytest.mark.parametrize(
    ("script", "fail_at"),
    [(ONE_TOOL_PER_TURN, None), (ONE_TOOL_PER_TURN, 2)],
    ids=["a-tool-ok-then-a-failing-one", "the-model-fails-after-the-tools"],
)
async def test_events_results_and_llama_index_s_own_instrumentation_are_the_same_with_us(
    script: list[Any], fail_at: int | None, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    tools = [echo, fails]
    bare = await observe(ScriptedModel(script, fail_at=fail_at), tools)
    instrumentation.on()
    traced = await observe(ScriptedModel(script, fail_at=fail_at), tools)
    # The stream's events, the result or exception, and every span and event LlamaIndex's dispatcher gave an
    # attached handler, in order.
    assert traced == bare
    assert len(tool_spans(telemetry, "echo")) == len(tool_spans(telemetry, "fails")) == 1


# -- suppression and uninstrument -------------------------------------------------------------------------------------


async def test_suppressed_runs_make_no_spans(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    with suppress_instrumentation():
        handler = make_agent(ScriptedModel(ECHO_AND_FAILS), tools=[echo, fails]).run(user_msg="hi")
    assert str(await handler) == "done"
    assert telemetry.finished() == []


async def test_uninstrument_restores_every_target_and_makes_no_more_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    from llama_index.core.agent.workflow.base_agent import BaseWorkflowAgent

    originals = {name: vars(BaseWorkflowAgent)[name] for name in ("run", "run_agent_step", "_call_tool")}
    instrumentation.on()
    assert all(vars(BaseWorkflowAgent)[name] is not original for name, original in originals.items())
    instrumentation.off()  # asserts each patched attribute is the very original again
    assert {name: vars(BaseWorkflowAgent)[name] for name in originals} == originals
    await make_agent(ScriptedModel(ECHO_AND_FAILS), tools=[echo, fails]).run(user_msg="hi")
    assert telemetry.finished() == []


async def test_the_caller_s_context_is_unchanged_after_run(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as request:
        handler = make_agent(ScriptedModel(["hello world"])).run(user_msg="hi")
        assert trace.get_current_span() is request
        await handler
        assert trace.get_current_span() is request
    assert span_tree(telemetry)[0] == ("request", INTERNAL, None, UNSET)
    assert (f"invoke_agent {AGENT_NAME}", INTERNAL, "request", UNSET) in span_tree(telemetry)


async def confirm(ctx: Any, text: str) -> str:
    """Asks a human to confirm its text (LlamaIndex pauses the step and runs it again with the answer)."""
    answer = await ctx.wait_for_event(
        HumanResponseEvent, waiter_id="confirm", waiter_event=InputRequiredEvent(prefix=f"confirm {text}?")
    )
    return f"{text}:{answer.response}"


# FunctionTool finds the Context parameter by its annotation, which this module's future import makes a string.
confirm.__annotations__["ctx"] = Context


async def test_a_tool_waiting_for_a_human_ends_closed_early_and_its_rerun_completes(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_agent(ScriptedModel([[("call_1", "confirm", {"text": "x"})], "done"]), tools=[confirm])
    handler = agent.run(user_msg="hi")
    async for event in handler.stream_events():
        if isinstance(event, InputRequiredEvent):
            handler.ctx.send_event(HumanResponseEvent(response="yes"))
    assert str(await handler) == "done"
    calls = [(attributes(span)[semconv.OUTCOME], span.status.status_code) for span in tool_spans(telemetry, "confirm")]
    assert calls == [("closed_early", StatusCode.UNSET), ("completed", StatusCode.UNSET)]
    assert {span.parent.span_id for span in tool_spans(telemetry, "confirm") if span.parent} == {
        only_agent_span(telemetry).context.span_id
    }


# -- the other agent classes: the same base steps ------------------------------------------------------------------


# ReActAgent.take_step asks ctx.is_running, which llama-index-workflows 2.26 deprecates inside a step (not ours).
@pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning")
async def test_a_react_agent_s_tool_call_carries_the_id_llama_index_gives_it(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    script = [
        'Thought: I need a tool.\nAction: echo\nAction Input: {"text": "a"}',
        "Thought: I can answer.\nAnswer: done",
    ]
    agent = ReActAgent(name="reasoner", description="reasons", llm=scripted_llm(ScriptedModel(script)), tools=[echo])
    instrumentation.on()
    handler = agent.run(user_msg="hi")
    ids = [event.tool_id async for event in handler.stream_events() if type(event).__name__ == "ToolCallResult"]
    assert str(await handler) == "done"
    assert span_tree(telemetry) == [
        ("invoke_agent reasoner", INTERNAL, None, UNSET),
        ("execute_tool echo", INTERNAL, "invoke_agent reasoner", UNSET),
    ]
    assert [attributes(span)[semconv.GEN_AI_TOOL_CALL_ID] for span in tool_spans(telemetry, "echo")] == ids


async def test_a_code_act_agent_s_code_runs_as_its_execute_tool(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    async def execute(code: str) -> dict[str, Any]:
        """Runs the code."""
        return {"output": f"ran {len(code)} characters"}

    script = ["Let me compute.\n<execute>\nprint(1)\n</execute>", "done"]
    agent = CodeActAgent(
        name="coder", description="codes", llm=scripted_llm(ScriptedModel(script)), code_execute_fn=execute
    )
    instrumentation.on()
    assert str(await agent.run(user_msg="hi")) == "done"
    assert span_tree(telemetry) == [
        ("invoke_agent coder", INTERNAL, None, UNSET),
        ("execute_tool execute", INTERNAL, "invoke_agent coder", UNSET),
    ]


def test_the_doctor_reports_llama_index_s_own_dispatcher_as_left_alone() -> None:
    from otel_agent_instrumentation.adapters.llama_index import ADAPTER
    from otel_agent_instrumentation.config import resolve

    assert ADAPTER.framework_telemetry is not None
    with recording_dispatcher():  # one span handler and one event handler, attached as an app would
        described = ADAPTER.framework_telemetry(resolve({}))
    assert described.startswith("LlamaIndex's instrumentation dispatcher: 1 span and 1 event handlers attached")
    assert "left alone" in described

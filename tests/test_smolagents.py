"""smolagents specifics: what the span reads, managed agents, and the framework's own close hazard."""

from __future__ import annotations

import contextvars
import json
from typing import Any

import openai
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode, Tracer
from smolagents import CodeAgent, Tool, ToolCallingAgent, models
from smolagents.agents import MultiStepAgent, RunResult
from smolagents.memory import ActionStep

from otel_agent_instrumentation import semconv
from tests.conftest import ERROR, INTERNAL, UNSET, Instrumentation, Telemetry, TreeRow, span_tree, tool_spans
from tests.frameworks import openai_wire
from tests.frameworks.smolagents_driver import (
    ECHO,
    FAIL,
    GENERATION_ERROR,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    Echo,
    Fails,
    ModelFailure,
    ScriptedModel,
    ToolFailure,
    final,
    make_agent,
    make_code_agent,
    quiet_logger,
)


def only_span(telemetry: Telemetry) -> ReadableSpan:
    spans = telemetry.agent_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_run_span_reads_name_description_and_model_id(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_agent().run("q")
    attrs = attributes(only_span(telemetry))
    assert (
        attrs[semconv.GEN_AI_AGENT_NAME],
        attrs[semconv.GEN_AI_AGENT_DESCRIPTION],
        attrs[semconv.GEN_AI_REQUEST_MODEL],
    ) == ("calc", "Does arithmetic", "scripted-model-v1")


def test_run_usage_sums_the_token_usage_of_the_runs_steps(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    make_agent().run("q")
    attrs = attributes(only_span(telemetry))
    assert (attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS], attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (
        2 * INPUT_TOKENS,
        2 * OUTPUT_TOKENS,
    )


def test_second_run_without_reset_counts_only_its_own_steps(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    agent = make_agent((final(),))
    agent.run("first")
    instrumentation.on()
    agent.run("second", reset=False)
    assert attributes(only_span(telemetry))[semconv.GEN_AI_USAGE_INPUT_TOKENS] == INPUT_TOKENS


def test_stream_usage_sums_the_token_usage_of_the_runs_steps(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    list(make_agent().run("q", stream=True))
    attrs = attributes(only_span(telemetry))
    assert (attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS], attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (
        2 * INPUT_TOKENS,
        2 * OUTPUT_TOKENS,
    )


def test_full_result_is_returned_as_the_frameworks_run_result(instrumentation: Instrumentation) -> None:
    instrumentation.on()
    result = make_agent().run("q", return_full_result=True)
    assert type(result) is RunResult


def test_final_answer_that_is_a_context_manager_is_returned_unproxied(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # A final answer may be any object from the agent's state (a PIL image is a context manager).
    class Resource:
        def __enter__(self) -> Resource:
            return self

        def __exit__(self, *args: object) -> None:
            return None

    resource = Resource()
    instrumentation.on()
    result = make_agent((final("resource"),)).run("q", additional_args={"resource": resource})
    assert result is resource
    assert attributes(only_span(telemetry))[semconv.OUTCOME] == "completed"


def test_model_failure_error_type_is_what_the_app_sees(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    with pytest.raises(Exception) as raised:
        make_agent([("raise", ModelFailure("down"))]).run("q")
    assert isinstance(raised.value.__cause__, ModelFailure)
    assert attributes(only_span(telemetry))[semconv.ERROR_TYPE] == GENERATION_ERROR


def test_model_failure_mid_delta_stream_ends_span_error(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    stream = make_agent(stream_outputs=True, fail_mid_stream=True).run("q", stream=True)
    with pytest.raises(Exception, match="stream dropped mid-way"):
        list(stream)
    span = only_span(telemetry)
    assert (span.status.status_code, attributes(span)[semconv.ERROR_TYPE]) == (StatusCode.ERROR, GENERATION_ERROR)


def test_max_steps_reached_ends_span_error_agent_max_steps_error(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # smolagents returns provide_final_answer()'s text with RunResult.state == "max_steps_error".
    instrumentation.on()
    make_agent((ECHO,), max_steps=1).run("q")
    span = only_span(telemetry)
    assert (span.status.status_code, attributes(span)[semconv.ERROR_TYPE]) == (
        StatusCode.ERROR,
        "smolagents.utils.AgentMaxStepsError",
    )


def boss_with_helper() -> ToolCallingAgent:
    """A ToolCallingAgent whose model calls its managed agent `helper`, then answers."""
    return ToolCallingAgent(
        tools=[],
        managed_agents=[make_agent((final("child-answer"),), name="helper")],
        name="boss",
        logger=quiet_logger(),
        model=ScriptedModel([("tool", "helper", {"task": "sub task"}), final()]),
    )


# An agent used as a tool: the model's tool call is an execute_tool span, the managed agent's run its child.
MANAGED_AGENT_TREE: list[TreeRow] = [
    ("invoke_agent boss", INTERNAL, None, UNSET),
    ("execute_tool helper", INTERNAL, "invoke_agent boss", UNSET),
    ("invoke_agent helper", INTERNAL, "execute_tool helper", UNSET),
    ("execute_tool final_answer", INTERNAL, "invoke_agent helper", UNSET),
    ("execute_tool final_answer", INTERNAL, "invoke_agent boss", UNSET),
]


def test_managed_agent_run_is_a_child_of_its_tool_call_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    boss_with_helper().run("q")
    assert span_tree(telemetry) == MANAGED_AGENT_TREE


def test_managed_agent_in_a_streamed_run_is_a_child_of_its_tool_call_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    list(boss_with_helper().run("q", stream=True))
    assert span_tree(telemetry) == MANAGED_AGENT_TREE


def test_managed_agent_tool_span_carries_the_models_call_id_and_the_agents_description(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    boss_with_helper().run("q")
    (span,) = tool_spans(telemetry, "helper")
    attrs = attributes(span)
    assert (
        attrs[semconv.GEN_AI_TOOL_CALL_ID],
        attrs[semconv.GEN_AI_TOOL_TYPE],
        attrs[semconv.GEN_AI_TOOL_DESCRIPTION],
    ) == ("call_1", "function", "Does arithmetic")


def test_managed_agent_result_is_the_same_with_and_without_us(instrumentation: Instrumentation) -> None:
    bare = agent_steps(boss_with_helper(), "q")
    instrumentation.on()
    assert agent_steps(boss_with_helper(), "q") == bare


def test_managed_agent_called_by_the_app_is_one_agent_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # MultiStepAgent.__call__ outside a run is not an agent's tool call.
    instrumentation.on()
    make_agent((final("child-answer"),), name="helper")("sub task")
    assert span_tree(telemetry) == [
        ("invoke_agent helper", INTERNAL, None, UNSET),
        ("execute_tool final_answer", INTERNAL, "invoke_agent helper", UNSET),
    ]


# -- tool calls: execute_tool spans (smolagents has none of its own) -------------------------------


def agent_steps(agent: MultiStepAgent, task: str) -> list[tuple[Any, ...]]:
    """What the app sees of each step: its observations and output, and its error."""
    result = agent.run(task)
    steps = [step for step in agent.memory.steps if isinstance(step, ActionStep)]
    seen = [(s.observations, s.action_output, type(s.error).__name__, str(s.error or "")) for s in steps]
    return [*seen, ("result", result)]


def echo_then_fails() -> ToolCallingAgent:
    return make_agent((ECHO, FAIL, final()), tools=[Echo(), Fails()])


ECHO_THEN_FAILS_TREE: list[TreeRow] = [
    ("invoke_agent calc", INTERNAL, None, UNSET),
    ("execute_tool echo", INTERNAL, "invoke_agent calc", UNSET),
    ("execute_tool fails", INTERNAL, "invoke_agent calc", ERROR),
    ("execute_tool final_answer", INTERNAL, "invoke_agent calc", UNSET),
]


def test_each_tool_call_is_a_child_span_of_the_run_and_the_one_that_raises_is_error(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    echo_then_fails().run("q")
    assert span_tree(telemetry) == ECHO_THEN_FAILS_TREE


def test_each_tool_call_of_a_streamed_run_is_a_child_span_of_the_run(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    list(make_agent((ECHO, FAIL, final()), tools=[Echo(), Fails()], stream_outputs=True).run("q", stream=True))
    assert span_tree(telemetry) == ECHO_THEN_FAILS_TREE


def test_tool_calls_leave_the_apps_steps_and_result_as_without_us(instrumentation: Instrumentation) -> None:
    bare = agent_steps(echo_then_fails(), "q")
    instrumentation.on()
    traced = agent_steps(echo_then_fails(), "q")
    assert traced == bare
    assert "ToolFailure: tool broke on x" in traced[1][3]


class FailsRecording(Fails):
    """`fails`, keeping what it raised."""

    def forward(self, text: str) -> str:
        self.raised = ToolFailure(f"tool broke on {text}")
        raise self.raised


def test_the_frameworks_tool_error_has_the_tools_own_exception_as_its_cause(instrumentation: Instrumentation) -> None:
    tool = FailsRecording()
    agent = make_agent((FAIL, final()), tools=[tool])
    instrumentation.on()
    agent.run("q")
    error = next(step.error for step in agent.memory.steps if isinstance(step, ActionStep) and step.error)
    assert error.__cause__ is tool.raised


def test_tool_span_reads_the_tools_identity_and_the_models_call_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    echo_then_fails().run("q")
    identity = (
        semconv.GEN_AI_OPERATION_NAME,
        semconv.GEN_AI_TOOL_NAME,
        semconv.GEN_AI_TOOL_TYPE,
        semconv.GEN_AI_TOOL_DESCRIPTION,
        semconv.GEN_AI_TOOL_CALL_ID,
    )
    assert [[attributes(span).get(key) for key in identity] for span in telemetry.finished()[:3]] == [
        ["execute_tool", "echo", "function", "Echoes its text.", "call_1"],
        ["execute_tool", "fails", "function", "Always fails.", "call_2"],
        ["execute_tool", "final_answer", "function", "Provides a final answer to the given problem.", "call_3"],
    ]


def test_tool_that_raises_ends_error_with_its_exception_class_on_span_and_metric(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    echo_then_fails().run("q")
    (span,) = tool_spans(telemetry, "fails")
    failed = [
        p for p in telemetry.metric_points(semconv.METRIC_EXECUTE_TOOL_DURATION) if semconv.ERROR_TYPE in p.attributes
    ]
    error_type = f"{ToolFailure.__module__}.{ToolFailure.__qualname__}"
    assert (span.status.description, attributes(span)[semconv.ERROR_TYPE], attributes(span)[semconv.OUTCOME]) == (
        "tool broke on x",
        error_type,
        "failed",
    )
    assert [(p.count, p.attributes[semconv.GEN_AI_TOOL_NAME], p.attributes[semconv.ERROR_TYPE]) for p in failed] == [
        (1, "fails", error_type)
    ]


def test_parallel_tool_calls_are_each_a_child_span_of_the_run_with_their_own_call_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # Two calls in one model message run in smolagents' thread pool (agents.py:1429).
    both = ("tools", [("echo", {"text": "a"}), ("fails", {"text": "b"})])
    instrumentation.on()
    make_agent((both, final()), tools=[Echo(), Fails()]).run("q")
    parallel = [row for row in span_tree(telemetry) if row[0] in ("execute_tool echo", "execute_tool fails")]
    assert sorted(parallel) == [
        ("execute_tool echo", INTERNAL, "invoke_agent calc", UNSET),
        ("execute_tool fails", INTERNAL, "invoke_agent calc", ERROR),
    ]
    call_ids = {span.name: attributes(span).get(semconv.GEN_AI_TOOL_CALL_ID) for span in telemetry.finished()}
    assert (call_ids["execute_tool echo"], call_ids["execute_tool fails"]) == ("call_1", "call_1_1")


class Shout(Tool):  # type: ignore[misc]  # smolagents ships no type information
    """A tool that calls another tool."""

    name = "shout"
    description = "Echoes its text, loudly."
    inputs = {"text": {"type": "string", "description": "the text"}}
    output_type = "string"

    def forward(self, text: str) -> str:
        return str(Echo()(text=text)).upper()


def test_tool_called_by_a_tool_is_its_child_span_without_the_models_call_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    make_agent((("tool", "shout", {"text": "hi"}), final()), tools=[Shout()]).run("q")
    assert span_tree(telemetry)[1:3] == [
        ("execute_tool shout", INTERNAL, "invoke_agent calc", UNSET),
        ("execute_tool echo", INTERNAL, "execute_tool shout", UNSET),
    ]
    call_ids = [attributes(span).get(semconv.GEN_AI_TOOL_CALL_ID) for span in telemetry.finished()[:2]]
    assert call_ids == [None, "call_1"]  # echo ends first


class EchoWrapper(Echo):
    """A tool named like the tool it delegates to."""

    def forward(self, text: str) -> str:
        return str(Echo()(text=text))


def test_tool_of_the_same_name_called_by_a_tool_does_not_get_the_models_call_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    make_agent((ECHO, final()), tools=[EchoWrapper()]).run("q")
    inner, outer = telemetry.finished()[:2]
    assert [(span.name, attributes(span).get(semconv.GEN_AI_TOOL_CALL_ID)) for span in (outer, inner)] == [
        ("execute_tool echo", "call_1"),
        ("execute_tool echo", None),
    ]
    assert inner.parent is not None and inner.parent.span_id == outer.context.span_id


def test_tool_call_smolagents_refuses_before_calling_a_tool_executes_nothing_and_has_no_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # An unknown tool name: execute_tool_call raises AgentToolExecutionError before any tool runs.
    instrumentation.on()
    make_agent((("tool", "no_such_tool", {}), final()), tools=[Echo()]).run("q")
    assert span_tree(telemetry) == [
        ("invoke_agent calc", INTERNAL, None, UNSET),
        ("execute_tool final_answer", INTERNAL, "invoke_agent calc", UNSET),
    ]


def test_tool_called_by_the_app_outside_a_run_is_not_traced(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    assert Echo()(text="hi") == "echo:hi"
    assert telemetry.finished() == []


def test_tool_arguments_and_result_are_recorded_as_json_with_content_capture(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    make_agent((ECHO, final()), tools=[Echo()]).run("q")
    (span,) = tool_spans(telemetry, "echo")
    attrs = attributes(span)
    assert (attrs[semconv.GEN_AI_TOOL_CALL_ARGUMENTS], attrs[semconv.GEN_AI_TOOL_CALL_RESULT]) == (
        '{"text": "hi"}',
        '"echo:hi"',
    )


def test_tool_arguments_and_result_are_not_recorded_by_default(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    make_agent((ECHO, final()), tools=[Echo()]).run("q")
    (span,) = tool_spans(telemetry, "echo")
    assert not {semconv.GEN_AI_TOOL_CALL_ARGUMENTS, semconv.GEN_AI_TOOL_CALL_RESULT} & set(attributes(span))


def test_subclass_run_calling_super_is_one_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    class Layered(ToolCallingAgent):  # type: ignore[misc]  # smolagents ships no type information
        def run(self, task: str, *args: Any, **kwargs: Any) -> Any:
            return super().run(task, *args, **kwargs)

    instrumentation.on()
    Layered(tools=[], model=ScriptedModel([final()]), name="layered", logger=quiet_logger()).run("q")
    assert [span.name for span in telemetry.agent_spans()] == ["invoke_agent layered"]


def test_step_callbacks_run_with_the_agent_span_current(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    current: list[trace.Span] = []
    agent = make_agent()
    agent.step_callbacks.register(ActionStep, lambda step: current.append(trace.get_current_span()))
    instrumentation.on()
    for _ in agent.run("q", stream=True):
        pass
    span_id = only_span(telemetry).context.span_id
    assert [span.get_span_context().span_id for span in current] == [span_id, span_id]


def _close_mid_step_error() -> BaseException:
    stream = make_agent().run("q", stream=True)
    next(stream)  # ToolCall: suspended inside the step's try, whose finally yields (agents.py:600-604)
    try:
        stream.close()
    except RuntimeError as error:
        return error
    finally:
        # The generator is now suspended in that finally; a second close ends it (else GC reports it).
        stream.close()
    raise AssertionError("close() mid-step did not raise")


def test_close_mid_step_raises_the_frameworks_runtime_error_with_and_without_us(
    instrumentation: Instrumentation,
) -> None:
    bare = _close_mid_step_error()
    instrumentation.on()
    traced = _close_mid_step_error()
    assert (type(traced), str(traced)) == (type(bare), str(bare)) == (RuntimeError, "generator ignored GeneratorExit")


def test_close_mid_step_ends_span_with_the_runtime_error_the_app_saw(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    _close_mid_step_error()
    assert attributes(only_span(telemetry))[semconv.ERROR_TYPE] == "RuntimeError"


def test_capture_content_records_task_and_final_answer(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    make_agent().run("what is 6*7?")
    attrs = attributes(only_span(telemetry))
    inputs = json.loads(attrs[semconv.GEN_AI_INPUT_MESSAGES])
    outputs = json.loads(attrs[semconv.GEN_AI_OUTPUT_MESSAGES])
    assert (inputs[0]["parts"][0]["content"], outputs[0]["parts"][0]["content"]) == ("what is 6*7?", "42")


def test_content_is_not_recorded_by_default(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_agent().run("what is 6*7?")
    attrs = attributes(only_span(telemetry))
    assert semconv.GEN_AI_INPUT_MESSAGES not in attrs
    assert semconv.GEN_AI_OUTPUT_MESSAGES not in attrs


# -- CodeAgent: the code its model writes runs in smolagents' timeout thread (local_python_executor.py:307)

DELEGATE_CODE = 'report = helper(task="sub task")\nfinal_answer(report)'


def code_agent_delegating_to_helper() -> CodeAgent:
    return make_code_agent([DELEGATE_CODE], managed_agents=[make_agent((final("child-answer"),), name="helper")])


def assert_child_of(child: ReadableSpan, parent: ReadableSpan) -> None:
    assert child.parent is not None, f"{child.name} is a root span"
    assert (child.context.trace_id, child.parent.span_id) == (parent.context.trace_id, parent.context.span_id)


# Called from code: the same tree as from a ToolCallingAgent (no call ids: code has none).
CODE_DELEGATION_TREE: list[TreeRow] = [
    ("invoke_agent coder", INTERNAL, None, UNSET),
    ("execute_tool helper", INTERNAL, "invoke_agent coder", UNSET),
    ("invoke_agent helper", INTERNAL, "execute_tool helper", UNSET),
    ("execute_tool final_answer", INTERNAL, "invoke_agent helper", UNSET),
    ("execute_tool final_answer", INTERNAL, "invoke_agent coder", UNSET),
]


def test_managed_agent_called_from_code_agent_code_is_a_child_of_its_tool_call_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    code_agent_delegating_to_helper().run("q")
    assert span_tree(telemetry) == CODE_DELEGATION_TREE


def test_managed_agent_called_from_streamed_code_agent_code_is_a_child_of_its_tool_call_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    list(code_agent_delegating_to_helper().run("q", stream=True))
    assert span_tree(telemetry) == CODE_DELEGATION_TREE


def test_tools_called_from_code_agent_code_are_child_spans_of_the_run_and_the_one_that_raises_is_error(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The code runs in smolagents' timeout thread; a tool raising there fails the step, not the run.
    script = ['print(echo(text="hi"))', 'fails(text="x")', 'final_answer("done")']
    instrumentation.on()
    make_code_agent(script, tools=[Echo(), Fails()]).run("q")
    assert span_tree(telemetry) == [
        ("invoke_agent coder", INTERNAL, None, UNSET),
        ("execute_tool echo", INTERNAL, "invoke_agent coder", UNSET),
        ("execute_tool fails", INTERNAL, "invoke_agent coder", ERROR),
        ("execute_tool final_answer", INTERNAL, "invoke_agent coder", UNSET),
    ]
    assert [attributes(span).get(semconv.GEN_AI_TOOL_CALL_ID) for span in telemetry.finished()] == [None] * 4


def test_code_agent_tool_failure_is_the_same_step_error_with_and_without_us(instrumentation: Instrumentation) -> None:
    script = ['print(echo(text="hi"))', 'fails(text="x")', 'final_answer("done")']
    bare = agent_steps(make_code_agent(script, tools=[Echo(), Fails()]), "q")
    instrumentation.on()
    traced = agent_steps(make_code_agent(script, tools=[Echo(), Fails()]), "q")
    assert traced == bare
    assert "ToolFailure: tool broke on x" in traced[1][3]


class TracedLookup(Tool):  # type: ignore[misc]  # smolagents ships no type information
    """A tool with telemetry of its own (as an instrumented HTTP client or database would have)."""

    name = "lookup"
    description = "Looks a key up."
    inputs = {"key": {"type": "string", "description": "the key"}}
    output_type = "string"

    def __init__(self, tracer: Tracer) -> None:
        super().__init__()
        self.tracer = tracer

    def forward(self, key: str) -> str:
        with self.tracer.start_as_current_span("lookup"):
            return f"value:{key}"


def test_span_of_a_tool_called_from_code_agent_code_is_a_descendant_of_the_agent_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # smolagents issue #1961: such tool spans were root spans. Now under the tool call's span.
    instrumentation.on()
    tool = TracedLookup(telemetry.tracer_provider.get_tracer("tests.tool"))
    make_code_agent(['final_answer(lookup(key="k"))'], tools=[tool]).run("q")
    assert span_tree(telemetry) == [
        ("invoke_agent coder", INTERNAL, None, UNSET),
        ("execute_tool lookup", INTERNAL, "invoke_agent coder", UNSET),
        ("lookup", INTERNAL, "execute_tool lookup", UNSET),
        ("execute_tool final_answer", INTERNAL, "invoke_agent coder", UNSET),
    ]
    spans = {span.name: span for span in telemetry.finished()}
    assert_child_of(spans["lookup"], spans["execute_tool lookup"])
    assert_child_of(spans["execute_tool lookup"], spans["invoke_agent coder"])


APP_SETTING: contextvars.ContextVar[str] = contextvars.ContextVar("app_setting", default="unset")


class ReadSetting(Tool):  # type: ignore[misc]  # smolagents ships no type information
    name = "read_setting"
    description = "Reads the app's setting."
    inputs: dict[str, Any] = {}
    output_type = "string"

    def forward(self) -> str:
        return APP_SETTING.get()


def test_code_agent_code_sees_the_apps_context_variables_as_without_us(instrumentation: Instrumentation) -> None:
    # Only the OpenTelemetry context is carried into the code's thread.
    def run() -> Any:
        token = APP_SETTING.set("set by the caller")
        try:
            return make_code_agent(["final_answer(read_setting())"], tools=[ReadSetting()]).run("q")
        finally:
            APP_SETTING.reset(token)

    bare = run()
    instrumentation.on()
    assert run() == bare == "unset"


def test_code_agent_steps_and_result_are_the_same_with_and_without_us(instrumentation: Instrumentation) -> None:
    script = [
        'report = helper(task="sub task")\nprint(report)\nprint(echo(text="hi"))',
        "print(undefined_name)",  # the executor raises InterpreterError: the step records it, the run goes on
        'final_answer("done")',
    ]

    def run() -> list[tuple[Any, ...]]:
        helper = make_agent((final("child-answer"),), name="helper")
        return agent_steps(make_code_agent(script, tools=[Echo()], managed_agents=[helper]), "q")

    bare = run()
    instrumentation.on()
    assert run() == bare


def test_code_timeout_is_the_same_execution_error_with_and_without_us(instrumentation: Instrumentation) -> None:
    script = ["import time\ntime.sleep(1.1)", 'final_answer("late")']

    def run() -> list[tuple[Any, ...]]:
        return agent_steps(make_code_agent(script, executor_kwargs={"timeout_seconds": 1}), "q")

    bare = run()
    instrumentation.on()
    traced = run()
    assert traced == bare
    assert "exceeded the maximum execution time of 1 seconds" in traced[0][3]


# -- gen_ai.provider.name ---------------------------------------------------------------------------


def provider_on_span_and_duration(telemetry: Telemetry) -> tuple[Any, Any]:
    (point,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    provider = semconv.GEN_AI_PROVIDER_NAME
    return attributes(only_span(telemetry))[provider], point.attributes[provider]


def test_openai_model_run_records_provider_openai(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    # The real OpenAIModel and openai client; the HTTP answer comes from an in-process transport.
    client = openai.OpenAI(api_key="offline", http_client=openai_wire.http_client("<code>final_answer('42')</code>"))
    agent = CodeAgent(
        tools=[], model=models.OpenAIModel(model_id=openai_wire.MODEL, client=client), logger=quiet_logger()
    )
    instrumentation.on()
    assert agent.run("q") == "42"
    assert provider_on_span_and_duration(telemetry) == ("openai", "openai")


def test_run_with_a_model_of_no_known_provider_records_provider_other(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    make_agent().run("q")  # ScriptedModel: a plain smolagents Model subclass
    assert provider_on_span_and_duration(telemetry) == (semconv.PROVIDER_OTHER, semconv.PROVIDER_OTHER)


# Each model gets a stand-in client that cannot answer (`client=` skips building a real one): the
# provider is read at the run's start, and the run fails at its first model call, offline.
OFFLINE = object()


@pytest.mark.parametrize(
    ("make_model", "provider"),
    [
        (lambda: models.AzureOpenAIModel(model_id="gpt-4o", client=OFFLINE), "azure.ai.openai"),
        (lambda: models.AmazonBedrockModel(model_id="us.amazon.nova-pro-v1:0", client=OFFLINE), "aws.bedrock"),
        (lambda: models.LiteLLMModel(model_id="anthropic/claude-3-5-sonnet", client=OFFLINE), "anthropic"),
        (lambda: models.LiteLLMModel(model_id="gemini/gemini-2.0-flash", client=OFFLINE), "gcp.gemini"),
        (lambda: models.LiteLLMModel(model_id="gpt-4o", client=OFFLINE), semconv.PROVIDER_OTHER),
        (
            lambda: models.LiteLLMRouterModel(model_id="group-a", model_list=[], client=OFFLINE),
            semconv.PROVIDER_OTHER,
        ),
        (lambda: models.InferenceClientModel(provider="Together", client=OFFLINE), "together"),
        (lambda: models.InferenceClientModel(client=OFFLINE), semconv.PROVIDER_OTHER),
        (
            lambda: models.InferenceClientModel(provider="together", base_url="http://127.0.0.1:9", client=OFFLINE),
            semconv.PROVIDER_OTHER,
        ),
    ],
    ids=[
        "azure",
        "bedrock",
        "litellm-anthropic",
        "litellm-gemini",
        "litellm-bare-id",
        "litellm-router",
        "inference-client-provider",
        "inference-client-auto",
        "inference-client-base-url",
    ],
)
def test_run_records_the_provider_of_the_agents_model(
    instrumentation: Instrumentation, telemetry: Telemetry, make_model: Any, provider: str
) -> None:
    agent = ToolCallingAgent(tools=[], model=make_model(), logger=quiet_logger())
    instrumentation.on()
    with pytest.raises(Exception, match="Error while generating output"):
        agent.run("q")
    assert provider_on_span_and_duration(telemetry) == (provider, provider)


def test_models_of_one_class_with_other_settings_each_record_their_own_provider(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The provider is looked up by model class once; where the class leaves it to the model's settings
    # (LiteLLM's id prefix), each run reads its own model.
    instrumentation.on()
    for model_id in ("anthropic/claude-3-5-sonnet", "gemini/gemini-2.0-flash", "gpt-4o"):
        agent = ToolCallingAgent(
            tools=[], model=models.LiteLLMModel(model_id=model_id, client=OFFLINE), logger=quiet_logger()
        )
        with pytest.raises(Exception, match="Error while generating output"):
            agent.run("q")
    recorded = [attributes(span)[semconv.GEN_AI_PROVIDER_NAME] for span in telemetry.finished()]
    assert recorded == ["anthropic", "gcp.gemini", semconv.PROVIDER_OTHER]


def test_a_model_behind_a_proxy_records_the_provider_of_the_model_it_proxies(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # What isinstance says of it: a proxy's __class__ is the proxied model's.
    import wrapt

    model = wrapt.ObjectProxy(models.AmazonBedrockModel(model_id="us.amazon.nova-pro-v1:0", client=OFFLINE))
    agent = ToolCallingAgent(tools=[], model=model, logger=quiet_logger())
    instrumentation.on()
    with pytest.raises(Exception, match="Error while generating output"):
        agent.run("q")
    assert provider_on_span_and_duration(telemetry) == ("aws.bedrock", "aws.bedrock")

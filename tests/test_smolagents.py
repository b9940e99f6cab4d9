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
from smolagents.agents import RunResult
from smolagents.memory import ActionStep

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks import openai_wire
from tests.frameworks.smolagents_driver import (
    ECHO,
    GENERATION_ERROR,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    Echo,
    ModelFailure,
    ScriptedModel,
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


def test_managed_agent_run_is_a_child_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    child = make_agent((final("child-answer"),), name="helper")
    parent = ToolCallingAgent(
        tools=[],
        managed_agents=[child],
        name="boss",
        logger=quiet_logger(),
        model=ScriptedModel([("tool", "helper", {"task": "sub task"}), final()]),
    )
    parent.run("q")
    spans = {span.name: span for span in telemetry.agent_spans()}
    parent_span, child_span = spans["invoke_agent boss"], spans["invoke_agent helper"]
    assert child_span.parent is not None
    assert child_span.parent.span_id == parent_span.context.span_id


def test_managed_agent_in_a_streamed_run_is_a_child_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    child = make_agent((final("child-answer"),), name="helper")
    parent = ToolCallingAgent(
        tools=[],
        managed_agents=[child],
        name="boss",
        logger=quiet_logger(),
        model=ScriptedModel([("tool", "helper", {"task": "sub task"}), final()]),
    )
    list(parent.run("q", stream=True))
    spans = {span.name: span for span in telemetry.agent_spans()}
    child_parent = spans["invoke_agent helper"].parent
    assert child_parent is not None
    assert child_parent.span_id == spans["invoke_agent boss"].context.span_id


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


def test_managed_agent_called_from_code_agent_code_is_a_child_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    code_agent_delegating_to_helper().run("q")
    spans = {span.name: span for span in telemetry.agent_spans()}
    assert_child_of(spans["invoke_agent helper"], spans["invoke_agent coder"])


def test_managed_agent_called_from_streamed_code_agent_code_is_a_child_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    list(code_agent_delegating_to_helper().run("q", stream=True))
    spans = {span.name: span for span in telemetry.agent_spans()}
    assert_child_of(spans["invoke_agent helper"], spans["invoke_agent coder"])


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


def test_span_of_a_tool_called_from_code_agent_code_is_a_child_of_the_agent_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # smolagents issue #1961: such tool spans were root spans.
    instrumentation.on()
    tool = TracedLookup(telemetry.tracer_provider.get_tracer("tests.tool"))
    make_code_agent(['final_answer(lookup(key="k"))'], tools=[tool]).run("q")
    spans = {span.name: span for span in telemetry.finished()}
    assert_child_of(spans["lookup"], spans["invoke_agent coder"])


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


def code_agent_steps(agent: CodeAgent, task: str) -> list[tuple[Any, ...]]:
    """What the app sees of each step: the executed code's observations and output, and its error."""
    result = agent.run(task)
    steps = [step for step in agent.memory.steps if isinstance(step, ActionStep)]
    seen = [(s.observations, s.action_output, type(s.error).__name__, str(s.error or "")) for s in steps]
    return [*seen, ("result", result)]


def test_code_agent_steps_and_result_are_the_same_with_and_without_us(instrumentation: Instrumentation) -> None:
    script = [
        'report = helper(task="sub task")\nprint(report)\nprint(echo(text="hi"))',
        "print(undefined_name)",  # the executor raises InterpreterError: the step records it, the run goes on
        'final_answer("done")',
    ]

    def run() -> list[tuple[Any, ...]]:
        helper = make_agent((final("child-answer"),), name="helper")
        return code_agent_steps(make_code_agent(script, tools=[Echo()], managed_agents=[helper]), "q")

    bare = run()
    instrumentation.on()
    assert run() == bare


def test_code_timeout_is_the_same_execution_error_with_and_without_us(instrumentation: Instrumentation) -> None:
    script = ["import time\ntime.sleep(1.1)", 'final_answer("late")']

    def run() -> list[tuple[Any, ...]]:
        return code_agent_steps(make_code_agent(script, executor_kwargs={"timeout_seconds": 1}), "q")

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

"""agno specifics: what the span reads, returned/yielded errors, team members, session ids."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from agno.agent import Agent
from agno.agent import _run as agno_agent_run
from agno.db.in_memory import InMemoryDb
from agno.exceptions import InputCheckError, StopAgentRun
from agno.models.openai import OpenAIChat
from agno.models.response import ModelResponse
from agno.run import background
from agno.run.agent import RunOutput
from agno.run.background import await_background_runs
from agno.team import Team
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode, Tracer

from otel_agent_instrumentation import semconv
from otel_agent_instrumentation.adapters import agno as agno_adapter
from tests.conftest import ERROR, INTERNAL, UNSET, Instrumentation, Telemetry, TreeRow, span_tree
from tests.frameworks import openai_wire
from tests.frameworks.agno_driver import (
    AGENT_NAME,
    MODEL_ID,
    ScriptedModel,
    aecho,
    echo,
    fails,
    make_agent,
    make_team,
    make_tool_agent,
    usage,
)


def only_span(telemetry: Telemetry) -> ReadableSpan:
    spans = telemetry.agent_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


@dataclass
class DelegatingModel(ScriptedModel):
    """The team's model: first asks to delegate to the member, then answers."""

    turns: int = 0

    def _next_turn(self) -> ModelResponse:
        self.turns += 1
        if self.turns == 1:
            call = {
                "id": "call-1",
                "type": "function",
                "function": {
                    "name": "delegate_task_to_member",
                    "arguments": json.dumps({"member_id": AGENT_NAME, "task": "w"}),
                },
            }
            return ModelResponse(role="assistant", tool_calls=[call], response_usage=usage(3, 1))
        return ModelResponse(role="assistant", content="team done", response_usage=usage(4, 2))

    def invoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._next_turn()

    async def ainvoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._next_turn()

    def invoke_stream(self, *args: Any, **kwargs: Any) -> Any:
        yield self._next_turn()

    async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> Any:
        yield self._next_turn()


def make_crew() -> Team:
    return Team(name="crew", members=[make_agent([])], model=DelegatingModel(), telemetry=False)


# agno's delegation is a tool (team/_default_tools.py:694): the member runs inside its tool call.
TEAM_TREE: list[TreeRow] = [
    ("invoke_agent crew", INTERNAL, None, UNSET),
    ("execute_tool delegate_task_to_member", INTERNAL, "invoke_agent crew", UNSET),
    (f"invoke_agent {AGENT_NAME}", INTERNAL, "execute_tool delegate_task_to_member", UNSET),
]


def test_run_span_reads_name_description_and_model_id(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_agent([]).run("hi")
    attrs = attributes(only_span(telemetry))
    assert (
        attrs[semconv.GEN_AI_AGENT_NAME],
        attrs[semconv.GEN_AI_AGENT_DESCRIPTION],
        attrs[semconv.GEN_AI_REQUEST_MODEL],
    ) == (AGENT_NAME, "writes things", MODEL_ID)


def test_run_usage_comes_from_the_run_output_metrics(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_agent([]).run("hi")
    attrs = attributes(only_span(telemetry))
    assert (attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS], attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (10, 5)


async def test_arun_stream_usage_comes_from_the_run_output_agno_holds(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    [item async for item in make_agent([]).arun("hi", stream=True)]
    attrs = attributes(only_span(telemetry))
    assert (attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS], attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (10, 5)


async def drain_stream(owner: Any, mode: str) -> None:
    if mode == "run_stream":
        list(owner.run("hi", stream=True))
    else:
        [item async for item in owner.arun("hi", stream=True)]


STREAM_OWNERS: dict[str, Callable[[list[str]], Any]] = {"agent": make_agent, "team": make_team}


@pytest.fixture
def generator_argument_reads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The streams whose arguments the adapter read from the generator's own locals."""
    reads: list[Any] = []
    read = agno_adapter._generator_arguments

    def recorded(stream: Any) -> dict[str, Any]:
        reads.append(stream)
        return read(stream)

    monkeypatch.setattr(agno_adapter, "_generator_arguments", recorded)
    return reads


@pytest.mark.parametrize("owner", sorted(STREAM_OWNERS))
@pytest.mark.parametrize("mode", ["run_stream", "arun_stream"])
async def test_stream_usage_is_read_from_the_arguments_noted_at_the_call_not_the_generators_locals(
    instrumentation: Instrumentation, telemetry: Telemetry, generator_argument_reads: list[Any], owner: str, mode: str
) -> None:
    # A generator's locals cost CPython 3.11 a KeyError for each unbound one (agno's _arun_stream: 39).
    instrumentation.on()
    await drain_stream(STREAM_OWNERS[owner]([]), mode)
    span = telemetry.agent_spans()[-1]
    assert (attributes(span)[semconv.GEN_AI_USAGE_INPUT_TOKENS], generator_argument_reads) == (10, [])


@pytest.mark.parametrize("mode", ["run_stream", "arun_stream"])
async def test_stream_whose_arguments_were_not_noted_reads_its_usage_from_the_generators_locals(
    instrumentation: Instrumentation,
    telemetry: Telemetry,
    generator_argument_reads: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    # As with an agno whose stream functions the hook does not know: agno's dispatcher calls the original.
    instrumentation.on()
    function = "_run_stream" if mode == "run_stream" else "_arun_stream"
    monkeypatch.setattr(agno_agent_run, function, getattr(agno_agent_run, function).__wrapped__)
    await drain_stream(make_agent([]), mode)
    assert (attributes(only_span(telemetry))[semconv.GEN_AI_USAGE_INPUT_TOKENS], len(generator_argument_reads)) == (
        10,
        1,
    )


async def test_arun_stream_asked_for_its_output_ends_the_span_when_the_output_arrives(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # As agno's workflow steps consume it: take the run output the stream yields last, stop pulling, keep it.
    instrumentation.on()
    stream: Any = make_agent([]).arun("hi", stream=True, yield_run_output=True)
    async for item in stream:
        if isinstance(item, RunOutput):
            break
    attrs = attributes(only_span(telemetry))
    assert (attrs[semconv.OUTCOME], attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS]) == ("completed", 10)
    await stream.aclose()


def test_session_id_argument_is_the_conversation_id(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_agent([]).run("hi", session_id="sess-1")
    assert attributes(only_span(telemetry))[semconv.GEN_AI_CONVERSATION_ID] == "sess-1"


def test_session_id_agno_generated_is_the_conversation_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    output = make_agent([]).run("hi")
    assert attributes(only_span(telemetry))[semconv.GEN_AI_CONVERSATION_ID] == output.session_id


def test_returned_error_ends_span_error_with_other_and_the_message(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    output = make_agent([], fail=True).run("hi")
    span = only_span(telemetry)
    assert output.status.value == "ERROR"
    assert (span.status.status_code, span.status.description) == (StatusCode.ERROR, "model connection dropped")
    assert attributes(span)[semconv.ERROR_TYPE] == semconv.ERROR_TYPE_OTHER


def test_returned_error_records_no_token_usage(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_agent([], fail=True).run("hi")
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in attributes(only_span(telemetry))


def test_sync_stream_error_event_sets_error_type_and_message(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    items = list(make_agent([], fail=True).run("hi", stream=True))
    span = only_span(telemetry)
    assert type(items[-1]).__name__ == "RunErrorEvent"
    assert (span.status.status_code, span.status.description) == (StatusCode.ERROR, "stream dropped mid-way")
    assert attributes(span)[semconv.ERROR_TYPE] == "ConnectionError"


def test_guardrail_input_check_error_in_stream_sets_agno_slug(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    def guard(run_input: Any, **kwargs: Any) -> None:
        raise InputCheckError("blocked by guard")

    agent = Agent(name=AGENT_NAME, model=ScriptedModel(), pre_hooks=[guard], telemetry=False)
    instrumentation.on()
    list(agent.run("hi", stream=True))
    assert attributes(only_span(telemetry))[semconv.ERROR_TYPE] == "input_check_error"


RUN_MODES = ["run", "run_stream", "arun", "arun_stream"]


def tool_view(tool: Any) -> tuple[Any, ...]:
    return (tool.tool_name, tool.tool_args, tool.tool_call_error, tool.result)


def seen(item: Any) -> tuple[Any, ...]:
    """What the app sees of a run output or a stream event, less agno's timings."""
    if hasattr(item, "run_id") and hasattr(item, "status") and hasattr(item, "tools"):  # RunOutput, TeamRunOutput
        return ("output", item.status.value, item.content, [tool_view(tool) for tool in item.tools or []])
    tool = getattr(item, "tool", None)
    if tool is not None:  # its content is "... completed in 0.0004s."
        return (type(item).__name__, tool_view(tool), getattr(item, "error", None))
    content = getattr(item, "content", None)
    return (type(item).__name__, content if isinstance(content, str) else None)


async def perform(owner: Any, mode: str) -> list[tuple[Any, ...]]:
    """Run `owner` in `mode` as an app would; what it saw."""
    if mode == "run":
        return [seen(owner.run("hi"))]
    if mode == "run_stream":
        return [seen(item) for item in owner.run("hi", stream=True, stream_events=True)]
    if mode == "arun":
        return [seen(await owner.arun("hi"))]
    return [seen(item) async for item in owner.arun("hi", stream=True, stream_events=True)]


@pytest.mark.parametrize("mode", RUN_MODES)
async def test_team_member_run_is_a_child_of_the_delegation_tool_span(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    instrumentation.on()
    await perform(make_crew(), mode)
    assert span_tree(telemetry) == TEAM_TREE


@pytest.mark.parametrize("mode", RUN_MODES)
async def test_team_delegation_is_seen_by_the_app_as_without_us(instrumentation: Instrumentation, mode: str) -> None:
    bare = await perform(make_crew(), mode)
    instrumentation.on()
    traced = await perform(make_crew(), mode)
    assert traced == bare
    assert any("delegate_task_to_member" in str(item) for item in traced)


def test_delegation_tool_span_carries_the_models_call_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    make_crew().run("hi")
    (span,) = [span for span in telemetry.finished() if span.name == "execute_tool delegate_task_to_member"]
    assert attributes(span)[semconv.GEN_AI_TOOL_CALL_ID] == "call-1"


def test_team_model_error_sets_error_type_from_team_error_event(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    Team(name="crew", members=[make_agent([])], model=ScriptedModel(fail=True), telemetry=False).run("hi")
    assert attributes(only_span(telemetry))[semconv.ERROR_TYPE] == "ConnectionError"


def test_sync_stream_close_leaves_the_run_unstored_as_without_us(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # agno 3.1.10's sync _run_stream does not handle GeneratorExit (agent/_run.py:1191-1304).
    def stored_after_close(run_id: str) -> Any:
        agent = make_agent([])
        agent.db = InMemoryDb()  # type: ignore[no-untyped-call]  # agno does not annotate it
        stream: Any = agent.run("hi", stream=True, stream_events=True, session_id="s", run_id=run_id)
        next(stream)
        stream.close()
        return agent.get_run_output(run_id=run_id, session_id="s")

    bare = stored_after_close("bare")
    instrumentation.on()
    assert (bare, stored_after_close("traced")) == (None, None)
    assert attributes(only_span(telemetry))[semconv.OUTCOME] == "closed_early"


def with_db(owner: Any) -> Any:
    owner.db = InMemoryDb()  # type: ignore[no-untyped-call]  # agno does not annotate it
    return owner


async def test_background_arun_span_is_open_while_the_run_goes_on(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    output = await with_db(make_agent([])).arun("hi", background=True)
    assert (output.status.value, telemetry.agent_spans()) == ("PENDING", [])
    await await_background_runs()


async def test_background_arun_span_ends_completed_with_the_run_usage(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    output = await with_db(make_agent([])).arun("hi", background=True)
    await await_background_runs()
    attrs = attributes(only_span(telemetry))
    assert output.status.value == "COMPLETED"
    assert (attrs[semconv.OUTCOME], attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS]) == ("completed", 10)


async def test_background_arun_model_error_ends_span_failed(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await with_db(make_agent([], fail=True)).arun("hi", background=True)
    await await_background_runs()
    span = only_span(telemetry)
    assert (span.status.status_code, span.status.description) == (StatusCode.ERROR, "model connection dropped")
    assert (attributes(span)[semconv.OUTCOME], attributes(span)[semconv.ERROR_TYPE]) == ("failed", "_OTHER")


async def test_background_arun_cancel_run_ends_span_cancelled(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = with_db(make_agent([]))
    output = await agent.arun("hi", background=True)
    await agent.acancel_run(output.run_id)  # before the task starts: agno raises RunCancelledException in it
    await await_background_runs()
    attrs = attributes(only_span(telemetry))
    assert output.status.value == "CANCELLED"
    assert (attrs[semconv.OUTCOME], attrs[semconv.ERROR_TYPE]) == ("cancelled", "agno.exceptions.RunCancelledException")


async def test_background_task_cancelled_ends_span_cancelled(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    hooks: list[str] = []
    await with_db(make_agent(hooks, block=True)).arun("hi", background=True)
    while not hooks:  # the pre_hook ran: the model call is under way
        await asyncio.sleep(0.001)
    for task in list(background._background_tasks):  # what loop shutdown (asyncio.run) does
        task.cancel()
    await await_background_runs()
    attrs = attributes(only_span(telemetry))
    assert (attrs[semconv.OUTCOME], attrs[semconv.ERROR_TYPE]) == ("cancelled", "asyncio.exceptions.CancelledError")


async def test_background_team_arun_member_run_is_a_child_of_the_delegation_tool_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await with_db(make_crew()).arun("hi", background=True)
    await await_background_runs()
    assert span_tree(telemetry) == TEAM_TREE


async def test_background_arun_leaves_the_caller_span_current(instrumentation: Instrumentation) -> None:
    instrumentation.on()
    caller = trace.get_current_span()
    await with_db(make_agent([])).arun("hi", background=True)
    assert trace.get_current_span() is caller
    await await_background_runs()


async def test_background_arun_stream_is_not_traced(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    stream: Any = with_db(make_agent([])).arun("hi", background=True, stream=True)
    # agno's background stream needs fastapi (agno.os.event_streams), which the test extras leave out:
    # without it the first pull raises; either way no span may start.
    with contextlib.suppress(ModuleNotFoundError):
        [item async for item in stream]
    await await_background_runs()
    assert telemetry.agent_spans() == []


def test_capture_content_records_input_output_and_instructions(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    make_agent([]).run("hi")
    attrs = attributes(only_span(telemetry))
    assert json.loads(str(attrs[semconv.GEN_AI_INPUT_MESSAGES])) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    ]
    assert json.loads(str(attrs[semconv.GEN_AI_OUTPUT_MESSAGES])) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "hello world"}]}
    ]
    assert json.loads(str(attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS])) == [{"type": "text", "content": "Be brief."}]


def test_content_is_not_recorded_by_default(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_agent([]).run("hi")
    assert semconv.GEN_AI_INPUT_MESSAGES not in attributes(only_span(telemetry))


# -- gen_ai.provider.name ---------------------------------------------------------------------------


def provider_on_span_and_duration(telemetry: Telemetry) -> tuple[Any, Any]:
    (point,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    provider = semconv.GEN_AI_PROVIDER_NAME
    return attributes(only_span(telemetry))[provider], point.attributes[provider]


def offline_openai_chat(answer: str) -> OpenAIChat:
    """agno's own OpenAIChat (provider "OpenAI") and openai client; the HTTP answer comes from in-process."""
    return OpenAIChat(id=openai_wire.MODEL, api_key="offline", http_client=openai_wire.legacy_http_client(answer))


def test_openai_chat_run_records_provider_openai(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    agent = Agent(name=AGENT_NAME, model=offline_openai_chat("hello world"), telemetry=False)
    instrumentation.on()
    assert agent.run("hi").content == "hello world"
    assert provider_on_span_and_duration(telemetry) == ("openai", "openai")


def test_model_string_run_records_the_providers_name(
    instrumentation: Instrumentation, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # agno builds OpenAIResponses from "openai:..."; with no API key its run fails before any request.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    agent = Agent(name=AGENT_NAME, model="openai:gpt-4o-mini", telemetry=False)
    instrumentation.on()
    assert agent.run("hi").status.value == "ERROR"
    assert provider_on_span_and_duration(telemetry) == ("openai", "openai")


def test_team_run_records_the_provider_of_the_teams_own_model(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The leader answers without delegating: the member (scripted model) does not run.
    team = Team(name="crew", members=[make_agent([])], model=offline_openai_chat("team done"), telemetry=False)
    instrumentation.on()
    assert team.run("hi").content == "team done"
    assert provider_on_span_and_duration(telemetry) == ("openai", "openai")


def test_model_naming_no_provider_records_provider_other(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # agno labels such a model "{name} ({id})" (models/base.py:190): a label, not a provider.
    model = ScriptedModel(provider=None)
    assert model.provider == f"Scripted ({MODEL_ID})"
    instrumentation.on()
    Agent(name=AGENT_NAME, model=model, telemetry=False).run("hi")
    assert provider_on_span_and_duration(telemetry) == (semconv.PROVIDER_OTHER, semconv.PROVIDER_OTHER)


def test_model_provider_outside_the_well_known_values_is_recorded_lower_cased(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    make_agent([]).run("hi")  # ScriptedModel.provider = "ScriptedProvider"
    assert provider_on_span_and_duration(telemetry) == ("scriptedprovider", "scriptedprovider")


# -- tool calls: execute_tool spans (agno has none of its own) -------------------------------------

ECHO_THEN_FAILS = ([("echo", {"text": "hi"}), ("fails", {"text": "x"})], "done")


def echo_then_fails() -> Agent:
    return make_tool_agent(ECHO_THEN_FAILS, [echo, fails])


# agno catches what `fails` raises and returns it as a failed FunctionExecutionResult: ERROR all the same.
ECHO_THEN_FAILS_TREE: list[TreeRow] = [
    (f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET),
    ("execute_tool echo", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
    ("execute_tool fails", INTERNAL, f"invoke_agent {AGENT_NAME}", ERROR),
]


def tool_span(telemetry: Telemetry, name: str) -> ReadableSpan:
    (span,) = [span for span in telemetry.finished() if span.name == f"execute_tool {name}"]
    return span


@pytest.mark.parametrize("mode", RUN_MODES)
async def test_each_tool_call_is_a_child_span_of_the_run_and_the_failed_one_is_error(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    instrumentation.on()
    await perform(echo_then_fails(), mode)
    assert span_tree(telemetry) == ECHO_THEN_FAILS_TREE


@pytest.mark.parametrize("mode", RUN_MODES)
async def test_tool_calls_are_seen_by_the_app_as_without_us(instrumentation: Instrumentation, mode: str) -> None:
    bare = await perform(echo_then_fails(), mode)
    instrumentation.on()
    traced = await perform(echo_then_fails(), mode)
    assert traced == bare
    assert "tool broke on x" in str(traced)  # the model is told the tool failed


def test_tool_span_reads_the_functions_identity_and_the_models_call_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    echo_then_fails().run("hi")
    identity = (
        semconv.GEN_AI_OPERATION_NAME,
        semconv.GEN_AI_TOOL_NAME,
        semconv.GEN_AI_TOOL_TYPE,
        semconv.GEN_AI_TOOL_DESCRIPTION,
        semconv.GEN_AI_TOOL_CALL_ID,
    )
    assert [[attributes(tool_span(telemetry, name)).get(key) for key in identity] for name in ("echo", "fails")] == [
        ["execute_tool", "echo", "function", "Echoes its text.", "call_1"],
        ["execute_tool", "fails", "function", "Always fails.", "call_2"],
    ]


def test_tool_failure_agno_returns_as_a_value_ends_error_other_with_its_message(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # FunctionExecutionResult(status="failure", error=str(e)) keeps no exception class.
    instrumentation.on()
    echo_then_fails().run("hi")
    span = tool_span(telemetry, "fails")
    failed = [
        p for p in telemetry.metric_points(semconv.METRIC_EXECUTE_TOOL_DURATION) if semconv.ERROR_TYPE in p.attributes
    ]
    assert (span.status.description, attributes(span)[semconv.ERROR_TYPE], attributes(span)[semconv.OUTCOME]) == (
        "tool broke on x",
        "_OTHER",
        "failed",
    )
    assert [(p.attributes[semconv.GEN_AI_TOOL_NAME], p.attributes[semconv.ERROR_TYPE]) for p in failed] == [
        ("fails", "_OTHER")
    ]


async def test_awaited_tool_call_is_a_child_span_of_the_run(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # An async tool goes through FunctionCall.aexecute (models/base.py:2599).
    instrumentation.on()
    await make_tool_agent(([("aecho", {"text": "hi"})], "done"), [aecho]).arun("hi")
    assert span_tree(telemetry) == [
        (f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET),
        ("execute_tool aecho", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
    ]


def stops(text: str) -> str:
    """Stops the run."""
    raise StopAgentRun(f"stopped on {text}")


@pytest.mark.parametrize("mode", ["run", "arun"])
async def test_tool_raising_out_of_execute_ends_error_with_its_class_and_the_app_sees_the_same(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    # agno re-raises AgentRunExceptions (StopAgentRun) out of FunctionCall.execute (tools/function.py:2723).
    def agent() -> Agent:
        return make_tool_agent(([("stops", {"text": "x"})], "done"), [stops])

    bare = await perform(agent(), mode)
    instrumentation.on()
    assert await perform(agent(), mode) == bare
    span = tool_span(telemetry, "stops")
    assert (span.status.status_code, attributes(span)[semconv.ERROR_TYPE]) == (
        StatusCode.ERROR,
        "agno.exceptions.StopAgentRun",
    )


def spelling_tool(tracer: Tracer) -> Callable[[str], Iterator[str]]:
    def spells(text: str) -> Iterator[str]:
        """Spells its text out, lazily, each letter under a span of its own."""
        for letter in text:
            with tracer.start_as_current_span(f"spell {letter}"):
                spelled = letter
            yield spelled

    return spells


def spells_then_breaks(text: str) -> Iterator[str]:
    """Spells one letter, then fails."""
    yield text[0]
    raise ToolBroke("broke mid-way")


class ToolBroke(RuntimeError):
    pass


@pytest.mark.parametrize("mode", RUN_MODES)
async def test_generator_tool_span_is_current_while_agno_consumes_it_and_ends_after(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    # agno iterates a generator tool's result after FunctionCall.execute returned (models/base.py:2281).
    spells = spelling_tool(telemetry.tracer_provider.get_tracer("tests.tool"))
    instrumentation.on()
    await perform(make_tool_agent(([("spells", {"text": "ab"})], "done"), [spells]), mode)
    assert span_tree(telemetry) == [
        (f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET),
        ("execute_tool spells", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
        ("spell a", INTERNAL, "execute_tool spells", UNSET),
        ("spell b", INTERNAL, "execute_tool spells", UNSET),
    ]
    spans = {span.name: span for span in telemetry.finished()}
    assert (spans["execute_tool spells"].end_time or 0) >= (spans["spell b"].end_time or 0)


@pytest.mark.parametrize("mode", RUN_MODES)
async def test_generator_tool_that_raises_while_consumed_ends_error_with_its_class(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    def agent() -> Agent:
        return make_tool_agent(([("spells_then_breaks", {"text": "ab"})], "done"), [spells_then_breaks])

    bare = await perform(agent(), mode)
    instrumentation.on()
    assert await perform(agent(), mode) == bare
    span = tool_span(telemetry, "spells_then_breaks")
    assert (span.status.status_code, attributes(span)[semconv.ERROR_TYPE]) == (
        StatusCode.ERROR,
        f"{ToolBroke.__module__}.{ToolBroke.__qualname__}",
    )


def test_tool_arguments_and_result_are_recorded_as_json_with_content_capture(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    echo_then_fails().run("hi")
    attrs = attributes(tool_span(telemetry, "echo"))
    assert (attrs[semconv.GEN_AI_TOOL_CALL_ARGUMENTS], attrs[semconv.GEN_AI_TOOL_CALL_RESULT]) == (
        '{"text": "hi"}',
        '"echo:hi"',
    )


def test_tool_arguments_and_result_are_not_recorded_by_default(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    echo_then_fails().run("hi")
    attrs = attributes(tool_span(telemetry, "echo"))
    assert not {semconv.GEN_AI_TOOL_CALL_ARGUMENTS, semconv.GEN_AI_TOOL_CALL_RESULT} & set(attrs)

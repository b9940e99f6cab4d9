"""agno specifics: what the span reads, returned/yielded errors, team members, session ids."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import pytest
from agno.agent import Agent
from agno.db.in_memory import InMemoryDb
from agno.exceptions import InputCheckError
from agno.models.openai import OpenAIChat
from agno.models.response import ModelResponse
from agno.run import background
from agno.run.background import await_background_runs
from agno.team import Team
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks import openai_wire
from tests.frameworks.agno_driver import AGENT_NAME, MODEL_ID, ScriptedModel, make_agent, usage


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


def member_and_team(telemetry: Telemetry) -> tuple[ReadableSpan, ReadableSpan]:
    spans = {span.name: span for span in telemetry.agent_spans()}
    assert sorted(spans) == sorted([f"invoke_agent {AGENT_NAME}", "invoke_agent crew"])
    return spans[f"invoke_agent {AGENT_NAME}"], spans["invoke_agent crew"]


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


def test_team_run_member_run_is_a_child_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_crew().run("hi")
    member, team = member_and_team(telemetry)
    assert member.parent is not None and member.parent.span_id == team.context.span_id


async def test_team_arun_stream_member_run_is_a_child_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    [item async for item in make_crew().arun("hi", stream=True)]
    member, team = member_and_team(telemetry)
    assert member.parent is not None and member.parent.span_id == team.context.span_id


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


async def test_background_team_arun_member_run_is_a_child_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await with_db(make_crew()).arun("hi", background=True)
    await await_background_runs()
    member, team = member_and_team(telemetry)
    assert member.parent is not None and member.parent.span_id == team.context.span_id


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

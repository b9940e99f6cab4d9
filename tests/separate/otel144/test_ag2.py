"""AG2 specifics, both API lines: the exact trees (tools, group chats, nested chats, an agent as a tool), run
threads parented under the caller, AG2's own OpenTelemetry beside ours, transparency, suppression, uninstrument
and content. The ending table is tests/test_lifecycle.py with tests/frameworks/otel144/ag2_driver.py."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import sys
from collections.abc import Sequence
from typing import Any

import pytest
from ag2 import Agent, AgentRun, tool
from ag2.events import ModelRequest, ToolCallEvent
from ag2.middleware.builtin import TelemetryMiddleware
from ag2.testing import TestConfig
from autogen import ConversableAgent
from autogen.agentchat import run_group_chat
from autogen.agentchat.agent import Agent as AutogenAgent
from autogen.agentchat.group.patterns import RoundRobinPattern
from autogen.opentelemetry import instrument_agent
from autogen.testing import TestAgent, ToolCall
from autogen.testing.test_agent import FakeClient
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan

from otel_agent_instrumentation import semconv
from tests.conftest import ERROR, INTERNAL, UNSET, Instrumentation, Telemetry, TreeRow, attributes, span_tree
from tests.frameworks.otel144.ag2_driver import (
    AGENT_NAME,
    critic_script,
    make_group,
    make_pair,
    make_v1_agent,
    wait_for_run_end,
)
from tests.scenarios import Ending


class ToolFailure(RuntimeError):
    """What the `fails` tools raise."""


def echo(text: str) -> str:
    return f"echo:{text}"


def fails(text: str) -> str:
    raise ToolFailure(f"broke on {text}")


def v1_echo(text: str) -> str:
    """Echoes its text."""
    return f"echo:{text}"


def v1_fails(text: str) -> str:
    """Always fails."""
    raise ToolFailure(f"broke on {text}")


V1_TOOLS = [tool(v1_echo), tool(v1_fails)]  # AG2 1.x tools, named after the functions


def spans_named(telemetry: Telemetry, name: str) -> list[ReadableSpan]:
    return [span for span in telemetry.finished() if span.name == name]


def only(telemetry: Telemetry, name: str) -> ReadableSpan:
    spans = spans_named(telemetry, name)
    assert len(spans) == 1, [s.name for s in telemetry.finished()]
    return spans[0]


# -- 0.2 line: a chat with tools ----------------------------------------------------------------------------------


def tool_chat(calls: list[str]) -> tuple[ConversableAgent, ConversableAgent, list[Any]]:
    """user -> assistant; the assistant's model calls echo, then fails, then answers; the user executes them."""
    user, assistant = make_pair(calls, sender_turns=3)
    user.register_for_execution()(echo)
    user.register_for_execution()(fails)
    echo_call, fails_call = ToolCall("echo", text="a"), ToolCall("fails", text="b")
    return user, assistant, [echo_call.to_message(), fails_call.to_message(), "done"]


def chat_with_tools(calls: list[str]) -> tuple[Any, list[Any]]:
    user, assistant, script = tool_chat(calls)
    with TestAgent(assistant, script):
        result = user.initiate_chat(assistant, message="hi", silent=True, max_turns=3)
    return result, script


async def achat_with_tools(calls: list[str]) -> tuple[Any, list[Any]]:
    user, assistant, script = tool_chat(calls)
    with TestAgent(assistant, script):
        result = await user.a_initiate_chat(assistant, message="hi", silent=True, max_turns=3)
    return result, script


CHAT_TREE: list[TreeRow] = [
    (f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET),
    ("execute_tool echo", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
    ("execute_tool fails", INTERNAL, f"invoke_agent {AGENT_NAME}", ERROR),
]


def test_chat_is_the_recipients_span_with_each_tool_call_a_child(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    chat_with_tools([])
    assert span_tree(telemetry) == CHAT_TREE


async def test_async_chat_is_the_recipients_span_with_each_tool_call_a_child(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await achat_with_tools([])
    assert span_tree(telemetry) == CHAT_TREE


def test_tool_span_carries_the_call_id_and_a_failure_ag2_returned_as_other_with_its_message(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    _, script = chat_with_tools([])
    ok, failed = only(telemetry, "execute_tool echo"), only(telemetry, "execute_tool fails")
    assert attributes(ok)[semconv.GEN_AI_TOOL_CALL_ID] == script[0]["tool_calls"][0]["id"]
    assert attributes(ok)[semconv.GEN_AI_TOOL_TYPE] == "function"
    assert attributes(failed)[semconv.GEN_AI_TOOL_CALL_ID] == script[1]["tool_calls"][0]["id"]
    assert attributes(failed)[semconv.ERROR_TYPE] == "_OTHER"
    assert failed.status.description == "Error: broke on b"


def test_chat_span_reads_the_chat_id_and_the_recipients_description(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    result, _ = chat_with_tools([])
    span = only(telemetry, f"invoke_agent {AGENT_NAME}")
    assert attributes(span)[semconv.GEN_AI_CONVERSATION_ID] == str(result.chat_id)
    assert attributes(span)[semconv.GEN_AI_AGENT_DESCRIPTION] == "answers"
    assert attributes(span)[semconv.GEN_AI_PROVIDER_NAME] == "_OTHER"  # no llm_config: TestAgent's fake client


def test_chat_span_reads_model_and_provider_from_the_recipients_llm_config(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    user, assistant = make_pair([])
    # Set after construction: AG2 builds an OpenAI client from llm_config at construction, and openai is not here.
    assistant.llm_config = {"config_list": [{"model": "claude-x", "api_type": "anthropic"}]}
    with TestAgent(assistant, ["hello", "more"]):
        user.initiate_chat(assistant, message="hi", silent=True)
    span = only(telemetry, f"invoke_agent {AGENT_NAME}")
    assert attributes(span)[semconv.GEN_AI_REQUEST_MODEL] == "claude-x"
    assert attributes(span)[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"


class CountingClient(FakeClient):  # type: ignore[misc]  # autogen is not installed where mypy runs
    """autogen.testing's fake client, counting 10 input and 2 output tokens per answer as OpenAIWrapper counts them
    (`total_usage_summary`, over every chat the agent has)."""

    def __init__(self, messages: Any) -> None:
        super().__init__(messages)
        self.total_usage_summary: dict[str, Any] = {"total_cost": 0}

    def create(self, **params: Any) -> Any:
        counts = self.total_usage_summary.setdefault("fake-model", {"prompt_tokens": 0, "completion_tokens": 0})
        counts["prompt_tokens"] += 10
        counts["completion_tokens"] += 2
        return super().create(**params)


def test_each_chat_span_has_its_own_chats_tokens_not_the_agents_lifetime_total(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    user, assistant = make_pair([])  # the assistant answers twice per chat
    assistant.client = CountingClient(itertools.repeat("hello"))
    first = user.initiate_chat(assistant, message="hi", silent=True)
    second = user.initiate_chat(assistant, message="again", silent=True)
    # AG2's own ChatResult.cost adds up every chat the two agents had.
    assert second.cost["usage_including_cached_inference"]["fake-model"]["prompt_tokens"] == 40
    spans = spans_named(telemetry, f"invoke_agent {AGENT_NAME}")
    assert [
        (attributes(s)[semconv.GEN_AI_USAGE_INPUT_TOKENS], attributes(s)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS])
        for s in spans
    ] == [(20, 4), (20, 4)]
    assert first.summary == second.summary == "hello"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_chat_with_tools_is_seen_by_the_app_as_without_us(instrumentation: Instrumentation, mode: str) -> None:
    async def perform() -> tuple[list[str], list[Any]]:
        calls: list[str] = []
        result, _ = chat_with_tools(calls) if mode == "sync" else await achat_with_tools(calls)
        # Without the tool call ids, which TestAgent's ToolCall makes at random.
        history = [
            {k: v for k, v in m.items() if k not in ("tool_calls", "tool_responses")} for m in result.chat_history
        ]
        return calls, history

    bare = await perform()
    instrumentation.on()
    assert await perform() == bare
    assert any(call.startswith("reply:user") for call in bare[0])


# -- 0.2 line: group chats and nested chats ----------------------------------------------------------------------


def test_group_chat_manager_is_a_workflow_with_each_members_turn_an_agent_child(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    user, manager, (writer, critic) = make_group([])
    with TestAgent(writer, ["draft"]), TestAgent(critic, ["fine"]):
        user.initiate_chat(manager, message="go", silent=True)
    assert span_tree(telemetry) == [
        (f"invoke_workflow {AGENT_NAME}", INTERNAL, None, UNSET),
        ("invoke_agent writer", INTERNAL, f"invoke_workflow {AGENT_NAME}", UNSET),
        ("invoke_agent critic", INTERNAL, f"invoke_workflow {AGENT_NAME}", UNSET),
    ]
    workflow = only(telemetry, f"invoke_workflow {AGENT_NAME}")
    assert attributes(workflow)[semconv.GEN_AI_WORKFLOW_NAME] == AGENT_NAME


async def test_async_group_chat_members_are_children_of_the_workflow(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    user, manager, (writer, critic) = make_group([])
    with TestAgent(writer, ["draft"]), TestAgent(critic, ["fine"]):
        await user.a_initiate_chat(manager, message="go", silent=True)
    assert [row[:3] for row in span_tree(telemetry)] == [
        (f"invoke_workflow {AGENT_NAME}", INTERNAL, None),
        ("invoke_agent writer", INTERNAL, f"invoke_workflow {AGENT_NAME}"),
        ("invoke_agent critic", INTERNAL, f"invoke_workflow {AGENT_NAME}"),
    ]


@pytest.mark.parametrize("suppressed", [False, True], ids=["instrumented", "suppressed"])
def test_ag2s_protocol_check_of_an_agent_runs_no_code_of_ours(
    suppressed: bool, instrumentation: Instrumentation
) -> None:
    # AG2 checks each sender against its runtime protocol for every reply function it considers; on Python 3.11 the
    # check reads every protocol member off the agent, its async turn among them.
    instrumentation.on()
    agent = ConversableAgent("member", llm_config=False)
    ours: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and "otel_agent_instrumentation" in frame.f_code.co_filename:
            ours.append(frame.f_code.co_name)

    with suppress_instrumentation() if suppressed else contextlib.nullcontext():
        sys.setprofile(profile)
        try:
            checked = isinstance(agent, AutogenAgent)
        finally:
            sys.setprofile(None)
    assert (checked, ours) == (True, [])


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_members_failing_model_fails_its_turn_and_the_workflow(
    mode: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    user, manager, (writer, critic) = make_group([])
    with TestAgent(writer, ["draft"]), TestAgent(critic, critic_script(Ending.RAISES_MID_STREAM)):
        with pytest.raises(ConnectionError):
            if mode == "sync":
                user.initiate_chat(manager, message="go", silent=True)
            else:
                await user.a_initiate_chat(manager, message="go", silent=True)
    assert span_tree(telemetry) == [
        (f"invoke_workflow {AGENT_NAME}", INTERNAL, None, ERROR),
        ("invoke_agent writer", INTERNAL, f"invoke_workflow {AGENT_NAME}", UNSET),
        ("invoke_agent critic", INTERNAL, f"invoke_workflow {AGENT_NAME}", ERROR),
    ]
    assert attributes(only(telemetry, "invoke_agent critic"))[semconv.ERROR_TYPE] == "ConnectionError"


def nested_pair(calls: list[str], nested_on_sender: bool) -> tuple[ConversableAgent, ConversableAgent, Any]:
    """user -> assistant, where one of them answers through a nested chat with `reviewer`: the assistant (the
    nested chat's sender is the assistant) or the user (its sender is the outer chat's sender, the user)."""
    user, assistant = make_pair(calls)
    reviewer = ConversableAgent("reviewer", llm_config=False, human_input_mode="NEVER")
    host, trigger = (user, assistant) if nested_on_sender else (assistant, user)
    nested = [{"recipient": reviewer, "message": "review", "max_turns": 1, "summary_method": "last_msg"}]
    host.register_nested_chats(nested, trigger=trigger)
    return user, assistant, reviewer


@pytest.mark.parametrize("nested_on_sender", [False, True], ids=["on_recipient", "on_sender"])
def test_nested_chat_is_a_child_of_the_chat_it_answers_in(
    instrumentation: Instrumentation, telemetry: Telemetry, nested_on_sender: bool
) -> None:
    instrumentation.on()
    user, assistant, reviewer = nested_pair([], nested_on_sender)
    with TestAgent(assistant, ["hello", "more"]), TestAgent(reviewer, ["looks good"] * 4):
        user.initiate_chat(assistant, message="hi", silent=True, max_turns=2)
    tree = span_tree(telemetry)
    assert tree[0] == (f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET)
    assert tree[1:] and all(
        row == ("invoke_agent reviewer", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET) for row in tree[1:]
    )


class PoliteUser(ConversableAgent):  # type: ignore[misc]  # autogen is not installed where mypy runs
    """An agent class that adds to `initiate_chat` and calls AG2's."""

    def initiate_chat(self, recipient: Any, **kwargs: Any) -> Any:
        return super().initiate_chat(recipient, **kwargs)


def test_a_subclass_calling_super_initiate_chat_is_one_run(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    _, assistant = make_pair([])
    user = PoliteUser("user", llm_config=False, human_input_mode="NEVER", max_consecutive_auto_reply=1)
    with TestAgent(assistant, ["hello", "more"]):
        user.initiate_chat(assistant, message="hi", silent=True)
    assert span_tree(telemetry) == [(f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET)]


# -- 0.2 line: run in a thread -----------------------------------------------------------------------------------

UNDER_APP: list[TreeRow] = [("app", INTERNAL, None, UNSET), (f"invoke_agent {AGENT_NAME}", INTERNAL, "app", UNSET)]


def test_run_threads_chat_is_a_child_of_the_callers_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    user, assistant = make_pair([])
    tracer = telemetry.tracer_provider.get_tracer("app")
    with TestAgent(assistant, ["hello", "more"]), tracer.start_as_current_span("app"):
        response = user.run(assistant, message="hi", silent=True)
        events = [type(event).__name__ for event in response.events]
    assert events[-1] == "RunCompletionEvent"
    assert span_tree(telemetry) == [
        ("app", INTERNAL, None, UNSET),
        (f"invoke_agent {AGENT_NAME}", INTERNAL, "app", UNSET),
    ]


def test_run_span_ends_with_the_chat_when_nobody_reads_the_events(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    user, assistant = make_pair([])
    with TestAgent(assistant, ["hello", "more"]):
        response = user.run(assistant, message="hi", silent=True)
        wait_for_run_end(response)
    span = only(telemetry, f"invoke_agent {AGENT_NAME}")
    assert attributes(span)[semconv.OUTCOME] == "completed"


def test_run_iter_threads_chat_is_a_child_of_the_callers_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    user, assistant = make_pair([])
    tracer = telemetry.tracer_provider.get_tracer("app")
    with TestAgent(assistant, ["hello", "more"]), tracer.start_as_current_span("app"):
        for _ in user.run_iter(assistant, message="hi", silent=True):
            pass
    assert span_tree(telemetry) == [
        ("app", INTERNAL, None, UNSET),
        (f"invoke_agent {AGENT_NAME}", INTERNAL, "app", UNSET),
    ]


def test_run_group_chat_threads_workflow_is_a_child_of_the_callers_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    writer, critic, user = (ConversableAgent(n, llm_config=False, human_input_mode="NEVER") for n in NAMES)
    pattern = RoundRobinPattern(
        initial_agent=writer, agents=[writer, critic], user_agent=user, group_manager_args={"llm_config": False}
    )
    tracer = telemetry.tracer_provider.get_tracer("app")
    with TestAgent(writer, ["draft"] * 3), TestAgent(critic, ["fine"] * 3), tracer.start_as_current_span("app"):
        response = run_group_chat(pattern=pattern, messages="go", max_rounds=3)
        events = [type(event).__name__ for event in response.events]
    assert events[-1] == "RunCompletionEvent"
    assert span_tree(telemetry) == [
        ("app", INTERNAL, None, UNSET),
        ("invoke_workflow chat_manager", INTERNAL, "app", UNSET),  # AG2's name for a pattern's manager
        ("invoke_agent writer", INTERNAL, "invoke_workflow chat_manager", UNSET),
        ("invoke_agent critic", INTERNAL, "invoke_workflow chat_manager", UNSET),
    ]


NAMES = ("writer", "critic", "user")


async def test_a_run_chat_is_a_child_of_the_callers_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    user, assistant = make_pair([])
    tracer = telemetry.tracer_provider.get_tracer("app")
    with TestAgent(assistant, ["hello", "more"]):
        with tracer.start_as_current_span("app"):
            response = await user.a_run(assistant, message="hi", silent=True)
        events = [type(event).__name__ async for event in response.events]
    assert events[-1] == "RunCompletionEvent"
    assert span_tree(telemetry) == [
        ("app", INTERNAL, None, UNSET),
        (f"invoke_agent {AGENT_NAME}", INTERNAL, "app", UNSET),
    ]


# -- 0.2 line: AG2's own OpenTelemetry (instrument_agent) ---------------------------------------------------------


def instrumented_by_ag2(telemetry: Telemetry, *agents: ConversableAgent) -> None:
    for agent in agents:
        instrument_agent(agent, tracer_provider=telemetry.tracer_provider)


def test_with_ag2s_instrument_agent_each_agent_and_tool_span_is_there_once(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    user, assistant, script = tool_chat([])
    instrumented_by_ag2(telemetry, user, assistant)
    with TestAgent(assistant, script):
        user.initiate_chat(assistant, message="hi", silent=True, max_turns=3)
    names = [span.name for span in telemetry.finished()]
    assert [n for n in names if n.startswith("invoke_agent")] == [f"invoke_agent {AGENT_NAME}"]
    assert names.count("execute_tool echo") == names.count("execute_tool fails") == 1
    # Its tool spans are its own (ag2.span.type), under ours, under its conversation span.
    tree = span_tree(telemetry)
    assert ("conversation user", INTERNAL, None, UNSET) in tree
    assert (f"invoke_agent {AGENT_NAME}", INTERNAL, "conversation user", UNSET) in tree
    assert attributes(only(telemetry, "execute_tool echo"))["ag2.span.type"] == "tool"
    tool_parent = only(telemetry, "execute_tool echo").parent
    ours = only(telemetry, f"invoke_agent {AGENT_NAME}").context
    assert tool_parent is not None and ours is not None and tool_parent.span_id == ours.span_id


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_with_ag2s_instrument_agent_a_group_chat_has_one_span_per_member_turn(
    mode: str, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    user, manager, (writer, critic) = make_group([])
    instrumented_by_ag2(telemetry, user, manager, writer, critic)
    with TestAgent(writer, ["draft"]), TestAgent(critic, ["fine"]):
        if mode == "sync":
            user.initiate_chat(manager, message="go", silent=True)
        else:
            await user.a_initiate_chat(manager, message="go", silent=True)
    names = [span.name for span in telemetry.finished()]
    assert sorted(n for n in names if n.startswith("invoke_")) == sorted(
        [f"invoke_workflow {AGENT_NAME}", "invoke_agent writer", "invoke_agent critic"]
    )


def test_keep_framework_spans_keeps_ag2s_own_agent_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(keep_framework_spans=True)
    user, assistant, script = tool_chat([])
    instrumented_by_ag2(telemetry, user, assistant)
    with TestAgent(assistant, script):
        user.initiate_chat(assistant, message="hi", silent=True, max_turns=3)
    agent_spans = [span for span in telemetry.agent_spans() if span.name == f"invoke_agent {AGENT_NAME}"]
    ours = [span for span in agent_spans if "ag2.span.type" not in attributes(span)]
    assert len(ours) == 1
    assert len(agent_spans) > 1


def test_with_ag2s_instrument_agent_the_app_sees_the_same(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    def perform() -> tuple[list[str], list[str]]:
        calls: list[str] = []
        user, assistant, script = tool_chat(calls)
        instrumented_by_ag2(telemetry, user, assistant)
        with TestAgent(assistant, script):
            result = user.initiate_chat(assistant, message="hi", silent=True, max_turns=3)
        return calls, [str(m.get("content")) for m in result.chat_history]

    bare = perform()
    instrumentation.on()
    assert perform() == bare


# -- the 1.x API -----------------------------------------------------------------------------------------------------


def tool_config(*turns: Any) -> TestConfig:
    return TestConfig(*turns, raise_tool_errors=False)


V1_TOOL_SCRIPT = (
    ToolCallEvent(name="v1_echo", arguments='{"text": "a"}', id="c1"),
    ToolCallEvent(name="v1_fails", arguments='{"text": "b"}', id="c2"),
    "done",
)
V1_TREE: list[TreeRow] = [
    (f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET),
    ("execute_tool v1_echo", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
    ("execute_tool v1_fails", INTERNAL, f"invoke_agent {AGENT_NAME}", ERROR),
]


async def test_v1_ask_is_the_agents_span_with_each_tool_call_a_child(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_v1_agent([], tool_config(*V1_TOOL_SCRIPT), tools=V1_TOOLS)
    await agent.ask("hi")
    assert span_tree(telemetry) == V1_TREE
    failed = only(telemetry, "execute_tool v1_fails")
    assert attributes(failed)[semconv.ERROR_TYPE] == f"{__name__}.ToolFailure"
    assert attributes(failed)[semconv.GEN_AI_TOOL_CALL_ID] == "c2"
    assert attributes(only(telemetry, "execute_tool v1_echo"))[semconv.GEN_AI_TOOL_CALL_ID] == "c1"


async def test_v1_run_block_is_the_agents_span_with_each_tool_call_a_child(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_v1_agent([], tool_config(*V1_TOOL_SCRIPT), tools=V1_TOOLS)
    async with agent.run("hi") as run:
        assert isinstance(run, AgentRun)
        run.start()  # the turn runs in the task start() creates, under our span
        reply = await run.result()
    assert reply.body == "done"
    assert span_tree(telemetry) == V1_TREE


@pytest.mark.parametrize("mode", ["ask", "run"])
async def test_v1_middleware_observers_and_tools_fire_as_without_us(
    instrumentation: Instrumentation, mode: str
) -> None:
    async def perform() -> tuple[list[str], str | None]:
        calls: list[str] = []
        agent = make_v1_agent(calls, tool_config(*V1_TOOL_SCRIPT), tools=V1_TOOLS)
        if mode == "ask":
            reply = await agent.ask("hi")
        else:
            async with agent.run("hi") as run:
                reply = await run.result()
        return calls, reply.body

    bare = await perform()
    instrumentation.on()
    assert await perform() == bare
    assert "tool:v1_fails" in bare[0]


def _instance_dict_made(obj: object) -> bool:
    # CPython keeps a plain instance's attributes as inline values until something asks for its __dict__;
    # from then on the collector sees that dict among the object's referents.
    return any(type(referent) is dict for referent in gc.get_referents(obj))


async def test_v1_run_and_agent_keep_their_attributes_inline_as_without_us(instrumentation: Instrumentation) -> None:
    # Reading what a run holds must not make the run's or the agent's __dict__ (their attribute reads would
    # leave the interpreter's fast path for the rest of their lives).
    async def dicts_made() -> tuple[bool, bool]:
        agent = make_v1_agent([], tool_config(*V1_TOOL_SCRIPT), tools=V1_TOOLS)
        async with agent.run("hi") as run:
            await run.result()
        own_run = getattr(run, "__wrapped__", run)  # instrumented, the block holds our proxy of AG2's run
        return _instance_dict_made(own_run), _instance_dict_made(agent)

    bare = await dicts_made()
    if all(bare):
        pytest.skip("AG2 makes both dictionaries itself: nothing to tell")
    instrumentation.on()
    assert await dicts_made() == bare


async def test_v1_conversation_continued_from_a_reply_is_a_run_of_the_agent(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_v1_agent([], TestConfig("first", "second"))
    reply = await agent.ask("hi")
    again = await reply.ask("more")
    assert again.body == "second"
    assert span_tree(telemetry) == [(f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET)] * 2
    # Both turns ran on the reply's stream: AG2's conversation.
    conversation = {attributes(span)[semconv.GEN_AI_CONVERSATION_ID] for span in telemetry.agent_spans()}
    assert conversation == {str(reply.context.stream.id)}


async def test_v1_resumed_turn_is_a_run_of_the_agent(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    agent = make_v1_agent([], TestConfig("first"))
    recorded = list(await (await agent.ask("hi")).history.get_events())
    instrumentation.on()
    reply = await agent.resume(*recorded, ModelRequest.ensure_request(["again"]))
    assert reply.body == "first"  # a fresh TestConfig client: its script starts again
    assert span_tree(telemetry) == [(f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET)]


async def test_v1_agent_as_a_tool_runs_as_a_child_of_its_tool_call(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    inner = Agent("inner", config=TestConfig("inner answer"))
    call = ToolCallEvent(name="ask_inner", arguments=json.dumps({"objective": "check"}), id="c1")
    outer = Agent(
        AGENT_NAME, config=tool_config(call, "done"), tools=[inner.as_tool(description="asks", name="ask_inner")]
    )
    await outer.ask("hi")
    assert span_tree(telemetry) == [
        (f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET),
        ("execute_tool ask_inner", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
        ("invoke_agent inner", INTERNAL, "execute_tool ask_inner", UNSET),
    ]


async def test_v1_run_left_while_its_turn_runs_is_closed_early(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    calls: list[str] = []
    agent = make_v1_agent(calls, TestConfig("hello"))
    async with agent.run("hi"):
        pass  # never driven: nothing ran
    span = only(telemetry, f"invoke_agent {AGENT_NAME}")
    assert attributes(span)[semconv.OUTCOME] == "closed_early"
    assert calls == []


async def test_v1_run_whose_failure_the_app_caught_in_the_block_is_failed(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_v1_agent([], TestConfig(ConnectionError("dropped")))
    async with agent.run("hi") as run:
        with pytest.raises(ConnectionError):
            await run.result()
    span = only(telemetry, f"invoke_agent {AGENT_NAME}")
    assert attributes(span)[semconv.ERROR_TYPE] == "ConnectionError"
    assert attributes(span)[semconv.OUTCOME] == "failed"


async def test_v1_apps_own_error_in_the_block_after_the_turn_leaves_the_run_completed(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_v1_agent([], TestConfig("hello"))
    with pytest.raises(KeyError):
        async with agent.run("hi") as run:
            await run.result()
            raise KeyError("the app's own")
    span = only(telemetry, f"invoke_agent {AGENT_NAME}")
    assert attributes(span)[semconv.OUTCOME] == "completed"
    assert span.status.status_code is UNSET


async def test_v1_model_config_provider_and_model_are_read(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_v1_agent([], TestConfig("hello", provider="openai", model="gpt-test"))
    await agent.ask("hi")
    span = only(telemetry, f"invoke_agent {AGENT_NAME}")
    assert attributes(span)[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attributes(span)[semconv.GEN_AI_REQUEST_MODEL] == "gpt-test"


# -- 1.x: AG2's own OpenTelemetry (TelemetryMiddleware) --------------------------------------------------------------


def ag2_middleware(telemetry: Telemetry) -> TelemetryMiddleware:
    return TelemetryMiddleware(tracer_provider=telemetry.tracer_provider, agent_name=AGENT_NAME)


async def test_with_ag2s_telemetry_middleware_each_agent_and_tool_span_is_there_once(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = Agent(
        AGENT_NAME,
        config=tool_config(*V1_TOOL_SCRIPT),
        tools=V1_TOOLS,
        middleware=[ag2_middleware(telemetry)],
    )
    await agent.ask("hi")
    tree = span_tree(telemetry)
    assert [row for row in tree if not row[0].startswith(("chat", "record_usage"))] == V1_TREE
    chats = [row for row in tree if row[0].startswith("chat")]
    assert chats and all(row[2] == f"invoke_agent {AGENT_NAME}" for row in chats)


async def test_keep_framework_spans_keeps_ag2s_middleware_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(keep_framework_spans=True)
    agent = Agent(
        AGENT_NAME,
        config=tool_config(*V1_TOOL_SCRIPT),
        tools=V1_TOOLS,
        middleware=[ag2_middleware(telemetry)],
    )
    await agent.ask("hi")
    names = [span.name for span in telemetry.finished()]
    assert names.count(f"invoke_agent {AGENT_NAME}") == 2
    assert names.count("execute_tool v1_echo") == 2


# -- both lines: suppression, uninstrument, content -------------------------------------------------------------


async def run_both_lines(calls: list[str]) -> None:
    chat_with_tools(calls)
    await make_v1_agent(calls, tool_config(*V1_TOOL_SCRIPT), tools=V1_TOOLS).ask("hi")


async def test_suppressed_runs_make_no_spans(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    with suppress_instrumentation():
        await run_both_lines([])
        user, assistant = make_pair([])
        with TestAgent(assistant, ["hello", "more"]):
            response = user.run(assistant, message="hi", silent=True)
            list(response.events)
    assert telemetry.finished() == []


async def test_uninstrument_restores_every_method_and_makes_no_more_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    await run_both_lines([])
    made = len(telemetry.finished())
    instrumentation.off()  # checks every patched attribute is the very same object again
    await run_both_lines([])
    assert len(telemetry.finished()) == made == 6


CONTENT_KEYS = (
    semconv.GEN_AI_INPUT_MESSAGES,
    semconv.GEN_AI_OUTPUT_MESSAGES,
    semconv.GEN_AI_SYSTEM_INSTRUCTIONS,
    semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
    semconv.GEN_AI_TOOL_CALL_RESULT,
)


def content_on(spans: Sequence[ReadableSpan]) -> set[str]:
    return {key for span in spans for key in CONTENT_KEYS if key in attributes(span)}


async def test_no_content_is_recorded_by_default(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await run_both_lines([])
    assert content_on(telemetry.finished()) == set()


async def test_content_capture_records_messages_and_tool_arguments_and_results(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    await run_both_lines([])
    chat, v1 = spans_named(telemetry, f"invoke_agent {AGENT_NAME}")
    assert json.loads(attributes(chat)[semconv.GEN_AI_INPUT_MESSAGES])[0]["parts"][0]["content"] == "hi"
    assert json.loads(attributes(v1)[semconv.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"] == "done"
    assert json.loads(attributes(v1)[semconv.GEN_AI_SYSTEM_INSTRUCTIONS])[0]["content"] == "Be brief."
    assert attributes(only(telemetry, "execute_tool echo"))[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"text":"a"}'
    assert attributes(only(telemetry, "execute_tool echo"))[semconv.GEN_AI_TOOL_CALL_RESULT] == "echo:a"
    assert attributes(only(telemetry, "execute_tool v1_echo"))[semconv.GEN_AI_TOOL_CALL_RESULT] == "echo:a"


def test_the_callers_context_is_unchanged_after_a_chat(instrumentation: Instrumentation) -> None:
    instrumentation.on()
    before = trace.get_current_span()
    chat_with_tools([])
    assert trace.get_current_span() is before


async def test_concurrent_v1_runs_each_have_their_own_tool_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agents = [make_v1_agent([], tool_config(*V1_TOOL_SCRIPT), tools=V1_TOOLS) for _ in range(10)]
    await asyncio.gather(*(agent.ask("hi") for agent in agents))
    runs = {span.context.span_id for span in telemetry.agent_spans() if span.context}
    tools = [span for span in telemetry.finished() if span.name.startswith("execute_tool")]
    assert len(runs) == 10 and len(tools) == 20
    parents = [span.parent.span_id for span in tools]  # type: ignore[union-attr]
    assert set(parents) == runs and all(parents.count(run) == 2 for run in runs)

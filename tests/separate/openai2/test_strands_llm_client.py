"""Strands Agents through its OpenAI model provider (`strands.models.openai.OpenAIModel`) against the local
OpenAI-compatible server (tests/openai_server.py), with `opentelemetry-instrumentation-openai-v2` beside us: each
model call's client `chat` span is under Strands' own `chat` span (its telemetry on), itself under our agent span's
cycle, or directly under our agent span (Strands' spans not recorded), in tasks and in the sync path's threads.
The pattern of tests/test_llm_client_spans.py, whose helpers import the main environment's frameworks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from strands import Agent, tool
from strands.models.openai import OpenAIModel
from strands.telemetry.tracer import get_tracer

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry, attributes
from tests.openai_server import ANSWER_USAGE, FINAL_ANSWER, MODEL, TOOL_CALL_USAGE, TOOL_RESULT, OpenAIServer, serve

AGENT_NAME = "weather"
QUESTION = "What is the weather in Paris?"
OPENAI_V2_SCOPES = frozenset({"opentelemetry.util.genai.handler", "opentelemetry.instrumentation.openai_v2"})
STRANDS_SCOPE = "strands.telemetry.tracer"
OUR_SCOPE = "otel_agent_instrumentation"


@tool  # type: ignore[untyped-decorator]  # strands is read through Any where mypy runs
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city's name.
    """
    return TOOL_RESULT


def make_agent(server: OpenAIServer, name: str = AGENT_NAME) -> Agent:
    model = OpenAIModel(client_args={"api_key": "test", "base_url": server.base_url}, model_id=MODEL)
    return Agent(name=name, model=model, tools=[get_weather], callback_handler=None)


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    with serve() as server:
        yield server


@pytest.fixture
def openai_v2(telemetry: Telemetry) -> Iterator[OpenAIInstrumentor]:
    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]  # its __init__ is untyped
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def strands_tracing(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    """Strands' tracer (from the global provider) pointed at the test's provider, as in test_strands.py."""
    monkeypatch.setattr(get_tracer(), "tracer", telemetry.tracer_provider.get_tracer(STRANDS_SCOPE))


def scope(span: ReadableSpan) -> str:
    return span.instrumentation_scope.name if span.instrumentation_scope else ""


class Tree:
    def __init__(self, telemetry: Telemetry) -> None:
        self.spans = sorted(telemetry.finished(), key=lambda span: span.start_time or 0)
        self.by_id = {span.context.span_id: span for span in self.spans}

    def ancestors(self, span: ReadableSpan) -> list[ReadableSpan]:
        chain = []
        while span.parent is not None and span.parent.span_id in self.by_id:
            span = self.by_id[span.parent.span_id]
            chain.append(span)
        return chain

    def path(self, span: ReadableSpan) -> list[str]:
        return [f"{ancestor.name} [{scope(ancestor)}]" for ancestor in self.ancestors(span)]

    def client_chats(self) -> list[ReadableSpan]:
        return [span for span in self.spans if scope(span) in OPENAI_V2_SCOPES]

    def ours(self) -> list[ReadableSpan]:
        return [span for span in self.spans if scope(span) == OUR_SCOPE]


OUR_AGENT = f"invoke_agent {AGENT_NAME} [{OUR_SCOPE}]"
UNDER_STRANDS = [f"chat [{STRANDS_SCOPE}]", f"execute_event_loop_cycle [{STRANDS_SCOPE}]", OUR_AGENT]


async def test_client_chat_spans_are_under_strands_chat_span_under_our_agent_span(
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
    strands_tracing: None,
) -> None:
    instrumentation.on()
    result = await make_agent(openai_server).invoke_async(QUESTION)
    assert str(result).strip() == FINAL_ANSWER
    assert [request.streamed for request in openai_server.requests] == [True, True]
    tree = Tree(telemetry)
    chats = tree.client_chats()
    assert [tree.path(chat) for chat in chats] == [UNDER_STRANDS, UNDER_STRANDS]
    # Each client span is its Strands chat span's call: the same usage.
    assert [
        attributes(tree.by_id[chat.parent.span_id])[semconv.GEN_AI_USAGE_INPUT_TOKENS] for chat in chats if chat.parent
    ] == [
        TOOL_CALL_USAGE.input_tokens,
        ANSWER_USAGE.input_tokens,
    ]


async def test_without_strands_spans_client_chat_spans_are_under_our_agent_span(
    openai_server: OpenAIServer, telemetry: Telemetry, instrumentation: Instrumentation, openai_v2: OpenAIInstrumentor
) -> None:
    instrumentation.on()
    await make_agent(openai_server).invoke_async(QUESTION)
    tree = Tree(telemetry)
    assert [tree.path(chat) for chat in tree.client_chats()] == [[OUR_AGENT], [OUR_AGENT]]


async def test_our_agent_span_usage_is_the_sum_of_the_client_chat_spans(
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
    strands_tracing: None,
) -> None:
    instrumentation.on()
    await make_agent(openai_server).invoke_async(QUESTION)
    tree = Tree(telemetry)
    (agent_span,) = tree.ours()
    chats = tree.client_chats()
    for key in (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS):
        assert attributes(agent_span)[key] == sum(int(attributes(chat)[key]) for chat in chats)
    assert (
        attributes(agent_span)[semconv.GEN_AI_USAGE_INPUT_TOKENS]
        == TOOL_CALL_USAGE.input_tokens + ANSWER_USAGE.input_tokens
    )
    assert attributes(agent_span)[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attributes(agent_span)[semconv.GEN_AI_REQUEST_MODEL] == MODEL


async def test_concurrent_runs_in_tasks_and_threads_keep_their_calls_under_their_own_agent_span(
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
    strands_tracing: None,
) -> None:
    instrumentation.on()
    streamed = [make_agent(openai_server, f"task{n}") for n in range(4)]
    called = [make_agent(openai_server, f"thread{n}") for n in range(4)]

    async def stream(agent: Agent) -> str:
        result: Any = None
        async for event in agent.stream_async(QUESTION):
            result = event.get("result", result)
        return str(result).strip()

    def call(agent: Agent) -> str:
        return str(agent(QUESTION)).strip()

    answers = await asyncio.gather(
        *(stream(agent) for agent in streamed),
        *(asyncio.to_thread(call, agent) for agent in called),
    )
    assert answers == [FINAL_ANSWER] * 8
    tree = Tree(telemetry)
    chats = tree.client_chats()
    assert len(chats) == 16
    owners = sorted(tree.path(chat)[-1] for chat in chats)
    expected = sorted(
        f"invoke_agent {name} [{OUR_SCOPE}]" for n in range(4) for name in (f"task{n}", f"thread{n}") for _ in range(2)
    )
    assert owners == expected

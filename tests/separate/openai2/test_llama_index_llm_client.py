"""LlamaIndex agents talking to a local OpenAI-compatible server through `llama_index.llms.openai.OpenAI`, with
`opentelemetry-instrumentation-openai-v2` beside us: each model call's `chat` span is a child of the calling agent's
span (an AgentWorkflow member's, too), and the agent span's usage is the sum of its calls'. The server and its
script are tests/openai_server.py (a tool call, then the answer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent
from llama_index.llms.openai import OpenAI
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry, attributes
from tests.openai_server import ANSWER_USAGE, FINAL_ANSWER, MODEL, TOOL_CALL_USAGE, TOOL_RESULT, OpenAIServer, serve

AGENT_NAME = "weather"
QUESTION = "What is the weather in Paris?"
OPENAI_V2_SCOPES = frozenset({"opentelemetry.util.genai.handler", "opentelemetry.instrumentation.openai_v2"})


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city's name.
    """
    return TOOL_RESULT


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


def weather_agent(server: OpenAIServer, streaming: bool, name: str = AGENT_NAME) -> FunctionAgent:
    # A streamed call reports usage only when asked (OpenAI's stream_options.include_usage).
    options: dict[str, Any] = {"stream_options": {"include_usage": True}} if streaming else {}
    llm = OpenAI(model=MODEL, api_base=server.base_url, api_key="test", additional_kwargs=options)
    return FunctionAgent(name=name, description="tells the weather", llm=llm, tools=[get_weather], streaming=streaming)


def parents(telemetry: Telemetry) -> dict[str, str | None]:
    """Each openai-v2 chat span's parent span name, by the chat span's response id."""
    spans = telemetry.finished()
    by_id = {span.context.span_id: span for span in spans}
    return {
        str(attributes(chat).get(semconv.GEN_AI_RESPONSE_ID)): by_id[chat.parent.span_id].name
        if chat.parent and chat.parent.span_id in by_id
        else None
        for chat in client_chats(spans)
    }


def client_chats(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [
        span
        for span in spans
        if span.instrumentation_scope is not None
        and span.instrumentation_scope.name in OPENAI_V2_SCOPES
        and attributes(span).get(semconv.GEN_AI_OPERATION_NAME) == "chat"
    ]


@pytest.mark.parametrize("streaming", [False, True], ids=["achat", "astream_chat"])
async def test_chat_spans_are_children_of_the_agent_span_and_add_up_to_its_usage(
    streaming: bool,
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
) -> None:
    instrumentation.on()
    result = await weather_agent(openai_server, streaming).run(user_msg=QUESTION)
    assert str(result) == FINAL_ANSWER
    assert [request.streamed for request in openai_server.requests] == [streaming, streaming]
    response_ids = [request.response_id for request in openai_server.requests]
    assert parents(telemetry) == dict.fromkeys(response_ids, f"invoke_agent {AGENT_NAME}")
    agent = attributes(telemetry.agent_spans()[0])
    assert (agent[semconv.GEN_AI_PROVIDER_NAME], agent[semconv.GEN_AI_REQUEST_MODEL]) == ("openai", MODEL)
    assert (agent[semconv.GEN_AI_USAGE_INPUT_TOKENS], agent[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (
        TOOL_CALL_USAGE.input_tokens + ANSWER_USAGE.input_tokens,
        TOOL_CALL_USAGE.output_tokens + ANSWER_USAGE.output_tokens,
    )
    chats = client_chats(telemetry.finished())
    assert (
        sum(attributes(chat)[semconv.GEN_AI_USAGE_INPUT_TOKENS] for chat in chats)
        == agent[semconv.GEN_AI_USAGE_INPUT_TOKENS]
    )


async def test_a_workflow_member_s_chat_spans_are_children_of_its_turn(
    openai_server: OpenAIServer, telemetry: Telemetry, instrumentation: Instrumentation, openai_v2: OpenAIInstrumentor
) -> None:
    instrumentation.on()
    workflow = AgentWorkflow(agents=[weather_agent(openai_server, streaming=False)], workflow_name="desk")
    assert str(await workflow.run(user_msg=QUESTION)) == FINAL_ANSWER
    response_ids = [request.response_id for request in openai_server.requests]
    assert parents(telemetry) == dict.fromkeys(response_ids, f"invoke_agent {AGENT_NAME}")
    member = attributes(telemetry.agent_spans()[0])
    assert member[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == TOOL_CALL_USAGE.output_tokens + ANSWER_USAGE.output_tokens
    tool = next(span for span in telemetry.finished() if span.name == "execute_tool get_weather")
    assert tool.parent is not None and tool.parent.span_id == telemetry.agent_spans()[0].context.span_id

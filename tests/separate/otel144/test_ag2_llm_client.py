"""AG2 model calls through its own OpenAI client, traced by `opentelemetry-instrumentation-openai-v2`, land under
the agent span that made them (the trace-tree issue's end-to-end check), against tests/openai_server.py on
127.0.0.1: a tool call, then the answer.

The 0.2 line (`autogen`, an OpenAI config in `llm_config`) and the 1.x line (`ag2.config.OpenAIConfig`, which
needs openai>=3.27) both run on the openai release the otel144 extra pins (autogen[openai] declares openai<3,
but its client works on it). The environment check (test_environment.py) fails while openai is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

# An environment built before the extra pinned openai: skipped here, and test_environment.py fails until it is.
pytest.importorskip("openai", reason="the otel144 extra's openai pin is not installed in this environment")

from ag2 import Agent, tool
from ag2.config import OpenAIConfig
from autogen import ConversableAgent
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry, attributes
from tests.openai_server import (
    ANSWER_USAGE,
    FINAL_ANSWER,
    MODEL,
    TOOL_CALL_USAGE,
    TOOL_RESULT,
    OpenAIServer,
    serve,
)

AGENT_NAME = "weather"
QUESTION = "What is the weather in Paris?"
OPENAI_V2_SCOPES = frozenset({"opentelemetry.util.genai.handler", "opentelemetry.instrumentation.openai_v2"})


def get_weather(city: str) -> str:
    """The weather of a city."""
    return TOOL_RESULT


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    with serve() as server:
        yield server


@pytest.fixture
def client_instrumentation(telemetry: Telemetry) -> Iterator[None]:
    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]  # its __init__ is untyped
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    yield
    instrumentor.uninstrument()


def weather_pair(server: OpenAIServer) -> tuple[ConversableAgent, ConversableAgent]:
    llm_config = {"config_list": [{"model": MODEL, "api_key": "sk-test", "base_url": server.base_url}]}
    assistant = ConversableAgent(AGENT_NAME, llm_config=llm_config, human_input_mode="NEVER")
    user = ConversableAgent(
        "user",
        llm_config=False,
        human_input_mode="NEVER",
        is_termination_msg=lambda message: FINAL_ANSWER in (message.get("content") or ""),
    )
    assistant.register_for_llm(description="The weather of a city.")(get_weather)
    user.register_for_execution()(get_weather)
    return user, assistant


def parent_names(telemetry: Telemetry) -> dict[str, list[str | None]]:
    """span name -> the names of its parents, for the spans of the run (ours and openai-v2's)."""
    spans = telemetry.finished()
    names = {span.context.span_id: span.name for span in spans if span.context}
    found: dict[str, list[str | None]] = {}
    for span in spans:
        found.setdefault(span.name, []).append(names.get(span.parent.span_id) if span.parent else None)
    return found


def client_chats(telemetry: Telemetry) -> list[ReadableSpan]:
    return [
        span
        for span in telemetry.finished()
        if span.instrumentation_scope is not None and span.instrumentation_scope.name in OPENAI_V2_SCOPES
    ]


def usage_of(span: ReadableSpan) -> tuple[Any, Any]:
    return (
        attributes(span).get(semconv.GEN_AI_USAGE_INPUT_TOKENS),
        attributes(span).get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
    )


@pytest.mark.parametrize("mode", ["initiate_chat", "a_initiate_chat"])
async def test_autogen_chat_spans_land_under_the_chat_span_with_the_run_total_on_ours(
    instrumentation: Instrumentation,
    telemetry: Telemetry,
    openai_server: OpenAIServer,
    client_instrumentation: None,
    mode: str,
) -> None:
    instrumentation.on()
    user, assistant = weather_pair(openai_server)
    if mode == "initiate_chat":
        result = user.initiate_chat(assistant, message=QUESTION, silent=True, max_turns=3)
    else:  # AG2 makes the model call in the loop's default executor
        result = await user.a_initiate_chat(assistant, message=QUESTION, silent=True, max_turns=3)
    assert FINAL_ANSWER in result.summary
    parents = parent_names(telemetry)
    chats = client_chats(telemetry)
    assert len(chats) == 2
    assert parents[chats[0].name] == [f"invoke_agent {AGENT_NAME}"] * 2
    assert parents["execute_tool get_weather"] == [f"invoke_agent {AGENT_NAME}"]
    assert sorted(usage_of(chat) for chat in chats) == sorted(
        [
            (TOOL_CALL_USAGE.input_tokens, TOOL_CALL_USAGE.output_tokens),
            (ANSWER_USAGE.input_tokens, ANSWER_USAGE.output_tokens),
        ]
    )
    (ours,) = telemetry.agent_spans()
    assert usage_of(ours) == (
        TOOL_CALL_USAGE.input_tokens + ANSWER_USAGE.input_tokens,
        TOOL_CALL_USAGE.output_tokens + ANSWER_USAGE.output_tokens,
    )
    assert attributes(ours)[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attributes(ours)[semconv.GEN_AI_REQUEST_MODEL] == MODEL


async def test_ag2_v1_chat_spans_land_under_the_agent_span(
    instrumentation: Instrumentation,
    telemetry: Telemetry,
    openai_server: OpenAIServer,
    client_instrumentation: None,
) -> None:
    instrumentation.on()
    config = OpenAIConfig(model=MODEL, api_key="sk-test", base_url=openai_server.base_url)
    agent = Agent(AGENT_NAME, config=config, tools=[tool(get_weather)])
    reply = await agent.ask(QUESTION)
    assert reply.body == FINAL_ANSWER
    parents = parent_names(telemetry)
    chats = client_chats(telemetry)
    assert len(chats) == 2
    assert parents[chats[0].name] == [f"invoke_agent {AGENT_NAME}"] * 2
    assert parents["execute_tool get_weather"] == [f"invoke_agent {AGENT_NAME}"]

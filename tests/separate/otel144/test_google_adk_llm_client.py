"""Google ADK's own OpenAI model class (`google.adk.integrations.openai.OpenAILlm`, the `google-adk[openai]`
extra) against the local OpenAI-compatible server (tests/openai_server.py), with
`opentelemetry-instrumentation-openai-v2` beside us: each Chat Completions call's `chat` span is under ADK's
`generate_content` span, which is under our `invoke_agent` span; our span's usage is the run's total, each
chat span its own call's.

Needs the `openai` package (google-adk 2.13.0 has it only in its `openai` extra; the `test-otel144` extra pins
openai 3.63.0 for AG2, and `OpenAILlm` works on it): skipped in an environment built without it.
"""

from __future__ import annotations

import pytest

pytest.importorskip("openai")
pytest.importorskip("google.adk.integrations.openai._openai_llm")

from google.adk.agents import LlmAgent
from google.adk.integrations.openai import OpenAILlm
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

from otel_agent_instrumentation import semconv
from tests.conftest import UNSET, Instrumentation, Telemetry, attributes
from tests.openai_server import ANSWER_USAGE, FINAL_ANSWER, MODEL, TOOL_CALL_USAGE, TOOL_RESULT, serve
from tests.separate.otel144.test_google_adk import (  # noqa: F401  # fixtures: ADK's global providers
    ADKS,
    OURS,
    global_providers,
    run,
    scoped_tree,
    telemetry,
)

OPENAI_V2_SCOPES = frozenset({"opentelemetry.util.genai.handler", "opentelemetry.instrumentation.openai_v2"})


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city's name.
    """
    return TOOL_RESULT


async def test_openai_client_chat_spans_land_under_the_calling_agent_span(
    instrumentation: Instrumentation,
    telemetry: Telemetry,  # noqa: F811  # the fixture imported above
) -> None:
    openai_v2 = OpenAIInstrumentor()  # type: ignore[no-untyped-call]  # its __init__ is untyped
    openai_v2.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        instrumentation.on()
        with serve() as server:
            model = OpenAILlm(model=MODEL, api_key="test-key", base_url=server.base_url)
            events = await run(LlmAgent(name="weather", model=model, tools=[get_weather]))
    finally:
        openai_v2.uninstrument()
    assert events[-1] == f"weather[text:{FINAL_ANSWER}]"
    tree = [
        (name, "openai-v2" if scope in OPENAI_V2_SCOPES else scope, parent, status)
        for name, scope, parent, status in scoped_tree(telemetry)
    ]
    generate, chat = f"generate_content {MODEL}", f"chat {MODEL}"
    assert tree == [
        ("invoke_agent weather", OURS, None, UNSET),
        (generate, ADKS, "invoke_agent weather", UNSET),
        (chat, "openai-v2", generate, UNSET),
        ("execute_tool get_weather", ADKS, "invoke_agent weather", UNSET),
        (generate, ADKS, "invoke_agent weather", UNSET),
        (chat, "openai-v2", generate, UNSET),
    ]
    spans = sorted(telemetry.finished(), key=lambda span: span.start_time or 0)
    run_span = attributes(spans[0])
    assert run_span[semconv.GEN_AI_USAGE_INPUT_TOKENS] == TOOL_CALL_USAGE.input_tokens + ANSWER_USAGE.input_tokens
    assert run_span[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == TOOL_CALL_USAGE.output_tokens + ANSWER_USAGE.output_tokens
    chats = [attributes(span) for span in spans if span.name == chat]
    assert [chat_span[semconv.GEN_AI_USAGE_INPUT_TOKENS] for chat_span in chats] == [
        TOOL_CALL_USAGE.input_tokens,
        ANSWER_USAGE.input_tokens,
    ]

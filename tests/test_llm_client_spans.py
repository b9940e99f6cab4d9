"""Model calls traced by the LLM-client instrumentation land under the agent span that made them.

We emit no `chat` spans of our own: as the GenAI conventions intend, the OpenAI client's own
instrumentation (`opentelemetry-instrumentation-openai-v2`) traces each model call. What we owe is the
tree: every one of its `chat` spans is a descendant of the `invoke_agent` span of the agent that made
the call, directly, or under the framework's own `chat` span where the framework emits one (Agent
Framework's telemetry, Pydantic AI instrumented). And the usage adds up at each level: the agent span
carries the run's total, each chat span its own call's, so a dashboard sums one level, never both.

Each framework's own OpenAI model class talks to a real HTTP server on 127.0.0.1
(`tests/openai_server.py`) through the real `openai` client: a tool call, then the answer. openai-v2
2.4b0 traces Chat Completions only: model classes on the Responses API get no client span (the last
tests say so).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import agents
import pytest
import smolagents
from agent_framework import Agent as AgentFrameworkAgent
from agent_framework import observability as agent_framework_observability
from agent_framework.openai import OpenAIChatClient, OpenAIChatCompletionClient
from agents import Agent as OpenAIAgent
from agents import ModelSettings, OpenAIChatCompletionsModel, OpenAIResponsesModel, Runner, function_tool
from agno.agent import Agent as AgnoAgent
from agno.models.openai import OpenAIChat, OpenAIResponses
from agno.run.agent import RunContentEvent
from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_ext.models.openai import OpenAIChatCompletionClient as AutogenOpenAIChatCompletionClient
from langchain_core.tools import tool as langchain_tool
from langchain_openai import ChatOpenAI
from openai import AsyncOpenAI
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.openai import OpenAIResponsesModel as PydanticResponsesModel
from pydantic_ai.providers.openai import OpenAIProvider

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry, attributes
from tests.frameworks.smolagents_driver import quiet_logger
from tests.openai_server import (
    ANSWER,
    ANSWER_USAGE,
    FINAL_ANSWER,
    MODEL,
    PARALLEL_MODEL,
    TOOL_CALL,
    TOOL_CALL_USAGE,
    TOOL_RESULT,
    OpenAIServer,
    Usage,
    serve,
)

# The SDK's own tracing would export to api.openai.com; the driver turns it off too.
agents.set_tracing_disabled(True)

AGENT_NAME = "weather"
QUESTION = "What is the weather in Paris?"
CHAT_PATH = "/v1/chat/completions"
RESPONSES_PATH = "/v1/responses"
RUN_TOTAL = Usage(
    TOOL_CALL_USAGE.input_tokens + ANSWER_USAGE.input_tokens,
    TOOL_CALL_USAGE.output_tokens + ANSWER_USAGE.output_tokens,
)
TURN_USAGE = {TOOL_CALL: TOOL_CALL_USAGE, ANSWER: ANSWER_USAGE}
# openai-v2 2.4b0 with opentelemetry-util-genai 1.1b0 makes its spans through util-genai's handler;
# older pairs through its own tracer.
OPENAI_V2_SCOPES = frozenset({"opentelemetry.util.genai.handler", "opentelemetry.instrumentation.openai_v2"})
OUR_SCOPE = "otel_agent_instrumentation"
AGENT_FRAMEWORK_SCOPE = "agent_framework"
PYDANTIC_AI_SCOPE = "pydantic-ai"
DETACH_FAILURE = "Failed to detach context"


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city's name.
    """
    return TOOL_RESULT


# -- the trace as a tree ---------------------------------------------------------------------------


def scope(span: ReadableSpan) -> str:
    return span.instrumentation_scope.name if span.instrumentation_scope else ""


def label(span: ReadableSpan) -> str:
    return f"{span.name} [{scope(span)}]"


def usage(span: ReadableSpan) -> Usage | None:
    attrs = attributes(span)
    if semconv.GEN_AI_USAGE_INPUT_TOKENS not in attrs and semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs:
        return None
    return Usage(
        int(attrs.get(semconv.GEN_AI_USAGE_INPUT_TOKENS, 0)), int(attrs.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, 0))
    )


class Tree:
    """The finished spans, with the parent links resolved; `render()` for assertion messages."""

    def __init__(self, spans: Sequence[ReadableSpan]) -> None:
        self.spans = sorted(spans, key=lambda span: span.start_time or 0)
        self._by_id = {span.context.span_id: span for span in self.spans}

    def parent(self, span: ReadableSpan) -> ReadableSpan | None:
        return self._by_id.get(span.parent.span_id) if span.parent else None

    def ancestors(self, span: ReadableSpan) -> list[ReadableSpan]:
        chain: list[ReadableSpan] = []
        current = self.parent(span)
        while current is not None:
            chain.append(current)
            current = self.parent(current)
        return chain

    def path_to_root(self, span: ReadableSpan) -> list[str]:
        """The labels of the span's ancestors, nearest first; a parent not among the spans shows as such."""
        chain = [label(ancestor) for ancestor in self.ancestors(span)]
        top = self.ancestors(span)[-1] if chain else span
        if top.parent is not None:
            chain.append("<parent not exported>")
        return chain

    def agent_spans(self) -> list[ReadableSpan]:
        return [span for span in self.spans if span.name.startswith("invoke_agent ")]

    def client_chats(self) -> list[ReadableSpan]:
        """openai-v2's chat spans."""
        return [
            span
            for span in self.spans
            if scope(span) in OPENAI_V2_SCOPES and attributes(span).get(semconv.GEN_AI_OPERATION_NAME) == "chat"
        ]

    def calling_agent(self, span: ReadableSpan) -> ReadableSpan | None:
        return next((ancestor for ancestor in self.ancestors(span) if ancestor.name.startswith("invoke_agent ")), None)

    def render(self) -> str:
        lines: list[str] = []
        children: dict[int | None, list[ReadableSpan]] = {}
        for span in self.spans:
            parent = self.parent(span)
            children.setdefault(parent.context.span_id if parent else None, []).append(span)

        def walk(parent_id: int | None, depth: int) -> None:
            for span in children.get(parent_id, []):
                attrs = attributes(span)
                details = [f"usage={usage(span)}"] if usage(span) else []
                if semconv.GEN_AI_RESPONSE_ID in attrs:
                    details.append(f"id={attrs[semconv.GEN_AI_RESPONSE_ID]}")
                orphan = " (parent not exported)" if parent_id is None and span.parent else ""
                lines.append("  " * depth + " ".join([label(span), *details]) + orphan)
                walk(span.context.span_id, depth + 1)

        walk(None, 0)
        return "\n" + "\n".join(lines)


def token_sums(telemetry: Telemetry, scopes: frozenset[str]) -> dict[tuple[str, str], int]:
    """`gen_ai.client.token.usage` summed per (operation, token type), over the meters named `scopes`."""
    sums: dict[tuple[str, str], int] = {}
    data = telemetry.metrics.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope_metrics in resource.scope_metrics:
            if scope_metrics.scope.name not in scopes:
                continue
            for metric in scope_metrics.metrics:
                if metric.name != semconv.METRIC_CLIENT_TOKEN_USAGE:
                    continue
                for point in metric.data.data_points:
                    point_attributes = point.attributes or {}
                    key = (
                        str(point_attributes.get(semconv.GEN_AI_OPERATION_NAME)),
                        str(point_attributes.get(semconv.GEN_AI_TOKEN_TYPE)),
                    )
                    sums[key] = sums.get(key, 0) + int(getattr(point, "sum", 0))
    return sums


def level_total(operation: str, total: Usage) -> dict[tuple[str, str], int]:
    return {
        (operation, semconv.TOKEN_TYPE_INPUT): total.input_tokens,
        (operation, semconv.TOKEN_TYPE_OUTPUT): total.output_tokens,
    }


def detach_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if DETACH_FAILURE in record.getMessage()]


# -- the frameworks, each with its own OpenAI model class --------------------------------------------

RunAgent = Callable[[OpenAIServer, Telemetry], Awaitable[str]]


@contextlib.contextmanager
def agent_framework_spans_to(telemetry: Telemetry) -> Iterator[None]:
    """Agent Framework's telemetry takes its tracer from the global provider, which a test cannot set
    per test: point it at the test's provider, as an application's global provider would be."""

    def tracer(*args: Any, **kwargs: Any) -> Any:
        return telemetry.tracer_provider.get_tracer(AGENT_FRAMEWORK_SCOPE)

    with mock.patch.object(agent_framework_observability, "get_tracer", tracer):
        yield


def agent_framework_agent(server: OpenAIServer, client_class: type[Any] = OpenAIChatCompletionClient) -> Any:
    client = client_class(model=MODEL, api_key="test", base_url=server.base_url)
    return AgentFrameworkAgent(client=client, name=AGENT_NAME, tools=[get_weather])


async def agent_framework_run(server: OpenAIServer, telemetry: Telemetry) -> str:
    response = await agent_framework_agent(server).run(QUESTION)
    return str(response.text)


async def agent_framework_stream(server: OpenAIServer, telemetry: Telemetry) -> str:
    stream = agent_framework_agent(server).run(QUESTION, stream=True)
    async for _ in stream:
        pass
    return str((await stream.get_final_response()).text)


async def agent_framework_responses_run(server: OpenAIServer, telemetry: Telemetry) -> str:
    response = await agent_framework_agent(server, OpenAIChatClient).run(QUESTION)
    return str(response.text)


# AutoGen resolves "gpt-4o-mini" to this dated name and warns when a response names another model.
AUTOGEN_MODEL = "gpt-4o-mini-2024-07-18"


async def autogen_run(server: OpenAIServer, telemetry: Telemetry) -> str:
    client = AutogenOpenAIChatCompletionClient(model=AUTOGEN_MODEL, api_key="test", base_url=server.base_url)
    # Without reflect_on_tool_use the agent answers with the tool's result, making no second call.
    agent = AssistantAgent(AGENT_NAME, model_client=client, tools=[get_weather], reflect_on_tool_use=True)
    try:
        result = await agent.run(task=QUESTION)
    finally:
        await client.close()
    return result.messages[-1].to_text()


async def autogen_stream(server: OpenAIServer, telemetry: Telemetry) -> str:
    # A streamed call reports usage only when asked (OpenAI's stream_options.include_usage).
    client = AutogenOpenAIChatCompletionClient(
        model=AUTOGEN_MODEL, api_key="test", base_url=server.base_url, stream_options={"include_usage": True}
    )
    agent = AssistantAgent(
        AGENT_NAME, model_client=client, tools=[get_weather], reflect_on_tool_use=True, model_client_stream=True
    )
    try:
        items = [item async for item in agent.run_stream(task=QUESTION)]
    finally:
        await client.close()
    result = items[-1]
    assert isinstance(result, TaskResult)
    return result.messages[-1].to_text()


def pydantic_ai_agent(server: OpenAIServer, telemetry: Telemetry, instrumented: bool, model_class: type[Any]) -> Any:
    model = model_class(MODEL, provider=OpenAIProvider(base_url=server.base_url, api_key="test"))
    agent = PydanticAgent(model, name=AGENT_NAME, tools=[get_weather])
    if instrumented:
        agent.instrument = InstrumentationSettings(tracer_provider=telemetry.tracer_provider)
    return agent


def pydantic_ai_run(instrumented: bool, model_class: type[Any] = OpenAIChatModel) -> RunAgent:
    async def run(server: OpenAIServer, telemetry: Telemetry) -> str:
        result = await pydantic_ai_agent(server, telemetry, instrumented, model_class).run(QUESTION)
        return str(result.output)

    return run


def pydantic_ai_stream(instrumented: bool) -> RunAgent:
    async def run(server: OpenAIServer, telemetry: Telemetry) -> str:
        async with pydantic_ai_agent(server, telemetry, instrumented, OpenAIChatModel).run_stream(QUESTION) as result:
            return str(await result.get_output())

    return run


def openai_agents_agent(
    client: AsyncOpenAI, model_class: type[Any] = OpenAIChatCompletionsModel, name: str = AGENT_NAME
) -> OpenAIAgent:
    # The SDK asks a streamed Chat Completions call for usage by default only from api.openai.com.
    return OpenAIAgent(
        name=name,
        model=model_class(model=MODEL, openai_client=client),
        model_settings=ModelSettings(include_usage=True),
        tools=[function_tool(get_weather)],
    )


async def openai_agents_run(server: OpenAIServer, telemetry: Telemetry) -> str:
    async with AsyncOpenAI(base_url=server.base_url, api_key="test") as client:
        result = await Runner.run(openai_agents_agent(client), QUESTION)
    return str(result.final_output)


async def openai_agents_stream(server: OpenAIServer, telemetry: Telemetry) -> str:
    async with AsyncOpenAI(base_url=server.base_url, api_key="test") as client:
        result = Runner.run_streamed(openai_agents_agent(client), QUESTION)
        async for _ in result.stream_events():
            pass
    return str(result.final_output)


async def openai_agents_responses_run(server: OpenAIServer, telemetry: Telemetry) -> str:
    async with AsyncOpenAI(base_url=server.base_url, api_key="test") as client:
        result = await Runner.run(openai_agents_agent(client, OpenAIResponsesModel), QUESTION)
    return str(result.final_output)


def smolagents_agent(server: OpenAIServer, stream: bool, name: str = AGENT_NAME) -> smolagents.ToolCallingAgent:
    model = smolagents.OpenAIServerModel(model_id=MODEL, api_base=server.base_url, api_key="test")
    return smolagents.ToolCallingAgent(
        tools=[smolagents.tool(get_weather)],
        model=model,
        name=name,
        logger=quiet_logger(),
        stream_outputs=stream,
        max_steps=3,
    )


async def smolagents_run(server: OpenAIServer, telemetry: Telemetry) -> str:
    # smolagents runs synchronously: in a worker thread of the loop's executor, as an async app would.
    return str(await asyncio.to_thread(smolagents_agent(server, stream=False).run, QUESTION))


async def smolagents_stream(server: OpenAIServer, telemetry: Telemetry) -> str:
    def consume() -> str:
        steps = list(smolagents_agent(server, stream=True).run(QUESTION, stream=True))
        return str(steps[-1].output)

    return await asyncio.to_thread(consume)


def agno_agent(server: OpenAIServer, model_class: type[Any] = OpenAIChat) -> AgnoAgent:
    model = model_class(id=MODEL, api_key="test", base_url=server.base_url)
    # telemetry=False: agno would post usage telemetry to its API after every run.
    return AgnoAgent(name=AGENT_NAME, model=model, tools=[get_weather], telemetry=False)


def agno_text(events: Sequence[Any]) -> str:
    return "".join(event.content for event in events if isinstance(event, RunContentEvent) and event.content)


async def agno_run(server: OpenAIServer, telemetry: Telemetry) -> str:
    # Agent.run is synchronous: in a worker thread of the loop's executor, as an async app would.
    response = await asyncio.to_thread(agno_agent(server).run, QUESTION)
    return str(response.content)


async def agno_stream(server: OpenAIServer, telemetry: Telemetry) -> str:
    return await asyncio.to_thread(lambda: agno_text(list(agno_agent(server).run(QUESTION, stream=True))))


async def agno_arun(server: OpenAIServer, telemetry: Telemetry) -> str:
    response = await agno_agent(server).arun(QUESTION)
    return str(response.content)


async def agno_astream(server: OpenAIServer, telemetry: Telemetry) -> str:
    return agno_text([event async for event in agno_agent(server).arun(QUESTION, stream=True)])


async def agno_responses_run(server: OpenAIServer, telemetry: Telemetry) -> str:
    response = await asyncio.to_thread(agno_agent(server, OpenAIResponses).run, QUESTION)
    return str(response.content)


def langgraph_agent(server: OpenAIServer, streaming: bool) -> Any:
    """A prebuilt LangGraph agent on langchain-openai's ChatOpenAI (the openai client underneath)."""
    model = ChatOpenAI(
        model=MODEL,
        base_url=server.base_url,
        api_key="test",  # type: ignore[arg-type]  # a SecretStr from a str, by pydantic
        streaming=streaming,
        stream_usage=True,  # asks for usage in the stream (stream_options.include_usage), as the others do
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent: "moved to langchain.agents"
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(model, [langchain_tool(get_weather)], name=AGENT_NAME)


LANGGRAPH_INPUT: Any = {"messages": [("user", QUESTION)]}


def langgraph_answer(state: Any) -> str:
    return str(state["messages"][-1].content)


async def langgraph_invoke(server: OpenAIServer, telemetry: Telemetry) -> str:
    # invoke is synchronous: in a worker thread of the loop's executor, as an async app would; LangGraph runs
    # the model and tool nodes in its own thread pool below that.
    return langgraph_answer(await asyncio.to_thread(langgraph_agent(server, streaming=False).invoke, LANGGRAPH_INPUT))


async def langgraph_ainvoke(server: OpenAIServer, telemetry: Telemetry) -> str:
    return langgraph_answer(await langgraph_agent(server, streaming=False).ainvoke(LANGGRAPH_INPUT))


async def langgraph_stream(server: OpenAIServer, telemetry: Telemetry) -> str:
    def consume() -> str:
        updates = list(langgraph_agent(server, streaming=True).stream(LANGGRAPH_INPUT, stream_mode="values"))
        return langgraph_answer(updates[-1])

    return await asyncio.to_thread(consume)


async def langgraph_astream(server: OpenAIServer, telemetry: Telemetry) -> str:
    stream = langgraph_agent(server, streaming=True).astream(LANGGRAPH_INPUT, stream_mode="values")
    updates = [update async for update in stream]
    return langgraph_answer(updates[-1])


@dataclass(frozen=True)
class Case:
    id: str
    run: RunAgent
    streamed: bool
    # The scope of the framework's own chat span that openai-v2's sits under; None: directly under ours.
    framework_chat_scope: str | None = None
    framework_spans: Callable[[Telemetry], contextlib.AbstractContextManager[None]] = field(
        default=lambda telemetry: contextlib.nullcontext()
    )
    # "Failed to detach context" lines openai-v2 logs on its own in one run (see the AutoGen test).
    openai_v2_detach_failures: int = 0

    def expected_path(self) -> list[str]:
        agent = f"invoke_agent {AGENT_NAME} [{OUR_SCOPE}]"
        if self.framework_chat_scope is None:
            return [agent]
        return [f"chat {MODEL} [{self.framework_chat_scope}]", agent]


CASES = [
    Case(
        "agent_framework-run",
        agent_framework_run,
        streamed=False,
        framework_chat_scope=AGENT_FRAMEWORK_SCOPE,
        framework_spans=agent_framework_spans_to,
    ),
    Case(
        "agent_framework-stream",
        agent_framework_stream,
        streamed=True,
        framework_chat_scope=AGENT_FRAMEWORK_SCOPE,
        framework_spans=agent_framework_spans_to,
    ),
    # Without a global tracer provider, Agent Framework's own spans are non-recording: they carry
    # our span's context on, so openai-v2's chat span is a child of ours.
    Case("agent_framework-own-spans-not-recorded-run", agent_framework_run, streamed=False),
    Case(
        "agent_framework-own-spans-not-recorded-stream",
        agent_framework_stream,
        streamed=True,
    ),
    Case("autogen-run", autogen_run, streamed=False),
    Case("autogen-run_stream", autogen_stream, streamed=True, openai_v2_detach_failures=2),
    Case("pydantic_ai-run", pydantic_ai_run(instrumented=False), streamed=False),
    Case("pydantic_ai-run_stream", pydantic_ai_stream(instrumented=False), streamed=True),
    Case(
        "pydantic_ai-instrumented-run",
        pydantic_ai_run(instrumented=True),
        streamed=False,
        framework_chat_scope=PYDANTIC_AI_SCOPE,
    ),
    Case(
        "pydantic_ai-instrumented-run_stream",
        pydantic_ai_stream(instrumented=True),
        streamed=True,
        framework_chat_scope=PYDANTIC_AI_SCOPE,
    ),
    Case("openai_agents-run", openai_agents_run, streamed=False),
    Case("openai_agents-run_streamed", openai_agents_stream, streamed=True),
    Case("smolagents-run", smolagents_run, streamed=False),
    Case("smolagents-run-stream", smolagents_stream, streamed=True),
    Case("agno-run", agno_run, streamed=False),
    Case("agno-run-stream", agno_stream, streamed=True),
    Case("agno-arun", agno_arun, streamed=False),
    Case("agno-arun-stream", agno_astream, streamed=True),
    Case("langgraph-invoke", langgraph_invoke, streamed=False),
    Case("langgraph-ainvoke", langgraph_ainvoke, streamed=False),
    Case("langgraph-stream", langgraph_stream, streamed=True),
    Case("langgraph-astream", langgraph_astream, streamed=True, openai_v2_detach_failures=2),
]


def usage_cases() -> list[Any]:
    return [pytest.param(case, id=case.id) for case in CASES]


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    with serve() as server:
        yield server


@pytest.fixture
def openai_v2(telemetry: Telemetry) -> Iterator[OpenAIInstrumentor]:
    """opentelemetry-instrumentation-openai-v2 on the test's providers, beside ours."""
    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]  # its __init__ is untyped
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    yield instrumentor
    instrumentor.uninstrument()


async def run_instrumented(
    case: Case,
    server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    caplog: pytest.LogCaptureFixture,
    runs: int = 1,
) -> Tree:
    """Runs the case `runs` times at once, ours and openai-v2 on; checks the answer and the detach log."""
    instrumentation.on()
    with case.framework_spans(telemetry):
        answers = await asyncio.gather(*(case.run(server, telemetry) for _ in range(runs)))
    assert answers == [FINAL_ANSWER] * runs
    # A context detached in the wrong place is logged, not raised: none may be ours.
    failures = detach_failures(caplog)
    assert len(failures) == case.openai_v2_detach_failures * runs, failures
    for record in failures:
        caplog.records.remove(record)
    return Tree(telemetry.finished())


# -- every model call's client span is under the agent span --------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_openai_v2_chat_spans_land_under_the_agent_span(
    case: Case,
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tree = await run_instrumented(case, openai_server, telemetry, instrumentation, caplog)
    requests = [(request.path, request.streamed) for request in openai_server.requests]
    assert requests == [(CHAT_PATH, case.streamed)] * 2
    assert len(tree.agent_spans()) == 1, tree.render()
    chats = tree.client_chats()
    assert [tree.path_to_root(chat) for chat in chats] == [case.expected_path()] * 2, tree.render()


@pytest.mark.parametrize("case", [case for case in CASES if case.framework_chat_scope], ids=lambda case: case.id)
async def test_a_framework_chat_span_wraps_the_client_span_of_the_same_call(
    case: Case,
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tree = await run_instrumented(case, openai_server, telemetry, instrumentation, caplog)
    pairs = []
    for chat in tree.client_chats():
        framework_chat = tree.parent(chat)
        assert framework_chat is not None, tree.render()
        pairs.append(
            (
                attributes(framework_chat).get(semconv.GEN_AI_RESPONSE_ID),
                attributes(chat).get(semconv.GEN_AI_RESPONSE_ID),
            )
        )
    response_ids = [request.response_id for request in openai_server.requests]
    assert pairs == [(response_id, response_id) for response_id in response_ids], tree.render()


# -- usage: the run's total on the agent span, each call's on its chat span ------------------------


@pytest.mark.parametrize("case", usage_cases())
async def test_agent_span_usage_is_the_sum_of_its_chat_spans(
    case: Case,
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tree = await run_instrumented(case, openai_server, telemetry, instrumentation, caplog)
    turn_of = {request.response_id: request.turn for request in openai_server.requests}
    chats = tree.client_chats()
    calls = [(usage(chat), TURN_USAGE[turn_of[str(attributes(chat)[semconv.GEN_AI_RESPONSE_ID])]]) for chat in chats]
    assert calls == [(TOOL_CALL_USAGE, TOOL_CALL_USAGE), (ANSWER_USAGE, ANSWER_USAGE)], tree.render()
    (agent,) = tree.agent_spans()
    assert usage(agent) == RUN_TOTAL, tree.render()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_the_agent_span_response_id_is_one_the_server_sent_or_none(
    case: Case,
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Never a placeholder: the OpenAI Agents SDK fills "__fake_id__" where a streamed model gave none.
    tree = await run_instrumented(case, openai_server, telemetry, instrumentation, caplog)
    (agent,) = tree.agent_spans()
    sent = {request.response_id for request in openai_server.requests}
    assert attributes(agent).get(semconv.GEN_AI_RESPONSE_ID) in sent | {None}, tree.render()


@pytest.mark.parametrize("case", usage_cases())
async def test_token_usage_metric_gives_the_run_total_at_each_level(
    case: Case,
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await run_instrumented(case, openai_server, telemetry, instrumentation, caplog)
    # Each level alone is the run's total; summing both levels would count every token twice.
    assert token_sums(telemetry, frozenset({OUR_SCOPE})) == level_total("invoke_agent", RUN_TOTAL)
    assert token_sums(telemetry, OPENAI_V2_SCOPES) == level_total("chat", RUN_TOTAL)


# -- across threads, executors and tasks: each run's calls under its own span -----------------------


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_concurrent_runs_each_own_their_chat_spans(
    case: Case,
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Sync frameworks run in the loop's worker threads (asyncio.to_thread), async ones as concurrent tasks.
    runs = 2
    tree = await run_instrumented(case, openai_server, telemetry, instrumentation, caplog, runs=runs)
    agents_spans = tree.agent_spans()
    owners = [tree.calling_agent(chat) for chat in tree.client_chats()]
    calls_per_run = sorted(sum(owner is agent for owner in owners) for agent in agents_spans)
    assert (len(agents_spans), calls_per_run, None in owners) == (runs, [2] * runs, False), tree.render()


# -- an agent called by another: its calls under its own span --------------------------------------

MANAGER_MODEL = "gpt-4o"  # the manager's calls are told from the workers' by the model they name
WORKER_NAMES = ("weather", "weather_backup")


def openai_agents_agent_as_tool(manager_model: str, workers: int) -> RunAgent:
    async def run(server: OpenAIServer, telemetry: Telemetry) -> str:
        async with AsyncOpenAI(base_url=server.base_url, api_key="test") as client:
            tools: list[Any] = [
                openai_agents_agent(client, name=name).as_tool(tool_name=f"ask_{name}", tool_description="Asks.")
                for name in WORKER_NAMES[:workers]
            ]
            manager = OpenAIAgent(
                name="manager", model=OpenAIChatCompletionsModel(model=manager_model, openai_client=client), tools=tools
            )
            result = await Runner.run(manager, QUESTION)
        return str(result.final_output)

    return run


def smolagents_managed_agent(manager_model: str, workers: int) -> RunAgent:
    async def run(server: OpenAIServer, telemetry: Telemetry) -> str:
        managed = []
        for name in WORKER_NAMES[:workers]:
            worker = smolagents_agent(server, stream=False, name=name)
            worker.description = "Knows the weather."
            managed.append(worker)
        manager = smolagents.ToolCallingAgent(
            tools=[],
            model=smolagents.OpenAIServerModel(model_id=manager_model, api_base=server.base_url, api_key="test"),
            managed_agents=managed,
            name="manager",
            logger=quiet_logger(),
            max_steps=3,
        )
        return str(await asyncio.to_thread(manager.run, QUESTION))

    return run


@pytest.mark.parametrize(
    ("run", "workers"),
    [
        (openai_agents_agent_as_tool(MANAGER_MODEL, workers=1), 1),
        # Both agent tools called at once: the SDK runs them as concurrent tasks.
        (openai_agents_agent_as_tool(PARALLEL_MODEL, workers=2), 2),
        (smolagents_managed_agent(MANAGER_MODEL, workers=1), 1),
        # Both managed agents called at once: smolagents runs them in a ThreadPoolExecutor.
        (smolagents_managed_agent(PARALLEL_MODEL, workers=2), 2),
    ],
    ids=[
        "openai_agents-as_tool",
        "openai_agents-as_tool-parallel",
        "smolagents-managed",
        "smolagents-managed-parallel",
    ],
)
async def test_a_called_agents_chat_spans_are_under_its_own_span(
    run: RunAgent,
    workers: int,
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    instrumentation.on()
    assert await run(openai_server, telemetry) == FINAL_ANSWER
    assert detach_failures(caplog) == []
    tree = Tree(telemetry.finished())
    calls: dict[str, int] = {}
    for chat in tree.client_chats():
        owner = tree.calling_agent(chat)
        # Which agent made the call shows in the model it named: the manager's, or a worker's.
        caller = "manager" if attributes(chat).get(semconv.GEN_AI_REQUEST_MODEL) != MODEL else "worker"
        owner_name = attributes(owner).get(semconv.GEN_AI_AGENT_NAME) if owner else None
        key = f"{caller} call under {owner_name}"
        calls[key] = calls.get(key, 0) + 1
    expected = {"manager call under manager": 2} | {f"worker call under {name}": 2 for name in WORKER_NAMES[:workers]}
    assert calls == expected, tree.render()
    (manager,) = [span for span in tree.agent_spans() if attributes(span).get(semconv.GEN_AI_AGENT_NAME) == "manager"]
    worker_spans = [span for span in tree.agent_spans() if span is not manager]
    assert [manager in tree.ancestors(span) for span in worker_spans] == [True] * workers, tree.render()


# -- model calls that do not go through an instrumented client -------------------------------------


@pytest.mark.parametrize(
    "run",
    [
        agent_framework_responses_run,
        pydantic_ai_run(False, PydanticResponsesModel),
        openai_agents_responses_run,
        agno_responses_run,
    ],
    ids=[
        "agent_framework-OpenAIChatClient",
        "pydantic_ai-OpenAIResponsesModel",
        "openai_agents-OpenAIResponsesModel",
        "agno-OpenAIResponses",
    ],
)
async def test_responses_api_calls_get_no_openai_v2_span(
    run: RunAgent,
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    openai_v2: OpenAIInstrumentor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """openai-v2 2.4b0 wraps Chat Completions (and embeddings) only: these model classes call the
    Responses API, so a run has our agent span, with the run's usage, and no client span at all."""
    instrumentation.on()
    assert await run(openai_server, telemetry) == FINAL_ANSWER
    assert detach_failures(caplog) == []
    tree = Tree(telemetry.finished())
    assert [request.path for request in openai_server.requests] == [RESPONSES_PATH] * 2
    (agent,) = tree.agent_spans()
    assert (tree.client_chats(), usage(agent)) == ([], RUN_TOTAL), tree.render()


# -- what openai-v2 does on its own ------------------------------------------------------------------


async def test_autogen_streamed_calls_make_openai_v2_log_detach_failures_without_us(
    openai_server: OpenAIServer, telemetry: Telemetry, openai_v2: OpenAIInstrumentor, caplog: pytest.LogCaptureFixture
) -> None:
    """AutoGen creates the OpenAI stream in a task of its own (asyncio.ensure_future); util-genai
    attaches the chat span's context there and detaches it in the task that reads the stream's end:
    one "Failed to detach context" per streamed call, without us as with us (the case above)."""
    assert await autogen_stream(openai_server, telemetry) == FINAL_ANSWER
    failures = detach_failures(caplog)
    assert len(failures) == 2, failures
    for record in failures:
        caplog.records.remove(record)


async def test_langgraph_astream_calls_make_openai_v2_log_detach_failures_without_us(
    openai_server: OpenAIServer, telemetry: Telemetry, openai_v2: OpenAIInstrumentor, caplog: pytest.LogCaptureFixture
) -> None:
    """openai-v2 logs one "Failed to detach context" per streamed call a LangGraph agent makes through
    `astream` (the chat span's context is attached in one Context and detached in another, inside
    langchain-core's async model path), without us as with us (the langgraph-astream case above)."""
    assert await langgraph_astream(openai_server, telemetry) == FINAL_ANSWER
    failures = detach_failures(caplog)
    assert len(failures) == 2, failures
    for record in failures:
        caplog.records.remove(record)


# -- Pydantic AI: the run's finish reason, read without building its response ------------------------


async def _pydantic_ai_finish_reason(shape: str, server: OpenAIServer, telemetry: Telemetry) -> Any:
    """The finish reason the app reads off the run's last response."""
    agent = pydantic_ai_agent(server, telemetry, False, OpenAIChatModel)
    if shape == "run":
        return (await agent.run(QUESTION)).response.finish_reason
    async with agent.run_stream(QUESTION) as result:
        await result.get_output()
    return result.response.finish_reason


@pytest.mark.parametrize("shape", ["run", "stream"])
async def test_a_pydantic_ai_agent_span_has_the_finish_reason_of_the_runs_last_response(
    shape: str, openai_server: OpenAIServer, telemetry: Telemetry, instrumentation: Instrumentation
) -> None:
    instrumentation.on()
    reported = await _pydantic_ai_finish_reason(shape, openai_server, telemetry)
    (span,) = telemetry.agent_spans()
    assert (reported, attributes(span).get(semconv.GEN_AI_RESPONSE_FINISH_REASONS)) == ("stop", ("stop",))


async def test_a_streamed_pydantic_ai_run_builds_its_response_as_often_with_us_as_without(
    openai_server: OpenAIServer,
    telemetry: Telemetry,
    instrumentation: Instrumentation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # StreamedRunResult.response merges the stream's segments into a new ModelResponse at each read (about 50k
    # instructions): our reader takes the finish reason off the stream's state instead.
    from pydantic_ai.models import _continuation

    built: list[object] = []
    build = _continuation._ContinuationStreamedResponse.get

    def counted(self: Any) -> Any:
        built.append(self)
        return build(self)

    monkeypatch.setattr(_continuation._ContinuationStreamedResponse, "get", counted)
    await _pydantic_ai_finish_reason("stream", openai_server, telemetry)
    bare = len(built)
    instrumentation.on()
    await _pydantic_ai_finish_reason("stream", openai_server, telemetry)
    assert (bare > 0, len(built) - bare) == (True, bare)

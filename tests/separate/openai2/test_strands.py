"""Strands Agents: one span per run (ours), Strands' own cycle, chat and tool spans under it, and everything
Strands' agent-span code does besides telemetry kept (adapters/strands.py, steps 1-6). The shared ending table
runs in tests/test_lifecycle.py through tests/frameworks/openai2/strands_driver.py."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import baggage, trace
from opentelemetry.instrumentation.threading import ThreadingInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode
from strands import Agent, tool
from strands.hooks import BeforeInvocationEvent
from strands.telemetry.tracer import get_tracer
from strands.types.exceptions import ConcurrencyException, EventLoopException

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry, TreeRow, attributes, span_tree
from tests.frameworks.openai2.strands_driver import (
    AGENT_NAME,
    MODEL_ID,
    ScriptedModel,
    echo,
    fails,
    make_agent,
    make_tool_agent,
    strands_detach_errors_dropped,
)

INTERNAL, UNSET, OK, ERROR = SpanKind.INTERNAL, StatusCode.UNSET, StatusCode.OK, StatusCode.ERROR
AGENT = f"invoke_agent {AGENT_NAME}"
CYCLE = "execute_event_loop_cycle"


@pytest.fixture
def strands_tracing(telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch) -> None:
    """Strands takes its tracer from the global provider once (its Tracer singleton), which a test cannot set per
    test: point it at the test's provider, as an application's global provider would be."""
    monkeypatch.setattr(get_tracer(), "tracer", telemetry.tracer_provider.get_tracer("strands.telemetry.tracer"))


def ours(telemetry: Telemetry) -> list[Any]:
    return [
        span
        for span in telemetry.agent_spans()
        if span.instrumentation_scope is not None and span.instrumentation_scope.name == "otel_agent_instrumentation"
    ]


def tool_turns() -> tuple[Any, ...]:
    return ([("echo", {"text": "a"}), ("fails", {"text": "b"})], "done")


# -- the tree ---------------------------------------------------------------------------------------------


async def test_a_run_with_a_tool_that_works_and_one_that_fails_is_one_tree_under_our_span(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    instrumentation.on()
    result = await make_tool_agent(tool_turns(), [echo, fails]).invoke_async("hi")
    assert str(result).strip() == "done"
    assert span_tree(telemetry) == [
        (AGENT, INTERNAL, None, UNSET),
        (CYCLE, INTERNAL, AGENT, OK),
        ("chat", INTERNAL, CYCLE, OK),
        ("execute_tool echo", INTERNAL, CYCLE, OK),
        ("execute_tool fails", INTERNAL, CYCLE, ERROR),
        (CYCLE, INTERNAL, AGENT, OK),
        ("chat", INTERNAL, CYCLE, OK),
    ]
    (agent_span,) = ours(telemetry)
    assert attributes(agent_span)[semconv.OUTCOME] == "completed"


async def test_keep_framework_spans_keeps_strands_agent_span_under_ours(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    instrumentation.on(keep_framework_spans=True)
    await make_tool_agent(tool_turns(), [echo, fails]).invoke_async("hi")
    rows: list[TreeRow] = span_tree(telemetry)
    assert rows[:2] == [(AGENT, INTERNAL, None, UNSET), (AGENT, INTERNAL, AGENT, OK)]
    assert [row[2] for row in rows if row[0] == CYCLE] == [AGENT, AGENT]
    assert len(ours(telemetry)) == 1


async def test_without_strands_tracing_the_tree_is_our_span_alone(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # Strands' spans go to the global provider (none in tests): no execute_tool spans of ours either.
    instrumentation.on()
    await make_tool_agent(tool_turns(), [echo, fails]).invoke_async("hi")
    assert span_tree(telemetry) == [(AGENT, INTERNAL, None, UNSET)]


async def test_an_agent_used_as_a_tool_is_a_child_span_under_strands_tool_span(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    helper = make_tool_agent(("inner answer",), [], name="helper")
    boss = make_tool_agent(([("helper", {"input": "x"})], "done"), [helper.as_tool()], name="boss")
    instrumentation.on()
    await boss.invoke_async("hi")
    assert span_tree(telemetry) == [
        ("invoke_agent boss", INTERNAL, None, UNSET),
        (CYCLE, INTERNAL, "invoke_agent boss", OK),
        ("chat", INTERNAL, CYCLE, OK),
        ("execute_tool helper", INTERNAL, CYCLE, OK),
        ("invoke_agent helper", INTERNAL, "execute_tool helper", UNSET),
        (CYCLE, INTERNAL, "invoke_agent helper", OK),
        ("chat", INTERNAL, CYCLE, OK),
        (CYCLE, INTERNAL, "invoke_agent boss", OK),
        ("chat", INTERNAL, CYCLE, OK),
    ]


async def test_a_sync_call_is_one_span_with_strands_spans_under_it(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    instrumentation.on()
    result = make_tool_agent(("hello world",), [])("hi")  # __call__ -> thread -> invoke_async -> stream_async
    assert str(result).strip() == "hello world"
    assert span_tree(telemetry) == [
        (AGENT, INTERNAL, None, UNSET),
        (CYCLE, INTERNAL, AGENT, OK),
        ("chat", INTERNAL, CYCLE, OK),
    ]


async def test_structured_output_is_one_span_with_strands_span_under_it(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    from tests.frameworks.openai2.strands_driver import Answer

    instrumentation.on()
    with pytest.warns(DeprecationWarning):
        answer = await make_tool_agent(("x",), []).structured_output_async(Answer, "hi")
    assert answer.text == "hello world"
    assert span_tree(telemetry) == [
        (AGENT, INTERNAL, None, UNSET),
        ("execute_structured_output", SpanKind.CLIENT, AGENT, UNSET),
    ]


# -- the stream's context -----------------------------------------------------------------------------------


class ContextProbe(ScriptedModel):
    """Records the current span's name where the model's code runs: at its start and after each chunk it yields
    (the code after a yield runs in the consumer's next pull)."""

    def __init__(self, seen: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen = seen

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(_current_name())
        async for chunk in super().stream(*args, **kwargs):
            yield chunk
            self.seen.append(_current_name())


def _current_name() -> str:
    return str(getattr(trace.get_current_span(), "name", "none"))


async def _model_view(seen: list[str]) -> list[str]:
    agent = Agent(name=AGENT_NAME, model=ContextProbe(seen, script=("hello big world",)), callback_handler=None)
    consumer_view = []
    async for _ in agent.stream_async("hi"):
        consumer_view.append(_current_name())
    return consumer_view


async def test_model_code_in_later_pulls_sees_strands_chat_span_as_bare(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    bare: list[str] = []
    await _model_view(bare)
    instrumentation.on()
    traced: list[str] = []
    await _model_view(traced)
    assert traced == bare == ["chat"] * len(bare)


async def test_the_consumer_sees_its_own_span_between_pulls(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    instrumentation.on()
    with telemetry.tracer_provider.get_tracer("app").start_as_current_span("consumer"):
        consumer_view = await _model_view([])
    assert set(consumer_view) == {"consumer"}


# -- what Strands' agent-span code does besides telemetry, kept (adapters/strands.py steps) ----------------


async def test_stood_down_run_still_reads_the_tool_registry(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    async def registry_reads() -> int:
        agent = make_tool_agent(("hello world",), [echo])
        registry = agent.tool_registry
        reads = []
        original = registry.get_all_tools_config

        def counting() -> Any:
            reads.append(1)
            return original()

        registry.get_all_tools_config = counting
        await agent.invoke_async("hi")
        return len(reads)

    bare = await registry_reads()
    instrumentation.on()
    assert await registry_reads() == bare
    assert bare >= 2  # _start_agent_trace_span reads it twice (tool_names, tools_config)


async def test_agent_trace_span_is_our_span_during_the_run(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    seen: list[Any] = []
    agent = make_tool_agent(("hello world",), [])
    agent.add_hook(lambda event: seen.append(event.agent.trace_span.get_span_context()), BeforeInvocationEvent)
    instrumentation.on()
    await agent.invoke_async("hi")
    (agent_span,) = ours(telemetry)
    assert seen == [agent_span.get_span_context()]


async def test_app_attribute_on_the_current_span_lands_on_ours(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    agent = make_tool_agent(("hello world",), [])
    agent.add_hook(lambda event: trace.get_current_span().set_attribute("app.mark", 7), BeforeInvocationEvent)
    instrumentation.on()
    await agent.invoke_async("hi")
    (agent_span,) = telemetry.agent_spans()
    assert attributes(agent_span)["app.mark"] == 7


async def test_a_failed_run_is_recorded_once_on_our_span(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    instrumentation.on()
    with pytest.raises(ConnectionError):
        await make_agent([], fail=True).invoke_async("hi")
    (agent_span,) = telemetry.agent_spans()
    assert [event.name for event in agent_span.events] == ["exception"]  # use_span's record on the stand-in dropped
    assert attributes(agent_span)[semconv.ERROR_TYPE] == "ConnectionError"


async def test_trace_attributes_are_on_our_span(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    agent = make_tool_agent(("hello world",), [], trace_attributes={"session.id": "s-1", "gen_ai.agent.name": "other"})
    instrumentation.on()
    await agent.invoke_async("hi")
    (agent_span,) = telemetry.agent_spans()
    assert attributes(agent_span)["session.id"] == "s-1"
    assert attributes(agent_span)[semconv.GEN_AI_AGENT_NAME] == AGENT_NAME  # ours stays ours


async def test_baggage_attributes_reach_the_tools_as_bare(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    async def tenant_in_tool() -> list[object]:
        seen: list[object] = []

        @tool  # type: ignore[untyped-decorator]
        def whoami() -> str:
            """The tenant."""
            seen.append(baggage.get_baggage("tenant"))
            return "ok"

        agent = make_tool_agent(([("whoami", {})], "done"), [whoami], baggage_attributes={"tenant": "t-1"})
        await agent.invoke_async("hi")
        return seen

    bare = await tenant_in_tool()
    instrumentation.on()
    assert await tenant_in_tool() == bare == ["t-1"]


async def test_usage_is_the_runs_own(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    instrumentation.on()
    agent = make_tool_agent(([("echo", {"text": "a"})], "done"), [echo])
    await agent.invoke_async("hi")
    await agent.invoke_async("again")  # the script's last turn repeats: one answer, 10/5 tokens
    first, second = ours(telemetry)
    assert (
        attributes(first)[semconv.GEN_AI_USAGE_INPUT_TOKENS],
        attributes(first)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS],
    ) == (13, 6)
    assert (
        attributes(second)[semconv.GEN_AI_USAGE_INPUT_TOKENS],
        attributes(second)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS],
    ) == (10, 5)
    assert attributes(second)[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)


async def test_usage_of_a_run_awaited_after_another_run_of_the_agent_is_its_own(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = make_tool_agent(([("echo", {"text": "a"})], "done"), [echo])
    first = agent.invoke_async("first")  # created first, awaited second
    await agent.invoke_async("second")  # the tool turn and an answer: 13/6
    await first  # the answer alone: 10/5
    spans = sorted(ours(telemetry), key=lambda span: span.end_time or 0)
    assert [
        (attributes(span)[semconv.GEN_AI_USAGE_INPUT_TOKENS], attributes(span)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS])
        for span in spans
    ] == [(13, 6), (10, 5)]


async def test_a_streamed_run_records_the_result_it_yielded(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    async for _ in make_agent([]).stream_async("hi"):
        pass
    attrs = attributes(telemetry.agent_spans()[0])
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert (attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS], attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (10, 5)


async def test_a_stream_failing_mid_way_records_the_usage_so_far(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    agent = Agent(
        name=AGENT_NAME,
        model=_FailsOnSecondCall(script=([("echo", {"text": "a"})], "done")),
        tools=[echo],
        callback_handler=None,
    )
    with pytest.raises(EventLoopException):  # a later cycle's failure, as Strands wraps it
        async for _ in agent.stream_async("hi"):
            pass
    (agent_span,) = telemetry.agent_spans()
    assert (
        attributes(agent_span)[semconv.GEN_AI_USAGE_INPUT_TOKENS],
        attributes(agent_span)[semconv.GEN_AI_USAGE_OUTPUT_TOKENS],
    ) == (3, 1)


class _FailsOnSecondCall(ScriptedModel):
    """The first call asks for a tool (3/1 tokens); the second fails after its first word."""

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        self.fail = self.turns > 0
        async for chunk in super().stream(*args, **kwargs):
            yield chunk


async def test_hooks_and_callbacks_fire_as_bare_with_strands_tracing_on(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    async def run() -> list[str]:
        calls: list[str] = []
        stream = make_agent(calls, tools=[echo]).stream_async("hi")
        async for event in stream:
            if "data" in event:
                calls.append(f"consumer:{event['data']}")
        return calls

    bare = await run()
    instrumentation.on()
    traced = await run()
    assert traced == bare
    assert "after_invocation:end_turn" in bare


# -- attributes, content, suppression --------------------------------------------------------------------


async def test_request_facts(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await make_agent([]).invoke_async("hi")
    attrs = attributes(telemetry.agent_spans()[0])
    assert attrs[semconv.GEN_AI_AGENT_DESCRIPTION] == "writes things"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == MODEL_ID
    assert attrs[semconv.GEN_AI_PROVIDER_NAME] == semconv.PROVIDER_OTHER  # a custom Model subclass


def test_provider_of_strands_model_classes() -> None:
    from strands.models.openai import OpenAIModel

    from otel_agent_instrumentation.adapters.strands import _provider

    model = OpenAIModel(client_args={"api_key": "test", "base_url": "http://127.0.0.1:9/v1"}, model_id="gpt-4o-mini")
    assert _provider(model, "gpt-4o-mini") == "openai"
    assert _provider(ScriptedModel(), MODEL_ID) is None


async def test_no_content_by_default(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    await make_agent([]).invoke_async("secret prompt")
    attrs = attributes(telemetry.agent_spans()[0])
    assert not any(
        key in attrs
        for key in (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES, semconv.GEN_AI_SYSTEM_INSTRUCTIONS)
    )
    assert "secret" not in str(dict(attrs))


async def test_content_on_the_span_when_asked(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    await make_agent([]).invoke_async("my prompt")
    attrs = attributes(telemetry.agent_spans()[0])
    assert '"my prompt"' in str(attrs[semconv.GEN_AI_INPUT_MESSAGES])
    assert '"Be brief."' in str(attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS])
    assert "hello world" in str(attrs[semconv.GEN_AI_OUTPUT_MESSAGES])


async def test_suppressed_runs_make_no_span_of_ours(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    instrumentation.on()
    agent = make_tool_agent(("hello world",), [])
    with suppress_instrumentation():
        await agent.invoke_async("hi")
        async for _ in agent.stream_async("hi"):
            pass
    assert ours(telemetry) == []


# -- lifecycle specifics -----------------------------------------------------------------------------------


async def _dropped_stream_then_calls(agent: Agent) -> list[str]:
    """Pull one event, drop the stream unclosed, then call again at once and after the loop ran a few times."""
    stream = agent.stream_async("hi")
    async for _ in stream:
        break
    del stream, _
    gc.collect()
    seen = []
    for _attempt in range(4):
        try:
            async for _event in agent.stream_async("again"):
                pass
            seen.append("ok")
            break
        except ConcurrencyException:
            seen.append("ConcurrencyException")
        await asyncio.sleep(0)
    return seen


async def test_a_dropped_stream_holds_the_agent_lock_as_long_as_bare(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    with strands_detach_errors_dropped():
        bare = await _dropped_stream_then_calls(make_agent([]))
        instrumentation.on()
        traced = await _dropped_stream_then_calls(make_agent([]))
    assert traced == bare
    assert bare[0] == "ConcurrencyException" and bare[-1] == "ok"
    assert [attributes(span)[semconv.OUTCOME] for span in ours(telemetry)] == [
        "abandoned",
        "failed",
        "failed",
        "completed",
    ]


async def test_concurrent_streams_in_one_loop_keep_their_own_spans(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    instrumentation.on()
    agents = [make_tool_agent(([("echo", {"text": str(n)})], f"done {n}"), [echo], name=f"a{n}") for n in range(8)]

    async def drain(agent: Agent) -> None:
        async for _ in agent.stream_async("hi"):
            await asyncio.sleep(0)

    await asyncio.gather(*(drain(agent) for agent in agents))
    rows = span_tree(telemetry)
    for n in range(8):
        assert (f"invoke_agent a{n}", INTERNAL, None, UNSET) in rows
    by_id = {span.context.span_id: span for span in telemetry.finished()}
    for span in telemetry.finished():
        if span.name == "execute_tool echo":
            cycle = by_id[span.parent.span_id]  # type: ignore[union-attr]
            agent_span = by_id[cycle.parent.span_id]  # type: ignore[union-attr]
            assert attributes(span)["gen_ai.tool.call.id"] and agent_span.name.startswith("invoke_agent a")
    assert len(ours(telemetry)) == 8


# -- uninstrument ------------------------------------------------------------------------------------------


def test_uninstrument_restores_every_patched_method(instrumentation: Instrumentation) -> None:
    from strands.agent.agent import Agent as StrandsAgent
    from strands.telemetry.tracer import Tracer

    methods = (
        "__call__",
        "invoke_async",
        "stream_async",
        "structured_output",
        "structured_output_async",
        "_start_agent_trace_span",
        "_end_agent_trace_span",
    )
    before = {name: vars(StrandsAgent)[name] for name in methods}
    start_agent_span = vars(Tracer)["start_agent_span"]
    instrumentation.on()
    assert all(vars(StrandsAgent)[name] is not before[name] for name in methods)
    instrumentation.off()  # asserts each patched attribute is the very same object again
    assert {name: vars(StrandsAgent)[name] for name in methods} == before
    assert vars(Tracer)["start_agent_span"] is start_agent_span


def test_uninstrument_leaves_strands_threading_instrumentation_alone(instrumentation: Instrumentation) -> None:
    get_tracer()  # Strands' Tracer() instruments threading, globally
    assert ThreadingInstrumentor().is_instrumented_by_opentelemetry
    start = vars(threading.Thread)["start"]
    instrumentation.on()
    instrumentation.off()
    assert ThreadingInstrumentor().is_instrumented_by_opentelemetry
    assert vars(threading.Thread)["start"] is start


@pytest.fixture
def threading_not_instrumented() -> Iterator[None]:
    instrumentor = ThreadingInstrumentor()
    was_on = instrumentor.is_instrumented_by_opentelemetry
    if was_on:
        instrumentor.uninstrument()
    yield
    if was_on:
        instrumentor.instrument()


async def test_a_sync_call_does_not_depend_on_threading_instrumentation(
    instrumentation: Instrumentation, telemetry: Telemetry, threading_not_instrumented: None
) -> None:
    instrumentation.on()
    with telemetry.tracer_provider.get_tracer("app").start_as_current_span("request"):
        make_tool_agent(("hello world",), [])("hi")
    assert span_tree(telemetry) == [("request", INTERNAL, None, UNSET), (AGENT, INTERNAL, "request", UNSET)]


# -- Swarm and Graph: orchestrations without a model of their own --------------------------------------------


def make_swarm() -> Any:
    from strands.multiagent import Swarm

    handoff = [("handoff_to_agent", {"agent_name": "critic", "message": "over to you"})]
    writer = make_tool_agent((handoff, "writer done"), [], name="writer")
    critic = make_tool_agent(("critic done",), [], name="critic")
    return Swarm([writer, critic], id="review")


def make_graph() -> Any:
    from strands.multiagent import GraphBuilder

    builder = GraphBuilder()
    builder.add_node(make_tool_agent(("one",), [], name="first"), "first")
    builder.add_node(make_tool_agent(("two",), [], name="second"), "second")
    builder.add_edge("first", "second")
    builder.set_graph_id("pipeline")
    builder.set_max_node_executions(5)  # an unbounded graph warns
    return builder.build()


async def test_a_swarm_is_a_workflow_span_with_its_agents_under_it(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    instrumentation.on()
    await make_swarm().invoke_async("hi")
    assert span_tree(telemetry) == [
        ("invoke_workflow review", INTERNAL, None, UNSET),
        ("invoke_agent writer", INTERNAL, "invoke_workflow review", UNSET),
        (CYCLE, INTERNAL, "invoke_agent writer", OK),
        ("chat", INTERNAL, CYCLE, OK),
        ("execute_tool handoff_to_agent", INTERNAL, CYCLE, OK),
        (CYCLE, INTERNAL, "invoke_agent writer", OK),
        ("chat", INTERNAL, CYCLE, OK),
        ("invoke_agent critic", INTERNAL, "invoke_workflow review", UNSET),
        (CYCLE, INTERNAL, "invoke_agent critic", OK),
        ("chat", INTERNAL, CYCLE, OK),
    ]


async def test_a_graph_is_a_workflow_span_with_its_agents_under_it(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    instrumentation.on()
    await make_graph().invoke_async("hi")
    assert [row for row in span_tree(telemetry) if row[0].startswith("invoke_")] == [
        ("invoke_workflow pipeline", INTERNAL, None, UNSET),
        ("invoke_agent first", INTERNAL, "invoke_workflow pipeline", UNSET),
        ("invoke_agent second", INTERNAL, "invoke_workflow pipeline", UNSET),
    ]


async def test_keep_framework_spans_keeps_the_swarm_span_under_ours(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    instrumentation.on(keep_framework_spans=True)
    await make_swarm().invoke_async("hi")
    rows = span_tree(telemetry)
    assert rows[:2] == [
        ("invoke_workflow review", INTERNAL, None, UNSET),
        ("invoke_swarm", SpanKind.CLIENT, "invoke_workflow review", UNSET),
    ]


async def test_a_swarm_and_a_graph_return_what_they_return_bare(
    instrumentation: Instrumentation, telemetry: Telemetry, strands_tracing: None
) -> None:
    def outcome(result: Any) -> tuple[str, list[str]]:
        return str(result.status), [str(node.node_id) for node in getattr(result, "node_history", []) or []]

    bare = [outcome(await make_swarm().invoke_async("hi")), outcome(await make_graph().invoke_async("hi"))]
    instrumentation.on()
    traced = [outcome(await make_swarm().invoke_async("hi")), outcome(await make_graph().invoke_async("hi"))]
    assert traced == bare

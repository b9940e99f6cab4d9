"""LangGraph specifics: workflow and agent graphs, subgraphs, ToolNode tool calls, usage, threads and tasks."""

from __future__ import annotations

import asyncio
import json
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.pregel import Pregel
from langgraph.types import Command, interrupt
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_agent_instrumentation import semconv
from tests.conftest import (
    ERROR,
    INTERNAL,
    UNSET,
    Instrumentation,
    Telemetry,
    TreeRow,
    attributes,
    span_tree,
    tool_spans,
)
from tests.frameworks.langgraph_driver import (
    AGENT_NAME,
    RecordingHandler,
    ToolFailure,
    Turn,
    answer,
    echo,
    fails,
    make_agent,
    scripted,
    tool_call_turn,
)

WORKFLOW_NAME = "pipeline"
MODES = ["invoke", "ainvoke", "stream", "astream"]

# The agent calls echo, then fails (ToolNode answers the model with the error), then answers.
ECHO_THEN_FAILS: list[Turn] = [
    tool_call_turn(("echo", {"text": "hi"}, "c1")),
    tool_call_turn(("fails", {"text": "x"}, "c2")),
    answer("done"),
]


def make_helper(script: list[Turn], handle_tool_errors: bool = True, checkpointer: Any = None) -> Any:
    """The prebuilt agent "helper" with tools echo and fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_react_agent: "moved to langchain.agents"
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(
            scripted(script),
            ToolNode([echo, fails], handle_tool_errors=handle_tool_errors),
            name=AGENT_NAME,
            checkpointer=checkpointer,
        )


def prepare(state: MessagesState) -> dict[str, Any]:
    return {"messages": [("user", "please")]}


def make_pipeline(script: list[Turn] = ECHO_THEN_FAILS, handle_tool_errors: bool = True) -> Any:
    """A workflow graph: a plain node, then the agent "helper" as a subgraph node."""
    builder = StateGraph(MessagesState)
    builder.add_node("prepare", prepare)
    builder.add_node("helper", make_helper(script, handle_tool_errors))
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "helper")
    builder.add_edge("helper", END)
    return builder.compile(name=WORKFLOW_NAME)


PIPELINE_TREE: list[TreeRow] = [
    (f"invoke_workflow {WORKFLOW_NAME}", INTERNAL, None, UNSET),
    (f"invoke_agent {AGENT_NAME}", INTERNAL, f"invoke_workflow {WORKFLOW_NAME}", UNSET),
    ("execute_tool echo", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
    ("execute_tool fails", INTERNAL, f"invoke_agent {AGENT_NAME}", ERROR),
]


def seen(message: BaseMessage) -> tuple[Any, ...]:
    """What the app sees of a message, less its generated id."""
    calls = [(call["name"], call["args"], call["id"]) for call in getattr(message, "tool_calls", [])]
    return (type(message).__name__, message.content, calls, getattr(message, "status", None))


def seen_update(update: Any) -> Any:
    if isinstance(update, dict):
        return {key: seen_update(value) for key, value in update.items()}
    if isinstance(update, (list, tuple)):
        return [seen_update(item) for item in update]
    return seen(update) if isinstance(update, BaseMessage) else update


GRAPH_INPUT: Any = {"messages": [("user", "hi")]}


async def perform(graph: Any, mode: str, config: dict[str, Any] | None = None) -> tuple[list[Any], list[str]]:
    """Run `graph` in `mode` as an app would: (what it saw: updates, final state or exception; callbacks)."""
    events: list[str] = []
    run_config = {"callbacks": [RecordingHandler(events)], **(config or {})}
    observed: list[Any] = []
    try:
        if mode == "invoke":
            observed.append(seen_update(graph.invoke(GRAPH_INPUT, run_config)))
        elif mode == "ainvoke":
            observed.append(seen_update(await graph.ainvoke(GRAPH_INPUT, run_config)))
        elif mode == "stream":
            observed.extend(seen_update(u) for u in graph.stream(GRAPH_INPUT, run_config, stream_mode="updates"))
        else:
            observed.extend(
                [seen_update(u) async for u in graph.astream(GRAPH_INPUT, run_config, stream_mode="updates")]
            )
    except Exception as error:
        observed.append((type(error).__name__, str(error)))
    return observed, events


def only(spans: list[ReadableSpan]) -> ReadableSpan:
    assert len(spans) == 1, [span.name for span in spans]
    return spans[0]


def named(telemetry: Telemetry, name: str) -> list[ReadableSpan]:
    return [span for span in telemetry.finished() if span.name == name]


# -- the tree ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_workflow_with_an_agent_subgraph_and_tool_calls_is_the_exact_tree(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    instrumentation.on()
    await perform(make_pipeline(), mode)
    assert span_tree(telemetry) == PIPELINE_TREE


@pytest.mark.parametrize("mode", MODES)
async def test_a_tool_error_that_propagates_fails_the_tool_the_agent_and_the_workflow(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    # ToolNode's default handle_tool_errors re-raises everything but argument errors.
    instrumentation.on()
    await perform(make_pipeline(handle_tool_errors=False), mode)
    tool_failure = f"{ToolFailure.__module__}.{ToolFailure.__qualname__}"
    assert span_tree(telemetry) == [
        (f"invoke_workflow {WORKFLOW_NAME}", INTERNAL, None, ERROR),
        (f"invoke_agent {AGENT_NAME}", INTERNAL, f"invoke_workflow {WORKFLOW_NAME}", ERROR),
        ("execute_tool echo", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
        ("execute_tool fails", INTERNAL, f"invoke_agent {AGENT_NAME}", ERROR),
    ]
    assert {attributes(span).get(semconv.ERROR_TYPE) for span in telemetry.finished() if span.status.is_ok is False}
    assert [attributes(span).get(semconv.ERROR_TYPE) for span in telemetry.finished()] == [
        None,
        tool_failure,
        tool_failure,
        tool_failure,
    ]


async def test_astream_events_gives_the_same_tree(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    [event async for event in make_pipeline().astream_events(GRAPH_INPUT, version="v2")]
    assert span_tree(telemetry) == PIPELINE_TREE


async def test_the_v3_event_streams_give_the_same_tree(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    # stream_events/astream_events(version="v3") hand stream/astream to LangGraph's GraphRunStream (beta).
    from langchain_core._api import LangChainBetaWarning

    instrumentation.on()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LangChainBetaWarning)
        list(make_pipeline().stream_events(GRAPH_INPUT, version="v3"))
        sync_tree = span_tree(telemetry)
        telemetry.spans.clear()
        [event async for event in await make_pipeline().astream_events(GRAPH_INPUT, version="v3")]
    assert (sync_tree, span_tree(telemetry)) == (PIPELINE_TREE, PIPELINE_TREE)


def test_batch_gives_one_tree_per_input(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_pipeline([answer("a"), answer("b"), answer("c")]).batch([GRAPH_INPUT, GRAPH_INPUT, GRAPH_INPUT])
    roots = [span for span in telemetry.finished() if span.parent is None]
    agents = named(telemetry, f"invoke_agent {AGENT_NAME}")
    assert [span.name for span in roots] == [f"invoke_workflow {WORKFLOW_NAME}"] * 3
    assert sorted(span.parent.span_id for span in agents if span.parent) == sorted(
        root.context.span_id for root in roots
    )


# -- transparency: the app sees the same with and without us ----------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("handle_tool_errors", [True, False])
async def test_the_app_sees_the_same_updates_results_errors_and_callbacks(
    instrumentation: Instrumentation, mode: str, handle_tool_errors: bool
) -> None:
    bare = await perform(make_pipeline(handle_tool_errors=handle_tool_errors), mode)
    instrumentation.on()
    traced = await perform(make_pipeline(handle_tool_errors=handle_tool_errors), mode)
    assert traced == bare
    assert "tool broke on x" in str(bare[0])  # the failing tool was called: by the model's message or the error
    assert "tool_error:ToolFailure" in bare[1]


async def test_astream_events_are_the_same_with_and_without_us(instrumentation: Instrumentation) -> None:
    def kinds(events: list[Any]) -> list[tuple[str, str]]:
        return [(event["event"], event["name"]) for event in events]

    bare = kinds([event async for event in make_pipeline().astream_events(GRAPH_INPUT, version="v2")])
    instrumentation.on()
    traced = kinds([event async for event in make_pipeline().astream_events(GRAPH_INPUT, version="v2")])
    assert traced == bare
    assert ("on_tool_start", "fails") in traced


@pytest.mark.parametrize("close", ["close", "drop"])
def test_a_stream_closed_or_dropped_early_reports_generator_exit_to_callbacks_as_without_us(
    instrumentation: Instrumentation, telemetry: Telemetry, close: str
) -> None:
    import gc

    def stop_after_first_update() -> list[str]:
        events: list[str] = []
        stream: Any = make_pipeline().stream(GRAPH_INPUT, {"callbacks": [RecordingHandler(events)]})
        next(stream)
        if close == "close":
            stream.close()
        del stream
        gc.collect()
        return events

    bare = stop_after_first_update()
    instrumentation.on()
    traced = stop_after_first_update()
    assert traced == bare
    assert bare[-1] == "chain_error:GeneratorExit"  # LangGraph's own report of the close, on the root run
    outcome = "closed_early" if close == "close" else "abandoned"
    assert attributes(only(named(telemetry, f"invoke_workflow {WORKFLOW_NAME}")))[semconv.OUTCOME] == outcome


# -- agent or workflow ------------------------------------------------------------------------------------


def plain_graph(name: str, node: Any = prepare) -> Any:
    builder = StateGraph(MessagesState)
    builder.add_node("work", node)
    builder.add_edge(START, "work")
    builder.add_edge("work", END)
    return builder.compile(name=name)


def test_a_graph_marked_as_an_agent_is_an_agent_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    graph = plain_graph("custom").with_config(metadata={"gen_ai.operation.name": "invoke_agent"})
    instrumentation.on()
    graph.invoke(GRAPH_INPUT)
    assert span_tree(telemetry) == [("invoke_agent custom", INTERNAL, None, UNSET)]


def test_an_unmarked_graph_is_a_workflow_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    plain_graph("custom").invoke(GRAPH_INPUT)
    span = only(telemetry.finished())
    assert (span.name, attributes(span)[semconv.GEN_AI_WORKFLOW_NAME]) == ("invoke_workflow custom", "custom")


def test_a_graph_and_its_copy_marked_as_an_agent_keep_their_own_kinds_run_after_run(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # What a graph is, is read once per graph object: the marked copy is another graph.
    graph = plain_graph("custom")
    marked = graph.with_config(metadata={"gen_ai.operation.name": "invoke_agent"})
    instrumentation.on()
    for run in (graph, marked, graph, marked):
        run.invoke(GRAPH_INPUT)
    assert [span.name for span in telemetry.finished()] == ["invoke_workflow custom", "invoke_agent custom"] * 2


def test_a_graphs_kind_is_not_kept_once_the_graph_is_collected(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # What a graph is, is kept by the graph's id with a weak reference: gone with the graph.
    import gc

    from otel_agent_instrumentation.adapters import langgraph

    instrumentation.on()
    gc.collect()
    kept_before = set(langgraph._graph_kinds)  # graphs other tests left reachable
    for _ in range(3):
        plain_graph("custom").invoke(GRAPH_INPUT)
    gc.collect()
    assert set(langgraph._graph_kinds) <= kept_before
    assert [span.name for span in telemetry.finished()] == ["invoke_workflow custom"] * 3


def test_a_kind_left_at_a_graphs_address_by_a_collected_graph_is_not_its_kind(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # An id is reused once its object is gone: what an agent graph collected at this address left is not read.
    import weakref

    from otel_agent_instrumentation.adapters import langgraph

    class Collected:
        pass

    graph = plain_graph("custom")
    dead_reference = weakref.ref(Collected())  # its referent is gone at once
    langgraph._graph_kinds[id(graph)] = (dead_reference, ("a-model", "openai"))
    instrumentation.on()
    graph.invoke(GRAPH_INPUT)
    assert [span.name for span in telemetry.finished()] == ["invoke_workflow custom"]


def test_a_marked_agent_does_not_make_its_subgraphs_agents(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # LangGraph passes the parent's run metadata down to its subgraphs' runs: only a graph's own config counts.
    builder = StateGraph(MessagesState)
    builder.add_node("inner", plain_graph("inner"))
    builder.add_edge(START, "inner")
    outer = builder.compile(name="outer").with_config(metadata={"gen_ai.operation.name": "invoke_agent"})
    instrumentation.on()
    outer.invoke(GRAPH_INPUT)
    assert span_tree(telemetry) == [
        ("invoke_agent outer", INTERNAL, None, UNSET),
        ("invoke_workflow inner", INTERNAL, "invoke_agent outer", UNSET),
    ]


def test_a_create_agent_graph_is_an_agent_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    agents = pytest.importorskip("langchain.agents")
    script = [tool_call_turn(("echo", {"text": "hi"}, "c1")), answer("done")]
    graph = agents.create_agent(scripted(script), [echo], name="assistant")
    instrumentation.on()
    graph.invoke(GRAPH_INPUT)
    assert span_tree(telemetry) == [
        ("invoke_agent assistant", INTERNAL, None, UNSET),
        ("execute_tool echo", INTERNAL, "invoke_agent assistant", UNSET),
    ]
    assert attributes(named(telemetry, "invoke_agent assistant")[0])[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 13


# -- nesting and re-entry -----------------------------------------------------------------------------------


def test_invoke_through_stream_is_one_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_agent([answer()]).invoke(GRAPH_INPUT)
    assert span_tree(telemetry) == [(f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET)]


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_a_graph_a_node_runs_is_a_child_span(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    # Another instance of the same compiled builder, run from inside a node: a nested run, not a layer.
    inner = plain_graph("inner")

    def call_inner(state: MessagesState) -> dict[str, Any]:
        return {"messages": inner.invoke(state)["messages"][-1:]}

    async def acall_inner(state: MessagesState) -> dict[str, Any]:
        return {"messages": (await inner.ainvoke(state))["messages"][-1:]}

    outer = plain_graph("outer", call_inner if mode == "invoke" else acall_inner)
    instrumentation.on()
    await perform(outer, mode)
    assert span_tree(telemetry) == [
        ("invoke_workflow outer", INTERNAL, None, UNSET),
        ("invoke_workflow inner", INTERNAL, "invoke_workflow outer", UNSET),
    ]


def test_two_instances_of_one_graph_nested_are_two_spans(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    copy = plain_graph("same")

    def call_copy(state: MessagesState) -> dict[str, Any]:
        return {"messages": copy.invoke(state)["messages"][-1:]}

    instrumentation.on()
    plain_graph("same", call_copy).invoke(GRAPH_INPUT)
    assert span_tree(telemetry) == [
        ("invoke_workflow same", INTERNAL, None, UNSET),
        ("invoke_workflow same", INTERNAL, "invoke_workflow same", UNSET),
    ]


def test_a_graph_re_entering_its_own_stream_is_one_run(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    # The same instance again while its run is current: a layer of that run (recursion), as for every adapter.
    depth: list[int] = []
    graph: Any = None

    def recurse(state: MessagesState) -> dict[str, Any]:
        depth.append(1)
        if len(depth) < 3:
            graph.invoke(state)
        return {"messages": []}

    graph = plain_graph("recursive", recurse)
    instrumentation.on()
    graph.invoke(GRAPH_INPUT)
    assert (len(depth), span_tree(telemetry)) == (3, [("invoke_workflow recursive", INTERNAL, None, UNSET)])


# -- tools ------------------------------------------------------------------------------------------------


def test_tool_spans_carry_the_tools_identity_and_the_models_call_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    make_pipeline().invoke(GRAPH_INPUT)
    identity = (
        semconv.GEN_AI_OPERATION_NAME,
        semconv.GEN_AI_TOOL_NAME,
        semconv.GEN_AI_TOOL_TYPE,
        semconv.GEN_AI_TOOL_DESCRIPTION,
        semconv.GEN_AI_TOOL_CALL_ID,
    )
    assert [[attributes(only(tool_spans(telemetry, n))).get(key) for key in identity] for n in ("echo", "fails")] == [
        ["execute_tool", "echo", "function", "Echoes its text.", "c1"],
        ["execute_tool", "fails", "function", "Always fails.", "c2"],
    ]


def test_a_tool_failure_answered_to_the_model_ends_error_with_the_tools_exception(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    state = make_pipeline().invoke(GRAPH_INPUT)
    span = only(tool_spans(telemetry, "fails"))
    assert [m.status for m in state["messages"] if isinstance(m, ToolMessage)] == ["success", "error"]
    assert (span.status.status_code, span.status.description, attributes(span)[semconv.ERROR_TYPE]) == (
        StatusCode.ERROR,
        "tool broke on x",
        f"{ToolFailure.__module__}.{ToolFailure.__qualname__}",
    )
    assert attributes(span)[semconv.OUTCOME] == "failed"


def test_a_tool_exception_the_tool_itself_handles_ends_error_with_its_class(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    from langchain_core.tools import ToolException

    @tool
    def refuses(text: str) -> str:
        """Refuses."""
        raise ToolException(f"refused {text}")

    refuses.handle_tool_error = True  # the tool answers its own ToolException with an error ToolMessage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(scripted([tool_call_turn(("refuses", {"text": "x"}, "c1")), answer()]), [refuses])
    instrumentation.on()
    agent.invoke(GRAPH_INPUT)
    span = only(tool_spans(telemetry, "refuses"))
    assert (span.status.status_code, attributes(span)[semconv.ERROR_TYPE]) == (
        StatusCode.ERROR,
        "langchain_core.tools.base.ToolException",
    )


def test_a_call_of_a_tool_the_node_does_not_have_gets_no_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    make_helper([tool_call_turn(("missing", {}, "c1")), answer()]).invoke(GRAPH_INPUT)
    assert span_tree(telemetry) == [(f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET)]


def spans_by_id(telemetry: Telemetry) -> dict[int, ReadableSpan]:
    return {span.context.span_id: span for span in telemetry.finished() if span.context is not None}


def test_sync_tool_calls_run_in_langgraphs_thread_pool_under_the_agent_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    threads: list[str] = []

    @tool
    def where(text: str) -> str:
        """Says where it runs."""
        threads.append(threading.current_thread().name)
        return "here"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(
            scripted([tool_call_turn(("where", {"text": "?"}, "c1")), answer()]),
            [where],
            name=AGENT_NAME,
        )
    instrumentation.on()
    agent.invoke(GRAPH_INPUT)
    assert threads != [threading.current_thread().name]  # a worker thread
    assert span_tree(telemetry) == [
        (f"invoke_agent {AGENT_NAME}", INTERNAL, None, UNSET),
        ("execute_tool where", INTERNAL, f"invoke_agent {AGENT_NAME}", UNSET),
    ]


# -- concurrency ------------------------------------------------------------------------------------------


def assert_one_tree_per_trace(telemetry: Telemetry, runs: int) -> None:
    traces: dict[int, list[ReadableSpan]] = {}
    for span in telemetry.finished():
        traces.setdefault(span.context.trace_id, []).append(span)
    assert len(traces) == runs
    for spans in traces.values():
        names = {span.context.span_id: span.name for span in spans}
        rows = sorted(
            (span.name, names.get(span.parent.span_id) if span.parent else None, span.status.status_code)
            for span in spans
        )
        assert rows == sorted((name, parent, status) for name, _, parent, status in PIPELINE_TREE)


async def test_many_concurrent_async_runs_each_have_their_own_tree(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    states = await asyncio.gather(*(make_pipeline().ainvoke(GRAPH_INPUT) for _ in range(50)))
    assert {state["messages"][-1].content for state in states} == {"done"}
    assert_one_tree_per_trace(telemetry, 50)


def test_sync_runs_in_many_threads_each_have_their_own_tree(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    # Built here, not in the threads: make_helper silences create_react_agent's deprecation warning with
    # warnings.catch_warnings(), which swaps the process-wide filters and is not thread-safe (a thread leaving
    # it restored "error" while another was still inside: a flaky failure in CI).
    pipelines = [make_pipeline() for _ in range(24)]
    with ThreadPoolExecutor(8) as pool:
        states = list(pool.map(lambda pipeline: pipeline.invoke(GRAPH_INPUT), pipelines))
    assert {state["messages"][-1].content for state in states} == {"done"}
    assert_one_tree_per_trace(telemetry, 24)


async def test_each_concurrent_run_records_its_own_thread_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    threads = [f"thread-{n}" for n in range(10)]
    await asyncio.gather(
        *(make_helper([answer()]).ainvoke(GRAPH_INPUT, {"configurable": {"thread_id": t}}) for t in threads)
    )
    recorded = sorted(str(attributes(span)[semconv.GEN_AI_CONVERSATION_ID]) for span in telemetry.agent_spans())
    assert recorded == sorted(threads)


# -- what the agent span reads --------------------------------------------------------------------------------


def test_agent_span_records_the_thread_id_as_the_conversation_id(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    make_helper([answer()]).invoke(GRAPH_INPUT, {"configurable": {"thread_id": "thread-7"}})
    assert attributes(only(telemetry.agent_spans()))[semconv.GEN_AI_CONVERSATION_ID] == "thread-7"


@pytest.mark.parametrize("mode", MODES)
async def test_agent_usage_is_the_sum_of_the_ai_messages_the_run_wrote(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    instrumentation.on()
    await perform(make_helper(ECHO_THEN_FAILS), mode)
    attrs = attributes(only(telemetry.agent_spans()))
    # Two tool-call turns (3 in, 1 out each) and the answer (10 in, 5 out).
    assert (attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS], attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS]) == (16, 7)


@pytest.mark.parametrize(("mode", "points"), [("invoke", 0), ("ainvoke", 0), ("stream", 1), ("astream", 1)])
async def test_time_to_first_chunk_is_recorded_where_the_run_reaches_its_caller_in_steps(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str, points: int
) -> None:
    # invoke returns and ainvoke is awaited whole, as OpenAI Agents' Runner.run: the stream each iterates is a
    # layer of their run, not its caller's (adapters/langgraph.py).
    instrumentation.on()
    await perform(make_helper([answer()]), mode)
    assert len(telemetry.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)) == points


@pytest.mark.parametrize("mode", MODES)
async def test_an_agent_runs_loop_is_not_kept_once_it_is_collected(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    # Each agent run ties its loop to its messages (the loop's writes find their run through it); the tie is
    # weak, gone with the loop, whatever reuses its address.
    import gc

    from otel_agent_instrumentation.adapters import langgraph

    instrumentation.on()
    gc.collect()
    tied_before = set(langgraph._loops)  # loops other tests' runs left reachable
    for _ in range(3):
        await perform(make_helper([answer()]), mode)
    gc.collect()
    assert set(langgraph._loops) <= tied_before
    assert [attributes(span)[semconv.GEN_AI_USAGE_INPUT_TOKENS] for span in telemetry.agent_spans()] == [10] * 3


def test_a_second_turn_on_a_thread_counts_only_its_own_messages(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The checkpointer hands the first turn's messages back to the second run's state: not the second run's.
    agent = make_helper([answer("one"), answer("two")], checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t"}}
    instrumentation.on()
    agent.invoke(GRAPH_INPUT, config)
    state = agent.invoke(GRAPH_INPUT, config)
    assert [seen(m)[1] for m in state["messages"] if isinstance(m, AIMessage)] == ["one", "two"]
    assert [attributes(span)[semconv.GEN_AI_USAGE_INPUT_TOKENS] for span in telemetry.agent_spans()] == [10, 10]


def test_ai_messages_given_as_input_are_not_the_runs_usage(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    history: Any = {"messages": [("user", "hi"), answer("earlier"), ("user", "again")]}
    instrumentation.on()
    make_helper([answer("now")]).invoke(history)
    assert attributes(only(telemetry.agent_spans()))[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 10


def test_a_sub_agents_tokens_are_counted_once_on_its_own_span(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # An agent graph with an agent subgraph node, which writes the subgraph's messages into its own state.
    builder = StateGraph(MessagesState)
    builder.add_node("helper", make_helper(ECHO_THEN_FAILS))
    builder.add_node("closer", make_helper([answer("closing")]))
    builder.add_edge(START, "helper")
    builder.add_edge("helper", "closer")
    outer = builder.compile(name="boss").with_config(metadata={"gen_ai.operation.name": "invoke_agent"})
    instrumentation.on()
    outer.invoke(GRAPH_INPUT)
    helpers = [attributes(span) for span in telemetry.agent_spans() if span.name == f"invoke_agent {AGENT_NAME}"]
    boss = attributes(only(named(telemetry, "invoke_agent boss")))
    points = telemetry.metric_points(semconv.METRIC_CLIENT_TOKEN_USAGE)
    input_points = sum(p.sum for p in points if p.attributes[semconv.GEN_AI_TOKEN_TYPE] == semconv.TOKEN_TYPE_INPUT)
    assert [span[semconv.GEN_AI_USAGE_INPUT_TOKENS] for span in helpers] == [16, 10]
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in boss  # its nodes made no model call of their own
    assert input_points == 26


def test_a_workflow_span_records_no_usage(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_pipeline().invoke(GRAPH_INPUT)
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in attributes(
        only(named(telemetry, f"invoke_workflow {WORKFLOW_NAME}"))
    )


def test_fake_model_records_provider_other(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    # langchain-core's fallback provider is guessed from the class name: not a provider.
    instrumentation.on()
    make_helper([answer()]).invoke(GRAPH_INPUT)
    assert attributes(only(telemetry.agent_spans()))[semconv.GEN_AI_PROVIDER_NAME] == semconv.PROVIDER_OTHER


def test_chat_openai_records_provider_and_model(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    from langchain_openai import ChatOpenAI

    # Never called: the agent answers nothing here, the span is read at the call.
    model = ChatOpenAI(model="gpt-4o-mini", api_key="offline", base_url="http://127.0.0.1:9/v1")  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(model, [echo], name=AGENT_NAME)
    instrumentation.on()
    stream: Any = agent.stream(GRAPH_INPUT)
    stream.close()  # before the first pull: no request made
    attrs = attributes(only(telemetry.agent_spans()))
    assert (attrs[semconv.GEN_AI_PROVIDER_NAME], attrs[semconv.GEN_AI_REQUEST_MODEL]) == ("openai", "gpt-4o-mini")


def test_an_agent_graphs_model_is_read_at_its_first_run_only(
    instrumentation: Instrumentation, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_openai import ChatOpenAI

    reads: list[str] = []
    read_params = ChatOpenAI._get_ls_params

    def counted(self: Any, **kwargs: Any) -> Any:
        reads.append(self.model_name)
        return read_params(self, **kwargs)

    monkeypatch.setattr(ChatOpenAI, "_get_ls_params", counted)
    model = ChatOpenAI(model="gpt-4o-mini", api_key="offline", base_url="http://127.0.0.1:9/v1")  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(model, [echo], name=AGENT_NAME)
    instrumentation.on()
    for _ in range(2):
        stream: Any = agent.stream(GRAPH_INPUT)
        stream.close()  # before the first pull: no request made
    models = [attributes(span)[semconv.GEN_AI_REQUEST_MODEL] for span in telemetry.agent_spans()]
    assert (models, reads) == (["gpt-4o-mini", "gpt-4o-mini"], ["gpt-4o-mini"])


# -- interrupts are LangGraph's control flow ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_an_interrupted_subgraph_and_the_resumed_run_end_completed(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    # The subgraph node raises GraphInterrupt out of the inner graph's own invoke/ainvoke (its stream, its awaited
    # run): LangGraph's control flow, not a failure.
    def approve(state: MessagesState) -> dict[str, Any]:
        return {"messages": [("user", str(interrupt("approve?")))]}

    builder = StateGraph(MessagesState)
    builder.add_node("inner", plain_graph("inner", approve))
    builder.add_edge(START, "inner")
    outer = builder.compile(name="outer", checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t"}}
    instrumentation.on()
    if mode == "invoke":
        first = outer.invoke(GRAPH_INPUT, config)
        second = outer.invoke(Command(resume="yes"), config)
    else:
        first = await outer.ainvoke(GRAPH_INPUT, config)
        second = await outer.ainvoke(Command(resume="yes"), config)
    assert ("__interrupt__" in first, second["messages"][-1].content) == (True, "yes")
    assert span_tree(telemetry) == [
        ("invoke_workflow outer", INTERNAL, None, UNSET),
        ("invoke_workflow inner", INTERNAL, "invoke_workflow outer", UNSET),
        ("invoke_workflow outer", INTERNAL, None, UNSET),
        ("invoke_workflow inner", INTERNAL, "invoke_workflow outer", UNSET),
    ]


def test_a_tool_that_interrupts_ends_completed(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    @tool
    def ask(text: str) -> str:
        """Asks a human."""
        return str(interrupt(text))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(
            scripted([tool_call_turn(("ask", {"text": "ok?"}, "c1")), answer()]),
            [ask],
            checkpointer=InMemorySaver(),
        )
    instrumentation.on()
    agent.invoke(GRAPH_INPUT, {"configurable": {"thread_id": "t"}})
    span = only(tool_spans(telemetry, "ask"))
    assert (span.status.status_code, attributes(span)[semconv.OUTCOME]) == (StatusCode.UNSET, "completed")


# -- content, suppression, uninstrument -----------------------------------------------------------------------


def test_no_content_is_recorded_by_default(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on()
    make_pipeline().invoke(GRAPH_INPUT)
    content_keys = {
        semconv.GEN_AI_INPUT_MESSAGES,
        semconv.GEN_AI_OUTPUT_MESSAGES,
        semconv.GEN_AI_TOOL_CALL_ARGUMENTS,
        semconv.GEN_AI_TOOL_CALL_RESULT,
    }
    assert [sorted(content_keys & set(attributes(span))) for span in telemetry.finished()] == [[], [], [], []]


def test_content_capture_records_messages_and_tool_arguments_and_results(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(capture_content="SPAN_ONLY")
    make_helper(ECHO_THEN_FAILS).invoke(GRAPH_INPUT)
    agent = attributes(only(telemetry.agent_spans()))
    echo_span = attributes(only(tool_spans(telemetry, "echo")))
    assert json.loads(str(agent[semconv.GEN_AI_INPUT_MESSAGES])) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    ]
    assert json.loads(str(agent[semconv.GEN_AI_OUTPUT_MESSAGES])) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "done"}]}
    ]
    assert (echo_span[semconv.GEN_AI_TOOL_CALL_ARGUMENTS], echo_span[semconv.GEN_AI_TOOL_CALL_RESULT]) == (
        '{"text": "hi"}',
        "echo:hi",
    )


@pytest.mark.parametrize("mode", MODES)
async def test_suppressed_runs_make_no_spans_and_see_the_same(
    instrumentation: Instrumentation, telemetry: Telemetry, mode: str
) -> None:
    bare = await perform(make_pipeline(), mode)
    instrumentation.on()
    with suppress_instrumentation():
        traced = await perform(make_pipeline(), mode)
    assert (traced, telemetry.finished()) == (bare, [])


def test_uninstrument_restores_every_patched_method_and_stops_tracing(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    originals = (Pregel.stream, Pregel.astream, ToolNode._execute_tool_sync, ToolNode._execute_tool_async)
    instrumentation.on()
    assert Pregel.stream is not originals[0]
    instrumentation.off()  # checks every patch is the very same object again
    make_pipeline().invoke(GRAPH_INPUT)
    assert (Pregel.stream, Pregel.astream, ToolNode._execute_tool_sync, ToolNode._execute_tool_async) == originals
    assert telemetry.finished() == []


def test_the_callers_span_is_current_again_after_each_pull(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    caller = trace.get_current_span()
    currents = [trace.get_current_span() is caller for _ in make_pipeline().stream(GRAPH_INPUT)]
    assert currents == [True, True]

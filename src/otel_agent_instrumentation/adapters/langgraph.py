"""LangGraph (PyPI `langgraph`, with `langchain-core`), checked against 1.2.24 (langgraph-prebuilt 1.1.3,
langchain-core 1.8.3, langchain 1.5.0 for `create_agent`).

Targets: `Pregel.invoke` (a plain method), `Pregel.stream` (a generator function), `Pregel.astream` (an async
generator function) and `Pregel.ainvoke` (an `async def`), langgraph/pregel/main.py. Every run of a compiled graph
passes one of them: `invoke` iterates `self.stream(...)` and `ainvoke` iterates `self.astream(...)` (layers of
their runs: the core's re-entry guard binds them unwrapped), `batch`/`abatch` call `invoke`/`ainvoke` (in
langchain-core's context-copying executor), `astream_events` (v1/v2: langchain-core iterates `astream`;
v3: `_apregel_stream_v3` hands `astream` to its `AsyncGraphRunStream`) and `stream_events(version="v3")`
(`_pregel_stream_v3` iterates `stream`). `CompiledStateGraph` inherits them. Calling `stream` or `astream` does
nothing until the first pull: the returned generator comes back behind the core's stream proxy and the span ends
with what the consumer does to it (exhausted, a pull raising, cancelled, closed, dropped and collected).
The proxy never pulls, closes or finalizes the generator: closing it makes LangGraph report
`on_chain_error(GeneratorExit)` on the root run's callbacks, with or without us; a dropped one is
finalized by Python as without us. The span is current during each pull, which is where LangGraph runs
the graph's steps: the nodes' threads (`BackgroundExecutor.submit` copies the context) and tasks
(`asyncio` copies it) are created there, so everything a node does is under the graph's span.

`invoke` is a run of its own, the span current for the whole call (one attach, where a stream's run attaches at
each pull), and `ainvoke`'s coroutine comes back behind the core's coroutine proxy, the span current for its
whole await (an `ainvoke` of the benchmark's agent pulls `astream` 4 times) and ended with it; one never awaited
ends abandoned when collected. A `GraphInterrupt`/`ParentCommand` either raises ends its run completed (the
targets' `on_error` and the coroutine's; `GraphStreamMethods` for a stream). Neither records time to first chunk:
they hand their caller nothing in steps. An agent run's messages are noted on its invocation when it starts, before
the graph runs (`note_agent_run`, the targets' `on_start`).

One span per run: `invoke -> stream` and `ainvoke -> astream` are layers of one run. A subgraph (a compiled
graph added as a node, or a graph a node or a tool calls) runs its own `invoke`/`ainvoke` -> `stream`/`astream`
inside the parent's step: another graph instance, so the core's re-entry guard makes it a child span. The same
graph instance re-entering its own stream while its run is current is a layer of that run (recursion).

What a run is:
- `invoke_agent {graph.name}` for an agent graph: one built by `langgraph.prebuilt.create_react_agent`
  (its `agent` node is the prebuilt `call_model`), one built by `langchain.agents.create_agent` (it marks
  its graph with `metadata={"ls_integration": "langchain_create_agent"}`), or any graph the application
  marks as an agent: `graph.with_config(metadata={"gen_ai.operation.name": "invoke_agent"})`. Only the
  graph's own config (`graph.config`, set by `with_config`) is read, not the run's: LangGraph passes the
  parent's metadata down to subgraphs' runs, and a parent marked as an agent must not make its subgraphs
  agents too.
- `invoke_workflow {graph.name}` for any other compiled graph.

An agent's `gen_ai.request.model` and `gen_ai.provider.name` come from the chat model the prebuilt graph
holds (the `static_model`/`model` its model node closes over, unwrapped from `prompt | model` and
`bind_tools` bindings): the model's own `_get_ls_params()` (`ls_provider`, `ls_model_name`, LangChain's
tracing identity) when its class overrides it (`ChatOpenAI`: `openai`), else `_OTHER` and the model's
`model_name`/`model` attribute. A dynamic model (a callable) and a marked custom graph: `_OTHER`.
Whether a graph is an agent, and its agent's model and provider, are read at the graph's first run and
kept for that graph object (its nodes and own config are fixed when it is compiled; `with_config` makes a
new graph): a model changed in place after that run is not seen. `gen_ai.conversation.id` is
`config["configurable"]["thread_id"]` (the run's config, else the graph's own). Workflow spans carry the
workflow's name only (the core records conversation ids and usage on agent spans).

Usage of an agent run: the `usage_metadata` of the `AIMessage`s the run's nodes wrote. Every node's
writes pass `PregelLoop.put_writes` (langgraph/pregel/_loop.py; the sync and async loops call it through
`super()`), which is wrapped to look at the writes it is handed (an `AIMessage`, or a list of them, per
channel) and nothing else. A loop is tied to its run when it is entered (`SyncPregelLoop.__enter__`,
`AsyncPregelLoop.__aenter__`, called in the run's first pull, with its span current); writes committed
from node threads or task callbacks find their run through the loop. Only the writes of the nodes the
run's steps run count: not the input (it enters as the writes of the `__start__` task), not messages
already in the graph's state (its channels) when the first node's write comes (the input, a thread's
earlier turns restored by the checkpointer), not writes replayed from the node cache (`cached=True`).
Each message counts once (by id), in the innermost agent run that wrote it: an agent graph run inside a
node of another agent graph (a subgraph, or a graph a node runs) has its tokens on its own span, and the
enclosing agent's span has those of its own nodes' model calls, even when the subgraph's messages are
written again by the enclosing node; so the token-usage points count every token once. (An agent inside
a workflow, the usual shape, is unaffected: workflow spans carry no usage.)

Interrupts: a subgraph interrupted by `interrupt()` raises `GraphInterrupt` out of its stream, and a
subgraph handing control to its parent raises `ParentCommand`: both are LangGraph's control flow, not
failures, and end the span completed (as a root graph's interrupted stream ends normally). Resuming with
`Command(resume=...)` is a new run (a new span, the same thread id).

Tool calls: `ToolNode` (langgraph/prebuilt/tool_node.py) runs each tool call the model made through
`ToolNode._execute_tool_sync` (sync graphs: in langchain-core's context-copying executor, one thread per
call) or `_execute_tool_async` (awaited where it is made, `asyncio.gather`ed), also once per attempt of
a `wrap_tool_call` that retries. Each is an `execute_tool {tool name}` span, `gen_ai.tool.type`
`function`, the tool's description and `gen_ai.tool.call.id` = the model's tool call id; arguments (the
model's, without injected state) and the `ToolMessage` content only with content capture. A call of a
tool the node does not have runs nothing (LangGraph answers with an error message): no span. A tool that
raises: the exception leaves `_execute_tool_sync` (the default `handle_tool_errors` re-raises everything
but argument errors) and the span ends ERROR with it; or `ToolNode` (or the tool's own
`handle_tool_error`/`handle_validation_error`) turns it into a `ToolMessage(status="error")`: the
handler functions (`_handle_tool_error` of langgraph's tool node and of langchain-core's tools,
`_handle_validation_error`) are wrapped to note the exception they are handed while our tool span is the
innermost run, and the span ends ERROR with that exception's class; a `ToolMessage(status="error")` with
no exception noted (a tool returning one) ends ERROR `_OTHER` with its content. `GraphInterrupt` (a tool
calling `interrupt()`) and `ParentCommand` end the tool span completed.

LangGraph and langchain-core have no OpenTelemetry tracing of their own: nothing to stand down. Their
callbacks (LangSmith's tracer, the app's handlers) are left as they are.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Mapping, Sequence
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from .. import semconv
from .._context import instrumentation_enabled
from .._guard import report_failure
from ..awaited import traced_await
from ..config import Config
from ..invocation import (
    ABANDONED,
    AGENT,
    COMPLETED,
    FAILED,
    TOOL,
    WORKFLOW,
    Invocation,
    Outcome,
    RequestFacts,
    ResultFacts,
    active_invocation,
)
from ..stream import finish_with_error, read_facts, trace_coroutine, trace_result
from ._base import FrameworkAdapter, HandledFailures, HookTarget, ResultReader, RunTarget, Target, is_mapping

if TYPE_CHECKING:
    from .._patching import WrapperFunction
    from ..invocation import Telemetry

name = "langgraph"
distribution = "langgraph"
supported = ">=1.2,<1.3"

# How an application marks its own graph as an agent: graph.with_config(metadata={AGENT_MARK_KEY: "invoke_agent"}).
AGENT_MARK_KEY = semconv.GEN_AI_OPERATION_NAME
# langchain.agents.create_agent marks its graph so (langchain/agents/factory.py, 1.5.0).
_CREATE_AGENT_INTEGRATION = "langchain_create_agent"
# create_react_agent's model node: RunnableCallable(call_model, acall_model) named "agent".
_PREBUILT_MODEL_NODES: tuple[tuple[str, str, str], ...] = (
    ("agent", "langgraph.prebuilt.chat_agent_executor", "static_model"),
    ("model", "langchain.agents.factory", "model"),
)
_TOOL_REENTRY_KEY = f"{name}:tool"
_ERROR_STATUS = "error"  # ToolMessage.status of a failed call
_START_NODE = "__start__"  # langgraph.constants.START: the task that writes the run's input

# Enum members read off their class cost about 1k instructions each: module globals on runs' paths.
# Exceptions that are LangGraph's control flow (set in targets(): GraphInterrupt, ParentCommand).
_control_flow: tuple[type[BaseException], ...] = ()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- what a graph is ------------------------------------------------------------------------------------


def _own_metadata(graph: Any) -> Mapping[str, Any]:
    config = getattr(graph, "config", None)
    metadata = config.get("metadata") if isinstance(config, Mapping) else None
    return metadata if isinstance(metadata, Mapping) else {}


def _closure(function: Any) -> dict[str, Any]:
    cells = getattr(function, "__closure__", None) or ()
    names = getattr(getattr(function, "__code__", None), "co_freevars", ())
    values: dict[str, Any] = {}
    for variable, cell in zip(names, cells, strict=False):
        try:
            values[variable] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
    return values


def _prebuilt_model(graph: Any) -> tuple[bool, Any]:
    """(whether `graph` was built by create_react_agent or create_agent, the chat model it holds or None)."""
    nodes = getattr(graph, "nodes", None)
    if not isinstance(nodes, Mapping):
        return False, None
    for node_name, module, variable in _PREBUILT_MODEL_NODES:
        bound = getattr(nodes.get(node_name), "bound", None)
        function = getattr(bound, "func", None) or getattr(bound, "afunc", None)
        if getattr(function, "__module__", None) == module:
            return True, _closure(function).get(variable)
    return False, None


def _chat_model(runnable: Any) -> Any:
    """The chat model inside `prompt | model.bind_tools(...)`: a RunnableSequence's last step, a binding's bound."""
    for _ in range(8):
        if hasattr(runnable, "bound"):
            runnable = runnable.bound
        elif hasattr(runnable, "last") and hasattr(runnable, "first"):
            runnable = runnable.last
        else:
            break
    return runnable


def _overrides_ls_params(model: Any) -> bool:
    """Whether the model's class says its own provider (langchain-core's fallback guesses it from the class name)."""
    for cls in type(model).__mro__:
        if "_get_ls_params" in vars(cls):
            return not cls.__module__.startswith("langchain_core.")
    return False


def _model_facts(model: Any) -> tuple[str | None, str | None]:
    """(request model, provider) of a chat model."""
    model = _chat_model(model)
    if model is None:
        return None, None
    if _overrides_ls_params(model):
        try:
            params = model._get_ls_params()
        except Exception:
            params = None
        if isinstance(params, Mapping):
            return _text(params.get("ls_model_name")), semconv.provider_name(params.get("ls_provider"))
    return _text(getattr(model, "model_name", None)) or _text(getattr(model, "model", None)), None


def _thread_id(config: Any) -> str | None:
    configurable = config.get("configurable") if is_mapping(config) else None
    thread = configurable.get("thread_id") if is_mapping(configurable) else None
    if isinstance(thread, str):
        return thread or None
    return str(thread) if isinstance(thread, int) and not isinstance(thread, bool) else None


_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "user": "user"}


def _message_json(message: Any) -> dict[str, Any] | None:
    """A LangChain message (or a ("role", "text") pair) in the conventions' shape; None for anything else."""
    if isinstance(message, tuple) and len(message) == 2 and isinstance(message[1], str):
        role, content = message
    else:
        role, content = getattr(message, "type", None), getattr(message, "content", None)
    if not isinstance(role, str) or role not in _ROLES:
        return None
    parts: list[dict[str, Any]]
    if isinstance(content, str):
        parts = [{"type": "text", "content": content}]
    elif isinstance(content, list):
        parts = [
            {"type": "text", "content": block if isinstance(block, str) else block.get("text")}
            for block in content
            if isinstance(block, str) or (isinstance(block, Mapping) and isinstance(block.get("text"), str))
        ]
    else:
        return None
    return {"role": _ROLES[role], "parts": parts}


def _input_messages(graph_input: Any) -> list[dict[str, Any]] | None:
    messages = graph_input.get("messages") if isinstance(graph_input, Mapping) else None
    if not isinstance(messages, (list, tuple)):
        return None
    converted = [json_message for json_message in map(_message_json, messages) if json_message is not None]
    return converted or None


# What a compiled graph is: None for a workflow, else its agent's (request model, provider).
_GraphKind = tuple[str | None, str | None] | None

# By graph: a compiled graph's nodes and own config are set when it is compiled (`with_config` returns a
# copy), so what it is is read at its first run; reading it took 16 us a run (its chat model's attribute
# misses raise AttributeError inside pydantic, and `_get_ls_params()` builds a dict). Kept by id(graph) with a weak
# reference to the graph (`_keep_by_id`): a WeakKeyDictionary's Python-level lookup cost about 1.5k instructions a run.
_graph_kinds: dict[int, tuple[weakref.ref[Any], _GraphKind]] = {}


def _keep_by_id(table: dict[int, tuple[weakref.ref[Any], Any]], key_object: Any, value: Any) -> None:
    """`table[id(key_object)] = (a weak reference to key_object, value)`, the entry dropped when `key_object` is
    collected; raises TypeError for an object that cannot be weakly referenced. A reader checks the reference
    (`entry[0]() is key_object`): an id is reused once its object is gone."""
    key = id(key_object)

    def forget(reference: weakref.ref[Any]) -> None:
        # Only this object's entry: one made later at the same address has its own reference.
        kept = table.get(key)
        if kept is not None and kept[0] is reference:
            table.pop(key, None)

    table[key] = (weakref.ref(key_object, forget), value)


def _read_graph_kind(graph: Any) -> _GraphKind:
    metadata = _own_metadata(graph)
    prebuilt, model = _prebuilt_model(graph)
    if not (
        prebuilt
        or metadata.get(AGENT_MARK_KEY) == semconv.INVOKE_AGENT
        or metadata.get("ls_integration") == _CREATE_AGENT_INTEGRATION
    ):
        return None
    return _model_facts(model)


def _first_graph_kind(graph: Any) -> _GraphKind:
    """What a graph not kept yet is, read and kept (read_graph_request looks the kept one up itself)."""
    kind = _read_graph_kind(graph)
    try:
        _keep_by_id(_graph_kinds, graph, kind)
    except TypeError:  # a graph that cannot be weakly referenced: read at each run
        pass
    return kind


def read_graph_request(graph: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    run_config = args[1] if len(args) > 1 else kwargs.get("config")
    # _text and the kept kind's lookup written out: every run passes here (a Python call each, about 0.5k).
    graph_name = getattr(graph, "name", None)
    if not (isinstance(graph_name, str) and graph_name):
        graph_name = None
    kept = _graph_kinds.get(id(graph))
    kind = kept[1] if kept is not None and kept[0]() is graph else _first_graph_kind(graph)
    # Fields set after the facts are made, not passed as keywords to the class (about 0.6k instructions each).
    if kind is None:
        facts = RequestFacts(WORKFLOW)
        facts.workflow_name = graph_name
        return facts
    facts = RequestFacts()
    facts.agent_name = graph_name
    facts.request_model, facts.provider_name = kind
    # No config (the usual run, and a graph compiled without one) has no thread id: not asked (3k a call).
    conversation_id = _thread_id(run_config) if run_config else None
    if conversation_id is None:
        own_config = getattr(graph, "config", None)
        if own_config:
            conversation_id = _thread_id(own_config)
    if conversation_id is not None:
        facts.conversation_id = conversation_id
    if config.capture_content.enabled:
        facts.input_messages = _input_messages(args[0] if args else kwargs.get("input"))
    return facts


# -- an agent run's messages: the writes its nodes committed (see the module docstring) ---------------


class _RunMessages:
    """The AIMessages one agent run's nodes wrote. Appended to from node threads (list.append is atomic)."""

    __slots__ = ("__weakref__", "baseline", "enclosing", "nested", "written")

    def __init__(self, enclosing: _RunMessages | None) -> None:
        # Ids of the messages in the state when the run's first write came: not the run's own.
        self.baseline: frozenset[str] | None = None
        self.written: list[Any] = []
        # The agent run this one runs inside (a subgraph of an agent graph), which must not count this
        # run's messages again, and the messages nested agent runs counted.
        self.enclosing = enclosing
        self.nested: set[Any] = set()


# id(an entered loop) -> (a weak reference to the loop, the messages of the run that entered it), kept by
# `_keep_by_id`; an agent run's own messages are its invocation's `noted` (a `_RunMessages`, read in place where they
# are read, a Python call saved each time). What a WeakKeyDictionary keyed by the loop would hold, read through the
# dict's own methods: its Python-level get and len (each node's writes ask both) cost 1-2k instructions each.
_loops: dict[int, tuple[weakref.ref[Any], _RunMessages]] = {}


# An AIMessage (or chunk): its `type` is one of these and it has `usage_metadata`; told in place where messages are
# walked (the state's, a node's writes), not by a helper: a call per message is about 0.7k instructions.
_AI_MESSAGE_TYPES = ("ai", "AIMessageChunk")


def _state_message_ids(loop: Any) -> frozenset[str]:
    """Ids of the AIMessages in the loop's channels: the state as it was before the run's first write
    (its input, and a thread's earlier turns restored from the checkpointer)."""
    channels = getattr(loop, "channels", None)
    if not (isinstance(channels, dict) or is_mapping(channels)):  # a dict (LangGraph's) without a Python call
        return frozenset()
    ids: set[str] = set()
    for channel in list(channels.values()):
        try:
            # An empty channel's get() raises EmptyChannelError (about 0.6 us each, two a run for a plain
            # graph); is_available() tells it without (each langgraph channel has its own).
            if not channel.is_available():
                continue
            value = channel.get()
        except Exception:
            continue
        # Messages told in place (see _AI_MESSAGE_TYPES): this walks every message of the state once an agent run,
        # a thread's restored history included. Through a helper call per message and a generator per channel the
        # whole scan was 22k instructions for a two-message state.
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if getattr(item, "type", None) in _AI_MESSAGE_TYPES and hasattr(item, "usage_metadata"):
                message_id = item.id
                if isinstance(message_id, str):
                    ids.add(message_id)
    return frozenset(ids)


def _tie_loop_to_run(telemetry: Telemetry) -> WrapperFunction:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            # The run's messages read in place here and in the predicate: both run on each loop's entry.
            invocation = active_invocation()
            messages = invocation.noted if invocation is not None else None
            if isinstance(messages, _RunMessages):
                _keep_by_id(_loops, instance, messages)
        except Exception:
            report_failure("following a langgraph run's loop")
        return wrapped(*args, **kwargs)

    return wrapper


def _agent_runs_running(loop: Any) -> bool:
    """Whether the loop is entered inside an agent run of ours, the only loop to tie. Any other (in a workflow,
    or under suppression) is entered straight through to LangGraph."""
    invocation = active_invocation()
    return invocation is not None and isinstance(invocation.noted, _RunMessages)


def _note_writes(telemetry: Telemetry) -> WrapperFunction:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            _fold_writes(instance, args, kwargs)
        except Exception:
            report_failure("reading a langgraph node's writes")
        return wrapped(*args, **kwargs)

    return wrapper


def _loops_tied(loop: Any) -> bool:
    """Whether any loop is tied to an agent run of ours. While none is (no agent run of ours in progress:
    only workflows, or runs under suppression), every write goes straight to LangGraph."""
    return bool(_loops)


def _fold_writes(loop: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # put_writes(task_id, writes, *, cached=False)
    tied = _loops.get(id(loop))
    if tied is None or tied[0]() is not loop or kwargs.get("cached"):
        return
    messages = tied[1]
    # Only the writes of the nodes this step runs: the input enters the graph as the writes of its
    # `__start__` task, and other writes (a resume's, an input for a delta channel) are no node's.
    tasks = getattr(loop, "tasks", None)
    # A dict (LangGraph's own) and AIMessages checked in place, as in _state_message_ids, not through is_mapping or a
    # helper: each node's writes pass here, and a Python call each is about 0.5k instructions.
    if not (isinstance(tasks, dict) or is_mapping(tasks)):
        return
    task = tasks.get(args[0] if args else kwargs.get("task_id"))
    if task is None or getattr(task, "name", None) == _START_NODE:
        return
    if messages.baseline is None:
        messages.baseline = _state_message_ids(loop)
    writes = args[1] if len(args) > 1 else kwargs.get("writes")
    for write in writes or ():
        if isinstance(write, tuple) and len(write) == 2:
            value = write[1]
            for item in value if isinstance(value, (list, tuple)) else (value,):
                if getattr(item, "type", None) in _AI_MESSAGE_TYPES and hasattr(item, "usage_metadata"):
                    messages.written.append(item)


def _usage_count(usage: Mapping[str, Any], key: str) -> int | None:
    value = usage.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def facts_from_messages(messages: _RunMessages, capture: bool) -> ResultFacts | None:
    baseline = messages.baseline or frozenset()
    seen: set[Any] = set()
    produced: list[Any] = []
    for message in list(messages.written):
        key = message.id if isinstance(message.id, str) else id(message)
        if key in baseline or key in seen or key in messages.nested:
            continue
        seen.add(key)
        produced.append(message)
    if messages.enclosing is not None:
        messages.enclosing.nested.update(seen)
    if not produced:
        return None
    facts = ResultFacts()
    totals: dict[str, int] = {}
    for message in produced:
        usage = message.usage_metadata
        # usage_metadata is a TypedDict, a dict, or None (a model that reports none): both told in place (a Python
        # call saved), anything else as any mapping.
        if not isinstance(usage, dict) and (usage is None or not is_mapping(usage)):
            continue
        details = usage.get("input_token_details")
        if not isinstance(details, dict):
            details = details if details is not None and is_mapping(details) else {}
        for key, count in (
            ("input", _usage_count(usage, "input_tokens")),
            ("output", _usage_count(usage, "output_tokens")),
            ("cache_read", _usage_count(details, "cache_read")),
            ("cache_creation", _usage_count(details, "cache_creation")),
        ):
            if count is not None:
                totals[key] = totals.get(key, 0) + count
    facts.input_tokens = totals.get("input")
    facts.output_tokens = totals.get("output")
    facts.cache_read_input_tokens = totals.get("cache_read")
    facts.cache_creation_input_tokens = totals.get("cache_creation")
    if capture:
        last = _message_json(produced[-1])
        facts.output_messages = [last] if last is not None else None
    return facts


class GraphStreamMethods:
    """Mixed into the proxy of a graph's stream (the graph result handler's): an interrupted subgraph
    (`GraphInterrupt`) or one handing control to its parent (`ParentCommand`) ended its run, as LangGraph
    means it, without failing."""

    def _self_end(self, outcome: Outcome, error: BaseException | None = None) -> None:
        if error is not None and _control_flow and isinstance(error, _control_flow):
            outcome, error = COMPLETED, None
        super()._self_end(outcome, error)  # type: ignore[misc]  # StreamProxy, after this mixin


def note_agent_run(invocation: Invocation) -> None:
    """The graph targets' `on_start`: an agent run's messages, noted on its invocation before the graph runs (its
    loop's hooks fill them in, `_tie_loop_to_run` and `_fold_writes`)."""
    if invocation.request.operation is AGENT:
        # The caller's run (a node's or a tool's of an enclosing run, or none: ours is not current yet) encloses it.
        enclosing = active_invocation()
        noted = enclosing.noted if enclosing is not None else None
        invocation.noted = _RunMessages(noted if isinstance(noted, _RunMessages) else None)


def _agent_run_reader(invocation: Invocation, capture: bool) -> ResultReader | None:
    """The reader of an agent run's facts, from the messages noted when it started; None for a workflow's run."""
    messages = invocation.noted
    if not isinstance(messages, _RunMessages):
        return None

    def read_result(_value: Any, outcome: Outcome) -> ResultFacts | None:
        return facts_from_messages(messages, capture)

    return read_result


def make_graph_result_handler(config: Config) -> Callable[[Any, Invocation], Any]:
    """`invoke`'s value, `stream`'s and `astream`'s streams."""
    capture = config.capture_content.enabled

    def handle_result(result: Any, invocation: Invocation) -> Any:
        return trace_result(result, invocation, _agent_run_reader(invocation, capture), GraphStreamMethods)

    return handle_result


def make_control_flow_ending(config: Config) -> Callable[[Invocation, BaseException], bool]:
    """`on_error` of a run that raised (`invoke`'s call, `ainvoke`'s coroutine): an interrupted subgraph or one
    handing control to its parent ended its run completed, as GraphStreamMethods does for a stream."""
    capture = config.capture_content.enabled

    def end_run(invocation: Invocation, error: BaseException) -> bool:
        if not isinstance(error, _control_flow):
            return False
        invocation.finish(COMPLETED, None, read_facts(_agent_run_reader(invocation, capture), None, COMPLETED))
        return True

    return end_run


def make_graph_coroutine_handler(
    config: Config,
    handle_other: Callable[[Any, Invocation], Any],
    end_run: Callable[[Invocation, BaseException], bool],
) -> Callable[[Any, Invocation], Any]:
    """`ainvoke`'s coroutine: the run is its await, with the span current for the whole of it (one attach), and
    the `astream` it iterates is a layer of the run (no proxy of ours, no step of ours per update). `handle_other`
    and `end_run`: the other graph targets' result handler and `on_error`."""
    capture = config.capture_content.enabled

    def handle_result(result: Any, invocation: Invocation) -> Any:
        if not isinstance(result, CoroutineType):  # a subclass's ainvoke that returns something else
            return handle_other(result, invocation)
        reader = _agent_run_reader(invocation, capture)
        return trace_coroutine(result, invocation, reader, on_error=lambda error: end_run(invocation, error))

    return handle_result


# -- tool calls (see the module docstring) ----------------------------------------------------------------

# A running tool call -> the exception ToolNode (or the tool) turned into an error ToolMessage.
_handled_failures = HandledFailures(_TOOL_REENTRY_KEY)
# _handle_tool_error(e, *, flag) / _handle_validation_error(e, *, flag): the tool raised `e` and it is about to
# become the call's error ToolMessage, inside the call's own step; the call's result says whether it was
# (status="error").
_note_handled_failure = _handled_failures.hook(
    lambda args, kwargs: args[0] if args else kwargs.get("e"), "noting a langgraph tool failure"
)


def _json_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except Exception:  # a structure json cannot walk (a cycle): no content rather than no span
        return None


def _tool_request(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # _execute_tool_sync/_execute_tool_async(self, request, input_type, config)
    return args[0] if args else kwargs.get("request")


def is_registered_tool_call(node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """A call of a tool the node does not have runs nothing: ToolNode answers it with an error message."""
    return getattr(_tool_request(args, kwargs), "tool", None) is not None


def read_tool_request(node: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    request = _tool_request(args, kwargs)
    call = getattr(request, "tool_call", None)
    call = call if is_mapping(call) else {}
    tool = getattr(request, "tool", None)
    facts = RequestFacts(
        operation=TOOL,
        tool_name=_text(call.get("name")) or _text(getattr(tool, "name", None)),
        tool_type=semconv.TOOL_TYPE_FUNCTION,
        tool_description=_text(getattr(tool, "description", None)),
        tool_call_id=_text(call.get("id")),
    )
    if config.capture_content.enabled:
        facts.tool_arguments = _json_text(call.get("args", {}))
    return facts


def _end_tool_call(value: Any, invocation: Invocation, capture: bool) -> None:
    """End a tool call that returned: a ToolMessage(status="error") is a failure."""
    failure = _handled_failures.take(invocation)
    content = getattr(value, "content", None)
    facts = ResultFacts(tool_result=_json_text(content)) if capture and content is not None else None
    if getattr(value, "status", None) != _ERROR_STATUS:
        invocation.finish(COMPLETED, None, facts)
    elif failure is not None:
        invocation.finish(FAILED, failure, facts)
    else:
        facts = facts or ResultFacts()
        facts.error_type = semconv.ERROR_TYPE_OTHER
        facts.error_message = content if isinstance(content, str) else None
        invocation.finish(COMPLETED, None, facts)  # a failure returned as a value: ERROR


def _end_tool_error(invocation: Invocation, error: BaseException) -> bool:
    """End a tool call that raised; returns True (it is ended)."""
    _handled_failures.take(invocation)
    if _control_flow and isinstance(error, _control_flow):
        invocation.finish(COMPLETED)
    else:
        finish_with_error(invocation, error)
    return True


def _start_tool_call(
    telemetry: Telemetry, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Invocation | None:
    try:
        if not is_registered_tool_call(node, args, kwargs):
            return None
        request = read_tool_request(node, args, kwargs, telemetry.config)
    except Exception:
        report_failure("reading the agent request")
        request = RequestFacts(operation=TOOL)
    try:
        return Invocation(telemetry, request, node, _TOOL_REENTRY_KEY)
    except Exception:
        report_failure("starting the agent span")
        return None


def _traced_sync_tool_call(telemetry: Telemetry) -> WrapperFunction:
    """ToolNode._execute_tool_sync under an execute_tool span. Not a RunTarget: LangGraph's control flow
    (an interrupt in a tool) leaves the call as an exception and must end the span completed."""
    capture = telemetry.config.capture_content.enabled

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not instrumentation_enabled():
            return wrapped(*args, **kwargs)
        invocation = _start_tool_call(telemetry, instance, args, kwargs)
        if invocation is None:
            return wrapped(*args, **kwargs)
        token = invocation.attach()
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            invocation.detach(token)
            _end_tool_error(invocation, error)
            raise
        invocation.detach(token)
        try:
            _end_tool_call(result, invocation, capture)
        except Exception:
            report_failure("reading a tool call's result")
            invocation.finish(ABANDONED)
        return result

    return wrapper


def make_async_tool_result_handler(config: Config) -> Callable[[Any, Invocation], Any]:
    capture = config.capture_content.enabled

    def handle_tool_result(result: Any, invocation: Invocation) -> Any:
        # _arun_one awaits the call where it makes it (see awaited.py).
        return traced_await(
            result,
            invocation,
            lambda value: _end_tool_call(value, invocation, capture),
            lambda error: _end_tool_error(invocation, error),
        )

    return handle_tool_result


def targets(config: Config) -> Sequence[Target]:
    global _control_flow
    from langgraph.errors import GraphInterrupt, ParentCommand

    _control_flow = (GraphInterrupt, ParentCommand)
    handle_graph_result = make_graph_result_handler(config)
    end_run = make_control_flow_ending(config)
    return [
        *(
            RunTarget(
                "langgraph.pregel.main",
                f"Pregel.{method}",
                read_graph_request,
                handle_result=handle_graph_result,
                on_start=note_agent_run,
                on_error=end_run,
            )
            for method in ("invoke", "stream", "astream")
        ),
        RunTarget(
            "langgraph.pregel.main",
            "Pregel.ainvoke",
            read_graph_request,
            handle_result=make_graph_coroutine_handler(config, handle_graph_result, end_run),
            on_start=note_agent_run,
        ),
        HookTarget("langgraph.pregel._loop", "SyncPregelLoop.__enter__", _tie_loop_to_run, _agent_runs_running),
        HookTarget("langgraph.pregel._loop", "AsyncPregelLoop.__aenter__", _tie_loop_to_run, _agent_runs_running),
        HookTarget("langgraph.pregel._loop", "PregelLoop.put_writes", _note_writes, _loops_tied),
        HookTarget("langgraph.prebuilt.tool_node", "ToolNode._execute_tool_sync", _traced_sync_tool_call),
        RunTarget(
            "langgraph.prebuilt.tool_node",
            "ToolNode._execute_tool_async",
            read_tool_request,
            should_trace=is_registered_tool_call,
            handle_result=make_async_tool_result_handler(config),
            reentry_key=_TOOL_REENTRY_KEY,
        ),
        HookTarget("langgraph.prebuilt.tool_node", "_handle_tool_error", _note_handled_failure),
        HookTarget("langchain_core.tools.base", "_handle_tool_error", _note_handled_failure),
        HookTarget("langchain_core.tools.base", "_handle_validation_error", _note_handled_failure),
    ]


ADAPTER = FrameworkAdapter(name, distribution, supported, targets)

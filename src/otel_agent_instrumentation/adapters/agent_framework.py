"""Microsoft Agent Framework (PyPI `agent-framework-core`), checked against 1.23.0.

Targets: `run` on `Agent`, `RawAgent`, the layers `AgentMiddlewareLayer` and `AgentTelemetryLayer`
(other packages compose them differently, e.g. `A2AAgent(AgentTelemetryLayer, BaseAgent)`), the workflow
agents `WorkflowAgent` and `FunctionalWorkflowAgent`, and the workflows (below); `run_stream` where a
class still has one. Each agent run passes several of these (`Agent.run` -> layers -> `RawAgent.run`);
the core's re-entry guard makes that one span.

`gen_ai.provider.name` is the provider the framework's chat telemetry names for the agent's chat
client (`otel_provider_name`, else the client class's `OTEL_PROVIDER_NAME`), mapped by
`semconv.provider_name`; no client, or the framework's placeholder "unknown", records `_OTHER`.

`run(stream=False)` returns a coroutine; `run(stream=True)` returns a `ResponseStream`, which comes back
proxied (still `isinstance(..., ResponseStream)`; chaining methods keep the proxy, and a stream built
over it by `map`, `flat_map` or `with_finalizer` takes the run over). Facts come from the updates the
agent's own stream already recorded (`ResponseStream.updates`, a plain list), also when the caller
consumes a stream built over it (whose updates may be mapped to anything), and never from
`get_final_response()`, which runs the finalizer and result hooks such as `after_run` context providers.

The framework's own telemetry (on by default) also opens an `invoke_agent` span per run. Unless
`keep_framework_spans` is set, while our span owns a run `AgentTelemetryLayer._trace_agent_invocation`
is replaced by what it does besides telemetry (read at 1.23.0 and at 1.26.0, the newest release when
written, where the method is the same), so there is one agent span; the framework's chat and tool
spans remain, as its children. What it does besides telemetry, and how each step is kept:

1. Framework telemetry off (`OBSERVABILITY_SETTINGS.ENABLED` false): it returns `execute()` as it is.
   Kept by calling the framework's method itself.
   (test_with_framework_telemetry_off_a_streamed_run_returns_what_the_agent_returns)
2. `stream=True`: it calls `execute()` at once, within `run()`, and lets what that raises propagate.
   Kept: the same call. (test_streamed_run_raising_at_the_call_raises_the_same_object, and the
   calls recorded right after `run()` in test_agent_returning_an_awaitable_streams_as_it_does_bare)
3. `stream=True`: a `ResponseStream` result is returned as it is; an awaitable one becomes
   `ResponseStream.from_awaitable(result)` (an agent whose `run` returns an awaitable "defers its work
   into the first pull"); anything else raises
   `RuntimeError("Streaming telemetry requires a ResponseStream result.")`. Kept: the same checks; the
   run wrapper then proxies the stream the caller gets, so our span ends with that stream.
   (test_agent_returning_an_awaitable_streams_as_it_does_bare,
   test_span_of_an_agent_returning_an_awaitable_ends_with_its_stream,
   test_streamed_run_returning_no_stream_raises_as_it_does_bare)
4. `stream=True`: its cleanup hook asks the stream for its final response (errors swallowed). On a
   stream pulled to its end, that runs the finalizer and result hooks among the cleanup hooks, before
   cleanup hooks added after `run()` returned. Kept for a stream that ran out (`_FinalizeWhenExhausted`,
   a cleanup hook plus a pull context manager that sees the end).
   (test_consumed_stream_fires_result_hooks_before_later_cleanup_hooks_as_bare)
   Not kept on close: there it fires `after_run` for a stream the consumer abandoned, which is what
   this package avoids (test_early_close_fires_no_after_run); on a failure the framework skips it too.
5. `stream=False`: it returns a coroutine that calls `execute()` only when awaited (a run never
   awaited never starts). Kept: `_awaited`. (test_run_starts_the_agent_when_awaited_as_it_does_bare)

The rest is telemetry and is not kept: its span (started, made current around `execute()` and each
pull, ended by the cleanup hooks or a weakref finalizer), the span's attributes, events and captured
messages, the duration, and the context variables through which the chat layer reports usage to the
agent span (`INNER_RESPONSE_TELEMETRY_CAPTURED_FIELDS`, `INNER_ACCUMULATED_USAGE`).

A copy rather than the framework's own code with only its span turned off (a tracer that makes no
span for this call): in the streaming path the telemetry itself is what acts on the stream (step 4
on close), so a span-less run of the framework's code would still fire `after_run` on close. The
non-streaming path is copied too (one line) so that one function decides for both.

Workflows. A `Workflow` (built by `WorkflowBuilder`, and so every orchestration of
`agent-framework-orchestrations`: Sequential, Concurrent, GroupChat, Handoff, Magentic builders build one)
has no model of its own: its `run` is `invoke_workflow {workflow.name}` (kind INTERNAL; the builder's
name, none for the name the builder generates when given none), and the experimental functional
`FunctionalWorkflow.run` likewise (the function's name). `run(stream=True)` returns a `ResponseStream` of
`WorkflowEvent`s, proxied as an agent's; `run()` returns `get_final_response()` of that stream, a
coroutine. The agents inside run through their own `run` (`AgentExecutor` calls `agent.run`), each an
`invoke_agent` child: the runner runs each superstep in a task created during a pull of the run's
stream, so it inherits the context of that pull, where our span is current. A workflow inside a workflow
(`WorkflowExecutor`) is a child workflow span (it calls the inner workflow's `run`). `Workflow.as_agent()`
is a `WorkflowAgent` (a functional workflow's: `FunctionalWorkflowAgent`), an agent the app talks to as
to any other: its run is `invoke_agent {name}` (provider `_OTHER`: no chat client), and the workflow it
runs is an `invoke_workflow` child of it. The run span carries no usage; its agents' spans do.

The framework's own workflow telemetry (on by default, global tracer provider): a `workflow.run` span per
run (1.26.0: `workflow.run {name}` with `gen_ai.operation.name=invoke_workflow`, the same concept as
ours), `executor.process {id}`, `edge_group.process {type}` and `message.send` spans inside it, and
`workflow.build` when built. Unless `keep_framework_spans` is set, its run span is stood down while our
workflow span owns that run (as its agent span is): `start_workflow_span`, as the workflow modules import
it, returns a non-recording span carrying our span's context for the run span of that same workflow
(name `workflow.run` and the workflow's `workflow.id`, or its `workflow.name` for a functional workflow).
Its executor, edge and message spans remain, between our workflow span and the agents' spans. What
`start_workflow_span` and the run method's uses of the span do (read at 1.23.0 and 1.26.0), and how each
is kept:
1. `workflow_tracer()`: the global tracer, or a no-op one when the framework's telemetry is off;
   `_workflow_span_attributes` (1.26.0 `_prepare_workflow_span`) reads a context variable (the
   conversation id) and builds attributes: telemetry only, nothing written.
2. `start_span(...)` under the current context, not attached: telemetry only.
3. The run method activates the returned span around the start executor and each pull of its runner
   (`_activate_span`), so everything the run's executors start is its child. Kept: what it activates is
   our span's context (test_executor_code_runs_with_the_workflow_span_current). With the framework's
   telemetry off it activates a non-recording span of the current context, which is ours too.
4. `add_event`, `capture_exception` (status, `error.type`, the exception with sensitive data on) and
   `end()` on that span: telemetry only; on the stand-in they do nothing. The run's events, outputs,
   status and exceptions are the framework's either way (test_workflow_events_outputs_and_status_are_as_bare,
   and tests/test_lifecycle.py for every ending).
Standing it down also when the framework's telemetry is off changes nothing: it would activate the same
context. With `keep_framework_spans` nothing is patched: its `workflow.run` span is a child of ours, and
its executors' spans are under it.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from .. import semconv
from ..config import Config
from ..invocation import (
    COMPLETED,
    WORKFLOW,
    Outcome,
    RequestFacts,
    ResultFacts,
    Telemetry,
    active_invocation,
)
from ..stream import class_attribute
from ._base import FrameworkAdapter, HookTarget, RunTarget, Target, is_mapping

name = "agent_framework"
distribution = "agent-framework-core"
supported = ">=1.23,<2"

_REQUEST_OPTIONS: tuple[tuple[str, str], ...] = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("seed", semconv.GEN_AI_REQUEST_SEED),
    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
)


_NO_OPTIONS: Mapping[str, Any] = {}


def _merged_options(agent: Any, kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The agent's default options under the call's (read only: a run's options are not copied when the
    call gives none)."""
    defaults = getattr(agent, "default_options", None)
    options = kwargs.get("options")
    if not is_mapping(options):
        return defaults if is_mapping(defaults) else _NO_OPTIONS
    if not is_mapping(defaults):
        return options
    return {**defaults, **options}


_REQUEST_ATTRIBUTES: dict[str, str] = dict(_REQUEST_OPTIONS)


def _text_parts(contents: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for content in contents or ():
        if isinstance(content, str):
            parts.append({"type": "text", "content": content})
            continue
        kind = getattr(content, "type", None)
        if kind == "text":
            parts.append({"type": "text", "content": getattr(content, "text", "")})
        elif kind == "text_reasoning":
            parts.append({"type": "reasoning", "content": getattr(content, "text", "")})
        elif kind == "function_call":
            parts.append(
                {
                    "type": "tool_call",
                    "id": getattr(content, "call_id", None),
                    "name": getattr(content, "name", None),
                    "arguments": getattr(content, "arguments", None),
                }
            )
        elif kind == "function_result":
            parts.append(
                {
                    "type": "tool_call_response",
                    "id": getattr(content, "call_id", None),
                    "response": getattr(content, "result", None),
                }
            )
        elif isinstance(kind, str) and kind != "usage":
            parts.append({"type": kind})
    return parts


def _message_json(message: Any) -> dict[str, Any]:
    if isinstance(message, str):
        return {"role": "user", "parts": [{"type": "text", "content": message}]}
    role = getattr(message, "role", None)
    entry: dict[str, Any] = {
        "role": str(getattr(role, "value", role) or "user"),
        "parts": _text_parts(getattr(message, "contents", None)),
    }
    author = getattr(message, "author_name", None)
    if isinstance(author, str):
        entry["name"] = author
    return entry


def _input_messages(messages: Any) -> list[dict[str, Any]]:
    if messages is None:
        return []
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        messages = [messages]
    return [_message_json(message) for message in messages]


def _provider_name(agent: Any) -> str | None:
    """The provider the framework's own chat telemetry names for the agent's chat client: the
    client's `otel_provider_name` (set by `ChatTelemetryLayer`, overridable per instance), else its
    `OTEL_PROVIDER_NAME` class attribute; the framework's placeholder "unknown" is no provider."""
    client = getattr(agent, "client", None)
    if client is None:
        return None
    raw = getattr(client, "otel_provider_name", None)
    if not isinstance(raw, str):
        raw = getattr(client, "OTEL_PROVIDER_NAME", None)
    if not isinstance(raw, str) or raw.strip().lower() == "unknown":
        return None
    return semconv.provider_name(raw)


def read_request(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    options = _merged_options(agent, kwargs)
    agent_name = getattr(agent, "name", None)
    description = getattr(agent, "description", None)
    model = options.get("model")
    session = kwargs.get("session")
    conversation_id = getattr(session, "service_session_id", None) if session is not None else None
    if not isinstance(conversation_id, str):
        conversation_id = options.get("conversation_id")
    facts = RequestFacts(
        agent_name=agent_name if isinstance(agent_name, str) else None,
        agent_description=description if isinstance(description, str) else None,
        request_model=model if isinstance(model, str) else None,
        provider_name=_provider_name(agent),
        conversation_id=conversation_id if isinstance(conversation_id, str) else None,
    )
    # The options a run sets are few: look each up in the table rather than the table in the options.
    for option, value in options.items():
        attribute = _REQUEST_ATTRIBUTES.get(option)
        if attribute is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            facts.attributes[attribute] = value
    stop = options.get("stop")
    if stop is None:
        pass
    elif isinstance(stop, str):
        facts.attributes[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, Sequence) and all(isinstance(item, str) for item in stop):
        facts.attributes[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)
    if config.capture_content.enabled:
        messages = args[0] if args else kwargs.get("messages")
        facts.input_messages = _input_messages(messages)
        instructions = options.get("instructions")
        if isinstance(instructions, str):
            facts.system_instructions = [{"type": "text", "content": instructions}]
    return facts


def _fold_usage(facts: ResultFacts, usage: Any) -> None:
    if not is_mapping(usage):
        return
    for key, field in (
        ("input_token_count", "input_tokens"),
        ("output_token_count", "output_tokens"),
        ("cache_read_input_token_count", "cache_read_input_tokens"),
        ("cache_creation_input_token_count", "cache_creation_input_tokens"),
    ):
        value = usage.get(key)
        if isinstance(value, int):
            setattr(facts, field, (getattr(facts, field) or 0) + value)


def _finish_reason(value: Any) -> str | None:
    if value is None:
        return None
    text = getattr(value, "value", value)
    return text if isinstance(text, str) else str(text)


def _facts_from_response(response: Any, capture: bool) -> ResultFacts:
    facts = ResultFacts()
    _fold_usage(facts, getattr(response, "usage_details", None))
    reason = _finish_reason(getattr(response, "finish_reason", None))
    if reason:
        facts.finish_reasons = [reason]
    response_id = getattr(response, "response_id", None)
    if isinstance(response_id, str):
        facts.response_id = response_id
    if capture:
        messages = getattr(response, "messages", None) or ()
        facts.output_messages = [_message_json(message) for message in messages]
        if facts.output_messages and reason:
            facts.output_messages[-1]["finish_reason"] = reason
    return facts


def _facts_from_updates(updates: Sequence[Any], capture: bool) -> ResultFacts:
    facts = ResultFacts()
    reasons: list[str] = []
    text: list[str] = []
    # Runs once at the end over every pulled update: kept to the few reads each update needs, read as
    # attributes (a getattr call costs more) with getattr only for an object that lacks one.
    for update in updates:
        try:
            contents, finish_reason, response_id = update.contents, update.finish_reason, update.response_id
        except AttributeError:
            contents = getattr(update, "contents", None)
            finish_reason = getattr(update, "finish_reason", None)
            response_id = getattr(update, "response_id", None)
        for content in contents or ():
            try:
                kind = content.type
            except AttributeError:
                kind = None
            if kind == "usage":
                if getattr(content, "merge_mode", None) == "replace":
                    # The function-invocation layer re-sends the run's cumulative usage after a tool turn
                    # (1.23.0 _tools.py project_cumulative_usage): it replaces what came before.
                    facts.input_tokens = facts.output_tokens = None
                    facts.cache_read_input_tokens = facts.cache_creation_input_tokens = None
                _fold_usage(facts, getattr(content, "usage_details", None))
            elif capture and kind == "text":
                text.append(getattr(content, "text", "") or "")
        if finish_reason is not None:
            reason = _finish_reason(finish_reason)
            if reason and reason not in reasons:
                reasons.append(reason)
        if response_id is not None and isinstance(response_id, str):
            facts.response_id = response_id
    if reasons:
        facts.finish_reasons = reasons
    if capture and text:
        output: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": "".join(text)}]}
        if reasons:
            output["finish_reason"] = reasons[-1]
        facts.output_messages = [output]
    return facts


def make_result_reader(config: Config) -> Callable[[Any, Outcome], ResultFacts | None]:
    capture = config.capture_content.enabled

    def read_result(value: Any, outcome: Outcome) -> ResultFacts | None:
        if value is None:
            return None
        # A ResponseStream: read the updates already pulled (a list the stream keeps), nothing more.
        updates = class_attribute(type(value), "updates")
        if isinstance(updates, property):
            return _facts_from_updates(value.updates, capture)
        return _facts_from_response(value, capture)

    return read_result


class ResponseStreamMethods:
    """Methods of `ResponseStream` the stream proxy serves itself (mixed into the proxy class)."""

    async def get_final_response(self, *args: Any, **kwargs: Any) -> Any:
        # The application asked for the final response: its finalizer and result hooks run because the
        # application asked, with our span current. The span ends when it returns or raises.
        proxy: Any = self
        response = await proxy._self_astep(proxy.__wrapped__.get_final_response(*args, **kwargs))
        proxy._self_end(COMPLETED)
        return response


class _AgentStreamReader:
    """Reads the facts from the stream the agent returned, whichever stream built over it the caller
    consumes now: `map`/`flat_map` change the updates' type and content, and every stream over the
    agent's one pulls its updates through it, so its `updates` has all of them as the agent made them."""

    __slots__ = ("agent_stream", "read")

    def __init__(self, read: Callable[[Any, Outcome], ResultFacts | None], agent_stream: Any) -> None:
        self.read = read
        self.agent_stream = agent_stream

    def __call__(self, consumed: Any, outcome: Outcome) -> ResultFacts | None:
        return self.read(self.agent_stream, outcome)


def _chaining(method_name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.__wrapped__, method_name)(*args, **kwargs)
        reader = self._self_reader
        if result is not self.__wrapped__ and reader is not None and not isinstance(reader, _AgentStreamReader):
            # A new stream over the agent's: the proxy that takes the run over (core _self_adopt)
            # inherits this reader, so chains of chains read the agent's stream too.
            self._self_reader = _AgentStreamReader(reader, self.__wrapped__)
        return self._self_rebind(result)

    method.__name__ = method_name
    return method


# Methods returning the stream itself (with_* hooks) or a new stream over it (map, with_finalizer):
# the caller keeps iterating what they return, so it must stay traced.
for _method_name in (
    "map",
    "flat_map",
    "with_finalizer",
    "with_update_gate",
    "with_result_gate",
    "with_update_transform",
    "with_result_transform",
    "with_transform_hook",
    "with_result_hook",
    "buffer_updates",
    "with_cleanup_hook",
    "with_pull_context_manager",
    "with_consumption_context_manager",
):
    setattr(ResponseStreamMethods, _method_name, _chaining(_method_name))


class _FinalizeWhenExhausted:
    """Step 4 of the module docstring: the framework's `_finalize_stream` cleanup hook asks the stream
    for its final response, so a stream pulled to its end runs its finalizer and result hooks during
    its cleanup hooks, before the cleanup hooks added after `run()` returned. Kept only for a stream
    that ran out, which a pull context manager (entered around each pull of the underlying iterator)
    sees as StopAsyncIteration; a stream closed early or failed is not asked (the framework asks on
    close too, the `after_run`-on-close behaviour the stand-down exists to avoid; it skips failures)."""

    __slots__ = ("exhausted", "pull_context", "stream")

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.exhausted = False
        # The pull context factory, called before every pull: this object each time, from C.
        self.pull_context: Callable[[], _FinalizeWhenExhausted] = itertools.repeat(self).__next__

    # Entered before every pull; the framework's `with` takes no value from it (no `as`). Object's C
    # __sizeof__ (any C method of one argument would do) instead of a Python method: with the factory
    # above, a pull passes one Python frame of ours (the exit) instead of three.
    __enter__ = object.__sizeof__

    def __exit__(self, exc_type: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if exc_type is StopAsyncIteration:
            self.exhausted = True

    async def finalize(self) -> None:
        if not self.exhausted:
            return
        try:
            await self.stream.get_final_response()
        except Exception:
            # As the framework's hook does (it records the error on its span): the stream's own
            # finalization, which runs next, raises it to the consumer.
            return


async def _awaited(execute: Callable[[], Awaitable[Any]]) -> Any:
    return await execute()


def _telemetry_switch() -> Callable[[], bool]:
    """Whether the framework's own telemetry is on, read as its telemetry hook reads it."""
    from agent_framework import observability

    def framework_telemetry_on() -> bool:
        settings = getattr(observability, "OBSERVABILITY_SETTINGS", None)
        return bool(getattr(settings, "ENABLED", True))

    return framework_telemetry_on


def _stands_down_here() -> Callable[[Any], bool]:
    """The telemetry hook's `applies_to`: a call of a run of ours, with the framework's telemetry on. For any
    other the framework's method is not ours to touch, or (telemetry off) only calls `execute()`, and the call
    goes straight to it."""
    framework_telemetry_on = _telemetry_switch()

    def applies(agent: Any) -> bool:
        running = active_invocation()
        return running is not None and running.owner is agent and framework_telemetry_on()

    return applies


def _stand_down_framework_span(telemetry: Telemetry) -> Any:
    from agent_framework import ResponseStream

    framework_telemetry_on = _telemetry_switch()

    def streamed(execute: Callable[[], Any]) -> Any:
        result = execute()
        if isinstance(result, ResponseStream):
            stream: Any = result
        elif isinstance(result, Awaitable):
            stream = ResponseStream.from_awaitable(result)
        else:
            raise RuntimeError("Streaming telemetry requires a ResponseStream result.")
        finalize = _FinalizeWhenExhausted(stream)
        return stream.with_cleanup_hook(finalize.finalize).with_pull_context_manager(finalize.pull_context)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        running = active_invocation()
        execute = kwargs.get("execute")
        if running is None or running.owner is not instance or not callable(execute) or not framework_telemetry_on():
            # Not our run, or the framework's telemetry is off (then the method only calls execute()).
            return wrapped(*args, **kwargs)
        if kwargs.get("stream"):
            return streamed(execute)
        return _awaited(execute)

    return wrapper


# -- workflows (see the module docstring) ---------------------------------------------------------

# The span name the framework gives a workflow run's own span (observability.OtelAttr.WORKFLOW_RUN_SPAN).
_WORKFLOW_RUN_SPAN = "workflow.run"


# The name `WorkflowBuilder` gives a workflow built without one (1.23.0: "WorkflowBuilder-{uuid4}"; 1.26.0
# also keeps it as `_generated_name`): a name per build, not a workflow's name.
_GENERATED_NAME = re.compile(r"WorkflowBuilder-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _workflow_name(workflow: Any) -> str | None:
    name = getattr(workflow, "name", None)
    if not isinstance(name, str) or not name:
        return None
    if name == getattr(workflow, "_generated_name", None) or _GENERATED_NAME.fullmatch(name):
        return None
    return name


def read_workflow_request(workflow: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    """A workflow's `run`: `invoke_workflow {workflow.name}` (the builder's name, or the function's for a
    functional workflow); with content capture, the input message when it is text or messages."""
    facts = RequestFacts(operation=WORKFLOW, workflow_name=_workflow_name(workflow))
    if config.capture_content.enabled:
        message = args[0] if args else kwargs.get("message")
        if isinstance(message, str) or hasattr(message, "contents"):
            facts.input_messages = _input_messages(message)
        elif isinstance(message, Sequence) and message and all(hasattr(item, "contents") for item in message):
            facts.input_messages = _input_messages(message)
    return facts


def _is_run_span_of(workflow: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether `start_workflow_span(name, attributes)` starts the run span of `workflow`: named
    `workflow.run`, with that workflow's `workflow.id` (graph workflows) or, where the framework sets no id
    (functional workflows), its `workflow.name`."""
    span_name = args[0] if args else kwargs.get("name")
    if str(span_name) != _WORKFLOW_RUN_SPAN:
        return False
    attributes = args[1] if len(args) > 1 else kwargs.get("attributes")
    if not is_mapping(attributes):
        return False
    if "workflow.id" in attributes:
        return bool(attributes["workflow.id"] == getattr(workflow, "id", None))
    return bool(attributes.get("workflow.name") == getattr(workflow, "name", None))


def _stand_down_workflow_span(telemetry: Telemetry) -> Any:
    """`start_workflow_span` (as the workflow modules import it) while our workflow span owns that run: a
    non-recording span carrying our span's context instead of the framework's `workflow.run` span, so what
    the framework activates around the run's steps (its executors, their agents) is our span."""
    from opentelemetry import trace

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        running = active_invocation()
        if (
            running is not None
            and running.request.operation is WORKFLOW
            and not running.finished
            and _is_run_span_of(running.owner, args, kwargs)
        ):
            return trace.NonRecordingSpan(running.span.get_span_context())
        return wrapped(*args, **kwargs)

    return wrapper


_WORKFLOW_OWNERS: tuple[tuple[str, str], ...] = (
    ("agent_framework._workflows._workflow", "Workflow"),
    ("agent_framework._workflows._functional", "FunctionalWorkflow"),
)

_RUN_OWNERS: tuple[tuple[str, str], ...] = (
    ("agent_framework._agents", "Agent"),
    ("agent_framework._middleware", "AgentMiddlewareLayer"),
    ("agent_framework.observability", "AgentTelemetryLayer"),
    ("agent_framework._agents", "RawAgent"),
    ("agent_framework._workflows._agent", "WorkflowAgent"),
    ("agent_framework._workflows._functional", "FunctionalWorkflowAgent"),
)


def targets(config: Config) -> Sequence[Target]:
    import importlib

    reader = make_result_reader(config)
    found: list[Target] = []
    for module_name, class_name in _RUN_OWNERS:
        try:
            owner = getattr(importlib.import_module(module_name), class_name, None)
        except ImportError:  # an experimental module a release may drop
            continue
        if owner is None:
            continue
        for method in ("run", "run_stream"):
            if method in vars(owner):
                found.append(
                    RunTarget(module_name, f"{class_name}.{method}", read_request, reader, ResponseStreamMethods)
                )
    workflow_modules: list[str] = []
    for module_name, class_name in _WORKFLOW_OWNERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # an experimental module a release may drop
            continue
        if "run" not in vars(getattr(module, class_name, None) or object):
            continue
        found.append(RunTarget(module_name, f"{class_name}.run", read_workflow_request, None, ResponseStreamMethods))
        if callable(getattr(module, "start_workflow_span", None)):
            workflow_modules.append(module_name)
    if not config.keep_framework_spans:
        found.append(
            HookTarget(
                "agent_framework.observability",
                "AgentTelemetryLayer._trace_agent_invocation",
                _stand_down_framework_span,
                applies_to=_stands_down_here(),
            )
        )
        found += [HookTarget(module, "start_workflow_span", _stand_down_workflow_span) for module in workflow_modules]
    return found


def framework_telemetry(config: Config) -> str:
    from agent_framework.observability import OBSERVABILITY_SETTINGS

    state = "on" if OBSERVABILITY_SETTINGS.enable_instrumentation else "off"
    variable = os.environ.get("ENABLE_INSTRUMENTATION")
    spans = (
        "its invoke_agent span is kept beside ours (keep_framework_spans)"
        if config.keep_framework_spans
        else "its invoke_agent span is stood down for ours"
    )
    return (
        f"Agent Framework instrumentation {state} (ENABLE_INSTRUMENTATION={variable!r}); when on, {spans}, "
        "its chat and execute_tool spans are kept"
    )


ADAPTER = FrameworkAdapter(name, distribution, supported, targets, framework_telemetry)

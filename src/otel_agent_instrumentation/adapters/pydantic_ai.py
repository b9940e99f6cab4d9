"""Pydantic AI (PyPI `pydantic-ai-slim`), checked against 2.68.0.

Targets: `AbstractAgent.run`, `run_sync`, `run_stream`, `run_stream_events` and `iter` on `Agent` and
`WrapperAgent` (the only classes overriding it). `run_sync -> run -> iter`, `run_stream -> iter` and the
background `run` of `run_stream_events` pass through other targets on the same agent; the core's re-entry
guard makes each one span, and `should_trace` does the same for `WrapperAgent.iter -> wrapped.iter`.
`run_stream_sync` goes through `run_stream`.

`run_stream` and `iter` are `@asynccontextmanager`s and `run_stream_events` returns a hand-written one: the
context manager comes back proxied, and so does what it yields, so that the framework's work runs with our
span current wherever the consumer drives it: `AgentRunEvents` and `AgentRun` pulls (and `AgentRun.next`),
the `StreamedRunResult`'s streams and awaited methods (`run_stream_events` starts its background run on the
first `__anext__`, copying that context). Under `iter()`, `node.stream(run.ctx)` (pydantic-ai's way to stream
every event: the node's model request, or its tool calls, run in the consumer's block) comes back proxied
too (`ModelRequestNode.stream`, `CallToolsNode.stream`): its enter, exit and every pull of the AgentStream or
events iterator it yields are steps of the run. A step's exception is the run's failure and ends the span.

Leaving the `async with` with the run still open ends it COMPLETED if it finished, else CLOSED_EARLY, also
when the block raised: every piece of the run's own work is a step that has recorded its failure already,
so what the block raises is the consumer's own error, never the run's (pydantic-ai hands it to
`on_run_error`, an app hook; neither `after_run` nor `on_run_error` fires for a `run_stream` left early).
A block cancelled is CANCELLED. The time to first chunk is the consumer's first item: the first node or
event pulled, or the first item of `StreamedRunResult.stream_text`/`stream_output`/`stream_response`.

Agent names are inferred by pydantic-ai from the caller's frame on the first run (`_infer_name`), which
would see our wrapper frames; `AbstractAgent._infer_name` is patched to skip them, so the inferred name is
the one an uninstrumented run infers. The span's name is predicted the same way at call time.

`gen_ai.provider.name` is the `Model.system` of the model the run uses (`agent.override(model=)`, then the
call's `model=`, then the agent's): a Model's own, or for a model id ("openai:gpt-4o") its provider prefix,
the name the model pydantic-ai builds for it reports, read without building it. A model a capability
supplies is not known at call time (`_OTHER`). `gen_ai.conversation.id` is pydantic-ai's
`conversation_id`: passed by the caller, inherited from `message_history`, or generated once and stored on
the messages that continue the conversation. `run_id` identifies one run and is not recorded.

The built-in instrumentation (off by default; `Agent.instrument_all` / `agent.instrument`) opens its own
`invoke_agent` span in `Instrumentation.wrap_run`. Unless `keep_framework_spans` is set, only that span is
stood down when ours owns the run: the wrapper runs whole, and the module's `start_as_current_span` hands it
a stand-in for the run span (`_StoodDownRunSpan`: our span's context, never ended or exported, recording
when ours was sampled, the wrapper's writes dropped). Its `chat`/`execute_tool` spans remain, as children of
ours. What `wrap_run` does (capabilities/instrumentation.py:268-367 in 2.68.0), and what becomes of it:

- `ctx.realtime`: calls the handler straight through (a realtime session has spans of its own). Runs as is.
- renders the agent's description with the run's deps (`render_description`), for the span. Runs as is.
- opens the run span with `_durable_replay.start_as_current_span`, which inside a durable replay scope also
  keeps the tally that decides whether spans of replayed work are exported. Runs, on the stand-in.
- `_record_uncaught_errors`: records an exception leaving the run on the span and re-raises it unchanged.
  Runs; the records are dropped (our span records the run's failures itself).
- `_usage_attribution.accumulate`: makes this run's usage the one nested requests are credited to, for the
  span's `gen_ai.aggregated_usage.*`. Runs (nested runs' tallies stay their own); the attributes are dropped.
- attaches baggage `gen_ai.agent.name`, `gen_ai.agent.call.id`, `gen_ai.conversation.id` for the run. Not
  only telemetry: app code reads it (`baggage.get_baggage`) and the W3C baggage propagator sends it on
  outgoing requests. Runs; the run's steps see it as they would without us (below).
- `final_result` and the end-of-run attributes (all messages, instructions, metadata, usage): telemetry,
  computed and dropped.
- the in-place history mutation check, in its `finally` after a run that returned a result with a recording
  span: warns `MessageHistoryMutatedWarning`, which the app sees (an exception under `-W error`). Not
  telemetry. Runs, exactly as without us: the stand-in is recording when ours is sampled.

Tool calls: with pydantic-ai's own instrumentation off (the default), every call of a function tool the
model makes, its arguments valid and not deferred by validation, passes once through
`ToolManager._run_execute_hooks` (tool_manager.py: `execute_tool_call` -> `_execute_tool_call_impl` -> it; the
`before/after/wrap/on_error_tool_execute` hooks and the tool itself run inside, as inside pydantic-ai's own tool
span), in the task pydantic-ai runs that call in (a sync tool's body in a worker thread, with the context
copied). It is an `execute_tool {tool name}` span with the tool definition's description and
`gen_ai.tool.call.id` = the `ToolCallPart.tool_call_id` (the model's id, or the one pydantic-ai gave the call
when the model gave none); arguments (`args_as_json_str()`, the model's) and result only with content capture.
How it ends:
- `ModelRetry` (a retry prompt for the model) and `ToolFailed` (a failed result for the model), from the tool or
  a tool hook, reach here wrapped as `ToolRetryError` / `ToolFailedError`; the run goes on. A tool call that
  fails is a failed tool call, also when the model is told: ERROR with the tool's own exception (`error.type`
  `pydantic_ai.exceptions.ModelRetry` / `ToolFailed`, its message, an exception event), outcome `failed`.
  pydantic-ai's own tool span is ERROR there too;
- any other exception leaves the call (unless an `on_tool_execute_error` hook turns it into a result) and fails
  the run: ERROR with it;
- `SkipToolExecution` (a hook answered the call itself; its result is the call's), `CallDeferred` and
  `ApprovalRequired` (the call is deferred) are control flow: completed, UNSET.
Output tools (`execute_output_tool_call`) and calls whose arguments fail validation (the tool never runs) get
none. With pydantic-ai's instrumentation on (an `Instrumentation` capability in the run, so every RunContext
carries its tracer instead of a NoOpTracer), its `wrap_tool_execute` opens its own `execute_tool` span around
the same call: we add none, and its spans are under our agent span.

pydantic-ai sets the context variables its run wrapper set (the OTel context among them, with that baggage,
its run span current) in the consumer's task when the block is entered, and resets them when it exits. The
core's enter step keeps ours attached under it until the exit (`StreamProxy._self_hold_or_detach`): the
block and every step in it see that context with our span where pydantic-ai's run span would be, and the
caller's own context is back after the block, also when the run ended before the exit.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from types import CoroutineType, FrameType
from typing import Any, TypeVar

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.trace import NoOpTracer, Span

from .. import semconv
from .._guard import report_failure
from ..awaited import traced_await
from ..config import Config
from ..invocation import (
    CANCELLED,
    CLOSED_EARLY,
    COMPLETED,
    FAILED,
    TOOL,
    AgentInvocation,
    Outcome,
    RequestFacts,
    ResultFacts,
    Telemetry,
    active_invocation,
)
from ..stream import trace_result, trace_stream
from ._base import FrameworkAdapter, HookTarget, RunTarget, Target
from ._stand_in import StandInSpan

_T = TypeVar("_T")

name = "pydantic_ai"
distribution = "pydantic-ai-slim"
supported = ">=2.68,<3"

_OUR_MODULES = ("otel_agent_instrumentation.", "wrapt.")


def _is_ours(frame: FrameType) -> bool:
    module = frame.f_globals.get("__name__", "")
    return isinstance(module, str) and (module == "wrapt" or module.startswith(_OUR_MODULES))


def _user_frame(frame: FrameType | None) -> FrameType | None:
    """The innermost frame outside our package and wrapt, starting at `frame`."""
    while frame is not None and _is_ours(frame):
        frame = frame.f_back
    return frame


def _predict_name(agent: Any) -> str | None:
    # Mirrors AbstractAgent._infer_name (pydantic_ai/agent/abstract.py:2056): the caller's locals, then globals.
    frame = _user_frame(inspect.currentframe())
    try:
        if frame is None:
            return None
        for scope in (frame.f_locals, frame.f_globals):
            for key, item in scope.items():
                if item is agent:
                    return key
        return None
    finally:
        del frame


def _model_name(model: Any) -> str | None:
    if isinstance(model, str):
        return model.split(":", 1)[-1] or None
    value = getattr(model, "model_name", None)
    return value if isinstance(value, str) else None


# Model-id prefixes that name an API of a provider rather than the provider: the model pydantic-ai builds
# for them reports the provider's name as its `system` (models/__init__.py infer_model, 2.68.0). Every other
# prefix is the provider's name (checked for each prefix `providers.infer_provider_class` knows).
_API_PREFIXES = {"openai-chat": "openai", "openai-responses": "openai", "azure-responses": "azure"}


def _system_of_model_id(model_id: str) -> str | None:
    """`Model.system` of the model pydantic-ai builds for `model_id`, read from the id alone: building the
    model would build its provider's client (and read its API key) on our time."""
    from pydantic_ai.models import parse_model_id

    if model_id == "test":  # infer_model("test") is a TestModel
        return "test"
    prefix, _ = parse_model_id(model_id)
    if not prefix:
        return None
    if prefix.startswith("gateway/"):
        # The gateway's routes build the upstream provider's model: "gateway/chat" is "openai-chat".
        from pydantic_ai.providers.gateway import normalize_gateway_provider

        prefix = normalize_gateway_provider(prefix)
    return _API_PREFIXES.get(prefix, prefix)


def _system(model: Any) -> str | None:
    if isinstance(model, str):
        return _system_of_model_id(model)
    try:
        system = model.system  # a property; TestModel's is "test", FunctionModel's "function"
    except Exception:
        return None
    return system if isinstance(system, str) else None


def _selected_model(agent: Any, kwargs: dict[str, Any]) -> Any:
    """The model the run will use before capabilities choose: AbstractAgent._pick_raw_model's order
    (pydantic_ai/agent/__init__.py:3447), `agent.override(model=...)`, then `model=`, then the agent's."""
    override_var = getattr(agent, "_override_model", None)
    if isinstance(override_var, ContextVar):
        override = override_var.get()
        if override is not None:
            return getattr(override, "value", None)
    return kwargs.get("model") or agent.model


def _text_message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def read_request(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    agent_name = agent.name
    if agent_name is None and kwargs.get("infer_name", True):
        agent_name = _predict_name(agent)
    model = _selected_model(agent, kwargs)
    # Fields set after the facts are made, and only when present: a keyword argument to the class costs more than
    # an attribute set (about 1k instructions for these three).
    facts = RequestFacts()
    if isinstance(agent_name, str):
        facts.agent_name = agent_name
    facts.request_model = _model_name(model)
    facts.provider_name = semconv.provider_name(_system(model))
    description = getattr(agent, "description", None)
    if isinstance(description, str):
        facts.agent_description = description
    conversation_id = kwargs.get("conversation_id")
    if isinstance(conversation_id, str) and conversation_id != "new":
        facts.conversation_id = conversation_id
    if config.capture_content.enabled:
        prompt = args[0] if args else kwargs.get("user_prompt")
        if isinstance(prompt, str):
            facts.input_messages = [_text_message("user", prompt)]
        instructions = kwargs.get("instructions")
        if isinstance(instructions, str):
            facts.system_instructions = [{"type": "text", "content": instructions}]
    return facts


# What each proxied context manager yielded (StreamedRunResult, AgentRunEvents, AgentRun), for the reader.
_entered: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _stream_settled(result: Any) -> bool:
    """Whether a StreamedRunResult's run settled: whether its `.result` would return rather than raise UserError.

    `.result` (2.68, result.py:675) builds a new AgentRunResult at each read (40 us a read in a loop after a
    finished stream; within a run the instruction count barely moved without it, README "Overhead"); this
    takes the same decision off the state it reads: a run result handed over, or a stream that completed,
    whose completion did not raise and that was not cancelled before it produced an output. A release whose
    state differs gets the read itself."""
    try:
        if result._run_result is not None:
            return True
        stream = result._stream_response
        if stream is None:
            return False
        return bool(
            result.is_complete
            and not result._completion_raised
            and not (stream._cached_output is None and stream.cancelled)
        )
    except AttributeError:
        try:
            result.result  # noqa: B018 - the read is the test
        except Exception:
            return False
        return True


def _settled(entered: Any) -> Any:
    """What a finished run's facts are read from (usage, conversation id, final response), else None; reads
    only state already built. A StreamedRunResult that settled is read itself: its response, usage and
    conversation id are those of the AgentRunResult `.result` would build."""
    try:
        if hasattr(entered, "is_complete"):  # StreamedRunResult
            return entered if _stream_settled(entered) else None
        return getattr(entered, "result", None)  # AgentRunEvents, AgentRun: None until finished
    except Exception:
        return None


class _TokenCounts:
    """The token counts of a RunUsage, as `StreamedRunResult.usage` would report them."""

    __slots__ = ("cache_read_tokens", "cache_write_tokens", "input_tokens", "output_tokens")

    def __init__(self, run: Any, request: Any) -> None:
        self.input_tokens = run.input_tokens + request.input_tokens
        self.output_tokens = run.output_tokens + request.output_tokens
        self.cache_read_tokens = run.cache_read_tokens + request.cache_read_tokens
        self.cache_write_tokens = run.cache_write_tokens + request.cache_write_tokens


def _streamed_tokens(result: Any) -> _TokenCounts | None:
    """The token counts of a StreamedRunResult still reading its stream, else None.

    Its `.usage` (2.68, result.py:232) is the run's usage before this request plus the request's, and, while
    the request has no cost yet, prices the request with genai-prices: 27 us a read, where the sum of the
    token counts we record costs under 1 us. Each count is that sum (`RunUsage.__add__` adds them field by
    field, usage.py:477)."""
    if not hasattr(result, "is_complete"):
        return None
    try:
        stream = result._stream_response
        if result._run_result is not None or stream is None:
            return None
        return _TokenCounts(stream._initial_run_ctx_usage, stream._raw_stream_response.usage)
    except AttributeError:  # a release with other state: its own `.usage`
        return None


def _output_messages(response: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in getattr(response, "parts", None) or ():
        kind = getattr(part, "part_kind", None)
        if kind == "text":
            parts.append({"type": "text", "content": part.content})
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": part.content})
        elif kind == "tool-call":
            parts.append({"type": "tool_call", "id": part.tool_call_id, "name": part.tool_name, "arguments": part.args})
    return [{"role": "assistant", "parts": parts}]


def _lookup_entered(value: Any) -> Any:
    # Unhashable (pydantic dataclasses: AgentRunResult, StreamedRunResult, read at every run's end): not a
    # context manager of ours, told without the lookup, which would raise TypeError (about 1 us).
    if type(value).__hash__ is None:
        return value
    try:
        return _entered.get(value, value)
    except TypeError:  # no weak reference to it: not a context manager of ours either
        return value


_NO_SEGMENT = object()


def _finish_reason(settled: Any) -> Any:
    """`settled.response.finish_reason`, for a StreamedRunResult without building its response.

    `StreamedRunResult.response` (2.x, result.py) has the stream merge its segments into a new ModelResponse at
    each read, about 50k instructions (callgrind); the merged response's finish reason is its latest segment's
    (models/_continuation.py `merge_responses` keeps the new segment's fields), and a segment's response takes
    its stream's `finish_reason` (models/__init__.py `StreamedResponse.get`). A stream with other state than
    these releases' is read through `.response`."""
    if not hasattr(settled, "is_complete"):  # AgentRunResult: its response is a message it holds
        return settled.response.finish_reason
    try:
        if settled._run_result is not None:
            return settled._run_result.response.finish_reason
        stream = settled._stream_response._raw_stream_response
        merged: Any = getattr(stream, "_merged_response", _NO_SEGMENT)
        if merged is _NO_SEGMENT:  # a plain StreamedResponse
            return stream.finish_reason
        current = stream._current_sub
        if current is not None:
            return current.finish_reason
        return merged.finish_reason if merged is not None else None
    except AttributeError:
        return settled.response.finish_reason


def make_result_reader(config: Config) -> Callable[[Any, Outcome], ResultFacts | None]:
    # Imported once here, when the adapter is applied: an import statement in the reader cost about 8k
    # instructions a run (the import system's checks on an already imported module).
    from pydantic_ai.messages import ModelResponse
    from pydantic_ai.run import AgentRunResult

    capture = config.capture_content.enabled

    def read_result(value: Any, outcome: Outcome) -> ResultFacts | None:
        if value.__class__ is AgentRunResult and not capture:
            # An awaited run's result (`run`, `run_sync`), the usual one: its facts read off the run's state, which
            # its `usage`, `conversation_id` and `response` properties return or search (run.py:1169-1267), without
            # the three property calls and the checks for the other result kinds (14.1k -> 8.3k instructions,
            # callgrind micro, 2000 calls). A release with other state, or a history without a response, takes
            # the general path below, as does content capture (it reads the response's parts).
            try:
                state: Any = value._state
                run_usage = state.usage
                conversation_id = state.conversation_id
                history = state.message_history
                response = None
                for message in reversed(history):
                    if isinstance(message, ModelResponse):
                        response = message
                        break
                if response is not None:
                    facts = ResultFacts()
                    facts.input_tokens = run_usage.input_tokens
                    facts.output_tokens = run_usage.output_tokens
                    facts.cache_read_input_tokens = run_usage.cache_read_tokens or None
                    facts.cache_creation_input_tokens = run_usage.cache_write_tokens or None
                    facts.conversation_id = conversation_id
                    reason = response.finish_reason
                    if isinstance(reason, str):
                        facts.finish_reasons = [reason]
                    return facts
            except AttributeError:
                pass
        source = _lookup_entered(value)
        if source is None:
            return None
        settled = source if isinstance(source, AgentRunResult) else _settled(source)
        facts = ResultFacts()
        try:
            # A property in 2.68 (run.py:1177, result.py:918): calling it warns PydanticAIDeprecationWarning.
            # AgentRunEvents.usage raises UserError before the run started.
            usage: Any = _streamed_tokens(source) or (settled if settled is not None else source).usage
        except Exception:
            usage = None
        if hasattr(usage, "input_tokens"):
            facts.input_tokens = usage.input_tokens
            facts.output_tokens = usage.output_tokens
            facts.cache_read_input_tokens = usage.cache_read_tokens or None
            facts.cache_creation_input_tokens = usage.cache_write_tokens or None
        if settled is None:
            return facts
        facts.conversation_id = settled.conversation_id
        if capture:
            response = settled.response
            reason = response.finish_reason
            facts.output_messages = _output_messages(response)
            if isinstance(reason, str):
                facts.output_messages[-1]["finish_reason"] = reason
        else:
            reason = _finish_reason(settled)
        if isinstance(reason, str):
            facts.finish_reasons = [reason]
        return facts

    return read_result


class EntryMethods:
    """Mixed into the proxy of `run_stream`/`iter`/`run_stream_events` context managers."""

    def _self_rebind(self, result: Any) -> Any:
        # The core's _aenter hands the entered value here.
        proxy: Any = self
        wrapped = proxy.__wrapped__
        if result is wrapped:
            return self
        _entered[wrapped] = result
        if proxy._self_invocation.finished:
            return result
        if hasattr(result, "is_complete"):
            # StreamedRunResult: pydantic-ai re-attaches the OTel context captured when a model stream
            # segment opened (during __aenter__, under our span) when it closes (during a pull), see
            # pydantic_ai/_instrumentation.py:1129. Pulls therefore run with our span current too, or it
            # would leak into the consumer's context. The context manager's proxy keeps owning the run.
            traced = trace_stream(result, proxy._self_invocation, proxy._self_reader, StreamedRunResultMethods)
            traced._self_finalizer.detach()
            return traced
        if hasattr(type(result), "__anext__"):
            # AgentRunEvents / AgentRun: the proxy of what the consumer iterates owns the run from here.
            proxy._self_finalizer.detach()
            is_agent_run = hasattr(type(result), "next")
            traced = trace_stream(
                result, proxy._self_invocation, proxy._self_reader, AgentRunMethods if is_agent_run else None
            )
            if is_agent_run:
                _register_run(result, traced)
            return traced
        return result

    def _self_exit_outcome(self, error: BaseException | None) -> tuple[Outcome, BaseException | None]:
        """Leaving the block with the run still open. The run's own failures have ended it already, where
        they happened: the enter, a pull of what the consumer iterates (AgentRun nodes, AgentRunEvents
        events, StreamedRunResult's streams and awaited methods, node streams) and the exit itself are
        steps that end the run on the framework's exception. An exception the block exits with is
        therefore the consumer's own (its code failed, or it re-raised what a step raised after that step
        ended the run), never the run's: the run completed if it had, else the consumer closed it early
        (pydantic-ai hands it to the run's `on_run_error` hooks all the same). Cancellation stays a
        cancelled run."""
        if isinstance(error, asyncio.CancelledError):
            return CANCELLED, error
        entered = _entered.get(getattr(self, "__wrapped__"))  # noqa: B009 - wrapt proxy attribute
        return (COMPLETED if _settled(entered) is not None else CLOSED_EARLY), None


class _PulledWithSpan(wrapt.BaseObjectProxy[Any]):
    """An async generator of a StreamedRunResult: each pull runs through its owner's `_self_astep`."""

    _self_owner: Any

    def __init__(self, wrapped: Any, owner: Any) -> None:
        super().__init__(wrapped)
        self._self_owner = owner

    def __aiter__(self) -> Any:
        return self

    def __anext__(self) -> Any:
        # The consumer receives an update of the run's output: its first is the run's first chunk.
        return self._self_owner._self_astep(anext(self.__wrapped__), True)

    def aclose(self) -> Any:
        return self._self_owner._self_astep(self.__wrapped__.aclose())


def _pulled_with_span(method_name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _PulledWithSpan(getattr(self.__wrapped__, method_name)(*args, **kwargs), self)

    method.__name__ = method_name
    return method


def _awaited_with_span(method_name: str) -> Callable[..., Any]:
    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await self._self_astep(getattr(self.__wrapped__, method_name)(*args, **kwargs))

    method.__name__ = method_name
    return method


class StreamedRunResultMethods:
    """Mixed into the proxy of the StreamedRunResult that `run_stream` yields."""


for _name in ("stream_output", "stream_text", "stream_response"):
    setattr(StreamedRunResultMethods, _name, _pulled_with_span(_name))
for _name in ("get_output", "validate_response_output", "cancel"):
    setattr(StreamedRunResultMethods, _name, _awaited_with_span(_name))


class AgentRunMethods:
    """`AgentRun.next(node)` drives one step: run it with the span current, like `__anext__`."""

    async def next(self, node: Any) -> Any:
        proxy: Any = self
        return await proxy._self_astep(proxy.__wrapped__.next(node))


# -- node.stream(run.ctx) under agent.iter() ---------------------------------------------------------------------
# `async with node.stream(run.ctx) as stream: async for event in stream` (pydantic-ai's way to stream every event
# of an `iter()` run) makes the node's model request or runs its tool calls in the consumer's block, between the
# pulls of the AgentRun. Each enter, pull and exit of such a node stream is a step of the run, like those pulls.

# The AgentRun proxies consumers iterate, by the id of the run's GraphAgentDeps: every `run.ctx` is a new
# GraphRunContext over the same deps (run.py:324), and the proxy keeps the run, so the deps, alive while listed.
_runs_by_deps: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
# Its entries, read by the node streams' check: the mapping's `len` is a Python method (the check 2.3k -> 1.5k
# instructions with its call, callgrind micro). The same dict: entries of collected runs leave it at once (nothing
# iterates the mapping, which would defer their removal).
_registered_runs: dict[int, Any] = _runs_by_deps.data  # type: ignore[attr-defined]  # weakref.py's own dict


def _register_run(agent_run: Any, traced: Any) -> None:
    try:
        _runs_by_deps[id(agent_run.ctx.deps)] = traced
    except Exception:
        report_failure("registering the agent run for its node streams")


def _iter_runs_traced(node: Any) -> bool:
    """Whether a node stream may belong to a run of ours. Only an `iter()` run of ours registers (`run`,
    `run_stream` and a suppressed run register none): while none is registered, node streams skip the hook."""
    return bool(_registered_runs)


def _traced_run_of(ctx: Any) -> Any:
    deps = getattr(ctx, "deps", None)
    traced = _runs_by_deps.get(id(deps))
    if traced is None or traced.__wrapped__.ctx.deps is not deps:
        return None
    return traced


async def _run_step(traced_run: Any, awaitable: Awaitable[_T], consumer_error: BaseException | None = None) -> _T:
    """Await one step of the run `traced_run` (an AgentRun proxy) owns with its span current.

    The step's exception is the run's failure and ends it, except `consumer_error`, the exception of the
    consumer's block passing back out of an exit. The end of a node's events is not the end of the run.
    """
    invocation: AgentInvocation = traced_run._self_invocation
    if invocation.finished:
        return await awaitable
    token = otel_context.attach(invocation.step_context())
    try:
        value = await awaitable
    except StopAsyncIteration:
        otel_context.detach(token)
        raise
    except BaseException as error:
        otel_context.detach(token)
        if error is not consumer_error:
            traced_run._self_end(FAILED, error)  # the core maps cancellation to CANCELLED
        raise
    otel_context.detach(token)
    return value


class _StepIterator(wrapt.BaseObjectProxy[Any]):
    """An async iterator of a node stream: each pull is a step of the run."""

    _self_run: Any

    def __init__(self, wrapped: Any, traced_run: Any) -> None:
        super().__init__(wrapped)
        self._self_run = traced_run

    def __aiter__(self) -> Any:
        return self

    def __anext__(self) -> Any:
        return _run_step(self._self_run, anext(self.__wrapped__))

    def aclose(self) -> Any:
        return _run_step(self._self_run, self.__wrapped__.aclose())


def _iterated_as_step(method_name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _StepIterator(getattr(self.__wrapped__, method_name)(*args, **kwargs), self._self_run)

    method.__name__ = method_name
    return method


def _awaited_as_step(method_name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _run_step(self._self_run, getattr(self.__wrapped__, method_name)(*args, **kwargs))

    method.__name__ = method_name
    return method


class _StepAgentStream(wrapt.BaseObjectProxy[Any]):
    """The AgentStream a ModelRequestNode's stream yields: iterating it, its streams and its awaited methods
    pull the model's response (and build output) as steps of the run; properties read state as they are."""

    _self_run: Any

    def __init__(self, wrapped: Any, traced_run: Any) -> None:
        super().__init__(wrapped)
        self._self_run = traced_run

    __aiter__ = _iterated_as_step("__aiter__")


for _name in ("stream_output", "stream_text", "stream_response"):
    setattr(_StepAgentStream, _name, _iterated_as_step(_name))
for _name in ("get_output", "validate_response_output", "cancel", "drain"):
    setattr(_StepAgentStream, _name, _awaited_as_step(_name))


class _NodeStream(wrapt.BaseObjectProxy[Any]):
    """The context manager `node.stream(run.ctx)` returns, its enter and exit steps of the run."""

    _self_run: Any

    def __init__(self, wrapped: Any, traced_run: Any) -> None:
        super().__init__(wrapped)
        self._self_run = traced_run

    async def __aenter__(self) -> Any:
        entered = await _run_step(self._self_run, self.__wrapped__.__aenter__())
        kind = type(entered)
        if hasattr(kind, "__anext__"):  # CallToolsNode: the events iterator
            return _StepIterator(entered, self._self_run)
        if hasattr(kind, "__aiter__"):  # ModelRequestNode: the AgentStream
            return _StepAgentStream(entered, self._self_run)
        return entered

    async def __aexit__(self, exc_type: Any, error: BaseException | None, traceback: Any) -> Any:
        return await _run_step(self._self_run, self.__wrapped__.__aexit__(exc_type, error, traceback), error)


def _stream_node_in_the_run(telemetry: Telemetry) -> Any:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        try:
            traced_run = _traced_run_of(args[0] if args else kwargs.get("ctx"))
            if (
                traced_run is None
                or traced_run._self_invocation.finished
                # Inside one of the run's own steps (run_stream, CallToolsNode.run): the span is current already.
                or active_invocation() is traced_run._self_invocation
            ):
                return manager
            return _NodeStream(manager, traced_run)
        except Exception:
            report_failure("tracing a node stream")
            return manager

    return wrapper


def _same_run(owner: Any, agent: Any) -> bool:
    return owner is agent or getattr(owner, "wrapped", None) is agent


def should_trace(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    # WrapperAgent.iter delegates to `self.wrapped.iter` (pydantic_ai/agent/wrapper.py:329): the same run.
    running = active_invocation()
    return running is None or running.finished or not _same_run(running.owner, agent)


def _skip_our_frames(telemetry: Telemetry) -> Any:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # _infer_name(function_frame) scans function_frame.f_back; step over our frames to the app's.
        if len(args) == 1 and not kwargs and args[0] is not None:
            frame: FrameType = args[0]
            while frame.f_back is not None and _is_ours(frame.f_back):
                frame = frame.f_back
            return wrapped(frame)
        return wrapped(*args, **kwargs)

    return wrapper


# -- pydantic-ai's run span, stood down -------------------------------------------------------------------------


class _StoodDownRunSpan(StandInSpan):
    """What `Instrumentation.wrap_run` gets in place of its agent-run span while ours owns the run.

    It has our span's context, so whatever it parents is under ours, and it is never ended or exported. It
    reports recording when ours was started recording (sampled), also after ours ended (the end of an
    `iter()` run's nodes ends ours before the wrapper finishes), so the wrapper does its end-of-run work
    (the history-mutation check among it) when it would have had a span to record on, and only then.
    Writes made while the run's handler runs come from
    other code reaching it as the current span (inside a durable replay scope, which makes it current) and
    go to our span, as they do to a current span; the wrapper's own writes, after the handler, are dropped.
    """

    def __init__(self, ours: Span) -> None:
        super().__init__(ours, forwarding=False)


class _StandInTracer:
    """The tracer `_durable_replay.start_as_current_span` is handed for the run span (the two methods it
    calls): it yields the stand-in. Nothing is made current: the wrapper runs in a task copied from one of
    our run's steps, so under our span already."""

    def __init__(self, stand_in: _StoodDownRunSpan) -> None:
        self._stand_in = stand_in

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> Span:
        return self._stand_in

    @contextmanager
    def start_as_current_span(self, name: str, *args: Any, **kwargs: Any) -> Iterator[Span]:
        yield self._stand_in


# The stand-in for the run span of the `Instrumentation.wrap_run` running in this context, if ours owns the run.
_run_span_stand_in: ContextVar[_StoodDownRunSpan | None] = ContextVar(
    "otel_agent_instrumentation.pydantic_ai.run_span_stand_in", default=None
)


async def _wrap_run_with_span_stood_down(
    wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], invocation: AgentInvocation
) -> Any:
    """Run pydantic-ai's own `wrap_run` whole, its run span replaced by a stand-in (see the module docstring)."""
    stand_in = _StoodDownRunSpan(invocation.span)
    handler: Callable[[], Awaitable[Any]] = kwargs["handler"]

    async def handler_under_our_span() -> Any:
        # The run span is started before the handler, or not at all (a realtime session): no later span is it.
        stand_in.pending = False
        stand_in.forwarding = True
        try:
            return await handler()
        finally:
            stand_in.forwarding = False

    token = _run_span_stand_in.set(stand_in)
    try:
        return await wrapped(*args, **{**kwargs, "handler": handler_under_our_span})
    finally:
        _run_span_stand_in.reset(token)


def _stand_down_framework_span(telemetry: Telemetry) -> Any:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        running = active_invocation()
        ctx = args[0] if args else kwargs.get("ctx")
        handler = kwargs.get("handler")
        if (
            running is not None
            and not running.finished
            and callable(handler)
            and _same_run(running.owner, getattr(ctx, "agent", None))
        ):
            return _wrap_run_with_span_stood_down(wrapped, args, kwargs, running)
        return wrapped(*args, **kwargs)

    return wrapper


def _hand_run_span_the_stand_in(telemetry: Telemetry) -> Any:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # start_as_current_span(tracer, name, **kwargs): the module's every span; the run's is the first
        # one the wrapper starts while its stand-in is pending.
        stand_in = _run_span_stand_in.get()
        if stand_in is None or not stand_in.pending or not args:
            return wrapped(*args, **kwargs)
        stand_in.pending = False
        return wrapped(_StandInTracer(stand_in), *args[1:], **kwargs)

    return wrapper


# -- tool calls (see the module docstring) ------------------------------------------------------------------

_TOOL_REENTRY_KEY = f"{name}:tool"


class _ToolCallOwner:
    """The owner of one tool call for the re-entry guard: a tool that calls the same ToolManager (nested
    dispatch) makes a call of its own, not a layer of this one."""

    __slots__ = ()


def _not_instrumented_by_pydantic_ai(manager: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    # A run instrumented by pydantic-ai (an `Instrumentation` capability in its tree) has its tracer on every
    # RunContext, and that capability's `wrap_tool_execute` opens an execute_tool span around this call;
    # an uninstrumented run's tracer is a NoOpTracer (agent/__init__.py _set_run_context_instrumentation).
    validated = args[0] if args else kwargs.get("validated")
    return isinstance(getattr(getattr(validated, "ctx", None), "tracer", None), NoOpTracer)


def _json_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except Exception:  # a structure json cannot walk (a cycle): no content rather than no span
        return None


def read_tool_request(manager: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    # ToolManager._run_execute_hooks(validated, *, usage, wrap_validation_errors): a ValidatedToolCall of a
    # function tool (output tools take execute_output_tool_call), its arguments valid.
    validated = args[0] if args else kwargs.get("validated")
    call = getattr(validated, "call", None)
    tool_def = getattr(getattr(validated, "tool", None), "tool_def", None)
    tool_name = getattr(call, "tool_name", None)
    description = getattr(tool_def, "description", None)
    call_id = getattr(call, "tool_call_id", None)
    facts = RequestFacts(
        operation=TOOL,
        tool_name=tool_name if isinstance(tool_name, str) else None,
        tool_type=semconv.TOOL_TYPE_FUNCTION,
        tool_description=description if isinstance(description, str) and description else None,
        tool_call_id=call_id if isinstance(call_id, str) and call_id else None,
    )
    if config.capture_content.enabled and call is not None:
        facts.tool_arguments = call.args_as_json_str()  # the model's arguments, as pydantic-ai's own spans have them
    return facts


class _ToolOutcomeKinds:
    """pydantic-ai's exception classes by what they mean for a tool call's span, imported once."""

    def __init__(self, capture: bool) -> None:
        from pydantic_ai.exceptions import (
            ApprovalRequired,
            CallDeferred,
            SkipToolExecution,
            ToolFailedError,
            ToolRetryError,
        )

        self.capture = capture
        # Not failures: a hook replaced the call (its result is the call's), or the call was deferred.
        self.control_flow: tuple[type[BaseException], ...] = (SkipToolExecution, CallDeferred, ApprovalRequired)
        self.skip = SkipToolExecution
        # ModelRetry / ValidationError (a retry prompt) and ToolFailed (a failed result), wrapped by the
        # ToolManager with the tool's exception as their cause; the run goes on.
        self.returned_to_model: tuple[type[BaseException], ...] = (ToolRetryError, ToolFailedError)


def _ends_tool_call(error: BaseException, invocation: AgentInvocation, kinds: _ToolOutcomeKinds) -> bool:
    """End the tool call where the exception it raises is not a plain failure, and say whether it did: control
    flow ends it completed; a retry or failure pydantic-ai hands back to the model ends it failed with the
    exception the tool (or a tool hook) raised. Anything else is left to traced_await: failed, with that
    exception."""
    if isinstance(error, kinds.control_flow):
        skipped = kinds.capture and isinstance(error, kinds.skip)
        invocation.finish(
            COMPLETED,
            None,
            ResultFacts(tool_result=_json_text(getattr(error, "result", None))) if skipped else None,
        )
        return True
    if isinstance(error, kinds.returned_to_model):
        cause = error.__cause__
        invocation.finish(FAILED, cause if isinstance(cause, Exception) else error)
        return True
    return False


def make_tool_result_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    kinds = _ToolOutcomeKinds(config.capture_content.enabled)

    def handle_tool_result(result: Any, invocation: AgentInvocation) -> Any:
        invocation.owner = _ToolCallOwner()  # before the call runs: see _ToolCallOwner
        if not isinstance(result, CoroutineType):  # inspect.iscoroutine without its Python call
            return trace_result(result, invocation)

        def returned(value: Any) -> None:
            invocation.finish(COMPLETED, None, ResultFacts(tool_result=_json_text(value)))

        # The ToolManager awaits the call where it makes it (see awaited.py). Without content capture a
        # return has nothing to read: traced_await ends the call completed itself.
        return traced_await(
            result,
            invocation,
            returned if kinds.capture else None,
            lambda error: _ends_tool_call(error, invocation, kinds),
        )

    return handle_tool_result


def targets(config: Config) -> Sequence[Target]:
    reader = make_result_reader(config)
    abstract = "pydantic_ai.agent.abstract"
    found: list[Target] = [
        RunTarget(abstract, f"AbstractAgent.{method}", read_request, reader, EntryMethods, should_trace)
        for method in ("run", "run_sync", "run_stream", "run_stream_events")
    ]
    found += [
        RunTarget("pydantic_ai.agent", "Agent.iter", read_request, reader, EntryMethods, should_trace),
        RunTarget("pydantic_ai.agent.wrapper", "WrapperAgent.iter", read_request, reader, EntryMethods, should_trace),
        HookTarget(abstract, "AbstractAgent._infer_name", _skip_our_frames),
        HookTarget("pydantic_ai._agent_graph", "ModelRequestNode.stream", _stream_node_in_the_run, _iter_runs_traced),
        HookTarget("pydantic_ai._agent_graph", "CallToolsNode.stream", _stream_node_in_the_run, _iter_runs_traced),
        RunTarget(
            "pydantic_ai.tool_manager",
            "ToolManager._run_execute_hooks",
            read_tool_request,
            should_trace=_not_instrumented_by_pydantic_ai,
            handle_result=make_tool_result_handler(config),
            reentry_key=_TOOL_REENTRY_KEY,
        ),
    ]
    if not config.keep_framework_spans:
        instrumentation = "pydantic_ai.capabilities.instrumentation"
        found += [
            HookTarget(instrumentation, "Instrumentation.wrap_run", _stand_down_framework_span),
            HookTarget(instrumentation, "start_as_current_span", _hand_run_span_the_stand_in),
        ]
    return found


def framework_telemetry(config: Config) -> str:
    from pydantic_ai import Agent

    default = Agent._instrument_default
    state = "on for every agent (Agent.instrument_all)" if default else "off unless an agent sets instrument="
    spans = (
        "its invoke_agent span is kept beside ours (keep_framework_spans)"
        if config.keep_framework_spans
        else "its invoke_agent span is stood down for ours"
    )
    return f"Pydantic AI instrumentation {state}; where on, {spans}, its chat and execute_tool spans are kept"


ADAPTER = FrameworkAdapter(name, distribution, supported, targets, framework_telemetry)

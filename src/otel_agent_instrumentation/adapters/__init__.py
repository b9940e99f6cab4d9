"""The adapter API: everything a framework adapter, built-in or third-party, is written with.

    from otel_agent_instrumentation.adapters import FrameworkAdapter, RequestFacts, RunTarget

An adapter names its targets and supplies small readers; the core does the span, the re-entry guard
and the stream lifecycle. Register it under the entry-point group `otel_agent_instrumentation.adapters`
(README, "Writing an adapter"). The names in `__all__` are the public API; the modules behind them may
move. By use:

- what an adapter is and where it wraps: `Adapter` (the protocol), `FrameworkAdapter`, `RunTarget`,
  `HookTarget`, `Target`;
- readers: `RequestReader` (instance, args, kwargs, `Config`) -> `RequestFacts`, and `ResultReader`
  (result, `Outcome`) -> `ResultFacts`; `semconv` has the attribute names (request parameters' keys,
  `error.type` values) and `semconv.provider_name(raw)`;
- `RequestFacts.operation`: an `Operation` (agent run, workflow, tool call); the span's name and
  attributes follow it;
- the members of `Outcome` and `Operation` as plain names (`COMPLETED`, `FAILED`, `CANCELLED`, `CLOSED_EARLY`,
  `ABANDONED`, `SHUTDOWN`; `AGENT`, `WORKFLOW`, `TOOL`): on CPython 3.11 a member read off its class costs about
  0.1 us, ten times a global's, and code on every run's path reads several;
- `RunTarget.handle_result` (result, `Invocation`) -> what the caller gets, for a run whose end its
  own protocol does not show (e.g. it goes on in a background task): `trace_result`, `trace_stream`,
  `trace_coroutine` (its `on_error`, as `traced_await`'s, ends a run for a framework's control-flow exception),
  `trace_future`, `read_facts`, `finish_with_error` (`AgentInvocation` is the old name of `Invocation`);
  `trace_stream(..., carry_context=True)` for an async generator that sets context and leaves it set across its
  yields (Strands' spans): each pull resumes in what the previous one left, and the
  consumer still sees its own context between pulls; `AbandonWatch(referent, invocation, end=None)` ends the
  run ABANDONED (or calls `end`) if `referent`, the object the run lives in (its background task), is
  garbage-collected first;
- `traced_await(call, invocation, on_return=None, on_error=None)`: from `handle_result`, for a call the framework
  awaits where it makes it (a tool call): the span current for the await and ended with it, without the
  coroutine proxy `trace_coroutine` needs for an application's own awaits; `awaited_step(call, invocation)`:
  one awaited step of a run that goes on (an agent's turn under its span);
- `HookTarget.make_wrapper` (`Telemetry`) -> `WrapperFunction`, e.g. to stand a framework's own agent span
  down while `active_invocation()` is ours;
- `HandledFailures(tool_reentry_key)`: a tool call's exception the framework turned into the call's result
  (an error message for the model), noted by a hook on the framework's handler (`.hook(error_of, site)`) and
  taken where the call's result is read (`.take(invocation)`), so that the call's span ends FAILED with it;
- `StandInSpan(ours, forwarding)`: what a stood-down framework span is replaced with, so what the
  framework parents on it is under our span (writes forwarded to ours while `forwarding` is set);
- `instrumentation_enabled()`: OpenTelemetry's `is_instrumentation_enabled()` at the cost of one context read,
  for hook wrappers that every call of a suppressed run passes;
- `is_mapping(value)`: `isinstance(value, Mapping)` without the ABC's Python-level check for a dict or None,
  for readers on every run's path; `class_attribute(kind, name)`: `getattr(kind, name, None)` remembered per
  class, since a failed lookup on a class costs an AttributeError each time;
- `Invocation.noted`: a slot of the run for what the adapter's hooks noted for it (agno: the arguments its
  dispatcher handed the stream it returns; OpenAI Agents: the run's handoffs), instead of a weak-keyed map;
  `RunTarget.on_start` (invocation) notes there what must be in place before the framework's code runs
  (LangGraph: the run's messages), and `RunTarget.on_error` (invocation, error) -> whether it ended a run whose
  call raised the framework's control flow (LangGraph's `GraphInterrupt` out of a subgraph's `invoke`);
- `report_failure(site)`: adapter code that runs outside the core's guard (a background callback, a hook
  wrapper) catches `Exception` and reports it here, one WARNING per site, never an error for the app.

The built-in adapters are this package's modules, each importing its framework inside `targets()`.
"""

from .. import semconv
from .._context import instrumentation_enabled
from .._guard import report_failure
from .._patching import WrapperFunction
from ..awaited import awaited_step, traced_await
from ..config import Config
from ..invocation import (
    ABANDONED,
    AGENT,
    CANCELLED,
    CLOSED_EARLY,
    COMPLETED,
    FAILED,
    SHUTDOWN,
    TOOL,
    WORKFLOW,
    AgentInvocation,
    Invocation,
    Operation,
    Outcome,
    RequestFacts,
    ResultFacts,
    Telemetry,
    active_invocation,
)
from ..stream import (
    AbandonWatch,
    class_attribute,
    finish_with_error,
    read_facts,
    trace_coroutine,
    trace_future,
    trace_result,
    trace_stream,
)
from ._base import (
    Adapter,
    FrameworkAdapter,
    HandledFailures,
    HookTarget,
    RequestReader,
    ResultReader,
    RunTarget,
    Target,
    is_mapping,
)
from ._stand_in import StandInSpan

__all__ = [
    "ABANDONED",
    "AGENT",
    "CANCELLED",
    "CLOSED_EARLY",
    "COMPLETED",
    "FAILED",
    "SHUTDOWN",
    "TOOL",
    "WORKFLOW",
    "AbandonWatch",
    "Adapter",
    "AgentInvocation",
    "Config",
    "FrameworkAdapter",
    "HandledFailures",
    "HookTarget",
    "Invocation",
    "Operation",
    "Outcome",
    "RequestFacts",
    "RequestReader",
    "ResultFacts",
    "ResultReader",
    "RunTarget",
    "StandInSpan",
    "Target",
    "Telemetry",
    "WrapperFunction",
    "active_invocation",
    "awaited_step",
    "class_attribute",
    "finish_with_error",
    "instrumentation_enabled",
    "is_mapping",
    "read_facts",
    "report_failure",
    "semconv",
    "trace_coroutine",
    "trace_future",
    "trace_result",
    "trace_stream",
    "traced_await",
]

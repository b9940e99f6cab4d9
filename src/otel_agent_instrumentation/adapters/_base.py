"""What an adapter provides: which distribution it covers, where to wrap, and how to read objects.

An adapter knows nothing of spans. It names its targets and supplies small readers; the core does
the lifecycle. Third-party packages register an object satisfying `Adapter` under the entry-point
group `otel_agent_instrumentation.adapters`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, runtime_checkable

from .._guard import report_failure
from ..config import Config
from ..invocation import AgentInvocation, Invocation, RequestFacts, ResultFacts, active_invocation

if TYPE_CHECKING:
    from .._patching import WrapperFunction
    from ..invocation import Outcome, Telemetry

# (instance, args, kwargs, config) -> facts known at call time. Must not mutate args or kwargs.
RequestReader = Callable[[Any, tuple[Any, ...], dict[str, Any], Config], RequestFacts]
# (returned value or wrapped stream, outcome) -> facts. Reads only state the framework already built.
ResultReader = Callable[[Any, "Outcome"], "ResultFacts | None"]


def is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    """`isinstance(value, Mapping)`, answering for a dict and for None without the ABC: its check is a
    Python-level `__instancecheck__` (about 0.2 us), and readers on every run's path ask it of options,
    configs and usage that are nearly always one or the other."""
    return isinstance(value, dict) or (value is not None and isinstance(value, Mapping))


class HandledFailures:
    """Exceptions a framework turned into a tool call's result (an error message handed back to the model, the
    run going on), by the tool call of ours they ended, so that its span ends FAILED with the exception rather
    than completed. `hook(error_of, site)` makes the `HookTarget.make_wrapper` for the framework's handler of
    the exception: it notes `error_of(args, kwargs)` for the innermost running invocation, when that is an open
    tool call through targets of `reentry_key` (the handler runs inside the call's own step); `take(invocation)`
    hands the noted exception over once, where the call's result is read. Held weakly: a call that never ends
    leaves nothing behind."""

    __slots__ = ("_failures", "_reentry_key")

    def __init__(self, reentry_key: str) -> None:
        self._reentry_key = reentry_key
        self._failures: weakref.WeakKeyDictionary[Invocation, BaseException] = weakref.WeakKeyDictionary()

    def take(self, invocation: Invocation) -> BaseException | None:
        # Most calls raise nothing: the emptiness check spares them the weak-keyed pop (about 1 us).
        return self._failures.pop(invocation, None) if self._failures else None

    def hook(
        self, error_of: Callable[[tuple[Any, ...], dict[str, Any]], object], site: str
    ) -> Callable[[Telemetry], WrapperFunction]:
        failures, reentry_key = self._failures, self._reentry_key

        def make_wrapper(_: Telemetry) -> WrapperFunction:
            def wrapper(
                wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
            ) -> Any:
                try:
                    running = active_invocation()
                    error = error_of(args, kwargs)
                    if (
                        running is not None
                        and running.reentry_key == reentry_key
                        and not running.finished
                        and isinstance(error, BaseException)
                    ):
                        failures[running] = error
                except Exception:
                    report_failure(site)
                return wrapped(*args, **kwargs)

            return wrapper

        return make_wrapper


@dataclass(frozen=True)
class RunTarget:
    """A method every user-level agent run passes through; the core gives it one invoke_agent span."""

    module: str
    attribute: str  # "Class.method"
    read_request: RequestReader
    read_result: ResultReader | None = None
    # Extra methods for the proxy of a returned stream (e.g. get_final_response); see stream.py.
    stream_methods: type | None = None
    # (instance, args, kwargs) -> whether this call is a user-level run to trace at all.
    should_trace: Callable[[Any, tuple[Any, ...], dict[str, Any]], bool] | None = None
    # Replaces the core's default handling of the returned value (stream.trace_result) for results
    # whose end is not visible through their own protocol, e.g. a run that continues in a background
    # task. (result, invocation) -> what the caller gets. Build it from stream.py's pieces.
    handle_result: Callable[[Any, AgentInvocation], Any] | None = None
    # Which calls are layers of one run (re-entry guard): a call on the object that owns the running
    # invocation, through a target with the same key, is the same run. None: the adapter's name, so an
    # adapter's targets chain into one span (`Agent.run -> RawAgent.run`, `run_sync -> run`).
    reentry_key: str | None = None
    # (invocation) -> None, called when a run starts, before the call: notes on the invocation what the run's
    # hooks and result handler will read (`invocation.noted`) where it must be in place before the framework's
    # code runs (LangGraph: the run's messages, which its loop's hooks fill in during a sync `invoke`). What it
    # raises is logged, and the run is traced without it.
    on_start: Callable[[AgentInvocation], None] | None = None
    # (invocation, error) -> whether the adapter ended the run itself for an exception the call raised: a
    # framework's control flow that is no failure (LangGraph's GraphInterrupt out of a subgraph's `invoke`).
    # Asked for an `Exception` the call itself raises (a synchronous run's; a coroutine's or a stream's steps
    # have `trace_coroutine`'s `on_error` and the stream methods). When it says False, or raises (logged), the
    # run fails with the error; the error propagates unchanged either way.
    on_error: Callable[[AgentInvocation, BaseException], bool] | None = None


@dataclass(frozen=True)
class HookTarget:
    """Any other patch an adapter needs (e.g. to stand the framework's own agent span down)."""

    module: str
    attribute: str
    make_wrapper: Callable[[Telemetry], WrapperFunction]
    # (instance) -> whether the wrapper has anything to do with this call of a method. When given, a call it
    # says False for goes straight to the original, and for a plain method without *args/**kwargs its
    # arguments are not packed for the wrapper (what a hook on every run costs a suppressed run). It is asked
    # at the call, or for an `async def` patched by an `async def` of ours at its coroutine's first step; a
    # module function's gets None. A target wrapt wraps as a method (a classmethod, an async generator
    # function) calls the wrapper whatever it says, so the wrapper must tell the same itself. It must be
    # cheap and must not raise (a raise is logged and taken as False).
    applies_to: Callable[[Any], bool] | None = None


Target = RunTarget | HookTarget


@runtime_checkable
class Adapter(Protocol):
    """A framework adapter."""

    # Short name, used in logs and in OTEL_PYTHON_AGENTS_DISABLED_ADAPTERS.
    name: str
    # PyPI distribution whose installed version is checked, or None for no check.
    distribution: str | None
    # PEP 440 specifier of the versions this adapter was checked against.
    supported: str

    def targets(self, config: Config) -> Sequence[Target]:
        """The patches to apply; import the framework here, not at module import."""
        ...


@dataclass(frozen=True)
class FrameworkAdapter:
    """An `Adapter` assembled from an adapter module's name, range and `targets` function."""

    name: str
    distribution: str | None
    supported: str
    targets: Callable[[Config], Sequence[Target]]
    # What the framework's own telemetry is doing here and what we do with it, for the diagnostics command
    # (doctor.py); None where the framework has none. Reads state only.
    framework_telemetry: Callable[[Config], str] | None = None

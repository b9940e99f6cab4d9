"""Stream proxies and the state-aware finalizer.

A proxied stream follows what the consumer does to it and nothing else:

| consumer observes                         | outcome        | span status                   |
| ----------------------------------------- | -------------- | ----------------------------- |
| end of iteration                          | COMPLETED      | UNSET                         |
| an exception from a pull                  | FAILED         | ERROR, error.type = its class |
| asyncio.CancelledError from a pull        | CANCELLED      | ERROR                         |
| close()/aclose()/context exit before end  | CLOSED_EARLY   | UNSET                         |
| proxy garbage-collected while still open  | ABANDONED      | UNSET                         |
| interpreter exit while still open         | SHUTDOWN       | UNSET                         |

The finalizer uses only what was already observed: it never iterates, closes, awaits or asks the
stream for a final response, because that runs the framework's finalizer and result hooks (e.g.
Agent Framework's `after_run` context providers) on paths where the application never asked for them.

The span is current only while the wrapped object runs one step (a pull, a close, an enter/exit), so
contexts are attached and detached in the same frame, whichever task or thread consumes the stream.

Proxy classes are built per wrapped type and cached: each has exactly the protocol methods the wrapped
type has (`aclose` for async generators, an awaitable `close` for Agent Framework streams, `send` and
`throw` for generators), so duck-typing callers see the same shape with or without us.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable, Generator
from time import perf_counter as _perf_counter
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeVar

import wrapt
from opentelemetry.context import Context

from ._context import attach_context as _attach
from ._context import current_context as _get_current
from ._context import detach_context as _detach
from ._context import detach_if_here
from ._context import detach_resumed as _detach_resumed
from ._guard import report_failure
from .invocation import ABANDONED, CANCELLED, CLOSED_EARLY, COMPLETED, FAILED, AgentInvocation, Outcome, ResultFacts

logger = logging.getLogger("otel_agent_instrumentation")

_T = TypeVar("_T")

# Reads facts (usage, finish reasons, ...) from the wrapped object or a returned value. It must only
# read state the framework already built: never drive, finalize or close anything.
ResultReader = Callable[[Any, Outcome], "ResultFacts | None"]


def _end_abandoned(invocation: AgentInvocation) -> None:
    # Runs from the garbage collector, on whatever thread collects: no context operations, no
    # framework calls, no warnings (a GC-time warning breaks apps that run with -W error).
    if not invocation.finished:
        logger.debug("otel-agent-instrumentation: agent stream collected before it ended")
        invocation.finish(ABANDONED)


# Armed watches: reachable from here until they fire or are detached, so that a watched object collected
# in a reference cycle with its proxy still fires its watch (a weakref that is itself garbage does not).
_armed_watches: set[AbandonWatch] = set()


class AbandonWatch:
    """Ends an invocation ABANDONED if `referent` is garbage-collected first; `detach()` disarms it.

    What `weakref.finalize` does for us, at about a third of its cost (one weakref and a set entry, no
    registry info or atexit bookkeeping): one is made per traced run, so it is on the per-run path.
    Interpreter exit is not its business (invocation.end_open_invocations ends open runs, SHUTDOWN).
    `end`, when given, ends the invocation instead (an adapter with more than the run's span to end); it runs
    from the garbage collector, so it makes no context or framework calls.
    """

    __slots__ = ("_end", "_reference", "invocation")

    def __init__(
        self, referent: object, invocation: AgentInvocation, end: Callable[[AgentInvocation], None] | None = None
    ) -> None:
        self.invocation = invocation
        self._end = end or _end_abandoned
        self._reference: weakref.ref[Any] | None = weakref.ref(referent, self._collected)
        _armed_watches.add(self)

    def _collected(self, _reference: weakref.ref[Any]) -> None:
        if self._reference is not None:
            self.detach()
            self._end(self.invocation)

    def detach(self) -> None:
        self._reference = None  # a weakref that is dropped never calls back
        _armed_watches.discard(self)


def _outcome_of(error: BaseException) -> Outcome:
    if isinstance(error, asyncio.CancelledError):
        return CANCELLED
    if isinstance(error, GeneratorExit):
        return CLOSED_EARLY
    return FAILED


def _async_step_ending(token: object, error: BaseException) -> tuple[Outcome, BaseException | None]:
    """Detach a suspended async step that `error` ended, and say how the run ended: (outcome, the error
    to record, if any).

    A step unwound in another Context was torn down by the garbage collector (its task was dropped):
    the run was abandoned, whatever the error (a framework coroutine that answers the close by awaiting
    again raises RuntimeError "coroutine ignored GeneratorExit"), and there is nothing to detach there.
    In its own Context, GeneratorExit is the consumer closing it (closed early); anything else is the
    run's own ending.
    """
    if not detach_if_here(token):
        return ABANDONED, None
    if isinstance(error, GeneratorExit):
        return CLOSED_EARLY, None
    return _outcome_of(error), error


def read_facts(reader: ResultReader | None, value: Any, outcome: Outcome) -> ResultFacts | None:
    """Run an adapter's reader under the guard."""
    if reader is None:
        return None
    try:
        return reader(value, outcome)
    except Exception:
        report_failure("reading the agent result")
        return None


def finish_with_error(invocation: AgentInvocation, error: BaseException, facts: ResultFacts | None = None) -> None:
    outcome = _outcome_of(error)
    invocation.finish(outcome, None if outcome is CLOSED_EARLY else error, facts)


# A failed `hasattr`/`getattr` on a class costs CPython 3.11 an AttributeError with its message formatted (about
# 0.25 us: type_getattro has no quiet path, unlike an instance's lookup), and a run's path asks such questions of
# the same few classes on every run. So the answers are kept, per class, bounded for applications that make
# classes at run time; a class given or losing an attribute after it was first asked about is not seen.
_CLASS_LOOKUPS_KEPT = 1024
_class_attributes: dict[tuple[type, str], Any] = {}
# class -> whether its instances are iterators (`__anext__` or `__next__`): what a run's result resolved to.
_iterator_classes: dict[type, bool] = {}


def class_attribute(kind: type, name: str) -> Any:
    """`getattr(kind, name, None)`, remembered per class and name (see `_class_attributes`)."""
    key = (kind, name)
    try:
        return _class_attributes[key]
    except (KeyError, TypeError):  # not asked yet, or an unhashable class (see below)
        pass
    value = getattr(kind, name, None)
    if len(_class_attributes) < _CLASS_LOOKUPS_KEPT:
        # An unhashable class (its metaclass defines __eq__ without __hash__) is answered, not kept.
        with contextlib.suppress(TypeError):
            _class_attributes[key] = value
    return value


def _is_iterator_class(kind: type) -> bool:
    try:
        return _iterator_classes[kind]
    except (KeyError, TypeError):  # as in class_attribute
        pass
    iterates = hasattr(kind, "__anext__") or hasattr(kind, "__next__")
    if len(_iterator_classes) < _CLASS_LOOKUPS_KEPT:
        with contextlib.suppress(TypeError):
            _iterator_classes[kind] = iterates
    return iterates


_proxy_init = wrapt.BaseObjectProxy.__init__


class StreamProxy(wrapt.BaseObjectProxy):  # type: ignore[type-arg]  # proxied type varies per instance
    """State shared by every proxy: the invocation, the reader and the GC finalizer."""

    # A Python subclass of wrapt's C proxy reads every attribute through CPython's __getattr__ hook, which
    # calls the inherited __getattribute__ as a Python-level call (about 130 ns) unless it is object's own,
    # which the hook calls directly (about 40 ns). Object's finds what the C proxy's finds (our `_self_`
    # attributes, and the proxy's descriptors for `__wrapped__`, `__class__`, `__name__` and the rest); what
    # neither finds goes on to wrapt's __getattr__, which reads it off the wrapped object, as before.
    __getattribute__ = object.__getattribute__

    _self_invocation: AgentInvocation
    # Class defaults, set on the instance only when given: each set goes through wrapt's setattr (about 0.7k).
    _self_reader: ResultReader | None = None
    _self_finalizer: AbandonWatch
    _self_methods: type | None = None
    # (invocation, wrapped object) for the per-update methods: one attribute read on the update path, not two.
    _self_hot: tuple[AgentInvocation, Any]
    # Whether the class is a CarryingStreamProxy (trace_stream's carry_context): the streams it hands the run over
    # to carry too.
    _self_carries_context: bool = False
    # Set when entering the wrapped context manager gave the consumer a stream to read.
    _self_entered_stream: bool = False
    # Our enter step's token, kept attached until the exit when the manager left context of its own on
    # top of it for the block (see _self_hold_or_detach).
    _self_held_token: object | None = None
    if TYPE_CHECKING:
        __wrapped__: Any

    def __init__(
        self,
        wrapped: Any,
        invocation: AgentInvocation,
        reader: ResultReader | None = None,
        methods: type | None = None,
    ) -> None:
        _proxy_init(self, wrapped)  # not super().__init__: no super object and lookup per run
        self._self_invocation = invocation
        self._self_hot = (invocation, wrapped)
        if reader is not None:
            self._self_reader = reader
        if methods is not None:
            self._self_methods = methods
        self._self_finalizer = AbandonWatch(self, invocation)

    # -- terminal transitions -------------------------------------------------------------------
    def _self_end(self, outcome: Outcome, error: BaseException | None = None) -> None:
        invocation = self._self_invocation
        if invocation.finished:
            return
        try:
            self._self_finalizer.detach()
        except Exception:
            report_failure("detaching the stream finalizer")
        facts = read_facts(self._self_reader, self.__wrapped__, outcome)
        if error is not None:
            finish_with_error(invocation, error, facts)
        else:
            invocation.finish(outcome, None, facts)

    def _self_rebind(self, result: Any) -> Any:
        """Keep chaining methods on the proxy: `stream.with_x(...)` returns the proxy, and a new stream
        built on top of this one (map, with_finalizer) takes the run over."""
        if result is self.__wrapped__:
            return self
        if type(result) is type(self.__wrapped__):
            return self._self_adopt(result)
        return result

    def _self_entered(self, entered: Any) -> Any:
        """What `with`/`async with` hands the consumer. A manager that yields a stream
        (`async with agent.session() as stream`) runs the agent's code in that stream's pulls, so the
        stream is traced on the same run; leaving the block before its end closes the run early."""
        rebound = self._self_rebind(entered)
        if rebound is not entered or self._self_invocation.finished or not _is_iterator_class(type(entered)):
            return rebound
        self._self_entered_stream = True
        inner = trace_stream(
            entered,
            self._self_invocation,
            self._self_reader,
            self._self_methods,
            carry_context=self._self_carries_context,
        )
        # The manager's own finalizer covers a block that is dropped unfinished.
        inner._self_finalizer.detach()
        return inner

    def _self_adopt(self, stream: Any) -> Any:
        """Hand the run over to a proxy of `stream`, which the caller consumes from now on."""
        if self._self_invocation.finished:
            return stream
        self._self_finalizer.detach()
        return trace_stream(
            stream,
            self._self_invocation,
            self._self_reader,
            self._self_methods,
            carry_context=self._self_carries_context,
        )

    def _self_exit_outcome(self, error: BaseException | None) -> tuple[Outcome, BaseException | None]:
        """Leaving a `with` block with the run still open. Adapters may override (stream_methods).

        A stream we iterate has already recorded its own failures, so any other exception here is the
        consumer's and the run was closed early. For a plain context manager (a run whose results are
        read inside the block) the block's exception is the run's, and a clean exit completes it.
        """
        iterable = (
            self._self_entered_stream or hasattr(self.__wrapped__, "__anext__") or hasattr(self.__wrapped__, "__next__")
        )
        if error is None or isinstance(error, GeneratorExit):
            return (CLOSED_EARLY if iterable else COMPLETED), None
        if isinstance(error, asyncio.CancelledError):
            return CANCELLED, error
        if iterable:
            return CLOSED_EARLY, None
        return FAILED, error

    # -- one step of the wrapped object, with the span current ----------------------------------
    # The per-update path calls the context API directly and reads the invocation's slots: at about
    # 1 us added per update, each saved method call is a measurable share.
    def _self_step(self, method: Callable[..., _T], *args: Any) -> _T:
        invocation = self._self_invocation
        if invocation.finished:
            return method(*args)
        token = _attach(invocation.step_context())
        try:
            value = method(*args)
        except StopIteration:
            _detach(token)
            self._self_end(COMPLETED)
            raise
        except BaseException as error:
            _detach(token)
            self._self_end(_outcome_of(error), error)
            raise
        _detach(token)
        return value

    async def _self_astep(self, awaitable: Awaitable[_T], pulls: bool = False) -> _T:
        """Await one step with the span current. `pulls`: the step hands the consumer an update, and the
        run's first such update is its first chunk. Callers return this coroutine rather than await it in
        one of their own: a frame of ours resumes at each suspension of the framework's step."""
        invocation = self._self_invocation
        if invocation.finished:
            return await awaitable
        token = _attach(invocation.step_context())
        try:
            value = await awaitable
        except StopAsyncIteration:
            _detach_resumed(token)
            self._self_end(COMPLETED)
            raise
        except BaseException as error:
            self._self_end(*_async_step_ending(token, error))
            raise
        _detach_resumed(token)
        if pulls and invocation.first_chunk_at is None:
            invocation.mark_first_chunk()
        return value

    def _self_enter_step(self, method: Callable[[], _T]) -> _T:
        invocation = self._self_invocation
        if invocation.finished:
            return method()
        context = invocation.step_context()
        token = _attach(context)
        try:
            value = method()
        except BaseException as error:
            _detach(token)
            self._self_end(_outcome_of(error), error)
            raise
        self._self_hold_or_detach(token, context)
        return value

    def _self_hold_or_detach(self, token: object, context: object) -> None:
        # A manager may set up context for its block in its enter and reset it in its exit (pydantic-ai
        # sets its run's baggage in the consumer's task). Without us the block sees it; detaching our
        # step now would take it away too (contextvars reset to the value before our attach). So when
        # the enter left something on top of ours, ours stays under it until the exit has run.
        if _get_current() is context:
            _detach(token)  # a token from attach()
        else:
            self._self_held_token = token

    def _self_release_held(self) -> None:
        token = self._self_held_token
        if token is not None:
            self._self_held_token = None
            detach_if_here(token)

    async def _self_aclosing(self, awaitable: Awaitable[_T]) -> _T:
        value = await self._self_astep(awaitable)
        self._self_end(CLOSED_EARLY)
        return value


class CarryingStreamProxy(StreamProxy):
    """A proxy whose async steps (`__anext__`, `asend`, `athrow`, `aclose`) each resume in the context the previous
    step left (trace_stream's `carry_context`).

    For a framework whose generator sets context and leaves it set across its yields (Strands: its run's baggage,
    then its agent, cycle and model spans through `use_span`): without us the consumer's context holds it between
    pulls and the next pull resumes in it. A step still restores the consumer's context when it ends (the caller's
    span is unchanged between updates); what the framework set on top of our step context is noted and attached
    again, on top of that step's context, at the next step, so code running in a later pull (a model's stream, a
    tool, an LLM-client instrumentation) sees the framework's current span as it would without us. One attach a
    step: the step context and what is carried are one context.
    """

    _self_carries_context = True
    # (the consumer's context a step started in, the context that step resumed in): the next step started in the
    # same consumer's context resumes in the second as it is.
    _self_resume: tuple[Context, Context] | None = None
    # What the framework set on top of our step context and left set, by key.
    _self_carried: dict[str, object] | None = None

    def _self_resume_context(self, base: Context) -> Context:
        """The context a step started in `base` resumes in: our step context with what is carried on top."""
        invocation = self._self_invocation
        step = invocation.step
        step_context = step[1] if step[0] is base else invocation.context_on(base)
        carried = self._self_carried
        context = Context({**step_context, **carried}) if carried else step_context
        self._self_resume = (base, context)
        return context

    def _self_keep(self, base: Context, left: Context) -> None:
        # The framework attached or detached context during the step: carry what it left on top of our step context.
        invocation = self._self_invocation
        step = invocation.step
        step_context = step[1] if step[0] is base else invocation.context_on(base)
        self._self_carried = {key: item for key, item in left.items() if step_context.get(key, _MISSING) is not item}
        self._self_resume = (base, left)

    async def _self_astep(self, awaitable: Awaitable[_T], pulls: bool = False) -> _T:
        # StreamProxy._self_astep, resuming in and noting the carried context (asend, athrow, aclose).
        invocation = self._self_invocation
        if invocation.finished:
            return await awaitable
        base = _get_current()
        context = self._self_resume_context(base)
        token = _attach(context)
        try:
            value = await awaitable
        except StopAsyncIteration:
            _detach_resumed(token)
            self._self_end(COMPLETED)
            raise
        except BaseException as error:
            self._self_end(*_async_step_ending(token, error))
            raise
        left = _get_current()
        if left is not context:
            self._self_keep(base, left)
        _detach_resumed(token)
        if pulls and invocation.first_chunk_at is None:
            invocation.mark_first_chunk()
        return value


_MISSING = object()


# The protocol methods, installed on a proxy class only when the wrapped type has them. --------------


def _aiter(self: StreamProxy) -> Any:
    # An async iterable whose __aiter__ returns another object: that object is what gets consumed.
    iterator = self.__wrapped__.__aiter__()
    return self if iterator is self.__wrapped__ else self._self_adopt(iterator)


# The per-update methods pull through the builtins `anext`/`next`, which call the wrapped type's slot as `async for`
# and `for` do, rather than `wrapped.__anext__()`, which looks the method up and binds it at every pull (about 0.37k
# instructions a pull more, callgrind).


async def _anext(self: StreamProxy) -> Any:
    # The hot path: written out rather than through _self_astep to save a coroutine frame per update.
    invocation, wrapped = self._self_hot
    if invocation.finished:
        return await anext(wrapped)
    base = _get_current()
    step = invocation.step
    token = _attach(step[1] if step[0] is base else invocation.context_on(base))
    try:
        value = await anext(wrapped)
    except StopAsyncIteration:
        _detach_resumed(token)
        self._self_end(COMPLETED)
        raise
    except BaseException as error:
        self._self_end(*_async_step_ending(token, error))
        raise
    try:
        _detach(token)
    except (ValueError, RuntimeError):  # resumed in another Context (see _context)
        _detach_resumed(token)
    if invocation.first_chunk_at is None:
        invocation.first_chunk_at = _perf_counter()  # mark_first_chunk(), its call saved
    observe = invocation.observe_update
    if observe is not None:
        try:
            observe(value)
        except Exception:
            report_failure("reading a stream update")
    return value


async def _anext_carrying(self: CarryingStreamProxy) -> Any:
    # _anext, resuming in the carried context (CarryingStreamProxy) and noting what the step left.
    invocation, wrapped = self._self_hot
    if invocation.finished:
        return await anext(wrapped)
    base = _get_current()
    resume = self._self_resume
    context = resume[1] if resume is not None and resume[0] is base else self._self_resume_context(base)
    token = _attach(context)
    try:
        value = await anext(wrapped)
    except StopAsyncIteration:
        _detach_resumed(token)
        self._self_end(COMPLETED)
        raise
    except BaseException as error:
        self._self_end(*_async_step_ending(token, error))
        raise
    left = _get_current()
    if left is not context:
        self._self_keep(base, left)
    try:
        _detach(token)
    except (ValueError, RuntimeError):  # resumed in another Context (see _context)
        _detach_resumed(token)
    if invocation.first_chunk_at is None:
        invocation.first_chunk_at = _perf_counter()
    observe = invocation.observe_update
    if observe is not None:
        try:
            observe(value)
        except Exception:
            report_failure("reading a stream update")
    return value


def _asend(self: StreamProxy, value: Any) -> Awaitable[Any]:
    return self._self_astep(self.__wrapped__.asend(value), True)


def _athrow(self: StreamProxy, *args: Any) -> Awaitable[Any]:
    return self._self_astep(self.__wrapped__.athrow(*args), True)  # a generator that catches it yields on


def _aclose(self: StreamProxy) -> Awaitable[Any]:
    return self._self_aclosing(self.__wrapped__.aclose())


def _iter(self: StreamProxy) -> Any:
    iterator = self.__wrapped__.__iter__()
    return self if iterator is self.__wrapped__ else self._self_adopt(iterator)


def _next(self: StreamProxy) -> Any:
    # Written out like _anext: one frame less per update than going through _self_step.
    invocation, wrapped = self._self_hot
    if invocation.finished:
        return next(wrapped)
    base = _get_current()
    step = invocation.step
    token = _attach(step[1] if step[0] is base else invocation.context_on(base))
    try:
        value = next(wrapped)
    except StopIteration:
        _detach(token)
        self._self_end(COMPLETED)
        raise
    except BaseException as error:
        _detach(token)
        self._self_end(_outcome_of(error), error)
        raise
    _detach(token)
    if invocation.first_chunk_at is None:
        invocation.first_chunk_at = _perf_counter()  # mark_first_chunk(), its call saved
    observe = invocation.observe_update
    if observe is not None:
        try:
            observe(value)
        except Exception:
            report_failure("reading a stream update")
    return value


def _send(self: StreamProxy, value: Any) -> Any:
    update = self._self_step(self.__wrapped__.send, value)
    self._self_invocation.mark_first_chunk()  # an update pulled; entering or leaving a manager is not
    return update


def _throw(self: StreamProxy, *args: Any) -> Any:
    update = self._self_step(self.__wrapped__.throw, *args)  # a generator that catches it yields on
    self._self_invocation.mark_first_chunk()
    return update


def _close(self: StreamProxy, *args: Any, **kwargs: Any) -> Any:
    # Serves both a sync close (generators) and an awaitable one (Agent Framework's ResponseStream).
    invocation = self._self_invocation
    if invocation.finished:
        return self.__wrapped__.close(*args, **kwargs)
    token = invocation.attach()
    try:
        result = self.__wrapped__.close(*args, **kwargs)
    except BaseException as error:
        invocation.detach(token)
        self._self_end(_outcome_of(error), error)
        raise
    invocation.detach(token)
    if inspect.isawaitable(result):
        return self._self_aclosing(result)
    self._self_end(CLOSED_EARLY)
    return result


async def _aenter(self: StreamProxy) -> Any:
    # A step written out (one frame of ours per suspension of the manager's enter), but see
    # _self_hold_or_detach.
    invocation = self._self_invocation
    if invocation.finished:
        return self._self_entered(await self.__wrapped__.__aenter__())
    context = invocation.step_context()
    token = _attach(context)
    try:
        entered = await self.__wrapped__.__aenter__()
    except BaseException as error:
        self._self_end(*_async_step_ending(token, error))
        raise
    self._self_hold_or_detach(token, context)
    return self._self_entered(entered)


async def _aexit(self: StreamProxy, exc_type: Any, error: BaseException | None, traceback: Any) -> Any:
    # The exit's step written out, as _aenter's.
    invocation = self._self_invocation
    try:
        if invocation.finished:
            suppress = await self.__wrapped__.__aexit__(exc_type, error, traceback)
        else:
            token = _attach(invocation.step_context())
            try:
                suppress = await self.__wrapped__.__aexit__(exc_type, error, traceback)
            except BaseException as step_error:
                self._self_end(*_async_step_ending(token, step_error))
                raise
            _detach_resumed(token)
    finally:
        self._self_release_held()
    if self._self_invocation.finished:
        # A stream the block consumed ended the run: nothing to decide, and nothing left for the manager's
        # watch, which would otherwise keep the run until the manager is collected.
        self._self_finalizer.detach()
    else:
        outcome, recorded = self._self_exit_outcome(error)
        self._self_end(outcome, recorded)
    return suppress


def _enter(self: StreamProxy) -> Any:
    return self._self_entered(self._self_enter_step(self.__wrapped__.__enter__))


def _exit(self: StreamProxy, exc_type: Any, error: BaseException | None, traceback: Any) -> Any:
    try:
        suppress = self._self_step(self.__wrapped__.__exit__, exc_type, error, traceback)
    finally:
        self._self_release_held()
    if self._self_invocation.finished:  # as in _aexit
        self._self_finalizer.detach()
    else:
        outcome, recorded = self._self_exit_outcome(error)
        self._self_end(outcome, recorded)
    return suppress


def _await(self: StreamProxy) -> Generator[Any, None, Any]:
    async def resolve() -> Any:
        return self._self_rebind(await self._self_astep(_as_awaitable(self.__wrapped__)))

    return resolve().__await__()


async def _as_awaitable(awaitable: Any) -> Any:
    return await awaitable


_PROTOCOL_METHODS: dict[str, Callable[..., Any]] = {
    "__aiter__": _aiter,
    "__anext__": _anext,
    "asend": _asend,
    "athrow": _athrow,
    "aclose": _aclose,
    "__iter__": _iter,
    "__next__": _next,
    "send": _send,
    "throw": _throw,
    "close": _close,
    "__aenter__": _aenter,
    "__aexit__": _aexit,
    "__enter__": _enter,
    "__exit__": _exit,
    "__await__": _await,
}

_proxy_classes: dict[tuple[type, type | None, bool], type[StreamProxy]] = {}


def proxy_class(wrapped_type: type, methods: type | None = None, carry_context: bool = False) -> type[StreamProxy]:
    """The proxy class for `wrapped_type`, with an adapter's extra `methods` mixed in first."""
    key = (wrapped_type, methods, carry_context)
    try:
        cls = _proxy_classes.get(key)
    except TypeError:  # an unhashable class (its metaclass defines __eq__ without __hash__): made each time
        return _new_proxy_class(*key)
    if cls is None:
        cls = _proxy_classes[key] = _new_proxy_class(*key)
    return cls


def _new_proxy_class(wrapped_type: type, methods: type | None, carry_context: bool) -> type[StreamProxy]:
    namespace = {name: function for name, function in _PROTOCOL_METHODS.items() if hasattr(wrapped_type, name)}
    proxy: type[StreamProxy] = StreamProxy
    if carry_context:
        proxy = CarryingStreamProxy
        if "__anext__" in namespace:
            namespace["__anext__"] = _anext_carrying
    bases: tuple[type, ...] = (methods, proxy) if methods is not None else (proxy,)
    return type(f"Traced{wrapped_type.__name__}", bases, namespace)


def trace_stream(
    stream: Any,
    invocation: AgentInvocation,
    reader: ResultReader | None = None,
    methods: type | None = None,
    *,
    carry_context: bool = False,
) -> Any:
    """Return `stream` behind a proxy that ends `invocation` when the consumer is done with it.

    `carry_context`: each async step resumes in the context the previous one left on top of our step context, for
    a framework generator that sets context and leaves it set across its yields (CarryingStreamProxy)."""
    return proxy_class(type(stream), methods, carry_context)(stream, invocation, reader, methods)


async def _drive(
    coroutine: Awaitable[_T],
    owner: TracedCoroutine,
    invocation: AgentInvocation,
    reader: ResultReader | None,
    on_return: Callable[[Any], None] | None,
    finalizer: AbandonWatch,
    methods: type | None,
    on_error: Callable[[BaseException], bool] | None,
) -> _T:
    # One attach for the whole await, in the task that awaits: the framework's own context changes
    # across its awaits (its spans opened before an await, closed after) are kept as they are.
    # `owner`, the proxy, is held by this frame while it runs: `await proxy` holds only our iterator,
    # and the proxy's collection is what tells the run was abandoned.
    token = _attach(invocation.step_context())
    try:
        value = await coroutine
    except BaseException as error:
        finalizer.detach()
        outcome, recorded = _async_step_ending(token, error)
        if on_error is not None and outcome is FAILED and ended_by(on_error, error):
            raise
        facts = read_facts(reader, None, outcome)
        if recorded is None:
            invocation.finish(outcome, None, facts)
        else:
            finish_with_error(invocation, recorded, facts)
        raise
    finalizer.detach()
    _detach_resumed(token)
    if on_return is None:
        kind = type(value)
        try:
            iterates = _iterator_classes[kind]  # _is_iterator_class, its call saved for the usual answer
        except (KeyError, TypeError):
            iterates = _is_iterator_class(kind)
        if iterates:
            # It resolved to a stream (a run that defers its work into the first pull): the stream is
            # the rest of the run, and the caller consumes it through our proxy.
            return trace_stream(value, invocation, reader, methods)  # type: ignore[no-any-return]
        invocation.finish(COMPLETED, None, read_facts(reader, value, COMPLETED))
    else:
        try:
            on_return(value)
        except Exception:
            report_failure("following the agent run after its call returned")
            invocation.finish(ABANDONED)
    return value


def ended_by(on_error: Callable[[BaseException], bool], error: BaseException) -> bool:
    """Whether an adapter's `on_error` ended the run for `error` (control flow that is no failure)."""
    try:
        return on_error(error)
    except Exception:
        report_failure("reading the agent run's exception")
        return False


class TracedCoroutine(wrapt.BaseObjectProxy):  # type: ignore[type-arg]  # proxied coroutine type varies
    """An awaited run: the framework's coroutine behind a proxy that ends the run with it.

    It is still a coroutine to its callers (wrapt forwards `__class__`: `inspect.iscoroutine`,
    `asyncio.create_task` and `await` accept it; `cr_code` and the rest are the framework's), and it
    drives the framework's coroutine from one coroutine of ours, `_drive`, created when it is awaited or at
    its first step (`send`, as a task steps it).
    Before that step `throw()` and `close()` go to the framework's coroutine itself, as they would
    without us: a run cancelled or closed before it started is closed (no "coroutine ... was never
    awaited" warning) and its span ends then, cancelled or closed early, not abandoned later.
    A proxy collected before its end (never awaited, or its task dropped) ends the run abandoned.
    """

    __getattribute__ = object.__getattribute__  # the fast attribute path, as StreamProxy's

    # _drive's coroutine once the proxy is awaited or stepped (or the framework's own awaitable, after a throw()
    # it caught); the class's None until then.
    _self_driver: Any = None
    # _drive's arguments but the coroutine: (invocation, reader, on_return, finalizer, methods, on_error), the
    # proxy's whole state in one attribute. Each attribute set on a proxy goes through wrapt's setattr (about 0.7k
    # instructions), and every awaited run makes one proxy.
    _self_drive_arguments: tuple[
        AgentInvocation, ResultReader | None, Any, AbandonWatch, type | None, Callable[[BaseException], bool] | None
    ]
    if TYPE_CHECKING:
        __wrapped__: Any

    def __init__(
        self,
        coroutine: Any,
        invocation: AgentInvocation,
        reader: ResultReader | None,
        on_return: Callable[[Any], None] | None = None,
        methods: type | None = None,
        on_error: Callable[[BaseException], bool] | None = None,
    ) -> None:
        _proxy_init(self, coroutine)  # not super().__init__: no super object and lookup per run
        self._self_drive_arguments = (invocation, reader, on_return, AbandonWatch(self, invocation), methods, on_error)

    def __await__(self) -> Any:
        # `await run` drives our coroutine's own iterator, in C: no frame of ours per suspension of the
        # framework's coroutine. A task (create_task, gather) still steps the proxy through send().
        driver = self._self_driver
        if driver is None:
            driver = self._self_driver = _drive(self.__wrapped__, self, *self._self_drive_arguments)
        return driver.__await__()

    def __repr__(self) -> str:
        return repr(self.__wrapped__)  # asyncio's task and "never awaited" messages name the framework's

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        driver = self._self_driver
        if driver is None:
            driver = self._self_driver = _drive(self.__wrapped__, self, *self._self_drive_arguments)
        return driver.send(value)

    def throw(self, *args: Any) -> Any:
        if self._self_driver is not None:
            return self._self_driver.throw(*args)
        invocation, reader, _, finalizer, _, _ = self._self_drive_arguments
        finalizer.detach()
        try:
            # A native coroutine raises what is thrown in before its first instruction and is closed.
            value = self.__wrapped__.throw(*args)
        except BaseException as error:
            outcome = COMPLETED if isinstance(error, StopIteration) else _outcome_of(error)
            facts = read_facts(reader, None, outcome)
            if outcome is COMPLETED:
                invocation.finish(outcome, None, facts)
            else:
                finish_with_error(invocation, error, facts)
            raise
        # Only a non-native awaitable can catch it and go on: it goes on untraced.
        self._self_driver = self.__wrapped__
        invocation.finish(ABANDONED)
        return value

    def close(self) -> None:
        if self._self_driver is not None:
            self._self_driver.close()
            return
        invocation, reader, _, finalizer, _, _ = self._self_drive_arguments
        finalizer.detach()
        self.__wrapped__.close()
        facts = read_facts(reader, None, CLOSED_EARLY)
        invocation.finish(CLOSED_EARLY, None, facts)


def trace_coroutine(
    coroutine: Awaitable[_T],
    invocation: AgentInvocation,
    reader: ResultReader | None,
    on_return: Callable[[Any], None] | None = None,
    methods: type | None = None,
    on_error: Callable[[BaseException], bool] | None = None,
) -> Any:
    """`coroutine` behind a TracedCoroutine: awaited with the span current, ending the invocation with it.

    A coroutine that resolves to a stream hands the run over to it (proxied, with `methods`).
    `on_return(value)`, when given, takes over ending the invocation once the coroutine returns (a run
    that goes on in a background task after its call returned). `on_error(error)`, when given, may end it for an
    exception the coroutine raises that means something else than a failure (a framework's control flow) and
    returns whether it did (as `traced_await`'s); not asked for cancellation or a close. The exception propagates.
    """
    return TracedCoroutine(coroutine, invocation, reader, on_return, methods, on_error)


def _future_exception(future: Any) -> BaseException | None:
    if isinstance(future, asyncio.Future):
        # Not future.exception(): that marks the exception retrieved and silences asyncio's "Future
        # exception was never retrieved", which the application gets without us.
        error = getattr(future, "_exception", None)
        return error if isinstance(error, BaseException) else None
    return future.exception()  # type: ignore[no-any-return]  # concurrent.futures: no such log


def _future_done(
    invocation: AgentInvocation, reader: ResultReader | None, finalizer: AbandonWatch, future: Any
) -> None:
    finalizer.detach()
    if future.cancelled():
        invocation.finish(CANCELLED, asyncio.CancelledError())
        return
    error = _future_exception(future)
    if error is not None:
        finish_with_error(invocation, error)
        return
    value = future.result()
    invocation.finish(COMPLETED, None, read_facts(reader, value, COMPLETED))


def trace_future(future: Any, invocation: AgentInvocation, reader: ResultReader | None) -> Any:
    """End `invocation` when `future` (asyncio or concurrent.futures) is done, through its public done
    callback; a pending future that is collected ends it abandoned."""
    finalizer = AbandonWatch(future, invocation)
    future.add_done_callback(functools.partial(_future_done, invocation, reader, finalizer))
    return future


_STREAM_PROTOCOL = ("__anext__", "__aiter__", "__next__", "__aenter__", "__enter__")
# (result type, the adapter's stream methods) -> the proxy class for it, None for a type that is no stream: one
# lookup a run instead of three calls (a failed hasattr on a type also costs an exception, five per plain-value
# run). Bounded, for applications that make classes at run time.
_result_proxies: dict[tuple[type, type | None], type[StreamProxy] | None] = {}
_UNSEEN = object()


def _result_proxy(kind: type, methods: type | None) -> type[StreamProxy] | None:
    proxy = proxy_class(kind, methods) if any(hasattr(kind, name) for name in _STREAM_PROTOCOL) else None
    if len(_result_proxies) < _CLASS_LOOKUPS_KEPT:
        with contextlib.suppress(TypeError):  # an unhashable class: not kept
            _result_proxies[(kind, methods)] = proxy
    return proxy


def trace_result(
    result: Any,
    invocation: AgentInvocation,
    reader: ResultReader | None = None,
    methods: type | None = None,
) -> Any:
    """Hand `result` back to the caller, arranging for `invocation` to end when the run does.

    Streams (async or sync iterators, context managers) come back proxied; a coroutine comes back as a
    coroutine (TracedCoroutine); a future (asyncio or concurrent.futures) gets a done callback (a public
    hook, nothing wrapped); a plain value ends the run.
    """
    if isinstance(result, CoroutineType):  # inspect.iscoroutine, one call less
        return TracedCoroutine(result, invocation, reader, None, methods)  # trace_coroutine, one frame less
    if isinstance(result, (asyncio.Future, concurrent.futures.Future)):
        return trace_future(result, invocation, reader)
    key = (type(result), methods)
    try:
        proxy = _result_proxies.get(key, _UNSEEN)
    except TypeError:  # an unhashable class (see class_attribute)
        proxy = _UNSEEN
    if proxy is _UNSEEN:
        proxy = _result_proxy(*key)
    if proxy is not None:
        return proxy(result, invocation, reader, methods)  # type: ignore[operator]  # a proxy class, not _UNSEEN
    invocation.finish(COMPLETED, None, read_facts(reader, result, COMPLETED))
    return result

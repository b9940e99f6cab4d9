"""The OpenTelemetry context operations on the per-run and per-update paths, at the cost of the contextvar.

`opentelemetry.context.attach/detach/get_current` each pass three Python frames (API function, runtime
context method, ContextVar method); `is_instrumentation_enabled` adds two `get_value` calls on top. With
the default runtime context (contextvars, what `OTEL_PYTHON_CONTEXT` unset gives) the current context is
one ContextVar, and its C methods do the same in a fraction of the time. These names are those methods
when the runtime context is the default one, and the API's functions otherwise (a custom runtime context
from an entry point keeps full control).

`detach_context` raises (ValueError/RuntimeError) where the API's `detach` logs "Failed to detach
context": a caller detaches a token in the frame that attached it with no await in between, where reset
cannot fail, or handles the error itself (`detach_if_here`); after an await, `detach_resumed`
(the coroutine may, in code that drives coroutines by hand, be resumed in another Context).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

current_context: Callable[[], Context]
attach_context: Callable[[Context], Any]
detach_context: Callable[[Any], None]


def _runtime_variable() -> ContextVar[Context] | None:
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    if type(runtime) is not ContextVarsRuntimeContext:
        return None
    variable = getattr(runtime, "_current_context", None)
    return variable if isinstance(variable, ContextVar) else None


_variable = _runtime_variable()
if _variable is not None:
    current_context = _variable.get
    attach_context = _variable.set
    detach_context = _variable.reset
else:  # a custom OTEL_PYTHON_CONTEXT (tests/test_context.py)
    current_context = otel_context.get_current
    attach_context = otel_context.attach
    detach_context = otel_context.detach  # logs instead of raising

FAST = _variable is not None


def _suppression_keys() -> tuple[str, ...]:
    """The context keys `suppress_instrumentation()` sets, read off the API by entering it once.

    `is_instrumentation_enabled()` is false exactly when one of them is set to a true value; the run
    wrapper reads them off the context it already has instead of calling it (two more context reads).
    """
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    # From an empty context, so an import that happens under suppression still finds every key.
    token = otel_context.attach(Context())
    try:
        with suppress_instrumentation():
            suppressed = otel_context.get_current()
    finally:
        otel_context.detach(token)
    return tuple(key for key, value in suppressed.items() if value)


SUPPRESSION_KEYS = _suppression_keys()
# Two in every OpenTelemetry release so far, checked without a loop on the per-layer paths; any others after.
FIRST_SUPPRESSION_KEY, SECOND_SUPPRESSION_KEY, *_other_keys = (*SUPPRESSION_KEYS, "", "")
MORE_SUPPRESSION_KEYS = tuple(key for key in _other_keys if key)


def instrumentation_enabled() -> bool:
    """`is_instrumentation_enabled()`'s answer off one read of the context (it makes two `get_value` calls of
    three frames each): for hooks that a suppressed run passes, and where a run target's method is bound
    (_patching._DecidedAtBinding)."""
    context = current_context()
    return not (
        context.get(FIRST_SUPPRESSION_KEY)
        or context.get(SECOND_SUPPRESSION_KEY)
        or (MORE_SUPPRESSION_KEYS and any(context.get(key) for key in MORE_SUPPRESSION_KEYS))
    )


def _span_key() -> str:
    # The key `set_span_in_context` stores the span under, read off the API rather than its private name.
    (key,) = trace.set_span_in_context(trace.INVALID_SPAN, Context()).keys()
    return key


SPAN_KEY = _span_key()


_logger = logging.getLogger("opentelemetry.context")


def detach_resumed(token: Any) -> None:
    """Detach a token attached before an await in the same coroutine frame; as the API does, a token that
    cannot be reset here is logged ("Failed to detach context"), never raised into the application."""
    try:
        detach_context(token)
    except (ValueError, RuntimeError):
        _logger.exception("Failed to detach context")


def detach_if_here(token: object) -> bool:
    """Detach `token` if it was attached in the current Context; return whether it was.

    A suspended step whose coroutine is closed by the garbage collector (its task was dropped) runs
    its handler in whatever Context the collection happens in. OpenTelemetry's detach would log
    "Failed to detach context" there, and there is nothing to restore: the Context the token was
    attached in belongs to the dropped task. Tokens of the default contextvars runtime context say
    which Context they belong to by failing `reset` elsewhere; any other runtime context detaches.
    """
    variable = getattr(token, "var", None)
    if variable is None:
        detach_context(token)  # a token from attach()
        return True
    try:
        variable.reset(token)
    except (ValueError, RuntimeError):  # another Context's token, or already used
        return False
    return True

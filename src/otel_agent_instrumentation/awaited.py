"""Calls a framework awaits where it makes them (a tool call, an agent's turn), traced without the core's
coroutine proxy: `traced_await` (a run of its own, ended with the call) and `awaited_step` (one step of a run
that goes on).

The core's `trace_coroutine` hands the caller a proxy that is still the framework's coroutine (its `cr_code`,
`close()` and `throw()` before the first step, a `weakref.finalize` for one that is never awaited): what an
application's own `await agent.run(...)` needs. A framework's internal call site that awaits the call where it
makes it (`await manager._run_execute_hooks(...)`, `await _invoke_function_tool_with_metadata(...)`) needs none
of it, and at a tool call's scale it is not free: the proxy, its finalizer and the driving coroutine cost about
as much as a raw SDK span (benchmarks/tool_span.py). `traced_await` is that driving coroutine alone: the
span current for the whole await (attached and detached in its frame), ended with the call, through the same
`Invocation.finish`, so the outcome table holds: completed, failed (the exception, or what an adapter's
`on_error` makes of it), cancelled, closed early, abandoned when a dropped task is torn down in another Context,
shutdown at exit. What it gives up is only what such call sites never do: a call created and never awaited
keeps its span open until exit, and is reported by Python as `traced_await` never awaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ._context import attach_context, current_context, detach_if_here, detach_resumed
from ._guard import report_failure
from .invocation import ABANDONED, COMPLETED, Invocation
from .stream import finish_with_error

_T = TypeVar("_T")


async def traced_await(
    call: Awaitable[_T],
    invocation: Invocation,
    on_return: Callable[[_T], None] | None = None,
    on_error: Callable[[BaseException], bool] | None = None,
) -> _T:
    """Await `call` with `invocation`'s span current, and end it with the call.

    `on_return(value)` ends it after a return (default: completed). `on_error(error)` may end it for an exception
    that means something else than a failure (control flow, a failure handed back to the model) and returns
    whether it did; otherwise the exception ends it as the core's own steps do. The exception always propagates.
    """
    base = current_context()
    step = invocation.step  # invocation.step_context(), inlined: a tool call's path
    token = attach_context(step[1] if step[0] is base else invocation.context_on(base))
    try:
        value = await call
    except BaseException as error:
        if not detach_if_here(token):
            invocation.finish(ABANDONED)
            raise
        ended = False
        if on_error is not None and not isinstance(error, (asyncio.CancelledError, GeneratorExit)):
            try:
                ended = on_error(error)
            except Exception:
                report_failure("reading a tool call's exception")
        if not ended:
            finish_with_error(invocation, error)
        raise
    detach_resumed(token)
    if on_return is None:
        invocation.finish(COMPLETED)
        return value
    try:
        on_return(value)
    except Exception:
        report_failure("reading a tool call's result")
        invocation.finish(ABANDONED)
    return value


async def awaited_step(call: Awaitable[_T], invocation: Invocation) -> _T:
    """Await `call` as one step of `invocation`'s run (its span current, attached and detached in this frame),
    leaving the run open: what the step raises propagates, and ending the run is the caller's."""
    token = attach_context(invocation.step_context())
    try:
        value = await call
    except BaseException:
        detach_if_here(token)
        raise
    detach_resumed(token)
    return value

"""The wrapper placed on every agent run method: one check when disabled, one span per user-level run."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ._context import (
    FIRST_SUPPRESSION_KEY,
    MORE_SUPPRESSION_KEYS,
    SECOND_SUPPRESSION_KEY,
    attach_context,
    current_context,
    detach_context,
)
from ._guard import report_failure
from ._patching import RUN_DECISION, MethodFactory, WrapperFunction, deciding_method_factory
from .adapters._base import RunTarget
from .invocation import ABANDONED, ACTIVE_INVOCATION_KEY, AgentInvocation, Invocation, RequestFacts, Telemetry
from .stream import ended_by, finish_with_error, trace_result


def make_run_patches(
    target: RunTarget, telemetry: Telemetry, adapter_name: str, body_deferred: bool = False
) -> tuple[WrapperFunction, MethodFactory, Callable[[Any], bool]]:
    """The wrapt wrapper for `target` and the factory of its plain-function patch (_patching.apply's `method`),
    with its readers and telemetry bound once. Both take one call-through decision, `starts_run` (instrumentation
    suppressed; an inner layer of the running run), off the context it reads once, then the same traced run:
    this is the whole cost of a suppressed run, or of each inner layer a run passes, per layer. The third item is
    that decision itself, for `_patching._DecidedAtBinding` to take where a method that stays with wrapt is bound.

    `body_deferred`: the target is an `async def` or a generator function (_patching.defers_body), whose call
    runs none of its body; the run's span is made current where the body runs (each step of the coroutine or
    stream it returns), not around the call that only makes it."""
    read_request = target.read_request
    read_result = target.read_result
    stream_methods = target.stream_methods
    should_trace = target.should_trace
    handle_result = target.handle_result
    on_start = target.on_start
    on_error = target.on_error
    config = telemetry.config
    reentry_key = target.reentry_key or adapter_name
    first_key, second_key, more_keys = FIRST_SUPPRESSION_KEY, SECOND_SUPPRESSION_KEY, MORE_SUPPRESSION_KEYS

    def traced_run(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # One frame from the decision to the call (each Python call on this path costs more in place, its
        # caches cold after the framework's own work, than in a loop): the reads are inlined, not helpers.
        # Sites name the failure, not the target: a run passes several wrapped layers (Agent.run ->
        # RawAgent.run), and one broken tracer failing at each of them is one failure, logged once.
        # The call through, where we do not trace, is made outside every `except` of ours, so that what it
        # raises carries no error of ours as its __context__.
        invocation: AgentInvocation | None = None
        try:
            traced = should_trace is None or should_trace(instance, args, kwargs)
        except Exception:
            report_failure("deciding whether to trace the agent run")
            traced = False
        if traced:
            try:
                request = read_request(instance, args, kwargs, config)
            except Exception:
                # An odd framework object (a property that raises) costs the request facts, not the span.
                report_failure("reading the agent request")
                request = RequestFacts()
            try:
                invocation = AgentInvocation(telemetry, request, instance, reentry_key)
            except Exception:
                report_failure("starting the agent span")
            if on_start is not None and invocation is not None:
                try:
                    on_start(invocation)
                except Exception:
                    report_failure("preparing the agent run")
        if invocation is None:
            return wrapped(*args, **kwargs)
        # A call that only makes a coroutine or generator runs nothing of the target: no span made current.
        # The call-time context is the step's (step_context() would find the context unchanged since the
        # invocation read it).
        token = None if body_deferred else attach_context(invocation.context)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            if token is not None:
                detach_context(token)
            # The call's own exception only (an awaited run's and a stream's steps have theirs): on the error path,
            # so a run that raises nothing never makes the partial.
            if (
                on_error is None
                or not isinstance(error, Exception)
                or not ended_by(functools.partial(on_error, invocation), error)
            ):
                finish_with_error(invocation, error)
            raise
        if token is not None:
            detach_context(token)
        try:
            if handle_result is not None:
                return handle_result(result, invocation)
            return trace_result(result, invocation, read_result, stream_methods)
        except Exception:
            report_failure("tracing the agent result")
            # The result goes back unobserved; end the span now rather than leak it.
            invocation.finish(ABANDONED)
            return result

    def starts_run(instance: Any) -> bool:
        """Whether a call on `instance` is a new run: instrumentation is not suppressed, and it is not a layer
        of the running run (a layer's super().run(), run_sync -> run, a team's run -> run_stream: the same
        object through a target with the same key). Anything else called while a run runs (another agent,
        another user target) is a new run. The only decision a patched layer takes before calling through."""
        context = current_context()
        if (
            context.get(first_key)
            or context.get(second_key)
            or (more_keys and any(context.get(key) for key in more_keys))
        ):
            return False
        running = context.get(ACTIVE_INVOCATION_KEY)
        return not (
            isinstance(running, Invocation)
            and running.owner is instance
            and running.reentry_key == reentry_key
            and not running.finished
        )

    def run_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if starts_run(instance):
            return traced_run(wrapped, instance, args, kwargs)
        return wrapped(*args, **kwargs)

    method_factory = deciding_method_factory(traced_run, starts_run, RUN_DECISION)
    return run_wrapper, method_factory, starts_run

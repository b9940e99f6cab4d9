"""The wrapper placed on every agent run method: one check when disabled, one span per user-level run."""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType, MethodType
from typing import Any

from ._context import SUPPRESSION_KEYS, attach_context, current_context, detach_context
from ._guard import report_failure
from ._patching import MethodFactory, WrapperFunction
from .adapters._base import RunTarget
from .invocation import ACTIVE_INVOCATION_KEY, AgentInvocation, Invocation, Outcome, RequestFacts, Telemetry
from .stream import finish_with_error, trace_result


def make_run_wrapper(target: RunTarget, telemetry: Telemetry, adapter_name: str) -> WrapperFunction:
    """Build the wrapt wrapper for `target`, with its readers and telemetry bound once."""
    read_request = target.read_request
    read_result = target.read_result
    stream_methods = target.stream_methods
    should_trace = target.should_trace
    handle_result = target.handle_result
    config = telemetry.config
    reentry_key = target.reentry_key or adapter_name

    def start(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> AgentInvocation | None:
        # Sites name the failure, not the target: a run passes several wrapped layers (Agent.run ->
        # RawAgent.run), and one broken tracer failing at each of them is one failure, logged once.
        try:
            if should_trace is not None and not should_trace(instance, args, kwargs):
                return None
        except Exception:
            report_failure("deciding whether to trace the agent run")
            return None
        try:
            request = read_request(instance, args, kwargs, config)
        except Exception:
            # An odd framework object (a property that raises) costs the request facts, not the span.
            report_failure("reading the agent request")
            request = RequestFacts()
        try:
            return AgentInvocation(telemetry, request, instance, reentry_key)
        except Exception:
            report_failure("starting the agent span")
            return None

    def run_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # The context is read once, and the suppression keys and the running invocation off it directly:
        # this is the whole cost of a suppressed run or of an inner layer of a running one, per layer.
        context = current_context()
        for key in SUPPRESSION_KEYS:
            if context.get(key):
                return wrapped(*args, **kwargs)
        # One span per user-level run: a layer of the running run (a layer's super().run(), run_sync ->
        # run, a team's run -> run_stream: the same object through a target with the same key) is that
        # run; anything else called while it runs (another agent, another user target) is a new run.
        running = context.get(ACTIVE_INVOCATION_KEY)
        if (
            isinstance(running, Invocation)
            and running.owner is instance
            and running.reentry_key == reentry_key
            and not running.finished
        ):
            return wrapped(*args, **kwargs)
        invocation = start(instance, args, kwargs)
        if invocation is None:
            return wrapped(*args, **kwargs)
        token = attach_context(invocation.step_context())
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            detach_context(token)
            finish_with_error(invocation, error)
            raise
        detach_context(token)
        try:
            if handle_result is not None:
                return handle_result(result, invocation)
            return trace_result(result, invocation, read_result, stream_methods)
        except Exception:
            report_failure("tracing the agent result")
            # The result goes back unobserved; end the span now rather than leak it.
            invocation.finish(Outcome.ABANDONED)
            return result

    return run_wrapper


def make_run_method(run_wrapper: WrapperFunction, target: RunTarget, adapter_name: str) -> MethodFactory:
    """The plain-function patch of a run method (_patching.apply's `method`): the run wrapper's two call-through
    decisions (instrumentation suppressed; an inner layer of the running run) taken in the patch itself,
    so that a suppressed run, and each inner layer a run passes (`super().run()`), costs one call of ours."""
    reentry_key = target.reentry_key or adapter_name
    # Two keys in every OpenTelemetry release so far; checked without a loop, any others after them.
    first_key, second_key, *other_keys = (*SUPPRESSION_KEYS, "", "")
    more_keys = tuple(key for key in other_keys if key)

    def factory(original: FunctionType, switch: list[bool]) -> Callable[..., Any]:
        def patched_run(self: Any, *args: Any, **kwargs: Any) -> Any:
            if switch:
                context = current_context()
                if not (
                    context.get(first_key)
                    or context.get(second_key)
                    or (more_keys and any(context.get(key) for key in more_keys))
                ):
                    running = context.get(ACTIVE_INVOCATION_KEY)
                    if not (
                        isinstance(running, Invocation)
                        and running.owner is self
                        and running.reentry_key == reentry_key
                        and not running.finished
                    ):
                        return run_wrapper(MethodType(original, self), self, args, kwargs)
            return original(self, *args, **kwargs)

        return patched_run

    return factory

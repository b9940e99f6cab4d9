"""Core lifecycle specs found by review: finish-once under races, re-entry, context, futures, first chunk."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from otel_agent_instrumentation import semconv
from otel_agent_instrumentation.config import Config
from otel_agent_instrumentation.invocation import AgentInvocation, Outcome, RequestFacts
from otel_agent_instrumentation.invocation import Telemetry as Bound
from tests.conftest import Telemetry


def bound(telemetry: Telemetry) -> Bound:
    return Bound(Config(), telemetry.tracer_provider, telemetry.meter_provider)


def finish_lines() -> list[int]:
    code = AgentInvocation.finish.__code__
    return sorted({line for _, _, line in code.co_lines() if line is not None and line > code.co_firstlineno})


def pause_at_line(line: int, paused: threading.Event, resume: threading.Event) -> Callable[..., Any]:
    """A thread tracer that stops the thread once at `line` of AgentInvocation.finish until `resume`."""
    finish_code = AgentInvocation.finish.__code__

    def local(frame: FrameType, event: str, _arg: Any) -> Any:
        if event == "line" and frame.f_lineno == line and not paused.is_set():
            paused.set()
            resume.wait(5)
        return local

    def tracer(frame: FrameType, event: str, _arg: Any) -> Any:
        return local if frame.f_code is finish_code else None

    return tracer


def test_two_threads_finishing_one_run_end_it_once_wherever_the_first_is_preempted(telemetry: Telemetry) -> None:
    # One invocation per line of finish(): thread A is stopped at that line while thread B finishes the
    # same run; whichever line A was on, the run is ended (and its duration recorded) exactly once.
    telemetry_bound = bound(telemetry)
    lines = finish_lines()
    for line in lines:
        invocation = AgentInvocation(telemetry_bound, RequestFacts(agent_name="raced"), object())
        paused, resume = threading.Event(), threading.Event()
        tracer = pause_at_line(line, paused, resume)

        def first(invocation: AgentInvocation = invocation, tracer: Callable[..., Any] = tracer) -> None:
            sys.settrace(tracer)
            try:
                invocation.finish(Outcome.COMPLETED)
            finally:
                sys.settrace(None)

        thread = threading.Thread(target=first)
        thread.start()
        while not paused.wait(0.001) and thread.is_alive():
            pass  # a line A's finish() never reaches (after an early return): B simply runs after it
        invocation.finish(Outcome.ABANDONED)
        resume.set()
        thread.join(5)
    (point,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    assert (point.count, len(telemetry.agent_spans())) == (len(lines), len(lines))

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
from tests.conftest import Instrumentation, Telemetry
from tests.sample_app import agents


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


APP = "tests.sample_app.agents"


def span_tree(telemetry: Telemetry) -> list[tuple[str, str | None]]:
    """(span name, parent span name) for each agent span, in start order."""
    spans = sorted(telemetry.agent_spans(), key=lambda span: span.start_time or 0)
    by_id = {span.context.span_id: span.name for span in spans if span.context is not None}
    return [(span.name, by_id.get(span.parent.span_id) if span.parent else None) for span in spans]


def test_a_function_target_called_inside_another_is_a_child_run(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=[f"{APP}:plan_then_execute", f"{APP}:execute_function"])
    assert agents.plan_then_execute() == "done"
    assert span_tree(telemetry) == [
        ("invoke_agent plan_then_execute", None),
        ("invoke_agent execute_function", "invoke_agent plan_then_execute"),
    ]


def test_a_method_target_calling_another_target_of_the_same_object_is_a_child_run(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=[f"{APP}:PlanningAgent.plan", f"{APP}:PlanningAgent.execute"])
    assert agents.PlanningAgent().plan() == "done"
    assert span_tree(telemetry) == [("invoke_agent plans", None), ("invoke_agent plans", "invoke_agent plans")]


def test_a_recursive_function_target_is_one_run(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on(targets=[f"{APP}:countdown"])
    assert agents.countdown(3) == 0
    assert span_tree(telemetry) == [("invoke_agent countdown", None)]


def test_a_context_manager_run_with_no_stream_records_no_time_to_first_chunk(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # Time to first chunk is for updates pulled from a stream; entering a manager is not one.
    instrumentation.on(targets=[f"{APP}:NamedAgent.workspace"])
    with agents.NamedAgent().workspace() as workspace:
        assert workspace == {"plan": "ready"}
    assert (len(telemetry.agent_spans()), telemetry.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)) == (1, [])


def test_a_generator_run_driven_by_send_records_time_to_first_chunk(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=[f"{APP}:NamedAgent.stream"])
    stream = agents.NamedAgent().stream()
    assert [stream.send(None), next(stream)] == ["u0", "u1"]
    stream.close()
    (point,) = telemetry.metric_points(semconv.METRIC_TIME_TO_FIRST_CHUNK)
    assert point.count == 1

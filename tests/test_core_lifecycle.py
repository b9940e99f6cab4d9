"""Core lifecycle specs found by review: finish-once under races, re-entry, context, futures, first chunk."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import inspect
import sys
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from types import FrameType
from typing import Any

import pytest
from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode

from otel_agent_instrumentation import semconv
from otel_agent_instrumentation.config import Config
from otel_agent_instrumentation.invocation import AgentInvocation, Outcome, RequestFacts
from otel_agent_instrumentation.invocation import Telemetry as Bound
from tests.conftest import Instrumentation, Telemetry, attributes
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


WATCHER = f"{APP}:WatchingAgent"


def outcome(telemetry: Telemetry) -> tuple[object, StatusCode]:
    (span,) = telemetry.agent_spans()
    return attributes(span).get(semconv.OUTCOME), span.status.status_code


@contextlib.contextmanager
def recorded_warnings() -> Iterator[list[str]]:
    """Every warning raised inside, including the ones the garbage collector raises."""
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield messages
        gc.collect()
    messages.extend(str(warning.message) for warning in caught)


# -- an awaited run cancelled or closed before its first step -----------------------------------


async def cancel_before_first_step(start: Callable[[], Any]) -> tuple[str, list[str]]:
    with recorded_warnings() as messages:
        task = asyncio.ensure_future(start())
        task.cancel()
        try:
            await task
            ended = "returned"
        except asyncio.CancelledError:
            ended = "cancelled"
    return ended, messages


def close_before_first_step(start: Callable[[], Any]) -> list[str]:
    with recorded_warnings() as messages:
        start().close()
    return messages


async def test_an_awaited_run_cancelled_before_its_first_step_ends_cancelled_with_no_warning(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    bare = await cancel_before_first_step(lambda: agents.WatchingAgent().wait())
    instrumentation.on(targets=[f"{WATCHER}.wait"])
    assert (bare, await cancel_before_first_step(lambda: agents.WatchingAgent().wait())) == (
        ("cancelled", []),
        ("cancelled", []),
    )
    assert outcome(telemetry) == ("cancelled", StatusCode.ERROR)


async def test_an_awaited_run_closed_before_its_first_step_ends_closed_early_with_no_warning(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    bare = close_before_first_step(lambda: agents.WatchingAgent().wait())
    instrumentation.on(targets=[f"{WATCHER}.wait"])
    assert (bare, close_before_first_step(lambda: agents.WatchingAgent().wait())) == ([], [])
    assert outcome(telemetry) == ("closed_early", StatusCode.UNSET)


async def test_agent_framework_runs_cancelled_before_they_start_end_cancelled_with_no_warning(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # As in an asyncio.TaskGroup whose body raises while its agent.run() tasks are still pending.
    from tests.frameworks.agent_framework_driver import Script, make_agent

    async def two_cancelled_runs() -> tuple[list[str], list[str]]:
        with recorded_warnings() as messages:
            tasks = [asyncio.ensure_future(make_agent(Script(), []).run("hello")) for _ in range(2)]
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        return [type(result).__name__ for result in results], messages

    bare = await two_cancelled_runs()
    instrumentation.on()
    assert (bare, await two_cancelled_runs()) == (
        (["CancelledError", "CancelledError"], []),
        (["CancelledError", "CancelledError"], []),
    )
    assert [attributes(span).get(semconv.OUTCOME) for span in telemetry.agent_spans()] == ["cancelled", "cancelled"]


async def test_an_agno_run_closed_before_its_first_step_ends_closed_early_with_no_warning(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    from tests.frameworks.agno_driver import make_agent

    bare = close_before_first_step(lambda: make_agent([]).arun("hello"))
    instrumentation.on()
    assert (bare, close_before_first_step(lambda: make_agent([]).arun("hello"))) == ([], [])
    assert outcome(telemetry) == ("closed_early", StatusCode.UNSET)


# -- a run whose consumer task is dropped while it waits ---------------------------------------


async def test_an_awaited_run_whose_pending_task_is_collected_ends_abandoned_without_detach_errors(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The autouse fixture fails any test that makes OpenTelemetry log "Failed to detach context".
    instrumentation.on(targets=[f"{WATCHER}.wait"])
    task = asyncio.ensure_future(agents.WatchingAgent().wait())
    await asyncio.sleep(0)  # its first step attached the span in the task's context; now it waits
    del task
    gc.collect()
    assert outcome(telemetry) == ("abandoned", StatusCode.UNSET)


async def test_an_awaited_run_the_caller_holds_only_through_await_is_not_abandoned_by_a_collection(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # `await run()` keeps no reference to the run object itself, only to what its __await__ returned.
    instrumentation.on(targets=[f"{WATCHER}.collect_midway"])
    assert await agents.WatchingAgent().collect_midway() == "collected"
    assert outcome(telemetry) == ("completed", StatusCode.UNSET)


async def test_a_stream_whose_consumer_task_is_collected_mid_pull_ends_abandoned_without_detach_errors(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=[f"{WATCHER}.watch"])
    pulled: list[str] = []

    async def consume() -> None:
        async for update in agents.WatchingAgent().watch():
            pulled.append(update)

    task = asyncio.ensure_future(consume())
    while not pulled:
        await asyncio.sleep(0)
    await asyncio.sleep(0)  # now suspended inside its second pull
    del task
    gc.collect()
    assert (pulled, outcome(telemetry)) == (["first"], ("abandoned", StatusCode.UNSET))


# -- each pull sees the consumer's context ------------------------------------------------------

TENANT_AND_SUPPRESSED = [("acme", False), (None, True)]


def pull_with_baggage_then_plain(stream: Iterator[Any]) -> list[Any]:
    token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        with suppress_instrumentation():
            updates = [next(stream)]
    finally:
        otel_context.detach(token)
    updates.append(next(stream))
    return updates


async def apull_with_baggage_then_plain(stream: AsyncIterator[Any]) -> list[Any]:
    token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        with suppress_instrumentation():
            updates = [await stream.__anext__()]
    finally:
        otel_context.detach(token)
    updates.append(await stream.__anext__())
    return updates


def test_each_pull_runs_the_agent_in_the_consumers_context(instrumentation: Instrumentation) -> None:
    bare = pull_with_baggage_then_plain(agents.WatchingAgent().look())
    instrumentation.on(targets=[f"{WATCHER}.look"])
    assert (bare, pull_with_baggage_then_plain(agents.WatchingAgent().look())) == (
        TENANT_AND_SUPPRESSED,
        TENANT_AND_SUPPRESSED,
    )


async def test_each_async_pull_runs_the_agent_in_the_consumers_context(instrumentation: Instrumentation) -> None:
    bare = await apull_with_baggage_then_plain(agents.WatchingAgent().alook())
    instrumentation.on(targets=[f"{WATCHER}.alook"])
    assert (bare, await apull_with_baggage_then_plain(agents.WatchingAgent().alook())) == (
        TENANT_AND_SUPPRESSED,
        TENANT_AND_SUPPRESSED,
    )


# -- futures -------------------------------------------------------------------------------------


async def failed_future_left_unretrieved(caplog: pytest.LogCaptureFixture) -> int:
    """How many "Future exception was never retrieved" reports asyncio makes for a dropped failed run."""
    caplog.clear()
    future = agents.WatchingAgent().submit(asyncio.get_running_loop(), fail=True)
    while not future.done():
        await asyncio.sleep(0)
    await asyncio.sleep(0)  # the done callbacks have run
    del future
    gc.collect()
    return sum("never retrieved" in record.getMessage() for record in caplog.records)


async def test_a_failed_future_run_the_app_never_reads_is_still_reported_by_asyncio(
    instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    bare = await failed_future_left_unretrieved(caplog)
    instrumentation.on(targets=[f"{WATCHER}.submit"])
    assert (bare, await failed_future_left_unretrieved(caplog)) == (1, 1)
    assert outcome(telemetry) == ("failed", StatusCode.ERROR)


async def test_a_pending_future_run_that_is_dropped_ends_abandoned(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=[f"{WATCHER}.pending"])
    future = agents.WatchingAgent().pending(asyncio.get_running_loop())
    del future
    gc.collect()
    assert outcome(telemetry) == ("abandoned", StatusCode.UNSET)


def test_a_concurrent_future_run_ends_when_the_future_is_done(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=[f"{WATCHER}.submit_to"])
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        agents.WatchingAgent().submit_to(executor, 0.05).result()
    (span,) = telemetry.agent_spans()
    assert (outcome(telemetry), (span.end_time or 0) - (span.start_time or 0) >= 50_000_000) == (
        ("completed", StatusCode.UNSET),
        True,
    )


# -- metrics ---------------------------------------------------------------------------------------


def test_metric_exemplars_point_at_the_agent_span(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on(targets=[f"{APP}:NamedAgent.run"])
    agents.NamedAgent().run()
    (span,) = telemetry.agent_spans()
    (point,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    assert span.context is not None
    assert [exemplar.span_id for exemplar in point.exemplars] == [span.context.span_id]


async def test_an_awaited_run_is_still_a_coroutine_to_its_caller(instrumentation: Instrumentation) -> None:
    bare: Any = agents.NamedAgent().arun()
    instrumentation.on(targets=[f"{APP}:NamedAgent.arun"])
    traced: Any = agents.NamedAgent().arun()
    facts = [
        (inspect.iscoroutine(run), asyncio.iscoroutine(run), run.cr_code.co_qualname, repr(run).split(" at ")[0])
        for run in (bare, traced)
    ]
    assert facts[0] == facts[1] == (True, True, "NamedAgent.arun", "<coroutine object NamedAgent.arun")
    assert (await bare, await traced) == ("plan", "plan")


async def test_an_awaited_run_that_resolves_to_a_stream_ends_with_the_stream(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=[f"{APP}:DeferringAgent.open"])
    stream = await agents.DeferringAgent().open()
    assert telemetry.agent_spans() == []  # the run goes on in the stream's pulls
    assert [update async for update in stream] == ["u0", "u1", "u2"]
    assert outcome(telemetry) == ("completed", StatusCode.UNSET)


async def test_an_awaited_run_that_resolves_to_a_stream_failing_mid_way_ends_failed(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=[f"{APP}:DeferringAgent.open"])
    stream = await agents.DeferringAgent().open(fail_at=1)
    with pytest.raises(agents.AgentFailure):
        async for _ in stream:
            pass
    assert outcome(telemetry) == ("failed", StatusCode.ERROR)


class _UnhashableClasses(type):
    """A metaclass defining __eq__ without __hash__: its classes cannot be dict keys."""

    def __eq__(cls, other: object) -> bool:
        return cls is other

    __hash__ = None  # type: ignore[assignment]  # as Python sets it for such a class body


class UnhashableAnswer(metaclass=_UnhashableClasses):
    pass


class UnhashableStream(metaclass=_UnhashableClasses):
    def __init__(self) -> None:
        self.updates = ["u0", "u1"]

    def __aiter__(self) -> UnhashableStream:
        return self

    async def __anext__(self) -> str:
        if not self.updates:
            raise StopAsyncIteration
        return self.updates.pop(0)


def answer_unhashable() -> UnhashableAnswer:
    return UnhashableAnswer()


async def await_unhashable() -> UnhashableAnswer:
    return UnhashableAnswer()


async def open_unhashable_stream() -> UnhashableStream:
    return UnhashableStream()


async def run_as_the_app(target: str) -> list[str]:
    """Call `target` of this module as an app would; the class name of what it got (and a stream's updates)."""
    result: Any = globals()[target]()
    if inspect.iscoroutine(result):
        result = await result
    if isinstance(result, UnhashableStream):
        return [result.__class__.__name__, *[update async for update in result]]
    return [result.__class__.__name__]


@pytest.mark.parametrize("target", ["answer_unhashable", "await_unhashable", "open_unhashable_stream"])
async def test_a_run_whose_result_is_of_an_unhashable_class_ends_completed_and_the_app_gets_the_same(
    instrumentation: Instrumentation, telemetry: Telemetry, target: str
) -> None:
    # Our per-class lookups (which results are streams, their proxy classes) are dict keys of the class.
    bare = await run_as_the_app(target)
    instrumentation.on(targets=[f"{__name__}:{target}"])
    assert (await run_as_the_app(target), outcome(telemetry)) == (bare, ("completed", StatusCode.UNSET))


class Unprintable(RuntimeError):
    def __str__(self) -> str:
        raise ValueError("no message")


def test_a_run_failing_with_an_exception_whose_str_raises_still_ends_failed_with_its_type(
    telemetry: Telemetry,
) -> None:
    invocation = AgentInvocation(bound(telemetry), RequestFacts(agent_name="raiser"), object())
    invocation.finish(Outcome.FAILED, Unprintable())
    (span,) = telemetry.agent_spans()
    (point,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    error_type = f"{Unprintable.__module__}.{Unprintable.__qualname__}"
    assert (attributes(span).get(semconv.OUTCOME), span.status.status_code, point.attributes[semconv.ERROR_TYPE]) == (
        "failed",
        StatusCode.ERROR,
        error_type,
    )


def armed_watches() -> int:
    from otel_agent_instrumentation import stream

    return len(stream._armed_watches)


async def test_a_manager_whose_block_consumed_the_run_keeps_no_watch_on_it_once_exited(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The stream the block consumed ended the run; the manager, still held by the app, has nothing left to end,
    # and its watch would keep the ended run (its span, its facts) until the manager is collected.
    instrumentation.on(targets=[f"{APP}:NamedAgent.stream_session"])
    before = armed_watches()
    manager = agents.NamedAgent().stream_session()
    async with manager as stream:
        updates = [update async for update in stream]
    assert (updates, outcome(telemetry), armed_watches() - before) == (
        ["u0", "u1"],
        ("completed", StatusCode.UNSET),
        0,
    )


def test_a_sync_manager_whose_block_consumed_the_run_keeps_no_watch_on_it_once_exited(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=[f"{APP}:NamedAgent.sync_stream_session"])
    before = armed_watches()
    manager = agents.NamedAgent().sync_stream_session()
    with manager as stream:
        updates = list(stream)
    assert (updates, outcome(telemetry), armed_watches() - before) == (
        ["u0", "u1"],
        ("completed", StatusCode.UNSET),
        0,
    )

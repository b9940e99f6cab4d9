"""traced_await and awaited_step: calls a framework awaits where it makes them, traced without the core's proxy."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from otel_agent_instrumentation import semconv
from otel_agent_instrumentation.adapters import (
    Config,
    Invocation,
    Operation,
    Outcome,
    RequestFacts,
    Telemetry,
    awaited_step,
    trace_coroutine,
    traced_await,
)
from tests.conftest import Telemetry as Providers
from tests.conftest import attributes


class LookupFailed(RuntimeError):
    pass


def tool_call(providers: Providers) -> Invocation:
    telemetry = Telemetry(Config(), providers.tracer_provider, providers.meter_provider)
    return Invocation(telemetry, RequestFacts(operation=Operation.TOOL, tool_name="lookup"), object())


def ending(providers: Providers) -> tuple[str, StatusCode, str | None]:
    (span,) = providers.finished()
    return attributes(span)[semconv.OUTCOME], span.status.status_code, attributes(span).get(semconv.ERROR_TYPE)


async def test_a_call_that_returns_ends_completed_with_its_span_current_inside(providers: Providers) -> None:
    invocation = tool_call(providers)
    seen: list[Any] = []

    async def lookup() -> str:
        seen.append(trace.get_current_span())
        return "found"

    assert await traced_await(lookup(), invocation) == "found"
    assert seen == [invocation.span]
    assert ending(providers) == ("completed", StatusCode.UNSET, None)
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_on_return_ends_the_call_from_what_it_returned(providers: Providers) -> None:
    invocation = tool_call(providers)

    async def lookup() -> str:
        return "found"

    def returned(value: str) -> None:
        invocation.finish(Outcome.FAILED, LookupFailed(value))

    await traced_await(lookup(), invocation, returned)
    assert ending(providers) == ("failed", StatusCode.ERROR, f"{__name__}.LookupFailed")


async def test_a_call_that_raises_ends_failed_and_the_same_exception_propagates(providers: Providers) -> None:
    invocation = tool_call(providers)
    error = LookupFailed("no entry")

    async def lookup() -> str:
        raise error

    with pytest.raises(LookupFailed) as raised:
        await traced_await(lookup(), invocation)
    assert raised.value is error
    assert ending(providers) == ("failed", StatusCode.ERROR, f"{__name__}.LookupFailed")


OnError = Callable[[BaseException], bool]


def through_traced_await(call: Awaitable[str], invocation: Invocation, on_error: OnError) -> Awaitable[str]:
    return traced_await(call, invocation, on_error=on_error)


def through_trace_coroutine(call: Awaitable[str], invocation: Invocation, on_error: OnError) -> Awaitable[str]:
    # The application's own await of a run (the coroutine proxy), with an adapter's on_error.
    return trace_coroutine(call, invocation, None, on_error=on_error)  # type: ignore[no-any-return]


AWAITS = [through_traced_await, through_trace_coroutine]


@pytest.mark.parametrize("awaited", AWAITS)
async def test_on_error_may_end_the_call_itself_and_the_exception_still_propagates(
    providers: Providers, awaited: Callable[[Awaitable[str], Invocation, OnError], Awaitable[str]]
) -> None:
    invocation = tool_call(providers)
    error = LookupFailed("control flow")

    async def lookup() -> str:
        raise error

    def control_flow(error: BaseException) -> bool:
        invocation.finish(Outcome.COMPLETED)
        return True

    with pytest.raises(LookupFailed) as raised:
        await awaited(lookup(), invocation, control_flow)
    assert (raised.value, ending(providers)) == (error, ("completed", StatusCode.UNSET, None))


@pytest.mark.parametrize("awaited", AWAITS)
async def test_an_exception_on_error_does_not_end_fails_the_call(
    providers: Providers, awaited: Callable[[Awaitable[str], Invocation, OnError], Awaitable[str]]
) -> None:
    invocation = tool_call(providers)

    async def lookup() -> str:
        raise LookupFailed("no entry")

    with pytest.raises(LookupFailed):
        await awaited(lookup(), invocation, lambda error: False)
    assert ending(providers) == ("failed", StatusCode.ERROR, f"{__name__}.LookupFailed")


async def test_an_on_error_that_raises_is_reported_and_the_run_fails(
    providers: Providers, caplog: pytest.LogCaptureFixture
) -> None:
    invocation = tool_call(providers)

    async def lookup() -> str:
        raise LookupFailed("no entry")

    def broken(error: BaseException) -> bool:
        raise KeyError("ours")

    with pytest.raises(LookupFailed):
        await trace_coroutine(lookup(), invocation, None, on_error=broken)
    assert ending(providers) == ("failed", StatusCode.ERROR, f"{__name__}.LookupFailed")
    assert "reading the agent run's exception failed" in caplog.text


@pytest.mark.parametrize("awaited", AWAITS)
async def test_a_cancelled_call_ends_cancelled_without_asking_on_error(
    providers: Providers, awaited: Callable[[Awaitable[str], Invocation, OnError], Awaitable[str]]
) -> None:
    invocation = tool_call(providers)
    asked: list[BaseException] = []
    started = asyncio.Event()

    async def lookup() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    def ask(error: BaseException) -> bool:
        asked.append(error)
        return True

    task = asyncio.ensure_future(awaited(lookup(), invocation, ask))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (ending(providers), asked) == (("cancelled", StatusCode.ERROR, "asyncio.exceptions.CancelledError"), [])


async def test_on_return_that_raises_is_reported_and_the_value_still_returned(
    providers: Providers, caplog: pytest.LogCaptureFixture
) -> None:
    invocation = tool_call(providers)

    async def lookup() -> str:
        return "found"

    def broken(value: str) -> None:
        raise ValueError("reader bug")

    assert await traced_await(lookup(), invocation, broken) == "found"
    assert ending(providers)[0] == "abandoned"
    assert any("reading a tool call's result" in record.getMessage() for record in caplog.records)


async def test_a_call_in_a_dropped_task_ends_abandoned_and_detaches_nothing_elsewhere(providers: Providers) -> None:
    # The conftest fails the test on "Failed to detach context".
    invocation = tool_call(providers)
    started = asyncio.Event()

    async def lookup() -> str:
        started.set()
        await asyncio.get_running_loop().create_future()  # nothing will ever set it
        return "never"

    task = asyncio.ensure_future(traced_await(lookup(), invocation))
    await started.wait()
    task_ref = weakref.ref(task)
    loop = asyncio.get_running_loop()
    handler, hook = loop.get_exception_handler(), sys.unraisablehook
    loop.set_exception_handler(lambda _loop, _context: None)  # "Task was destroyed but it is pending!"
    sys.unraisablehook = lambda _unraisable: None
    try:
        del task
        gc.collect()
    finally:
        loop.set_exception_handler(handler)
        sys.unraisablehook = hook
    assert task_ref() is None
    assert ending(providers) == ("abandoned", StatusCode.UNSET, None)


async def test_awaited_step_runs_the_call_under_the_run_and_leaves_it_open(providers: Providers) -> None:
    invocation = tool_call(providers)
    seen: list[Any] = []

    async def turn() -> str:
        seen.append(trace.get_current_span())
        raise LookupFailed("the turn failed")

    with pytest.raises(LookupFailed):
        await awaited_step(turn(), invocation)
    assert (seen, invocation.finished, providers.finished()) == ([invocation.span], False, [])
    assert trace.get_current_span() is trace.INVALID_SPAN
    invocation.finish(Outcome.COMPLETED)


@pytest.fixture
def providers(telemetry: Providers, caplog: pytest.LogCaptureFixture) -> Providers:
    caplog.set_level(logging.DEBUG)
    return telemetry

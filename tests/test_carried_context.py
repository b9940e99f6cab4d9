"""trace_stream(carry_context=True): a framework generator that sets context and leaves it set across its yields
(Strands' `use_span` around its run) sees, in every step, what it would see without us; the consumer sees its own
context between pulls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider

from otel_agent_instrumentation import semconv
from otel_agent_instrumentation.config import resolve
from otel_agent_instrumentation.invocation import COMPLETED, Invocation, RequestFacts, Telemetry
from otel_agent_instrumentation.stream import trace_stream
from tests.conftest import Telemetry as SdkTelemetry
from tests.conftest import attributes

FRAMEWORK_KEY = "framework-span"
CONSUMER_KEY = "consumer-baggage"


def _seen() -> tuple[object, object]:
    return otel_context.get_value(FRAMEWORK_KEY), otel_context.get_value(CONSUMER_KEY)


async def framework_run(seen: list[tuple[object, object]]) -> AsyncIterator[int]:
    """Sets its value at its first step and keeps it set across its yields until its `finally`."""
    token = otel_context.attach(otel_context.set_value(FRAMEWORK_KEY, "run"))
    try:
        for update in range(3):
            seen.append(_seen())
            received = yield update
            if received is not None:
                seen.append(("sent", received))
    finally:
        seen.append(_seen())
        otel_context.detach(token)


def _invocation() -> Invocation:
    telemetry = Telemetry(resolve({}), NoOpTracerProvider(), NoOpMeterProvider())
    return Invocation(telemetry, RequestFacts(agent_name="agent"), None)


Wrap = Callable[[AsyncIterator[int]], Any]


def bare(stream: AsyncIterator[int]) -> Any:
    return stream


def carrying(stream: AsyncIterator[int]) -> Any:
    return trace_stream(stream, _invocation(), carry_context=True)


async def consume(wrap: Wrap) -> tuple[list[tuple[object, object]], list[tuple[object, object]]]:
    """(what the generator saw, what the consumer saw after each pull); the consumer sets its own value after the
    first pull."""
    seen: list[tuple[object, object]] = []
    consumer: list[tuple[object, object]] = []
    token = None
    async for _ in wrap(framework_run(seen)):
        consumer.append(_seen())
        if token is None:
            token = otel_context.attach(otel_context.set_value(CONSUMER_KEY, "set between pulls"))
    if token is not None:
        otel_context.detach(token)
    return seen, consumer


async def test_each_step_sees_what_it_would_see_without_us() -> None:
    assert (await consume(carrying))[0] == (await consume(bare))[0]


async def test_the_consumer_sees_its_own_context_between_pulls() -> None:
    _, consumer = await consume(carrying)
    assert consumer == [(None, None), (None, "set between pulls"), (None, "set between pulls")]


async def test_without_carrying_later_steps_lose_what_the_framework_left_set() -> None:
    # What carry_context is for: a plain traced stream restores the consumer's context after each pull.
    seen, _ = await consume(lambda stream: trace_stream(stream, _invocation()))
    assert seen[1] == (None, "set between pulls")


async def _close_after_one_pull(wrap: Wrap) -> list[tuple[object, object]]:
    seen: list[tuple[object, object]] = []
    stream = wrap(framework_run(seen))
    await stream.__anext__()
    await stream.aclose()
    return seen


async def test_aclose_runs_the_framework_finally_in_what_it_left_set(caplog: pytest.LogCaptureFixture) -> None:
    assert await _close_after_one_pull(carrying) == await _close_after_one_pull(bare)
    assert "Failed to detach context" not in caplog.text


async def _send_after_one_pull(wrap: Wrap) -> list[tuple[object, object]]:
    seen: list[tuple[object, object]] = []
    stream = wrap(framework_run(seen))
    await stream.__anext__()
    await stream.asend("value")
    await stream.aclose()
    return seen


async def test_asend_resumes_in_what_the_framework_left_set() -> None:
    assert await _send_after_one_pull(carrying) == await _send_after_one_pull(bare)


async def test_the_run_ends_with_the_stream(telemetry: SdkTelemetry) -> None:
    invocation = Invocation(
        Telemetry(resolve({}), telemetry.tracer_provider, telemetry.meter_provider), RequestFacts(agent_name="a"), None
    )
    updates = [update async for update in trace_stream(framework_run([]), invocation, carry_context=True)]
    (span,) = telemetry.finished()
    assert (updates, attributes(span)[semconv.OUTCOME]) == ([0, 1, 2], COMPLETED.value)

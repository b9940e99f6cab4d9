"""Every (framework, mode, ending): the app sees the same thing with and without us, and the span
says what happened. The table of endings is tests/scenarios.py; drivers are in tests/frameworks/."""

from __future__ import annotations

import gc

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks import DRIVERS
from tests.scenarios import Driver, Ending

CASES = [
    pytest.param(driver, mode, ending, id=f"{driver.framework}-{mode}-{ending.value}")
    for driver in DRIVERS
    for mode, ending in driver.cases()
]


@pytest.mark.parametrize(("driver", "mode", "ending"), CASES)
async def test_instrumented_run_observes_the_same_as_bare(
    driver: Driver, mode: str, ending: Ending, instrumentation: Instrumentation
) -> None:
    bare = await driver.perform_bare(mode, ending)
    instrumentation.on()
    traced = await driver.perform(mode, ending)
    assert traced == bare
    if bare.returned is not None:
        assert isinstance(traced.returned, type(bare.returned))


@pytest.mark.parametrize(("driver", "mode", "ending"), CASES)
async def test_span_records_the_outcome(
    driver: Driver, mode: str, ending: Ending, instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    caller_span = trace.get_current_span()
    await driver.perform(mode, ending)
    gc.collect()
    assert trace.get_current_span() is caller_span

    expected = driver.expected(mode, ending)
    spans = [span for span in telemetry.finished() if span.name.startswith(expected.operation)]
    assert len(spans) == expected.spans, [s.name for s in telemetry.finished()]
    for span in spans:
        attributes = span.attributes or {}
        assert span.name == f"{expected.operation} {driver.agent_name}"
        assert span.kind is SpanKind.INTERNAL
        assert attributes[semconv.GEN_AI_OPERATION_NAME] == expected.operation
        assert attributes.get(semconv.ERROR_TYPE) == expected.error_type
        if expected.error_type is None:
            assert span.status.status_code is StatusCode.UNSET
        else:
            assert span.status.status_code is StatusCode.ERROR
        assert attributes.get(semconv.OUTCOME) == expected.outcome

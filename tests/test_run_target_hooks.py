"""A run target's `on_start` and `on_error` (adapters._base.RunTarget): what an adapter notes on a run before the
framework's code runs, and a synchronous call's exception that is the framework's control flow, not a failure."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from otel_agent_instrumentation import _guard, semconv
from otel_agent_instrumentation.adapters import AgentInvocation, RunTarget, Target
from otel_agent_instrumentation.config import Config
from otel_agent_instrumentation.invocation import COMPLETED, RequestFacts, ResultFacts, active_invocation
from tests import fault_app
from tests.conftest import Instrumentation, Telemetry

OnStart = Callable[[AgentInvocation], None]
OnError = Callable[[AgentInvocation, BaseException], bool]


@pytest.fixture(autouse=True)
def fresh_log_sites(monkeypatch: pytest.MonkeyPatch) -> None:
    # report_failure logs once per site per process; each spec starts with no site seen.
    monkeypatch.setattr(_guard, "_failed_sites", set())


class StepperAdapter:
    """Traces fault_app.Stepper.run with the given hooks."""

    name = "stepper"
    distribution: str | None = None
    supported = ""

    def __init__(self, on_start: OnStart | None = None, on_error: OnError | None = None) -> None:
        self.on_start, self.on_error = on_start, on_error

    def targets(self, config: Config) -> Sequence[Target]:
        def read_request(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], c: Config) -> RequestFacts:
            return RequestFacts(agent_name="stepper")

        return [
            RunTarget("tests.fault_app", "Stepper.run", read_request, on_start=self.on_start, on_error=self.on_error)
        ]


def noted_now() -> object:
    """What the running invocation has noted, read from inside the framework's call."""
    running = active_invocation()
    return running.noted if running is not None else "no run"


def note(invocation: AgentInvocation) -> None:
    invocation.noted = "noted at start"


def broken_on_start(invocation: AgentInvocation) -> None:
    raise RuntimeError("broken on_start")


def ending_handoffs(invocation: AgentInvocation, error: BaseException) -> bool:
    if not isinstance(error, fault_app.Handoff):
        return False
    invocation.finish(COMPLETED, None, ResultFacts(input_tokens=3))
    return True


def broken_on_error(invocation: AgentInvocation, error: BaseException) -> bool:
    raise RuntimeError("broken on_error")


def ending(telemetry: Telemetry) -> tuple[object, StatusCode, object]:
    (span,) = telemetry.agent_spans()
    attributes = span.attributes or {}
    return attributes.get(semconv.OUTCOME), span.status.status_code, attributes.get(semconv.ERROR_TYPE)


def our_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "otel_agent_instrumentation" and r.levelno >= logging.WARNING
    ]


def test_on_start_notes_the_run_before_the_framework_code_runs(instrumentation: Instrumentation) -> None:
    instrumentation.on(adapters=[StepperAdapter(on_start=note)])
    assert fault_app.Stepper().run(noted_now) == "noted at start"


def test_a_raising_on_start_is_logged_and_the_run_is_traced_without_it(
    instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    instrumentation.on(adapters=[StepperAdapter(on_start=broken_on_start)])
    result = fault_app.Stepper().run(noted_now)
    assert (result, ending(telemetry), any("preparing the agent run" in m for m in our_warnings(caplog))) == (
        None,
        ("completed", StatusCode.UNSET, None),
        True,
    )


def test_on_error_ends_the_run_itself_for_the_frameworks_control_flow_and_the_exception_propagates(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    handoff = fault_app.Handoff("to the parent")
    instrumentation.on(adapters=[StepperAdapter(on_error=ending_handoffs)])
    with pytest.raises(fault_app.Handoff) as raised:
        fault_app.Stepper().run(raising=handoff)
    (span,) = telemetry.agent_spans()
    assert (raised.value, ending(telemetry), (span.attributes or {}).get(semconv.GEN_AI_USAGE_INPUT_TOKENS)) == (
        handoff,
        ("completed", StatusCode.UNSET, None),
        3,
    )


def test_a_failure_on_error_declines_fails_the_run(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on(adapters=[StepperAdapter(on_error=ending_handoffs)])
    with pytest.raises(fault_app.AppFailure):
        fault_app.Stepper().run(raising=fault_app.AppFailure("the app's own failure"))
    assert ending(telemetry) == ("failed", StatusCode.ERROR, "tests.fault_app.AppFailure")


def test_a_raising_on_error_is_logged_the_run_fails_and_the_apps_exception_is_unchanged(
    instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    handoff = fault_app.Handoff("to the parent")
    instrumentation.on(adapters=[StepperAdapter(on_error=broken_on_error)])
    with pytest.raises(fault_app.Handoff) as raised:
        fault_app.Stepper().run(raising=handoff)
    logged = any("reading the agent run's exception" in m for m in our_warnings(caplog))
    assert (raised.value, raised.value.__context__, ending(telemetry), logged) == (
        handoff,
        None,
        ("failed", StatusCode.ERROR, "tests.fault_app.Handoff"),
        True,
    )


def test_on_error_is_not_asked_about_what_is_no_exception(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    asked: list[BaseException] = []

    def recording(invocation: AgentInvocation, error: BaseException) -> bool:
        asked.append(error)
        return True

    instrumentation.on(adapters=[StepperAdapter(on_error=recording)])
    with pytest.raises(KeyboardInterrupt):
        fault_app.Stepper().run(raising=KeyboardInterrupt())
    assert (asked, len(telemetry.agent_spans())) == ([], 1)

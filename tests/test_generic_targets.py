"""User targets ("module:Class.method"): every result shape gets the same lifecycle."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest
from opentelemetry.trace import StatusCode

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry, attributes
from tests.sample_app import agents
from tests.sample_app.agents import AgentFailure, NamedAgent, UnnamedAgent

ALL_TARGETS = [
    f"tests.sample_app.agents:NamedAgent.{m}" for m in ("run", "arun", "astream", "stream", "session", "events")
]


def outcome(telemetry: Telemetry) -> tuple[str, object, StatusCode]:
    (span,) = telemetry.agent_spans()
    return span.name, attributes(span).get(semconv.OUTCOME), span.status.status_code


@pytest.fixture
def traced(instrumentation: Instrumentation) -> Instrumentation:
    instrumentation.on(targets=ALL_TARGETS)
    return instrumentation


def test_value_result_ends_completed(traced: Instrumentation, telemetry: Telemetry) -> None:
    assert NamedAgent().run() == "plan"
    assert outcome(telemetry) == ("invoke_agent planner", "completed", StatusCode.UNSET)


def test_call_time_error_propagates_the_same_object(traced: Instrumentation, telemetry: Telemetry) -> None:
    with pytest.raises(AgentFailure, match="plan failed"):
        NamedAgent().run(fail=True)
    assert outcome(telemetry) == ("invoke_agent planner", "failed", StatusCode.ERROR)


async def test_coroutine_result_ends_when_awaited(traced: Instrumentation, telemetry: Telemetry) -> None:
    assert await NamedAgent().arun() == "plan"
    assert outcome(telemetry) == ("invoke_agent planner", "completed", StatusCode.UNSET)


async def test_cancelled_coroutine_ends_error_cancelled(traced: Instrumentation, telemetry: Telemetry) -> None:
    task = asyncio.ensure_future(NamedAgent().arun(block=True))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (span,) = telemetry.agent_spans()
    assert attributes(span)[semconv.ERROR_TYPE] == "asyncio.exceptions.CancelledError"


async def test_dropped_pending_coroutine_task_ends_abandoned(traced: Instrumentation, telemetry: Telemetry) -> None:
    task = asyncio.ensure_future(NamedAgent().arun(block=True))
    for _ in range(3):  # loop turns: the task passes its sleep(0) and waits on the event forever
        await asyncio.sleep(0)
    del task  # the collector closes its coroutine outside the task's context (no "Failed to detach context")
    gc.collect()
    assert outcome(telemetry) == ("invoke_agent planner", "abandoned", StatusCode.UNSET)


async def test_async_generator_completes(traced: Instrumentation, telemetry: Telemetry) -> None:
    assert [u async for u in NamedAgent().astream()] == ["u0", "u1", "u2"]
    assert outcome(telemetry) == ("invoke_agent planner", "completed", StatusCode.UNSET)


async def test_async_generator_failing_mid_way_ends_error(traced: Instrumentation, telemetry: Telemetry) -> None:
    seen: list[str] = []
    with pytest.raises(AgentFailure):
        async for update in NamedAgent().astream(fail_at=1):
            seen.append(update)
    assert seen == ["u0"]
    assert outcome(telemetry) == ("invoke_agent planner", "failed", StatusCode.ERROR)


async def test_async_generator_break_and_aclose_ends_closed_early(
    traced: Instrumentation, telemetry: Telemetry
) -> None:
    stream = NamedAgent().astream()
    async for _ in stream:
        break
    await stream.aclose()
    assert outcome(telemetry) == ("invoke_agent planner", "closed_early", StatusCode.UNSET)


def test_sync_generator_close_ends_closed_early(traced: Instrumentation, telemetry: Telemetry) -> None:
    stream = NamedAgent().stream()
    assert next(stream) == "u0"
    stream.close()
    assert outcome(telemetry) == ("invoke_agent planner", "closed_early", StatusCode.UNSET)


def test_sync_generator_dropped_ends_abandoned(traced: Instrumentation, telemetry: Telemetry) -> None:
    stream = NamedAgent().stream()
    next(stream)
    del stream
    gc.collect()
    assert outcome(telemetry) == ("invoke_agent planner", "abandoned", StatusCode.UNSET)


async def test_async_context_manager_ends_at_exit(traced: Instrumentation, telemetry: Telemetry) -> None:
    async with NamedAgent().session() as value:
        assert value == ["ready"]
        assert telemetry.agent_spans() == []
    assert outcome(telemetry) == ("invoke_agent planner", "completed", StatusCode.UNSET)


async def test_object_with_only_aiter_is_traced_through_its_iterator(
    traced: Instrumentation, telemetry: Telemetry
) -> None:
    assert [e async for e in NamedAgent().events()] == ["e0", "e1"]
    assert outcome(telemetry) == ("invoke_agent planner", "completed", StatusCode.UNSET)


def test_name_falls_back_to_class_name(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on(targets=["tests.sample_app.agents:UnnamedAgent.run"])
    UnnamedAgent().run()
    assert telemetry.agent_spans()[0].name == "invoke_agent UnnamedAgent"


def test_module_function_target_uses_function_name(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on(targets=["tests.sample_app.agents:plan_function"])
    assert agents.plan_function() == "plan"
    assert telemetry.agent_spans()[0].name == "invoke_agent plan_function"


def test_bad_targets_log_one_error_each_and_good_ones_still_apply(
    instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    instrumentation.on(
        targets=[
            "no-colon",
            "tests.sample_app.agents:Missing.run",
            "not_a_module_x:f",
            "tests.sample_app.agents:UnnamedAgent.run",
        ]
    )
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3
    assert all(any(t in m for m in errors) for t in ("no-colon", "Missing.run", "not_a_module_x:f"))
    UnnamedAgent().run()
    assert len(telemetry.agent_spans()) == 1


def test_targets_env_var_is_read(
    instrumentation: Instrumentation, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_AGENTS_TARGETS", "tests.sample_app.agents:UnnamedAgent.run")
    instrumentation.on()
    UnnamedAgent().run()
    assert len(telemetry.agent_spans()) == 1


def test_a_run_with_no_known_provider_records_provider_other(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # gen_ai.provider.name is required on invoke_agent spans and the agent metrics; a user target
    # has no model provider we could know.
    instrumentation.on(targets=["tests.sample_app.agents:NamedAgent.run"])
    NamedAgent().run()
    (span,) = telemetry.agent_spans()
    (point,) = telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION)
    assert (attributes(span)[semconv.GEN_AI_PROVIDER_NAME], point.attributes[semconv.GEN_AI_PROVIDER_NAME]) == (
        "_OTHER",
        "_OTHER",
    )

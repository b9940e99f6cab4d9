"""Workflow and tool runs share the agent runs' lifecycle; they differ in span name, attributes and metric."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otel_agent_instrumentation import semconv
from otel_agent_instrumentation.config import Config, ContentCapture
from otel_agent_instrumentation.invocation import Invocation, Operation, Outcome, RequestFacts, ResultFacts
from otel_agent_instrumentation.invocation import Telemetry as Bound
from otel_agent_instrumentation.stream import trace_result
from tests.conftest import Telemetry, attributes


def bound(telemetry: Telemetry, capture: ContentCapture = ContentCapture.NO_CONTENT) -> Bound:
    return Bound(Config(capture_content=capture), telemetry.tracer_provider, telemetry.meter_provider)


def tool_call(**overrides: Any) -> RequestFacts:
    facts = RequestFacts(
        operation=Operation.TOOL,
        tool_name="lookup",
        tool_type=semconv.TOOL_TYPE_FUNCTION,
        tool_description="Looks a word up",
        tool_call_id="call-1",
    )
    for name, value in overrides.items():
        setattr(facts, name, value)
    return facts


def only_span(telemetry: Telemetry) -> Any:
    (span,) = telemetry.finished()
    return span


def test_a_tool_call_is_an_execute_tool_span_with_the_tools_identity(telemetry: Telemetry) -> None:
    Invocation(bound(telemetry), tool_call(), object()).finish(Outcome.COMPLETED)
    span = only_span(telemetry)
    assert (span.name, span.kind, span.status.status_code) == (
        "execute_tool lookup",
        SpanKind.INTERNAL,
        StatusCode.UNSET,
    )
    assert {key: value for key, value in attributes(span).items() if key.startswith("gen_ai.")} == {
        semconv.GEN_AI_OPERATION_NAME: "execute_tool",
        semconv.GEN_AI_TOOL_NAME: "lookup",
        semconv.GEN_AI_TOOL_TYPE: "function",
        semconv.GEN_AI_TOOL_DESCRIPTION: "Looks a word up",
        semconv.GEN_AI_TOOL_CALL_ID: "call-1",
    }


def test_a_tool_call_records_the_execute_tool_duration_metric_only(telemetry: Telemetry) -> None:
    Invocation(bound(telemetry), tool_call(), object()).finish(Outcome.COMPLETED)
    (point,) = telemetry.metric_points(semconv.METRIC_EXECUTE_TOOL_DURATION)
    assert dict(point.attributes) == {
        semconv.GEN_AI_OPERATION_NAME: "execute_tool",
        semconv.GEN_AI_TOOL_NAME: "lookup",
        semconv.GEN_AI_TOOL_TYPE: "function",
    }
    assert telemetry.metric_points(semconv.METRIC_INVOKE_AGENT_DURATION) == []


async def test_a_tool_that_raises_ends_failed_with_its_error_type_on_span_and_metric(telemetry: Telemetry) -> None:
    class LookupFailed(RuntimeError):
        pass

    async def tool() -> str:
        raise LookupFailed("no such word")

    invocation = Invocation(bound(telemetry), tool_call(), object())
    with pytest.raises(LookupFailed):
        await trace_result(tool(), invocation)
    span = only_span(telemetry)
    (point,) = telemetry.metric_points(semconv.METRIC_EXECUTE_TOOL_DURATION)
    error_type = f"{LookupFailed.__module__}.{LookupFailed.__qualname__}"
    assert (span.status.status_code, attributes(span)[semconv.ERROR_TYPE], point.attributes[semconv.ERROR_TYPE]) == (
        StatusCode.ERROR,
        error_type,
        error_type,
    )


def test_a_tool_failure_returned_as_a_value_ends_failed(telemetry: Telemetry) -> None:
    invocation = Invocation(bound(telemetry), tool_call(), object())
    invocation.finish(Outcome.COMPLETED, None, ResultFacts(error_type="ToolError", error_message="bad input"))
    span = only_span(telemetry)
    assert (span.status.status_code, attributes(span)[semconv.OUTCOME]) == (StatusCode.ERROR, "failed")


def test_tool_arguments_and_result_are_recorded_only_when_content_capture_is_on(telemetry: Telemetry) -> None:
    facts = tool_call(tool_arguments='{"word":"otter"}')
    Invocation(bound(telemetry), facts, object()).finish(Outcome.COMPLETED, None, ResultFacts(tool_result="a mammal"))
    Invocation(bound(telemetry, ContentCapture.SPAN_ONLY), facts, object()).finish(
        Outcome.COMPLETED, None, ResultFacts(tool_result="a mammal")
    )
    keys = (semconv.GEN_AI_TOOL_CALL_ARGUMENTS, semconv.GEN_AI_TOOL_CALL_RESULT)
    assert [[attributes(span).get(key) for key in keys] for span in telemetry.finished()] == [
        [None, None],
        ['{"word":"otter"}', "a mammal"],
    ]


def test_a_tool_with_no_name_is_execute_tool(telemetry: Telemetry) -> None:
    Invocation(bound(telemetry), tool_call(tool_name=None), object()).finish(Outcome.COMPLETED)
    assert only_span(telemetry).name == "execute_tool"


def test_a_workflow_is_an_invoke_workflow_span_with_its_duration_metric(telemetry: Telemetry) -> None:
    facts = RequestFacts(operation=Operation.WORKFLOW, workflow_name="review")
    Invocation(bound(telemetry), facts, object()).finish(Outcome.CANCELLED, asyncio.CancelledError())
    span = only_span(telemetry)
    (point,) = telemetry.metric_points(semconv.METRIC_WORKFLOW_DURATION)
    assert (span.name, span.kind, span.status.status_code, attributes(span)[semconv.OUTCOME]) == (
        "invoke_workflow review",
        SpanKind.INTERNAL,
        StatusCode.ERROR,
        "cancelled",
    )
    assert dict(point.attributes) == {
        semconv.GEN_AI_OPERATION_NAME: "invoke_workflow",
        semconv.GEN_AI_WORKFLOW_NAME: "review",
        semconv.ERROR_TYPE: "asyncio.exceptions.CancelledError",
    }
    assert semconv.GEN_AI_PROVIDER_NAME not in attributes(span)

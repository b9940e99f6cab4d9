"""Content capture modes: where messages go (span attributes, one log event per run, or nowhere)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from otel_agent_instrumentation import semconv
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks.agent_framework_driver import Script, make_agent

CONTENT_KEYS = (semconv.GEN_AI_INPUT_MESSAGES, semconv.GEN_AI_OUTPUT_MESSAGES)
INPUT = [{"role": "user", "parts": [{"type": "text", "content": "secret question"}]}]


@pytest.fixture
def log_records() -> Iterator[InMemoryLogRecordExporter]:
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]  # the SDK's class is untyped
    yield exporter
    exporter.shutdown()


def logger_provider(exporter: InMemoryLogRecordExporter) -> LoggerProvider:
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider


async def run_once(instrumentation: Instrumentation, exporter: InMemoryLogRecordExporter, mode: str) -> None:
    instrumentation.on(capture_content=mode, logger_provider=logger_provider(exporter))
    await make_agent(Script(), []).run("secret question")


def content_events(exporter: InMemoryLogRecordExporter) -> list[ReadableLogRecord]:
    return [r for r in exporter.get_finished_logs() if r.log_record.event_name == semconv.EVENT_OPERATION_DETAILS]


@pytest.mark.parametrize(
    ("mode", "on_span", "events"),
    [
        ("NO_CONTENT", False, 0),
        ("SPAN_ONLY", True, 0),
        ("EVENT_ONLY", False, 1),
        ("SPAN_AND_EVENT", True, 1),
        ("false", False, 0),
        # As the contrib GenAI instrumentations read `true` by default: content on events, not spans.
        ("true", False, 1),
    ],
)
async def test_capture_mode_puts_content_where_it_says(
    instrumentation: Instrumentation,
    telemetry: Telemetry,
    log_records: InMemoryLogRecordExporter,
    mode: str,
    on_span: bool,
    events: int,
) -> None:
    await run_once(instrumentation, log_records, mode)
    attributes = telemetry.agent_spans()[0].attributes or {}
    assert [key in attributes for key in CONTENT_KEYS] == [on_span, on_span]
    assert len(content_events(log_records)) == events


async def test_event_only_event_carries_convention_json_messages(
    instrumentation: Instrumentation, telemetry: Telemetry, log_records: InMemoryLogRecordExporter
) -> None:
    await run_once(instrumentation, log_records, "EVENT_ONLY")
    attributes = content_events(log_records)[0].log_record.attributes or {}
    assert json.loads(str(attributes[semconv.GEN_AI_INPUT_MESSAGES])) == INPUT
    assert json.loads(str(attributes[semconv.GEN_AI_OUTPUT_MESSAGES]))[0]["parts"] == [
        {"type": "text", "content": "chunk0 chunk1 chunk2 "}
    ]


async def test_event_only_event_names_the_operation_and_agent(
    instrumentation: Instrumentation, telemetry: Telemetry, log_records: InMemoryLogRecordExporter
) -> None:
    await run_once(instrumentation, log_records, "EVENT_ONLY")
    attributes = content_events(log_records)[0].log_record.attributes or {}
    assert attributes[semconv.GEN_AI_OPERATION_NAME] == "invoke_agent"
    assert attributes[semconv.GEN_AI_AGENT_NAME] == telemetry.agent_attributes()[semconv.GEN_AI_AGENT_NAME]


async def test_event_only_event_is_correlated_with_the_agent_span(
    instrumentation: Instrumentation, telemetry: Telemetry, log_records: InMemoryLogRecordExporter
) -> None:
    await run_once(instrumentation, log_records, "EVENT_ONLY")
    record = content_events(log_records)[0].log_record
    span_context = telemetry.agent_spans()[0].get_span_context()
    assert span_context is not None
    assert (record.trace_id, record.span_id) == (span_context.trace_id, span_context.span_id)


async def test_event_only_emits_one_event_per_streamed_run(
    instrumentation: Instrumentation, telemetry: Telemetry, log_records: InMemoryLogRecordExporter
) -> None:
    instrumentation.on(capture_content="EVENT_ONLY", logger_provider=logger_provider(log_records))
    async for _ in make_agent(Script(chunks=5), []).run("secret question", stream=True):
        pass
    assert len(content_events(log_records)) == 1


@pytest.mark.parametrize(
    ("environment", "on_span", "events"),
    [
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, False, 1),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only"}, True, 0),
        # With the latest experimental GenAI conventions, opentelemetry-util-genai reads only the mode names.
        (
            {
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
                "OTEL_SEMCONV_STABILITY_OPT_IN": "http,gen_ai_latest_experimental",
            },
            False,
            0,
        ),
        (
            {
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_AND_EVENT",
                "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
            },
            True,
            1,
        ),
    ],
)
async def test_the_environment_variable_means_what_it_means_to_the_contrib_genai_instrumentations(
    instrumentation: Instrumentation,
    telemetry: Telemetry,
    log_records: InMemoryLogRecordExporter,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    on_span: bool,
    events: int,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    instrumentation.on(logger_provider=logger_provider(log_records))
    await make_agent(Script(), []).run("secret question")
    attributes = telemetry.agent_spans()[0].attributes or {}
    assert ([key in attributes for key in CONTENT_KEYS], len(content_events(log_records))) == (
        [on_span, on_span],
        events,
    )


def test_true_with_the_experimental_conventions_is_refused_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from otel_agent_instrumentation.config import ContentCapture, resolve

    config = resolve(
        {},
        {
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
            "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        },
    )
    assert config.capture_content is ContentCapture.NO_CONTENT
    assert any("gen_ai_latest_experimental" in record.getMessage() for record in caplog.records)

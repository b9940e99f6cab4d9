"""Bad input: each bad environment value or target gives one clear log line naming it, a sane default,
no exception, and every other adapter still instruments. (Bad `targets=` arguments and the env var's
good path are in test_generic_targets.py.)"""

from __future__ import annotations

import logging
import os

import pytest
from agent_framework import Agent

from otel_agent_instrumentation.config import ContentCapture
from tests import fault_app
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks.agent_framework_driver import Script, make_agent

OURS = "otel_agent_instrumentation"


def our_complaints(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == OURS and r.levelno >= logging.WARNING]


def agent_framework_patched(instrumentation: Instrumentation) -> bool:
    return any(patch.owner is Agent for patch in instrumentation.instrumentor._patches)


BAD_ENV = [
    pytest.param("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "banana", "not be captured", id="capture"),
    pytest.param("OTEL_PYTHON_AGENTS_KEEP_FRAMEWORK_SPANS", "maybe", "using False", id="keep-framework-spans"),
    pytest.param("OTEL_PYTHON_AGENTS_DISABLED_ADAPTERS", "unknown", "ignored", id="disabled-adapters"),
]


@pytest.mark.parametrize(("variable", "value", "default"), BAD_ENV)
def test_bad_env_value_logs_one_line_naming_value_and_default(
    variable: str,
    value: str,
    default: str,
    instrumentation: Instrumentation,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(variable, value)
    instrumentation.on()
    (complaint,) = our_complaints(caplog)
    assert (repr(value) in complaint, default in complaint) == (True, True)


@pytest.mark.parametrize(("variable", "value", "default"), BAD_ENV)
async def test_bad_env_value_still_instruments_agent_framework(
    variable: str,
    value: str,
    default: str,
    instrumentation: Instrumentation,
    telemetry: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(variable, value)
    instrumentation.on()
    await make_agent(Script(), []).run("hello")
    assert len(telemetry.agent_spans()) == 1


def test_bad_capture_value_captures_no_content(
    instrumentation: Instrumentation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "banana")
    instrumentation.on()
    telemetry = instrumentation.instrumentor._telemetry
    assert telemetry is not None and telemetry.config.capture_content is ContentCapture.NO_CONTENT


def test_bad_keep_framework_spans_value_stands_the_framework_span_down(
    instrumentation: Instrumentation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_AGENTS_KEEP_FRAMEWORK_SPANS", "maybe")
    instrumentation.on()
    patched = {patch.name for patch in instrumentation.instrumentor._patches}
    assert "_trace_agent_invocation" in patched


def test_unknown_disabled_adapter_next_to_a_known_one_still_disables_the_known_one(
    instrumentation: Instrumentation, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_AGENTS_DISABLED_ADAPTERS", "agent_framework, unknown")
    instrumentation.on()
    assert (agent_framework_patched(instrumentation), len(our_complaints(caplog))) == (False, 1)


MALFORMED_TARGETS = [":", "nomodule:X.y", "os:Nope.run", "os:sep"]
GOOD_TARGET = "tests.fault_app:Streamer.run"


@pytest.fixture
def malformed_targets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Empty pieces (",,", " ; ") are separators, not targets: they are skipped without a word.
    monkeypatch.setenv("OTEL_PYTHON_AGENTS_TARGETS", ",, ; ".join([*MALFORMED_TARGETS, GOOD_TARGET]) + ", ,")


@pytest.mark.usefixtures("malformed_targets_env")
def test_malformed_env_targets_log_one_line_each_naming_the_target(
    instrumentation: Instrumentation, caplog: pytest.LogCaptureFixture
) -> None:
    instrumentation.on()
    complaints = our_complaints(caplog)
    assert [sum(repr(target) in line for line in complaints) for target in MALFORMED_TARGETS] == [1] * len(
        MALFORMED_TARGETS
    ) and len(complaints) == len(MALFORMED_TARGETS)


@pytest.mark.usefixtures("malformed_targets_env")
def test_malformed_env_targets_leave_the_good_target_traced(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    assert fault_app.Streamer().run() == "done"
    assert [span.name for span in telemetry.agent_spans()] == ["invoke_agent streamer"]


@pytest.mark.usefixtures("malformed_targets_env")
def test_malformed_env_targets_leave_agent_framework_instrumented(instrumentation: Instrumentation) -> None:
    instrumentation.on()
    assert agent_framework_patched(instrumentation)


@pytest.mark.usefixtures("malformed_targets_env")
def test_non_callable_target_leaves_the_attribute_untouched(instrumentation: Instrumentation) -> None:
    separator = os.sep
    instrumentation.on()
    assert vars(os)["sep"] is separator

"""The instrumentor: discovery, version gating, patch identity, zero-code loading, and never breaking the app."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import pytest
from agent_framework import Agent, AgentMiddlewareLayer, RawAgent
from opentelemetry.instrumentation.dependencies import get_dist_dependency_conflicts
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

import otel_agent_instrumentation
from otel_agent_instrumentation import AgentInstrumentor, semconv
from otel_agent_instrumentation.adapters._base import RunTarget, Target
from otel_agent_instrumentation.config import Config
from otel_agent_instrumentation.instrumentor import discover_adapters
from otel_agent_instrumentation.invocation import RequestFacts
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks.agent_framework_driver import Script, make_agent
from tests.sample_app.agents import UnnamedAgent

ROOT = Path(__file__).resolve().parent.parent


def test_uninstrument_restores_the_very_same_methods(instrumentation: Instrumentation) -> None:
    originals = {cls: vars(cls)["run"] for cls in (Agent, AgentMiddlewareLayer, RawAgent)}
    instrumentation.on()
    assert all(vars(cls)["run"] is not original for cls, original in originals.items())
    instrumentation.off()
    assert all(vars(cls)["run"] is original for cls, original in originals.items())


async def test_instrument_twice_is_harmless(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentor = instrumentation.on()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    await make_agent(Script(), []).run("hello")
    assert len(telemetry.agent_spans()) == 1


async def test_instrument_after_uninstrument_works_again(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on()
    instrumentation.off()
    await make_agent(Script(), []).run("hello")
    assert telemetry.agent_spans() == []
    instrumentation.on()
    await make_agent(Script(), []).run("hello")
    assert len(telemetry.agent_spans()) == 1


def test_entry_point_loads_the_instrumentor() -> None:
    (entry_point,) = [ep for ep in metadata.entry_points(group="opentelemetry_instrumentor") if ep.name == "agents"]
    assert entry_point.load() is AgentInstrumentor


def test_opentelemetry_instrument_sees_no_dependency_conflict() -> None:
    # No instruments extras: a process with any one framework (or only user targets) gets instrumented.
    distribution = metadata.distribution("otel-agent-instrumentation")
    assert get_dist_dependency_conflicts(distribution) is None


def test_builtin_adapters_are_discovered_through_the_entry_point_group() -> None:
    names = {adapter.name for adapter in discover_adapters()}
    assert "agent_framework" in names


class _Adapter:
    def __init__(self, distribution: str, supported: str) -> None:
        self.name = f"fake-{distribution}"
        self.distribution = distribution
        self.supported = supported

    def targets(self, config: Config) -> Sequence[Target]:
        def read(instance: object, args: tuple[object, ...], kwargs: dict[str, object], c: Config) -> RequestFacts:
            return RequestFacts(agent_name="x")

        return [RunTarget("tests.sample_app.agents", "UnnamedAgent.run", read)]


def test_adapter_for_missing_framework_is_skipped_with_a_debug_line(
    instrumentation: Instrumentation, caplog: pytest.LogCaptureFixture
) -> None:
    instrumentation.on(adapters=[_Adapter("no-such-framework-xyz", ">=1")])
    assert instrumentation.instrumentor._patches == []
    assert any("no-such-framework-xyz is not installed" in r.getMessage() for r in caplog.records)


def test_adapter_outside_supported_range_is_skipped_with_a_warning(
    instrumentation: Instrumentation, caplog: pytest.LogCaptureFixture
) -> None:
    # Below the floor (a release above the range is instrumented: see the tests that follow).
    instrumentation.on(adapters=[_Adapter("wrapt", ">=99")])
    assert instrumentation.instrumentor._patches == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("outside its supported range" in m for m in warnings)


FAKE_FRAMEWORK = "fake-agent-framework"
CHECKED_RANGE = ">=0.24,<0.25"


def _install_fake_framework(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    """Make `importlib.metadata.version`, as the instrumentor calls it, report FAKE_FRAMEWORK at `version`."""
    real_version = metadata.version

    def fake_version(distribution: str) -> str:
        return version if distribution == FAKE_FRAMEWORK else real_version(distribution)

    monkeypatch.setattr(metadata, "version", fake_version)


class _AdapterWithMissingTarget(_Adapter):
    def targets(self, config: Config) -> Sequence[Target]:
        present = RunTarget("tests.sample_app.agents", "UnnamedAgent.run", _read_x)
        return [present, RunTarget("tests.sample_app.agents", "RemovedInThisRelease.run", _read_x)]


def _read_x(instance: object, args: tuple[object, ...], kwargs: dict[str, object], config: Config) -> RequestFacts:
    return RequestFacts(agent_name="x")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_release_above_the_checked_range_with_every_target_found_is_instrumented(
    instrumentation: Instrumentation, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_framework(monkeypatch, "0.25.0")
    instrumentation.on(adapters=[_Adapter(FAKE_FRAMEWORK, CHECKED_RANGE)])
    UnnamedAgent().run()
    assert [span.name for span in telemetry.agent_spans()] == ["invoke_agent x"]


def test_release_above_the_checked_range_is_named_in_one_warning(
    instrumentation: Instrumentation, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install_fake_framework(monkeypatch, "0.25.0")
    instrumentation.on(adapters=[_Adapter(FAKE_FRAMEWORK, CHECKED_RANGE)])
    (warning,) = _warnings(caplog)
    assert f"{FAKE_FRAMEWORK} 0.25.0 is newer than the versions it was checked against ({CHECKED_RANGE})" in warning


def test_pre_release_of_the_next_minor_counts_as_above_the_checked_range(
    instrumentation: Instrumentation, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_framework(monkeypatch, "0.25.0rc1")
    instrumentation.on(adapters=[_Adapter(FAKE_FRAMEWORK, CHECKED_RANGE)])
    UnnamedAgent().run()
    assert len(telemetry.agent_spans()) == 1


def test_release_above_the_checked_range_with_a_target_missing_skips_the_whole_adapter(
    instrumentation: Instrumentation, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_framework(monkeypatch, "0.25.0")
    instrumentation.on(adapters=[_AdapterWithMissingTarget(FAKE_FRAMEWORK, CHECKED_RANGE)])
    UnnamedAgent().run()
    assert instrumentation.instrumentor._patches == []
    assert telemetry.agent_spans() == []


def test_release_above_the_checked_range_with_a_target_missing_names_it_in_one_warning(
    instrumentation: Instrumentation, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install_fake_framework(monkeypatch, "0.25.0")
    instrumentation.on(adapters=[_AdapterWithMissingTarget(FAKE_FRAMEWORK, CHECKED_RANGE)])
    (warning,) = _warnings(caplog)
    assert f"{FAKE_FRAMEWORK} 0.25.0 is newer" in warning
    assert "tests.sample_app.agents:RemovedInThisRelease.run" in warning


def test_release_within_the_checked_range_with_a_target_missing_keeps_the_other_targets(
    instrumentation: Instrumentation, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_framework(monkeypatch, "0.24.3")
    instrumentation.on(adapters=[_AdapterWithMissingTarget(FAKE_FRAMEWORK, CHECKED_RANGE)])
    UnnamedAgent().run()
    assert len(telemetry.agent_spans()) == 1


def test_release_below_the_floor_is_skipped(
    instrumentation: Instrumentation, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_framework(monkeypatch, "0.23.9")
    instrumentation.on(adapters=[_Adapter(FAKE_FRAMEWORK, CHECKED_RANGE)])
    UnnamedAgent().run()
    assert telemetry.agent_spans() == []


def test_release_below_the_floor_is_named_in_one_warning(
    instrumentation: Instrumentation, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install_fake_framework(monkeypatch, "0.23.9")
    instrumentation.on(adapters=[_Adapter(FAKE_FRAMEWORK, CHECKED_RANGE)])
    (warning,) = _warnings(caplog)
    assert f"{FAKE_FRAMEWORK} 0.23.9 is outside its supported range {CHECKED_RANGE}" in warning


def test_release_excluded_from_the_checked_range_is_skipped(
    instrumentation: Instrumentation, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_fake_framework(monkeypatch, "0.24.2")
    instrumentation.on(adapters=[_Adapter(FAKE_FRAMEWORK, ">=0.24,!=0.24.2,<0.25")])
    assert instrumentation.instrumentor._patches == []


class _RaisingProcessor(SpanProcessor):
    def on_start(self, span: Span, parent_context: object = None) -> None:
        raise RuntimeError("processor broke on start")

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("processor broke on end")


async def test_broken_span_processor_does_not_change_the_app(
    instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    telemetry.tracer_provider.add_span_processor(_RaisingProcessor())
    instrumentation.on()
    hooks: list[str] = []
    response = await make_agent(Script(), hooks).run("hello")
    assert response.text == "chunk0 chunk1 chunk2 "
    assert hooks == ["before_run", "after_run:'chunk0 chunk1 chunk2 '"]


def test_broken_reader_is_logged_once_and_the_app_carries_on(
    instrumentation: Instrumentation, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenAdapter(_Adapter):
        def targets(self, config: Config) -> Sequence[Target]:
            def read(instance: object, args: tuple[object, ...], kwargs: dict[str, object], c: Config) -> RequestFacts:
                raise ValueError("reader broke")

            return [RunTarget("tests.sample_app.agents", "UnnamedAgent.run", read)]

    instrumentation.on(adapters=[BrokenAdapter("wrapt", ">=1")])
    assert [UnnamedAgent().run() for _ in range(3)] == ["ok"] * 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "failed" in r.getMessage()]
    assert len(warnings) <= 1


def test_third_party_adapter_package_is_discovered_after_install(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(ROOT / "examples" / "third_party_adapter"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    program = textwrap.dedent(
        """
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from otel_agent_instrumentation import AgentInstrumentor
        from toy_agents_otel import ToyAgent
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        AgentInstrumentor().instrument(tracer_provider=provider)
        print(list(ToyAgent("toy", "toy-model").run("a b")))
        (span,) = exporter.get_finished_spans()
        print(span.name, span.attributes["gen_ai.request.model"], span.attributes["OUTCOME_KEY"])
        """.replace("OUTCOME_KEY", semconv.OUTCOME)
    )
    # The package under test, wherever it comes from (an install, or PYTHONPATH=src), beside the example.
    package_root = Path(otel_agent_instrumentation.__file__).resolve().parent.parent
    env = {"PYTHONPATH": os.pathsep.join([str(target), str(package_root)]), "PATH": "/usr/bin:/bin"}
    completed = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert completed.stdout.splitlines() == ["['A', 'B']", "invoke_agent toy toy-model completed"]


def _install_opentelemetry(monkeypatch: pytest.MonkeyPatch, api: str, sdk: str | None) -> None:
    """Make `importlib.metadata.version` report these API and SDK versions (None: no SDK installed)."""
    real_version = metadata.version

    def fake_version(distribution: str) -> str:
        if distribution == "opentelemetry-api":
            return api
        if distribution == "opentelemetry-sdk":
            if sdk is None:
                raise metadata.PackageNotFoundError(distribution)
            return sdk
        return real_version(distribution)

    monkeypatch.setattr(metadata, "version", fake_version)


def _sdk_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m for m in _warnings(caplog) if "opentelemetry-sdk" in m]


def test_sdk_and_api_at_different_versions_are_named_in_one_warning_at_instrument(
    instrumentation: Instrumentation, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install_opentelemetry(monkeypatch, api="1.40.0", sdk="1.45.2")
    instrumentation.on()
    (warning,) = _sdk_warnings(caplog)
    assert "opentelemetry-sdk 1.45.2 requires opentelemetry-api 1.45.2, but opentelemetry-api 1.40.0" in warning


def test_sdk_and_api_at_the_same_version_log_no_warning(
    instrumentation: Instrumentation, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install_opentelemetry(monkeypatch, api="1.45.2", sdk="1.45.2")
    instrumentation.on()
    assert _sdk_warnings(caplog) == []


def test_api_without_an_sdk_logs_no_warning(
    instrumentation: Instrumentation, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _install_opentelemetry(monkeypatch, api="1.40.0", sdk=None)
    instrumentation.on()
    assert _sdk_warnings(caplog) == []

"""`otel-agent-instrumentation doctor`, run as a user runs it: a subprocess in this environment.

Each run imports every installed framework (about 5 s), so the specs share a few runs, each in one
environment (module-scoped fixtures)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

BUILT_IN = ["agent_framework", "agno", "autogen_agentchat", "openai_agents", "pydantic_ai", "smolagents"]


def doctor(
    *arguments: str, env: dict[str, str] | None = None, path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environ.update(env or {})
    if path is not None:  # a directory of fake distributions, found before site-packages
        environ["PYTHONPATH"] = os.pathsep.join([str(path), environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "otel_agent_instrumentation", "doctor", *arguments],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def report(*arguments: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    completed = doctor("--json", *arguments, **kwargs)
    return completed.returncode, json.loads(completed.stdout)


def adapter(found: dict[str, Any], name: str) -> dict[str, Any]:
    (entry,) = [a for a in found["adapters"] if a["name"] == name]
    return dict(entry)


def fake_distribution(root: Path, name: str, version: str, entry_points: str = "", module: str = "") -> None:
    """A distribution importlib.metadata finds on the path: NAME-VERSION.dist-info, and a module beside it."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if entry_points:
        (info / "entry_points.txt").write_text(entry_points)
    if module:
        (root / f"{name.replace('-', '_')}.py").write_text(module)


THIRD_PARTY = """
from otel_agent_instrumentation.adapters import FrameworkAdapter, RunTarget, RequestFacts

def read(instance, args, kwargs, config):
    return RequestFacts(agent_name="x")

def targets(config):
    return [RunTarget("json", "JSONEncoder.encode", read), RunTarget("json", "NoSuchEncoder.encode", read)]

ADAPTER = FrameworkAdapter("acme", "acme-agents", "{supported}", targets)
"""


def third_party(root: Path, supported: str) -> None:
    fake_distribution(
        root,
        "acme-agents",
        "1.5.0",
        entry_points="[otel_agent_instrumentation.adapters]\nacme = acme_agents:ADAPTER\n",
        module=THIRD_PARTY.replace("{supported}", supported),
    )


Run = tuple[int, dict[str, Any]]


@pytest.fixture(scope="module")
def plain() -> Run:
    """This environment as the test extra installed it, no variable set."""
    return report()


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Variables set (one bad), a user target that cannot be wrapped, a third-party adapter within range."""
    root = tmp_path_factory.mktemp("configured")
    third_party(root, ">=1,<2")
    return report(
        path=root,
        env={
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "requests,agents",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_LOGS_EXPORTER": "console",
            "OTEL_PYTHON_AGENTS_KEEP_FRAMEWORK_SPANS": "maybe",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
            "OTEL_PYTHON_AGENTS_TARGETS": "json:dumps,nosuch_module:Agent.run",
            "ENABLE_INSTRUMENTATION": "false",
        },
    )


def setting(found: dict[str, Any], variable: str) -> dict[str, Any]:
    (entry,) = [s for s in found["settings"] if s["variable"] == variable]
    return dict(entry)


def test_in_the_test_environment_every_built_in_adapter_activates_with_every_target_found(plain: Run) -> None:
    status, found = plain
    assert status == 0, found["problems"]
    summary = {
        a["name"]: (a["status"], a["activates"], all(t["found"] for t in a["targets"])) for a in found["adapters"]
    }
    assert {name: summary[name] for name in BUILT_IN} == {name: ("checked", True, True) for name in BUILT_IN}


def test_it_reports_our_version_and_the_opentelemetry_versions(plain: Run) -> None:
    from importlib import metadata

    _, found = plain
    assert (found["version"], found["opentelemetry_api"], found["opentelemetry_sdk"], found["api_sdk_mismatch"]) == (
        metadata.version("otel-agent-instrumentation"),
        metadata.version("opentelemetry-api"),
        metadata.version("opentelemetry-sdk"),
        False,
    )


def test_opentelemetry_instrument_would_load_us_through_our_entry_point(plain: Run) -> None:
    _, found = plain
    assert (found["loaded_by_opentelemetry_instrument"], found["instrumentor_entry_point"]) == (
        True,
        "otel_agent_instrumentation:AgentInstrumentor",
    )


def test_every_setting_unset_is_its_default(plain: Run) -> None:
    _, found = plain
    assert {(s["source"], s["raw"], s["problem"]) for s in found["settings"]} == {("default", None, None)}


def test_naming_us_in_otel_python_disabled_instrumentations_is_reported(configured: Run) -> None:
    _, found = configured
    assert (found["loaded_by_opentelemetry_instrument"], found["disabled_by_environment"]) == (False, True)


def test_the_exporter_the_sdk_would_load_for_otlp_follows_the_protocol(configured: Run) -> None:
    _, found = configured
    exporters = {e["signal"]: (e["exporter"], e["installed"]) for e in found["exporters"]}
    # The test extra installs the OTLP/HTTP exporter, and the SDK has the console ones.
    assert exporters == {
        "traces": ("otlp -> otlp_proto_http", True),
        "metrics": ("otlp -> otlp_proto_http", True),
        "logs": ("console", True),
    }


def test_the_default_otlp_exporter_is_grpc_which_the_test_extra_does_not_install(plain: Run) -> None:
    _, found = plain
    assert {(e["exporter"], e["protocol"], e["installed"]) for e in found["exporters"]} == {
        ("otlp -> otlp_proto_grpc", "grpc", False)
    }


def test_a_bad_variable_is_named_with_the_default_used_and_is_not_a_problem(configured: Run) -> None:
    _, found = configured
    keep = setting(found, "OTEL_PYTHON_AGENTS_KEEP_FRAMEWORK_SPANS")
    assert (keep["raw"], keep["resolved"], keep["source"]) == ("maybe", "false", "environment")
    assert "not a boolean" in keep["problem"]
    assert not [problem for problem in found["problems"] if "KEEP_FRAMEWORK_SPANS" in problem]


def test_a_set_variable_is_reported_as_resolved_from_the_environment(configured: Run) -> None:
    _, found = configured
    capture = setting(found, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    assert (capture["resolved"], capture["source"], capture["problem"]) == ("SPAN_ONLY", "environment", None)


def test_a_third_party_adapter_is_listed_with_each_target_found_or_missing(configured: Run) -> None:
    status, found = configured
    acme = adapter(found, "acme")
    assert (acme["installed"], acme["status"], acme["activates"]) == ("1.5.0", "checked", True)
    assert [(t["target"], t["found"]) for t in acme["targets"]] == [
        ("json:JSONEncoder.encode", True),
        ("json:NoSuchEncoder.encode", False),
    ]
    assert status == 1
    assert any("json:NoSuchEncoder.encode missing" in problem for problem in found["problems"])


def test_a_user_target_that_cannot_be_wrapped_is_a_missing_target(configured: Run) -> None:
    _, found = configured
    targets = adapter(found, "targets")["targets"]
    assert [t["found"] for t in targets] == [True, False]
    assert "nosuch_module" in targets[1]["problem"]
    assert any("nosuch_module" in problem for problem in found["problems"])


def test_frameworks_own_telemetry_is_described_where_it_has_one(configured: Run) -> None:
    _, found = configured
    assert "Agent Framework instrumentation off" in adapter(found, "agent_framework")["framework_telemetry"]
    assert adapter(found, "smolagents")["framework_telemetry"] is None


# The built-in adapters, disabled where a spec is about a third-party one alone: a disabled adapter's
# framework is not imported (seconds per run).
BUILT_IN_OFF = {
    "OTEL_PYTHON_AGENTS_DISABLED_ADAPTERS": ",".join(
        tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["entry-points"][
            "otel_agent_instrumentation.adapters"
        ]
    )
}


def test_an_installed_framework_outside_its_range_fails(tmp_path: Path) -> None:
    third_party(tmp_path, ">=2,<3")
    status, found = report(path=tmp_path, env=BUILT_IN_OFF)
    acme = adapter(found, "acme")
    assert (status, acme["status"], acme["activates"]) == (1, "outside range", False)
    assert found["problems"] == ["acme: acme-agents 1.5.0 is outside >=2,<3"]


def test_a_disabled_adapter_does_not_activate_and_its_missing_target_is_no_failure(tmp_path: Path) -> None:
    third_party(tmp_path, ">=1,<2")
    disabled = BUILT_IN_OFF["OTEL_PYTHON_AGENTS_DISABLED_ADAPTERS"] + ",acme"
    status, found = report(path=tmp_path, env={"OTEL_PYTHON_AGENTS_DISABLED_ADAPTERS": disabled})
    acme = adapter(found, "acme")
    assert (status, acme["status"], acme["activates"], acme["targets"]) == (0, "disabled (checked)", False, [])


def test_an_opentelemetry_sdk_beside_another_api_version_fails(tmp_path: Path) -> None:
    fake_distribution(tmp_path, "opentelemetry-sdk", "9.9.9")
    status, found = report(path=tmp_path, env=BUILT_IN_OFF)
    assert (status, found["opentelemetry_sdk"], found["api_sdk_mismatch"]) == (1, "9.9.9", True)


def test_the_text_report_ends_with_the_problem_count() -> None:
    completed = doctor()
    assert (completed.returncode, completed.stdout.rstrip().splitlines()[-1]) == (0, "0 problem(s)")


def test_the_console_script_runs_the_same_command(plain: Run) -> None:
    script = Path(sys.executable).parent / "otel-agent-instrumentation"
    completed = subprocess.run([str(script), "doctor", "--json"], capture_output=True, text=True, timeout=120)
    assert (completed.returncode, json.loads(completed.stdout)["version"]) == (0, plain[1]["version"])


def test_an_adapter_with_nothing_to_patch_here_does_not_activate(plain: Run) -> None:
    # AG2's adapter names no single distribution; neither of its modules is in this environment.
    ag2 = adapter(plain[1], "ag2")
    assert (ag2["status"], ag2["activates"], ag2["targets"]) == ("checked (nothing to patch here)", False, [])

"""`otel-agent-instrumentation doctor`: what would be instrumented here, found without running any agent.

    otel-agent-instrumentation doctor [--json]
    python -m otel_agent_instrumentation doctor [--json]

Reports our version, Python and OpenTelemetry versions, what `opentelemetry-instrument` would set up from
the environment and whether it would load us, every adapter (built-in and third-party) with its
framework's installed version against the checked range, whether it would activate and each target it
would patch (found or missing), the framework's own telemetry where it has one, and our configuration
as resolved from the environment with bad values named. Exit status 1 when an installed framework is
outside its adapter's range, a target of an adapter that would activate is missing, or the OpenTelemetry
API and SDK versions differ (nothing would be traced); 0 otherwise.

It imports the frameworks' modules that hold the targets (that is how a target is found) and patches
nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

from . import _patching
from .adapters._base import Adapter
from .adapters.generic import GenericAdapter
from .config import (
    ENV_CAPTURE_CONTENT,
    ENV_DISABLED_ADAPTERS,
    ENV_KEEP_FRAMEWORK_SPANS,
    ENV_SEMCONV_STABILITY_OPT_IN,
    ENV_TARGETS,
    Config,
    resolve,
)
from .instrumentor import Support, discover_adapters, framework_support, logger
from .version import __version__

INSTRUMENTOR_GROUP = "opentelemetry_instrumentor"
INSTRUMENTOR_NAME = "agents"
ENV_DISABLED_INSTRUMENTATIONS = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
# Our variables, in the README's configuration table order, with the instrument() argument each backs.
SETTINGS = (
    (ENV_CAPTURE_CONTENT, "capture_content"),
    (ENV_KEEP_FRAMEWORK_SPANS, "keep_framework_spans"),
    (ENV_TARGETS, "targets"),
    (ENV_DISABLED_ADAPTERS, "disabled_adapters"),
    (ENV_SEMCONV_STABILITY_OPT_IN, None),
)
SIGNALS = ("traces", "metrics", "logs")


@dataclass
class TargetCheck:
    target: str  # module:Class.method
    found: bool
    problem: str | None = None


@dataclass
class AdapterReport:
    name: str
    distribution: str | None
    installed: str | None
    supported: str
    # not installed | disabled | checked | newer | outside range
    status: str
    activates: bool
    targets: list[TargetCheck] = field(default_factory=list)
    framework_telemetry: str | None = None
    problem: str | None = None


@dataclass
class SettingReport:
    variable: str
    argument: str | None
    raw: str | None  # the environment's value; None: not set
    resolved: str  # what instrument() without arguments would use
    source: str  # environment | default
    problem: str | None = None


@dataclass
class ExporterReport:
    signal: str
    exporter: str  # the names OTEL_<SIGNAL>_EXPORTER gives, each with the entry point the SDK loads for it
    source: str  # environment | default
    installed: bool  # every named exporter (but "none") has an entry point
    endpoint: str | None
    protocol: str


@dataclass
class Report:
    version: str
    python: str
    opentelemetry_api: str | None
    opentelemetry_sdk: str | None
    api_sdk_mismatch: bool
    sdk_configured_by_opentelemetry_instrument: bool  # opentelemetry-sdk and a configurator (the distro)
    exporters: list[ExporterReport]
    loaded_by_opentelemetry_instrument: bool
    instrumentor_entry_point: str | None
    disabled_by_environment: bool
    adapters: list[AdapterReport]
    settings: list[SettingReport]

    @property
    def problems(self) -> list[str]:
        found = []
        if self.api_sdk_mismatch:
            found.append(
                f"opentelemetry-sdk {self.opentelemetry_sdk} beside opentelemetry-api {self.opentelemetry_api}: "
                "span starts fail; install the same version of both"
            )
        for adapter in self.adapters:
            if adapter.status == "outside range":
                found.append(
                    f"{adapter.name}: {adapter.distribution} {adapter.installed} is outside {adapter.supported}"
                )
            if adapter.activates:
                found.extend(
                    f"{adapter.name}: target {check.target} missing ({check.problem})"
                    for check in adapter.targets
                    if not check.found
                )
            if adapter.problem:
                found.append(f"{adapter.name}: {adapter.problem}")
        return found

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "problems": self.problems}


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@contextmanager
def _captured_warnings() -> Iterator[list[str]]:
    """Our logger's records while collecting, kept from the application's handlers."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(logging.WARNING)
    propagate, level = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = propagate, level


def _settings(environ: Mapping[str, str]) -> tuple[Config, list[SettingReport]]:
    with _captured_warnings() as warnings:
        config = resolve({}, environ)
    resolved = {
        ENV_CAPTURE_CONTENT: config.capture_content.value,
        ENV_KEEP_FRAMEWORK_SPANS: str(config.keep_framework_spans).lower(),
        ENV_TARGETS: ",".join(config.targets) or "(none)",
        ENV_DISABLED_ADAPTERS: ",".join(sorted(config.disabled_adapters)) or "(none)",
        ENV_SEMCONV_STABILITY_OPT_IN: environ.get(ENV_SEMCONV_STABILITY_OPT_IN) or "(none)",
    }
    reports = []
    for variable, argument in SETTINGS:
        raw = environ.get(variable)
        # resolve() names the variable in each warning it logs about a bad value.
        problem = next((message for message in warnings if message.startswith(f"{variable}=")), None)
        reports.append(
            SettingReport(
                variable, argument, raw, resolved[variable], "default" if raw is None else "environment", problem
            )
        )
    return config, reports


def _target_check(module: str, attribute: str) -> TargetCheck:
    try:
        _patching.resolve(module, attribute)
    except Exception as error:  # ImportError, AttributeError, or the framework's own import failing
        return TargetCheck(f"{module}:{attribute}", False, f"{type(error).__name__}: {error}")
    return TargetCheck(f"{module}:{attribute}", True)


def _adapter_report(adapter: Adapter, config: Config) -> AdapterReport:
    installed = _version(adapter.distribution) if adapter.distribution else None
    report = AdapterReport(adapter.name, adapter.distribution, installed, adapter.supported, "", False)
    if adapter.distribution is not None and installed is None:
        report.status = "not installed"
        return report
    with _captured_warnings():
        support = framework_support(adapter).support
    if support is Support.SKIP:
        report.status = "outside range"
    else:
        report.status = "checked" if support is Support.CHECKED else "newer"
    if adapter.name in config.disabled_adapters:
        report.status = f"disabled ({report.status})"
    report.activates = support is not Support.SKIP and adapter.name not in config.disabled_adapters
    if adapter.name in config.disabled_adapters:
        return report  # it would patch nothing: no targets to look for (and no framework to import)
    try:
        with _captured_warnings() as skipped:  # e.g. a user target that cannot be wrapped, logged and skipped
            targets = adapter.targets(config)
    except Exception as error:
        report.problem = f"targets() raised {type(error).__name__}: {error}"
        report.activates = False
        return report
    report.targets = [_target_check(target.module, target.attribute) for target in targets]
    report.targets += [TargetCheck("(skipped by targets())", False, message) for message in skipped]
    if not report.targets:  # an adapter without one distribution (ag2) whose modules are all missing
        report.status += " (nothing to patch here)"
        report.activates = False
    describe = getattr(adapter, "framework_telemetry", None)
    if callable(describe):
        try:
            report.framework_telemetry = describe(config)
        except Exception as error:
            report.framework_telemetry = f"could not be read ({type(error).__name__}: {error})"
    return report


# How the SDK's configurator turns the exporter name `otlp` into an entry point, by protocol; the distro
# sets the protocol to grpc when the environment names none.
_OTLP_BY_PROTOCOL = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}
_DISTRO_DEFAULT_PROTOCOL = "grpc"


def _exporters(environ: Mapping[str, str]) -> list[ExporterReport]:
    reports = []
    for signal in SIGNALS:
        variable = f"OTEL_{signal.upper()}_EXPORTER"
        raw = environ.get(variable)
        protocol = (
            environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL")
            or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or _DISTRO_DEFAULT_PROTOCOL
        )
        endpoint = environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT") or environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        available = {entry.name for entry in metadata.entry_points(group=f"opentelemetry_{signal}_exporter")}
        names = [name.strip() for name in (raw or "otlp").split(",") if name.strip()]
        entry_points = [_OTLP_BY_PROTOCOL.get(protocol, "?") if name == "otlp" else name for name in names]
        reports.append(
            ExporterReport(
                signal,
                ",".join(
                    f"{name} -> {entry}" if entry != name else name
                    for name, entry in zip(names, entry_points, strict=True)
                ),
                "default" if raw is None else "environment",
                all(entry == "none" or entry in available for entry in entry_points),
                endpoint,
                protocol,
            )
        )
    return reports


def collect(environ: Mapping[str, str] | None = None, adapters: Sequence[Adapter] | None = None) -> Report:
    """Everything the report says, read from this process's environment and installed packages."""
    env = os.environ if environ is None else environ
    api, sdk = _version("opentelemetry-api"), _version("opentelemetry-sdk")
    config, settings = _settings(env)
    with _captured_warnings():
        found: list[Adapter] = list(adapters) if adapters is not None else discover_adapters()
    if config.targets:  # the user targets of OTEL_PYTHON_AGENTS_TARGETS, as instrument() adds them
        found.append(GenericAdapter(config.targets))
    instrumentors = [e for e in metadata.entry_points(group=INSTRUMENTOR_GROUP) if e.name == INSTRUMENTOR_NAME]
    disabled = {name.strip() for name in env.get(ENV_DISABLED_INSTRUMENTATIONS, "").split(",")}
    disabled_by_environment = INSTRUMENTOR_NAME in disabled or "*" in disabled
    configurators = list(metadata.entry_points(group="opentelemetry_configurator"))
    return Report(
        version=__version__,
        python=sys.version.split()[0],
        opentelemetry_api=api,
        opentelemetry_sdk=sdk,
        api_sdk_mismatch=api is not None and sdk is not None and api != sdk,
        sdk_configured_by_opentelemetry_instrument=sdk is not None and bool(configurators),
        exporters=_exporters(env),
        loaded_by_opentelemetry_instrument=bool(instrumentors) and not disabled_by_environment,
        instrumentor_entry_point=instrumentors[0].value if instrumentors else None,
        disabled_by_environment=disabled_by_environment,
        adapters=[_adapter_report(adapter, config) for adapter in found],
        settings=settings,
    )


def render(report: Report) -> str:
    yes = {True: "yes", False: "no"}
    lines = [
        f"otel-agent-instrumentation {report.version} on Python {report.python}",
        f"opentelemetry-api {report.opentelemetry_api or 'not installed'}, "
        f"opentelemetry-sdk {report.opentelemetry_sdk or 'not installed'}"
        + ("  MISMATCH: span starts fail" if report.api_sdk_mismatch else ""),
        "",
        "opentelemetry-instrument:",
        f"  loads us (entry point {INSTRUMENTOR_GROUP}:{INSTRUMENTOR_NAME} -> "
        f"{report.instrumentor_entry_point or 'not found'}): {yes[report.loaded_by_opentelemetry_instrument]}"
        + (f" ({ENV_DISABLED_INSTRUMENTATIONS} names it)" if report.disabled_by_environment else ""),
        "  sets up SDK providers from the environment (opentelemetry-sdk and a configurator such as "
        f"opentelemetry-distro): {yes[report.sdk_configured_by_opentelemetry_instrument]}",
    ]
    for exporter in report.exporters:
        lines.append(
            f"  {exporter.signal}: exporter {exporter.exporter} ({exporter.source}"
            + ("" if exporter.installed else ", NOT INSTALLED")
            + f"), endpoint {exporter.endpoint or '(default)'}, protocol {exporter.protocol}"
        )
    lines += ["", "adapters:"]
    for adapter in report.adapters:
        version = (
            f"{adapter.distribution} {adapter.installed or ''}".strip() if adapter.distribution else "(no framework)"
        )
        lines.append(
            f"  {adapter.name}: {version}, checked {adapter.supported or '-'}: {adapter.status}"
            + (
                f", activates, {sum(c.found for c in adapter.targets)}/{len(adapter.targets)} targets found"
                if adapter.activates
                else ""
            )
        )
        lines += [f"    missing target {check.target}: {check.problem}" for check in adapter.targets if not check.found]
        if adapter.framework_telemetry:
            lines.append(f"    its own telemetry: {adapter.framework_telemetry}")
        if adapter.problem:
            lines.append(f"    problem: {adapter.problem}")
    lines += ["", "configuration (instrument() without arguments):"]
    for setting in report.settings:
        lines.append(
            f"  {setting.variable} = {setting.resolved} ({setting.source}"
            + (f", set to {setting.raw!r}" if setting.raw is not None else "")
            + ")"
            + (f"  BAD VALUE: {setting.problem}" if setting.problem else "")
        )
    problems = report.problems
    lines += ["", f"{len(problems)} problem(s)" + (":" if problems else "")]
    lines += [f"  - {problem}" for problem in problems]
    bad = [setting for setting in report.settings if setting.problem]
    if bad:
        lines.append(f"{len(bad)} bad configuration value(s), the default used instead (see above)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="otel-agent-instrumentation", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="what would be instrumented here, without running any agent")
    doctor.add_argument("--json", action="store_true", help="the report as JSON")
    arguments = parser.parse_args(argv)
    report = collect()
    print(json.dumps(report.to_json(), indent=2) if arguments.json else render(report))  # noqa: T201
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())

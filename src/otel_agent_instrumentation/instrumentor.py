"""AgentInstrumentor: loads the adapters, applies their patches, and reverts them exactly."""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from packaging.requirements import InvalidRequirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from . import _patching
from .adapters._base import Adapter, HookTarget, RunTarget, Target
from .adapters.generic import GenericAdapter
from .config import Config, resolve
from .invocation import Telemetry, register_exit_hook
from .package import _instruments
from .runs import make_run_patches

logger = logging.getLogger("otel_agent_instrumentation")

ADAPTER_ENTRY_POINT_GROUP = "otel_agent_instrumentation.adapters"


def _entry_points(group: str) -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=group)


def discover_adapters() -> list[Adapter]:
    """Every adapter registered under the entry-point group, built-in ones included."""
    adapters: list[Adapter] = []
    seen: set[str] = set()
    for entry_point in _entry_points(ADAPTER_ENTRY_POINT_GROUP):
        if entry_point.name in seen:
            continue
        seen.add(entry_point.name)
        try:
            adapter = entry_point.load()
        except Exception:
            logger.warning("adapter %r could not be loaded; skipped", entry_point.name, exc_info=True)
            continue
        if not isinstance(adapter, Adapter):
            logger.warning(
                "entry point %r is not an adapter (name, distribution, supported, targets)", entry_point.name
            )
            continue
        adapters.append(adapter)
    return adapters


class Support(enum.Enum):
    """Where the installed framework stands against the versions its adapter was checked with."""

    SKIP = "skip"  # not installed, below the floor, excluded, or not comparable
    CHECKED = "checked"  # within the checked range
    # Above the checked range (frameworks release weekly): instrumented while every target is found.
    NEWER = "newer"


@dataclass(frozen=True)
class FrameworkVersion:
    support: Support
    installed: str = ""


def _at_least_the_floor(specifier: Specifier, version: Version) -> bool:
    """Whether `version` passes the specifier's lower bound; upper bounds are what a newer release exceeds."""
    if specifier.operator in ("<", "<="):
        return True
    if specifier.operator in ("==", "~="):
        # ~=1.2 and ==1.2.* have the floor 1.2; ==1.2.0 has 1.2.0.
        return version >= Version(specifier.version.removesuffix(".*"))
    return specifier.contains(version, prereleases=True)  # >=, >, != (an excluded release), ===


def framework_support(adapter: Adapter) -> FrameworkVersion:
    """The installed framework's version against the adapter's checked range; logs a skip."""
    if adapter.distribution is None:
        return FrameworkVersion(Support.CHECKED)
    try:
        installed = metadata.version(adapter.distribution)
    except metadata.PackageNotFoundError:
        logger.debug("adapter %s skipped: %s is not installed", adapter.name, adapter.distribution)
        return FrameworkVersion(Support.SKIP)
    try:
        supported = SpecifierSet(adapter.supported)
        version = Version(installed)
        if supported.contains(version, prereleases=True):
            return FrameworkVersion(Support.CHECKED, installed)
        newer = all(_at_least_the_floor(specifier, version) for specifier in supported)
    except (InvalidRequirement, InvalidVersion, ValueError):
        logger.warning(
            "adapter %s skipped: cannot compare %s %s with %r",
            adapter.name,
            adapter.distribution,
            installed,
            adapter.supported,
        )
        return FrameworkVersion(Support.SKIP)
    if newer:
        return FrameworkVersion(Support.NEWER, installed)
    logger.warning(
        "adapter %s skipped: %s %s is outside its supported range %s (below its floor, or excluded)",
        adapter.name,
        adapter.distribution,
        installed,
        adapter.supported,
    )
    return FrameworkVersion(Support.SKIP, installed)


def warn_if_sdk_and_api_differ() -> None:
    """One WARNING when opentelemetry-sdk and opentelemetry-api are installed at different versions.

    Each SDK release requires the very API release it was built with; beside another (a lock file
    pinning one of them) span starts can fail, each failure site logs one warning, and the application
    silently gets no telemetry. Said once, when instrument() runs.
    """
    try:
        sdk = metadata.version("opentelemetry-sdk")
        api = metadata.version("opentelemetry-api")
    except metadata.PackageNotFoundError:
        return  # no SDK: the API's no-op implementation, or another SDK, which states its own needs
    try:
        same = Version(sdk) == Version(api)
    except InvalidVersion:
        same = sdk == api
    if not same:
        logger.warning(
            "opentelemetry-sdk %s requires opentelemetry-api %s, but opentelemetry-api %s is installed: "
            "span starts can fail (opentelemetry-api 1.40 beside opentelemetry-sdk 1.45: every one does), leaving "
            "this application without telemetry; install the same version of both",
            sdk,
            sdk,
            api,
        )


class _MissingTarget(Exception):
    """A target of an adapter whose framework is newer than its checked range was not found."""


def apply_target(
    target: Target, telemetry: Telemetry, adapter_name: str, where: tuple[str, str] | None = None
) -> _patching.Patch:
    """Patch one adapter target (at `where`, (module, attribute), when given: a stand-in of the target's for
    benchmarks/suppressed_layers.py) and return the undo record. ImportError and AttributeError: the target
    does not exist."""
    module, attribute = where or (target.module, target.attribute)
    method: _patching.MethodFactory | None = None
    hook_applies = None
    traced_when_bound = None
    if isinstance(target, RunTarget):
        try:
            body_deferred = _patching.defers_body(module, attribute)
        except (ImportError, AttributeError):
            body_deferred = False  # apply() below meets the same error and raises it
        # traced_when_bound: a suppressed run, and a run's inner layer, then bind the original where they meet a
        # method of ours that stays with wrapt.
        wrapper, method, traced_when_bound = make_run_patches(target, telemetry, adapter_name, body_deferred)
    elif isinstance(target, HookTarget):
        wrapper = target.make_wrapper(telemetry)
        if target.applies_to is not None:
            hook_applies = target.applies_to
            method = _patching.deciding_method_factory(wrapper, hook_applies, _patching.HOOK_DECISION)
    else:
        raise TypeError(f"unknown target {target!r}")
    return _patching.apply(module, attribute, wrapper, method, hook_applies, traced_when_bound)


class AgentInstrumentor(BaseInstrumentor):  # type: ignore[misc]  # BaseInstrumentor is untyped
    """Instruments agent runs of every supported framework that is installed.

    `instrument(tracer_provider=, meter_provider=, logger_provider=, capture_content=,
    keep_framework_spans=, targets=, disabled_adapters=)`; every argument is optional and falls back
    to its environment variable (README, "Configuration").
    """

    # BaseInstrumentor is a singleton whose __init__ runs on every construction, so no state is set
    # in __init__; it lives on the instance, created in _instrument and cleared in _uninstrument.
    _patches: list[_patching.Patch]
    _telemetry: Telemetry | None
    # BaseInstrumentor checks and sets its instrumented flag without a lock: two threads calling
    # instrument() at once would both patch (double wrapping, the first layer never reverted).
    # Re-entrant because _instrument/_uninstrument take it again.
    _lock = threading.RLock()

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def instrument(self, **kwargs: Any) -> Any:
        with self._lock:
            return super().instrument(**kwargs)

    def uninstrument(self, **kwargs: Any) -> Any:
        with self._lock:
            return super().uninstrument(**kwargs)

    def _instrument(self, **kwargs: Any) -> None:
        warn_if_sdk_and_api_differ()
        config = resolve(kwargs)
        telemetry = Telemetry(
            config,
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
        )
        adapters: list[Adapter] = list(kwargs.get("adapters") or discover_adapters())
        if config.targets:
            adapters.append(GenericAdapter(config.targets))
        unknown = config.disabled_adapters - {adapter.name for adapter in adapters}
        if unknown:
            logger.warning(
                "disabled adapters %s match no adapter (known: %s); ignored",
                ", ".join(repr(name) for name in sorted(unknown)),
                ", ".join(sorted(adapter.name for adapter in adapters)),
            )
        with self._lock:
            self._telemetry = telemetry
            self._patches = []
            for adapter in adapters:
                if adapter.name in config.disabled_adapters:
                    continue
                version = framework_support(adapter)
                if version.support is not Support.SKIP:
                    self._apply_adapter(adapter, telemetry, config, version)
        register_exit_hook()

    def _apply_adapter(self, adapter: Adapter, telemetry: Telemetry, config: Config, version: FrameworkVersion) -> None:
        applied: list[_patching.Patch] = []
        newer = version.support is Support.NEWER
        try:
            try:
                targets = adapter.targets(config)
            except (ImportError, AttributeError) as error:
                if not newer:
                    raise
                raise _MissingTarget(f"{type(error).__name__} in targets(): {error}") from error
            for target in targets:
                try:
                    applied.append(apply_target(target, telemetry, adapter.name))
                except (ImportError, AttributeError) as error:
                    if newer:
                        # An unchecked release that moved a target may have changed more than that.
                        raise _MissingTarget(f"{target.module}:{target.attribute} ({error})") from error
                    # One missing class (moved in a release, optional extra) leaves the rest usable.
                    logger.debug(
                        "adapter %s: %s:%s not patched (%s)", adapter.name, target.module, target.attribute, error
                    )
        except _MissingTarget as missing:
            logger.warning(
                "adapter %s skipped: %s %s is newer than the versions it was checked against (%s) and a "
                "target is missing: %s",
                adapter.name,
                adapter.distribution,
                version.installed,
                adapter.supported,
                missing,
            )
            self._revert(applied)
            return
        except Exception:
            logger.warning("adapter %s failed to instrument; its patches are reverted", adapter.name, exc_info=True)
            self._revert(applied)
            return
        self._patches.extend(applied)
        if newer:
            logger.warning(
                "adapter %s: %s %s is newer than the versions it was checked against (%s); instrumented "
                "unchecked, all %d targets found",
                adapter.name,
                adapter.distribution,
                version.installed,
                adapter.supported,
                len(applied),
            )
        logger.debug("adapter %s instrumented %d targets", adapter.name, len(applied))

    @staticmethod
    def _revert(applied: list[_patching.Patch]) -> None:
        for patch in reversed(applied):
            patch.revert()

    def _uninstrument(self, **kwargs: Any) -> None:
        with self._lock:
            patches = getattr(self, "_patches", [])
            for patch in reversed(patches):
                try:
                    patch.revert()
                except Exception:
                    logger.warning("could not revert %r.%s", patch.owner, patch.name, exc_info=True)
            self._patches = []
            self._telemetry = None

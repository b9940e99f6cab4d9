"""User targets: any method or function named "module:Qualified.name", from `instrument(targets=...)`
or OTEL_PYTHON_AGENTS_TARGETS (comma-separated).

The result may be a value, a coroutine, an (async) generator, an (async) context manager, or any
object with `__aiter__`: the core's lifecycle applies unchanged. The agent name is the instance's `name`
attribute when it is a string, else its class name (the function's name for a plain function).
Target modules are imported when `instrument()` runs.

Every named target is a run of its own: a target called inside another target's run (`plan()` calling
`execute()`, `Bot.plan` calling `self.execute`) is a child span. A target that re-enters itself on the
same object, or a function target that recurses, is the run it is already in: the recursion is part of
that run, not a nested agent (name the inner step as a target of its own to see it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from .. import _patching
from ..config import Config
from ..invocation import RequestFacts
from ._base import RunTarget, Target

logger = logging.getLogger("otel_agent_instrumentation")


def _agent_name(instance: Any, function_name: str) -> str:
    if instance is None:
        return function_name
    try:
        name = getattr(instance, "name", None)
    except Exception:  # a user property that raises: the class name still identifies the agent
        name = None
    if isinstance(name, str) and name:
        return name
    return type(instance).__name__ if not isinstance(instance, type) else instance.__name__


def _request_reader(function_name: str) -> Any:
    def read_request(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
        return RequestFacts(agent_name=_agent_name(instance, function_name))

    return read_request


def parse(target: str) -> tuple[str, str] | None:
    """("module", "Qualified.name") from "module:Qualified.name", or None if malformed."""
    module, separator, attribute = target.strip().partition(":")
    if not separator or not module or not attribute or any(not part for part in attribute.split(".")):
        return None
    return module, attribute


class GenericAdapter:
    """Wraps the user's named targets; one bad target is logged and skipped, the rest still apply."""

    name = "targets"
    distribution: str | None = None
    supported = ""

    def __init__(self, target_strings: Sequence[str]) -> None:
        self.target_strings = tuple(target_strings)

    def targets(self, config: Config) -> Sequence[Target]:
        found: list[Target] = []
        for target in self.target_strings:
            parsed = parse(target)
            if parsed is None:
                logger.error(
                    "agent target %r is not of the form 'package.module:Class.method' (or 'module:function'); skipped",
                    target,
                )
                continue
            module, attribute = parsed
            try:
                _patching.resolve(module, attribute)
            except Exception as error:
                logger.error("agent target %r cannot be wrapped: %s; skipped", target, error)
                continue
            # Each named target is its own run: `plan()` calling `execute()` gives two spans. Only the
            # same target re-entered on the same object (or the same function) is one run (recursion).
            found.append(
                RunTarget(module, attribute, _request_reader(attribute.rsplit(".", 1)[-1]), reentry_key=target.strip())
            )
        return found

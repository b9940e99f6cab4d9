"""Our own code must never break the application.

`guarded` runs a piece of telemetry code and swallows `Exception` from it. The first failure at each
site is logged at WARNING with its traceback, later ones at DEBUG, so a broken exporter or an odd
framework object costs one log line, not one per chunk. `BaseException` (cancellation, exit) is never
swallowed: it belongs to the application.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

logger = logging.getLogger("otel_agent_instrumentation")

_P = ParamSpec("_P")
_T = TypeVar("_T")

_failed_sites: set[str] = set()


def report_failure(site: str) -> None:
    """Log the exception being handled: WARNING the first time at `site`, DEBUG afterwards."""
    if site in _failed_sites:
        logger.debug("otel-agent-instrumentation: %s failed again", site, exc_info=True)
        return
    _failed_sites.add(site)
    logger.warning(
        "otel-agent-instrumentation: %s failed; telemetry for this run may be incomplete, "
        "the application is not affected",
        site,
        exc_info=True,
    )


def guarded(site: str, default: _T) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]:
    """Decorator: run the function, return `default` (and report) if it raises `Exception`."""

    def decorate(function: Callable[_P, _T]) -> Callable[_P, _T]:
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            try:
                return function(*args, **kwargs)
            except Exception:
                report_failure(site)
                return default

        run.__name__ = function.__name__
        run.__qualname__ = function.__qualname__
        run.__doc__ = function.__doc__
        return run

    return decorate

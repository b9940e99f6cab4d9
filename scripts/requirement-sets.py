"""Prints the requirement sets the version checks install, read from pyproject.toml (one source of truth).

`lowest` (scripts/test-lowest.sh): pip constraints pinning every dependency at its floor, so the floors
that are published are the versions that are tested:
- every entry of `[project] dependencies` must have a `>=` floor; it is pinned (`name==floor`);
- the test extra's `opentelemetry-*` entries are pinned at their floors too: the SDK and exporters
  require the very API version they were released with, and the distro the very
  opentelemetry-instrumentation version, so the test tools must sit at the floors as well.
  The frameworks keep the test extra's `==` pins; the other test tools resolve as usual.
`latest` (scripts/test-latest.sh): the test extra with each `==` pin (the frameworks) turned into a floor
(`>=`), for pip to take the newest release but never one older than the pin (given bare names, pip's
resolver backtracked autogen-agentchat to 0.2.40 and autogen-ext to 0.0.1).
`pinned`: the test extra's `==` pins (what the suite was checked against), one per line.
`report-latest` (run by the environment's own Python): each pinned framework's installed version, its
pin when it moved past it, and the newest release on the index when that one could not be installed.
`python-floor`: the `>=` version of `requires-python`, e.g. `3.11`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

# name, optional [extras], then the comma-separated specifiers; no environment markers in our lists.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)$")


def _name(requirement: str) -> str:
    match = _REQUIREMENT.match(requirement)
    if match is None:
        sys.exit(f"cannot read the requirement {requirement!r}")
    return match.group(1)


def _is_pin(requirement: str) -> bool:
    return "==" in requirement


def floor(requirement: str) -> tuple[str, str]:
    """(name, version) of the requirement's `>=` specifier; exits naming it if it has none."""
    match = _REQUIREMENT.match(requirement)
    if match is None:
        sys.exit(f"cannot read the requirement {requirement!r}")
    name, _extras, specifiers = match.groups()
    floors = [s.strip()[2:].strip() for s in specifiers.split(",") if s.strip().startswith(">=")]
    if len(floors) != 1:
        sys.exit(f"{requirement!r} must have exactly one '>=' floor, the version scripts/test-lowest.sh tests")
    return name, floors[0]


def python_floor(requires_python: str) -> str:
    """The `>=` version of `requires-python`, e.g. '3.11'."""
    return floor(f"python {requires_python}")[1]


def constraints(pyproject: dict[str, Any]) -> list[str]:
    project = pyproject["project"]
    floors = [floor(requirement) for requirement in project["dependencies"]]
    for requirement in project["optional-dependencies"]["test"]:
        if _name(requirement).startswith("opentelemetry-"):
            floors.append(floor(requirement))
    return [f"{name}=={version}" for name, version in floors]


def latest(pyproject: dict[str, Any]) -> list[str]:
    test = pyproject["project"]["optional-dependencies"]["test"]
    return [r.replace("==", ">=") if _is_pin(r) else r for r in test]


def pinned(pyproject: dict[str, Any]) -> list[str]:
    return [r.replace(" ", "") for r in pyproject["project"]["optional-dependencies"]["test"] if _is_pin(r)]


def report_latest(pyproject: dict[str, Any]) -> list[str]:
    lines = []
    for requirement in pinned(pyproject):
        name, pin = requirement.split("==")
        installed = metadata.version(name)
        notes = [] if installed == pin else [f"pinned: {pin}"]
        index = subprocess.run(
            [sys.executable, "-m", "pip", "index", "versions", name], capture_output=True, text=True, check=False
        ).stdout
        newest = re.search(r"\(([^)]+)\)", index)
        if newest is not None and newest.group(1) != installed:
            notes.append(f"newest on the index: {newest.group(1)}, not installable beside the others")
        lines.append(f"{name} {installed}" + (f" ({'; '.join(notes)})" if notes else ""))
    api, sdk = metadata.version("opentelemetry-api"), metadata.version("opentelemetry-sdk")
    lines.append(f"opentelemetry-api {api}, opentelemetry-sdk {sdk}")
    return lines


if __name__ == "__main__":
    with Path("pyproject.toml").open("rb") as file:
        pyproject = tomllib.load(file)
    sets = {
        "lowest": lambda: constraints(pyproject),
        "latest": lambda: latest(pyproject),
        "pinned": lambda: pinned(pyproject),
        "report-latest": lambda: report_latest(pyproject),
        "python-floor": lambda: [python_floor(pyproject["project"]["requires-python"])],
    }
    if len(sys.argv) != 2 or sys.argv[1] not in sets:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(sets)}")
    print("\n".join(sets[sys.argv[1]]()))

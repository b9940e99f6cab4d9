"""Prints pip constraints pinning every dependency of the package at the floor pyproject.toml declares.

Used by scripts/test-lowest.sh, so the floors that are published are the versions that are tested:
- every entry of `[project] dependencies` must have a `>=` floor; it is pinned (`name==floor`);
- the test extra's `opentelemetry-*` entries are pinned at their floors too: the SDK and exporters
  require the very API version they were released with, and the distro the very
  opentelemetry-instrumentation version, so the test tools must sit at the floors as well.
The frameworks keep the test extra's `==` pins; the other test tools resolve as usual.
With `--python` it prints the floor of `requires-python` instead (e.g. `3.11`).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

# name, optional [extras], then the comma-separated specifiers; no environment markers in our lists.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)$")


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


def constraints(pyproject: dict[str, object]) -> list[str]:
    project = pyproject["project"]
    assert isinstance(project, dict)
    pinned = [floor(requirement) for requirement in project["dependencies"]]
    for requirement in project["optional-dependencies"]["test"]:
        name = _REQUIREMENT.match(requirement)
        if name is not None and name.group(1).startswith("opentelemetry-"):
            pinned.append(floor(requirement))
    return [f"{name}=={version}" for name, version in pinned]


if __name__ == "__main__":
    with Path("pyproject.toml").open("rb") as file:
        pyproject = tomllib.load(file)
    if sys.argv[1:] == ["--python"]:
        print(python_floor(pyproject["project"]["requires-python"]))
    else:
        print("\n".join(constraints(pyproject)))

"""What every separate test environment checks about itself."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def pinned(extra: str) -> dict[str, str]:
    """name -> version of the extra's `==` pins (extras in brackets dropped)."""
    with PYPROJECT.open("rb") as file:
        requirements = tomllib.load(file)["project"]["optional-dependencies"][extra]
    pins = {}
    for requirement in requirements:
        name, separator, version = requirement.partition("==")
        if separator:
            pins[name.split("[")[0].strip()] = version.strip()
    return pins


def assert_pins_installed(extra: str) -> None:
    pins = pinned(extra)
    assert pins, f"the extra {extra} pins no framework"
    installed = {name: metadata.version(name) for name in pins}
    assert installed == pins

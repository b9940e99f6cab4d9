"""The README's install lines and examples work as written.

A fenced block preceded by `<!-- readme-test: KIND -->` is checked here:
- `install`: `pip install` lines. They are not run (the test environment is not ours to change, and they
  need the network); what they name must exist (the project's extras) and be installed in the environment
  the other blocks run in, so those blocks run after exactly what a reader installed.
- `run`: a shell block, run by bash from the repository root with this environment's scripts first on PATH;
  it must exit 0 with no traceback and print the offline agent's spans, its stream closed early included
  (the framework's own notices on stderr are its business).
- `python`: a Python block, run by this interpreter; it must exit 0 and print nothing on stderr.
In scripts/test-lowest.sh this environment is the installed wheel at the dependency floors.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "otel-agent-instrumentation"
MARKED_BLOCK = re.compile(r"^<!-- readme-test: (\w+) -->\n```(\w+)\n(.*?)^```$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    kind: str
    language: str
    code: str
    line: int

    def __str__(self) -> str:
        return f"README.md:{self.line}"


def _blocks(kind: str) -> list[Block]:
    text = (ROOT / "README.md").read_text()
    return [
        Block(m.group(1), m.group(2), m.group(3), text.count("\n", 0, m.start()) + 1)
        for m in MARKED_BLOCK.finditer(text)
        if m.group(1) == kind
    ]


def _commands(block: Block) -> list[list[str]]:
    """The block's commands as words: continuation lines joined, comments dropped."""
    joined = block.code.replace("\\\n", " ")
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def _pip_install_arguments() -> list[tuple[Block, str]]:
    arguments: list[tuple[Block, str]] = []
    for block in _blocks("install"):
        for words in _commands(block):
            assert words[:2] == ["pip", "install"], f"{block}: not a pip install line: {words}"
            arguments.extend((block, word) for word in words[2:])
    return arguments


def _unmet(requirement: Requirement) -> list[str]:
    """What of `requirement` is not installed: the distribution at a version it allows, and each requirement
    it declares for itself and for the extras asked for (one level: pip check covers the rest)."""
    try:
        installed = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        return [f"{requirement.name} is not installed"]
    if not requirement.specifier.contains(installed, prereleases=True):
        return [f"{requirement.name} {installed} is not {requirement.specifier}"]
    # evaluate() fills in this interpreter's environment around the extra.
    environments = [{"extra": extra} for extra in ("", *requirement.extras)]
    unmet = []
    for declared in map(Requirement, metadata.requires(requirement.name) or ()):
        if declared.marker is None or any(declared.marker.evaluate(e) for e in environments):
            try:
                version = metadata.version(declared.name)
            except metadata.PackageNotFoundError:
                unmet.append(f"{declared} ({requirement}) is not installed")
                continue
            if not declared.specifier.contains(version, prereleases=True):
                unmet.append(f"{declared.name} {version} is not {declared.specifier} ({requirement})")
    return unmet


def _as_requirement(argument: str) -> Requirement:
    """`.` and `.[extra,...]` are this project from the clone; anything else is a name from the index."""
    if argument == "." or argument.startswith(".["):
        return Requirement(PROJECT + argument[1:])
    return Requirement(argument)


def _run_environment() -> dict[str, str]:
    return {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}


def test_the_readme_marks_install_lines_and_runnable_examples() -> None:
    assert {kind: len(_blocks(kind)) > 0 for kind in ("install", "run", "python")} == {
        "install": True,
        "run": True,
        "python": True,
    }


def test_install_lines_install_the_project_from_the_clone_not_by_its_unpublished_index_name() -> None:
    # The index name is not on PyPI yet: a reader's `pip install otel-agent-instrumentation` would fail.
    from_index = [a for _, a in _pip_install_arguments() if canonicalize_name(_as_requirement(a).name) == PROJECT]
    assert [a for a in from_index if not a.startswith(".")] == []


def test_install_lines_name_only_extras_the_project_declares() -> None:
    declared = set(metadata.metadata(PROJECT).get_all("Provides-Extra") or ())
    named = {extra for _, a in _pip_install_arguments() for extra in _as_requirement(a).extras if a.startswith(".")}
    assert named - declared == set()


@pytest.mark.parametrize("argument", sorted({a for _, a in _pip_install_arguments()}))
def test_what_an_install_line_installs_is_installed_where_the_examples_run(argument: str) -> None:
    requirement = _as_requirement(argument)
    assert _unmet(requirement) == []


@pytest.mark.parametrize("block", _blocks("run"), ids=str)
def test_shell_example_runs_as_written_and_prints_an_agent_span(block: Block) -> None:
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.code],
        cwd=ROOT,
        env=_run_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (completed.returncode, "Traceback" in completed.stderr) == (0, False), completed.stderr
    # The offline agent's third run is a stream closed after one update: traced to its end, it says so.
    assert "invoke_agent geographer" in completed.stdout and "closed_early" in completed.stdout


@pytest.mark.parametrize("block", _blocks("python"), ids=str)
def test_python_example_runs_as_written(block: Block) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", block.code], cwd=ROOT, env=_run_environment(), capture_output=True, text=True, timeout=60
    )
    assert (completed.returncode, completed.stderr) == (0, "")

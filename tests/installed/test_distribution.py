"""The built distributions, and the wheel installed from them: what a user installs is what the suite tests.

Run by scripts/test-lowest.sh, which builds dist/ (scripts/build-dist.sh), installs the wheel (not editable)
into .venv-lowest and sets OTEL_AGENT_TEST_DIST to dist/; collected only then (tests/conftest.py).
"""

from __future__ import annotations

import ast
import email.message
import email.parser
import json
import os
import re
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import otel_agent_instrumentation
from otel_agent_instrumentation import AgentInstrumentor
from otel_agent_instrumentation.instrumentor import ADAPTER_ENTRY_POINT_GROUP

ROOT = Path(__file__).resolve().parents[2]
SOURCE_PACKAGE = ROOT / "src" / "otel_agent_instrumentation"
DISTRIBUTION = "otel-agent-instrumentation"
DIST = Path(os.environ.get("OTEL_AGENT_TEST_DIST", ROOT / "dist")).resolve()


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _one(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {DIST} (scripts/build-dist.sh builds them), found {found}"
    return found[0]


WHEEL = _one("otel_agent_instrumentation-*-py3-none-any.whl")
SDIST = _one("otel_agent_instrumentation-*.tar.gz")


def _source_files() -> dict[str, bytes]:
    """The package's files in src/, by path relative to src/ (what the wheel must hold, byte for byte)."""
    return {
        path.relative_to(SOURCE_PACKAGE.parent).as_posix(): path.read_bytes()
        for path in SOURCE_PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def _wheel_metadata() -> email.message.Message:
    with zipfile.ZipFile(WHEEL) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(wheel.read(name).decode())


def _sdist_members() -> dict[str, bytes]:
    """The sdist's files, by path below its top folder."""
    with tarfile.open(SDIST) as sdist:
        members = {}
        for member in sdist.getmembers():
            file = sdist.extractfile(member) if member.isfile() else None
            if file is not None:
                members[member.name.partition("/")[2]] = file.read()
        return members


def _declared_version() -> str:
    tree = ast.parse((SOURCE_PACKAGE / "version.py").read_text())
    (value,) = [n.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)]
    return str(value.value)


# The package under test is the installed wheel.


def test_the_imported_package_is_the_installed_one_not_the_source_tree() -> None:
    imported = Path(otel_agent_instrumentation.__file__).resolve()
    assert imported.is_relative_to(Path(sysconfig.get_paths()["purelib"]).resolve())
    assert not imported.is_relative_to(ROOT / "src")


def test_the_installed_distribution_came_from_the_built_wheel_not_an_editable_install() -> None:
    direct_url = json.loads(metadata.distribution(DISTRIBUTION).read_text("direct_url.json") or "{}")
    assert "dir_info" not in direct_url
    assert direct_url["url"] == WHEEL.as_uri()


def test_the_installed_package_is_the_source_byte_for_byte() -> None:
    # A module left out of the wheel, or a wheel older than the source (a local run that did not rebuild),
    # shows here as a difference.
    installed = {
        file.as_posix(): Path(file.locate()).read_bytes()
        for file in metadata.files(DISTRIBUTION) or ()
        if file.parts[0] == SOURCE_PACKAGE.name and file.suffix != ".pyc"
    }
    assert installed == _source_files()


def test_py_typed_is_installed_beside_the_package() -> None:
    assert (Path(otel_agent_instrumentation.__file__).parent / "py.typed").is_file()


def _declared_entry_points() -> set[tuple[str, str, str]]:
    """(group, name, value) of every entry point pyproject declares, console scripts included."""
    project = _pyproject()["project"]
    groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
    return {(group, name, value) for group, entries in groups.items() for name, value in entries.items()}


def _installed_entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.distribution(DISTRIBUTION).entry_points)


def test_the_installed_entry_points_are_the_declared_ones() -> None:
    installed = {(e.group, e.name, e.value) for e in _installed_entry_points()}
    assert installed == _declared_entry_points()


@pytest.mark.parametrize("group", sorted({group for group, _, _ in _declared_entry_points()}))
def test_every_entry_point_of_the_group_loads_from_the_installed_package(group: str) -> None:
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    entry_points = [e for e in _installed_entry_points() if e.group == group]
    assert entry_points
    for entry_point in entry_points:
        entry_point.load()
        assert Path(str(sys.modules[entry_point.module].__file__)).resolve().is_relative_to(site_packages), entry_point


def test_the_opentelemetry_instrumentor_entry_point_is_the_instrumentor() -> None:
    (entry_point,) = metadata.entry_points(group="opentelemetry_instrumentor", name="agents")
    assert entry_point.load() is AgentInstrumentor


def test_every_built_in_adapter_module_has_an_entry_point() -> None:
    entry_points = [e for e in _installed_entry_points() if e.group == ADAPTER_ENTRY_POINT_GROUP]
    adapters_folder = Path(otel_agent_instrumentation.__file__).parent / "adapters"
    with_adapter = {p.stem for p in adapters_folder.glob("*.py") if re.search(r"^ADAPTER = ", p.read_text(), re.M)}
    assert {e.module.rpartition(".")[2] for e in entry_points} == with_adapter
    assert all(entry_point.load().name == entry_point.name for entry_point in entry_points)


def test_every_console_script_is_installed_beside_the_interpreter() -> None:
    scripts = {name for group, name, _ in _declared_entry_points() if group == "console_scripts"}
    assert {name for name in scripts if (Path(sys.executable).parent / name).is_file()} == scripts


# The wheel's metadata is pyproject's.


def test_wheel_metadata_has_the_declared_version_dependencies_and_python_floor() -> None:
    project = _pyproject()["project"]
    wheel = _wheel_metadata()
    unconditional = [r for r in wheel.get_all("Requires-Dist") or () if ";" not in r]
    assert (wheel["Version"], wheel["Requires-Python"]) == (_declared_version(), project["requires-python"])
    assert {r.replace(" ", "") for r in unconditional} == {_normalized(r) for r in project["dependencies"]}


def _normalized(requirement: str) -> str:
    """A requirement as wheel metadata writes it: specifiers sorted, no spaces."""
    match = re.match(r"([A-Za-z0-9._-]+)(.*)", requirement.replace(" ", ""))
    assert match is not None
    return match.group(1) + ",".join(sorted(match.group(2).split(",")))


def test_wheel_metadata_declares_the_license_by_expression_and_ships_its_text() -> None:
    wheel = _wheel_metadata()
    assert (wheel["License-Expression"], wheel.get_all("License-File")) == ("Apache-2.0", ["LICENSE"])
    # PEP 639: a License-Expression replaces the license classifiers.
    assert not [c for c in wheel.get_all("Classifier") or () if c.startswith("License ::")]
    installed = metadata.distribution(DISTRIBUTION).read_text("licenses/LICENSE")
    assert installed == (ROOT / "LICENSE").read_text()


def test_the_license_file_is_the_whole_apache_2_0_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    assert len(re.findall(r"^\s+\d+\. [A-Z]", text, re.M)) == 9  # the nine numbered sections


def test_wheel_metadata_long_description_is_the_readme_as_markdown() -> None:
    wheel = _wheel_metadata()
    assert wheel["Description-Content-Type"] == "text/markdown"
    assert wheel.get_payload() == (ROOT / "README.md").read_text()


def test_wheel_metadata_project_urls_name_the_source_issues_and_changelog() -> None:
    urls = dict(u.split(", ", 1) for u in _wheel_metadata().get_all("Project-URL") or ())
    assert set(urls) == {"Homepage", "Source", "Issues", "Changelog"}
    assert urls["Issues"] == urls["Source"] + "/issues"
    assert urls["Changelog"] == urls["Source"] + "/blob/main/CHANGELOG.md"


def test_the_python_this_suite_runs_on_is_the_one_python_the_classifiers_claim() -> None:
    claimed = [c for c in _wheel_metadata().get_all("Classifier") or () if re.fullmatch(r".*Python :: 3\.\d+", c)]
    assert claimed == [f"Programming Language :: Python :: {sys.version_info.major}.{sys.version_info.minor}"]


# The wheel and the sdist hold what they should.


def test_the_wheel_holds_the_package_and_its_metadata_only() -> None:
    with zipfile.ZipFile(WHEEL) as wheel:
        names = wheel.namelist()
    dist_info = f"otel_agent_instrumentation-{_declared_version()}.dist-info/"
    assert {n for n in names if not n.startswith(dist_info)} == set(_source_files())
    assert {n for n in names if n.startswith(dist_info)} == {
        dist_info + f for f in ("METADATA", "WHEEL", "entry_points.txt", "RECORD", "licenses/LICENSE")
    }


@pytest.mark.parametrize("name", ["LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml"])
def test_the_sdist_holds_the_repository_file(name: str) -> None:
    assert _sdist_members()[name] == (ROOT / name).read_bytes()


def test_the_sdist_holds_every_source_file_of_the_package() -> None:
    package = {name[len("src/") :]: content for name, content in _sdist_members().items() if name.startswith("src/")}
    assert package == _source_files()


def test_the_sdist_holds_no_environment_or_build_output() -> None:
    top_level = {name.partition("/")[0] for name in _sdist_members()}
    assert not {name for name in top_level if name.startswith((".venv", "dist", "build"))}

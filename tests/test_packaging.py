"""The distribution's metadata: what the code imports is declared, and one Python floor everywhere."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from otel_agent_instrumentation import package
from otel_agent_instrumentation.instrumentor import ADAPTER_ENTRY_POINT_GROUP

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "otel_agent_instrumentation"


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _import_time_modules(node: ast.AST) -> Iterator[str]:
    """Absolute modules imported when the module loads: not inside functions (adapters import their
    framework lazily in `targets()`), not under `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) or _is_type_checking_block(child):
            continue
        if isinstance(child, ast.Import):
            yield from (alias.name for alias in child.names)
        elif isinstance(child, ast.ImportFrom):
            if child.level == 0 and child.module is not None:
                # `from opentelemetry import trace` imports the module opentelemetry.trace.
                yield child.module
                yield from (f"{child.module}.{alias.name}" for alias in child.names)
        else:
            yield from _import_time_modules(child)


def _module_file(name: str) -> Path | None:
    """The file of module `name`; None for a name that is not a module (a class, a function) or is a
    namespace package (no file of its own)."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None
    return Path(spec.origin).resolve() if spec is not None and spec.origin is not None else None


def _distribution_of(module: str, origin: Path) -> str:
    """The installed distribution that provides `module`. A namespace package such as `opentelemetry`
    spans several distributions: then the one whose files hold the module's own file decides."""
    candidates = metadata.packages_distributions()[module.partition(".")[0]]
    if len(set(candidates)) == 1:
        return canonicalize_name(candidates[0])
    for name in candidates:
        distribution = metadata.distribution(name)
        if any(Path(str(distribution.locate_file(file))).resolve() == origin for file in distribution.files or ()):
            return canonicalize_name(name)
    raise AssertionError(f"no installed distribution holds {module} ({origin})")


# Entry-point groups whose loader is itself the distribution named: a module only loaded through such an entry
# point (the pytest plugin, the `agent_tree` exporter) may import it without our declaring it.
HOST_OF_GROUP = {"pytest11": "pytest", "opentelemetry_traces_exporter": "opentelemetry-sdk"}


def _hosted_modules() -> dict[str, str]:
    """Our module path (relative, e.g. pytest_plugin.py) -> the distribution its entry point's loader is."""
    hosted = {}
    for group, host in HOST_OF_GROUP.items():
        for value in _pyproject()["project"]["entry-points"].get(group, {}).values():
            module = value.partition(":")[0]
            hosted[module.removeprefix(f"{PACKAGE.name}.").replace(".", "/") + ".py"] = host
    return hosted


def test_every_third_party_module_imported_at_import_time_is_a_declared_dependency() -> None:
    hosted = _hosted_modules()
    assert set(hosted) == {"pytest_plugin.py", "tree_exporter.py"}
    needed: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        imported = {
            module
            for module in _import_time_modules(ast.parse(path.read_text()))
            if module.partition(".")[0] not in sys.stdlib_module_names and module.partition(".")[0] != PACKAGE.name
        }
        files = {module: _module_file(module) for module in imported}
        found = {_distribution_of(module, file) for module, file in files.items() if file is not None}
        host = hosted.get(str(path.relative_to(PACKAGE)))
        needed |= found - {canonicalize_name(host)} if host else found
    assert needed, "found no third-party import at all"
    declared = {canonicalize_name(Requirement(r).name) for r in _pyproject()["project"]["dependencies"]}
    assert needed - declared == set()


def _python_floor() -> Version:
    (specifier,) = Requirement(f"python{_pyproject()['project']['requires-python']}").specifier
    assert specifier.operator == ">="
    return Version(specifier.version)


def test_readme_states_the_python_floor_of_requires_python() -> None:
    stated = re.findall(r"Python (\d+\.\d+)\+", (ROOT / "README.md").read_text())
    assert stated, "README names no Python floor"
    assert {Version(version) for version in stated} == {_python_floor()}


def test_linters_check_against_the_python_floor() -> None:
    tools = _pyproject()["tool"]
    floor = _python_floor()
    assert tools["ruff"]["target-version"] == f"py{floor.major}{floor.minor}"
    assert Version(tools["mypy"]["python_version"]) == floor


def test_set_up_scripts_accept_exactly_the_python_floor() -> None:
    script = (ROOT / "scripts" / "find-python.sh").read_text()
    (minimum,) = re.findall(r"sys\.version_info < \((\d+), (\d+)\)", script)
    assert Version(".".join(minimum)) == _python_floor()


def test_package_lists_the_checked_range_of_every_built_in_adapter() -> None:
    listed = {canonicalize_name(r.name): r.specifier for r in map(Requirement, package._supported_frameworks)}
    adapters = [
        entry_point.load()
        for entry_point in metadata.entry_points(group=ADAPTER_ENTRY_POINT_GROUP)
        if entry_point.value.startswith(f"{PACKAGE.name}.")
    ]
    built_in = {canonicalize_name(a.distribution): SpecifierSet(a.supported) for a in adapters if a.distribution}
    assert len(built_in) >= 6
    assert listed == built_in


def test_classifiers_claim_exactly_the_python_floor_the_suite_runs_on() -> None:
    # scripts/test-lowest.sh runs on the floor; no other Python runs in CI (README "Python versions").
    classifiers = _pyproject()["project"]["classifiers"]
    claimed = [
        c.rpartition(" :: ")[2] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert [Version(version) for version in claimed] == [_python_floor()]

"""The adapter API: one public module holds every name an adapter is written with."""

from __future__ import annotations

import ast
import collections
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import otel_agent_instrumentation.adapters as adapter_api

ROOT = Path(__file__).resolve().parent.parent
BUILT_IN_ADAPTERS = Path(adapter_api.__file__).parent
EXAMPLE_ADAPTER = ROOT / "examples" / "third_party_adapter" / "src" / "toy_agents_otel"


def test_every_name_in_the_adapter_api_resolves() -> None:
    missing = [name for name in adapter_api.__all__ if not hasattr(adapter_api, name)]
    assert missing == []


def test_the_adapter_api_names_each_export_once() -> None:
    assert len(set(adapter_api.__all__)) == len(adapter_api.__all__)


def _package_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of each import of otel_agent_instrumentation in the file, at any depth."""
    imports: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            imports.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            imports.extend((alias.name, []) for alias in node.names)
    return [(module, names) for module, names in imports if module.partition(".")[0] == "otel_agent_instrumentation"]


def test_third_party_example_imports_only_the_public_adapter_api() -> None:
    imports = [i for path in sorted(EXAMPLE_ADAPTER.glob("*.py")) for i in _package_imports(path)]
    assert imports, "the example adapter imports nothing of ours"
    private = [(module, name) for module, names in imports for name in names if name not in adapter_api.__all__]
    assert {module for module, _ in imports} == {"otel_agent_instrumentation.adapters"}
    assert private == []


def _core_names_imported(path: Path) -> set[str]:
    """Names the built-in adapter module imports from the core (relative imports outside its own package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            names.update(alias.name for alias in node.names)
    return names


def test_the_adapter_api_covers_every_core_name_the_built_in_framework_adapters_import() -> None:
    # generic.py is the core's own adapter for user targets (it resolves them with _patching).
    modules = [p for p in BUILT_IN_ADAPTERS.glob("*.py") if p.name not in {"__init__.py", "_base.py", "generic.py"}]
    assert len(modules) >= 6
    outside = {f"{p.name}: {name}" for p in modules for name in _core_names_imported(p) - set(adapter_api.__all__)}
    assert outside == set()


class _OwnMapping(Mapping[str, int]):
    def __getitem__(self, key: str) -> int:
        raise KeyError(key)

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


@pytest.mark.parametrize(
    "value",
    [{}, collections.OrderedDict(), types.MappingProxyType({}), _OwnMapping(), None, [], (), "text", object()],
    ids=["dict", "OrderedDict", "mappingproxy", "own Mapping", "None", "list", "tuple", "str", "object"],
)
def test_is_mapping_answers_as_the_mapping_abc(value: object) -> None:
    assert adapter_api.is_mapping(value) is isinstance(value, Mapping)

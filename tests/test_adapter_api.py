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
from otel_agent_instrumentation import semconv
from tests.conftest import Telemetry

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


class _ShoutingName(str):
    """A provider name whose own methods answer otherwise than str's: worked out each time, never remembered."""

    def strip(self, chars: str | None = None) -> str:
        return "Shouted"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("OpenAI", "openai"),
        (" mistral ", "mistral_ai"),
        ("google-gla", "gcp.gemini"),
        ("MyProvider", "myprovider"),
        ("", None),
        ("   ", None),
        (None, None),
        (3, None),
        (["openai"], None),
    ],
    ids=["known", "padded", "alias", "unknown", "empty", "blank", "None", "int", "list"],
)
def test_provider_name_answers_the_same_when_asked_again(raw: object, expected: str | None) -> None:
    assert [semconv.provider_name(raw) for _ in range(2)] == [expected, expected]


def test_provider_name_of_a_str_subclass_is_worked_out_with_its_own_methods() -> None:
    semconv.provider_name("OpenAI")  # the plain string's answer, remembered
    assert semconv.provider_name(_ShoutingName("OpenAI")) == "shouted"


def test_provider_name_keeps_at_most_256_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(semconv, "_provider_names", {})
    answers = {semconv.provider_name(f"Provider{n}") for n in range(300)}
    assert (len(answers), len(semconv._provider_names), semconv.provider_name("Provider299")) == (
        300,
        256,
        "provider299",
    )


class _CountingMeta(type):
    """A class whose failed attribute lookups are counted (each would cost an AttributeError)."""

    misses = 0

    def __getattr__(cls, name: str) -> Any:
        _CountingMeta.misses += 1
        raise AttributeError(name)


class _Streamish(metaclass=_CountingMeta):
    @property
    def updates(self) -> list[Any]:
        return []


def test_class_attribute_answers_as_getattr_with_none_and_asks_the_class_once() -> None:
    names = ("updates", "absent", "updates", "absent")
    expected = [getattr(_Streamish, name, None) for name in names]
    _CountingMeta.misses = 0
    answers = [adapter_api.class_attribute(_Streamish, name) for name in names]
    assert (answers, _CountingMeta.misses) == (expected, 1)


class _UnhashableMeta(type):
    __hash__ = None  # type: ignore[assignment]  # its classes cannot be dict keys


class _Unhashable(metaclass=_UnhashableMeta):
    updates = "kept on the class"


def test_class_attribute_answers_for_a_class_that_cannot_be_a_dict_key() -> None:
    answers = [adapter_api.class_attribute(_Unhashable, name) for name in ("updates", "absent")]
    assert answers == ["kept on the class", None]


def test_class_attribute_answers_without_keeping_once_its_store_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    from otel_agent_instrumentation import stream

    monkeypatch.setattr(stream, "_CLASS_LOOKUPS_KEPT", 0)
    monkeypatch.setattr(stream, "_class_attributes", {})
    _CountingMeta.misses = 0
    answers = [adapter_api.class_attribute(_Streamish, "absent") for _ in range(2)]
    assert (answers, _CountingMeta.misses, stream._class_attributes) == ([None, None], 2, {})


def _tool_call(telemetry: Telemetry, reentry_key: str) -> adapter_api.Invocation:
    bound = adapter_api.Telemetry(adapter_api.Config(), telemetry.tracer_provider, telemetry.meter_provider)
    request = adapter_api.RequestFacts(operation=adapter_api.Operation.TOOL, tool_name="lookup")
    return adapter_api.Invocation(bound, request, object(), reentry_key)


def _call_handler_inside(
    invocation: adapter_api.Invocation | None, failures: adapter_api.HandledFailures, error: object
) -> Any:
    """The hooked handler called as the framework calls it, inside `invocation`'s step (if any)."""
    from opentelemetry import context as otel_context

    wrapper = failures.hook(lambda args, _: args[0], "noting a test tool's failure")(None)  # type: ignore[arg-type]
    token = otel_context.attach(invocation.step_context()) if invocation is not None else None
    try:
        return wrapper(lambda raised: f"error message for {raised!r}", None, (error,), {})
    finally:
        if token is not None:
            otel_context.detach(token)


def test_handled_failures_hand_the_exception_over_once_to_the_tool_call_it_ended(telemetry: Telemetry) -> None:
    failures = adapter_api.HandledFailures("toy:tool")
    call = _tool_call(telemetry, "toy:tool")
    error = ValueError("no such city")

    result = _call_handler_inside(call, failures, error)

    assert result == "error message for ValueError('no such city')"  # the handler's own result, unchanged
    assert failures.take(call) is error
    assert failures.take(call) is None
    call.finish(adapter_api.Outcome.FAILED, error)


@pytest.mark.parametrize("case", ["other reentry key", "finished call", "not an exception", "no run"])
def test_handled_failures_note_only_an_exception_inside_an_open_tool_call_of_their_key(
    telemetry: Telemetry, case: str
) -> None:
    failures = adapter_api.HandledFailures("toy:tool")
    call = _tool_call(telemetry, "other:tool" if case == "other reentry key" else "toy:tool")
    if case == "finished call":
        call.finish(adapter_api.Outcome.COMPLETED)

    _call_handler_inside(
        None if case == "no run" else call, failures, "a message" if case == "not an exception" else ValueError()
    )

    assert failures.take(call) is None
    call.finish(adapter_api.Outcome.COMPLETED)


def test_handled_failures_hook_that_fails_still_calls_the_handler(caplog: pytest.LogCaptureFixture) -> None:
    failures = adapter_api.HandledFailures("toy:tool")

    def broken_reader(args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
        raise RuntimeError("reader bug")

    wrapper = failures.hook(broken_reader, "noting a broken tool failure")(None)  # type: ignore[arg-type]

    assert wrapper(lambda raised: "handled", None, (ValueError(),), {}) == "handled"
    assert "noting a broken tool failure" in caplog.text

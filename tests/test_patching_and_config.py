"""Patching and configuration specs: uninstrument with another wrapper on top, targets given as generators."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from types import MethodType
from typing import Any

import pytest
import wrapt
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode

from otel_agent_instrumentation import AgentInstrumentor, _patching
from otel_agent_instrumentation._patching import (
    HOOK_DECISION,
    deciding_method_factory,
    defers_body,
    exact_signature_method,
)
from otel_agent_instrumentation.adapters import HookTarget, WrapperFunction
from otel_agent_instrumentation.instrumentor import apply_target
from tests.conftest import INTERNAL, UNSET, Instrumentation, Telemetry, span_tree
from tests.sample_app import agents
from tests.sample_app.agents import NamedAgent

TARGET = "tests.sample_app.agents:NamedAgent.run"


def wrap_after_us(calls: list[str]) -> Callable[[], None]:
    """Another instrumentation wrapping NamedAgent.run after ours; returns its own undo."""
    ours = vars(NamedAgent)["run"]

    @functools.wraps(ours)
    def theirs(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("theirs")
        return ours(self, *args, **kwargs)

    NamedAgent.run = theirs  # type: ignore[method-assign]

    def undo() -> None:
        NamedAgent.run = ours  # type: ignore[method-assign]

    return undo


def test_uninstrument_keeps_a_wrapper_added_after_ours(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on(targets=[TARGET])
    calls: list[str] = []
    undo_theirs = wrap_after_us(calls)
    try:
        AgentInstrumentor().uninstrument()
        assert (NamedAgent().run(), calls, telemetry.agent_spans()) == ("plan", ["theirs"], [])
    finally:
        undo_theirs()


def test_a_wrapper_added_after_ours_and_removed_later_leaves_ours_switched_off(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    pristine = vars(NamedAgent)["run"]
    instrumentation.on(targets=[TARGET])
    undo_theirs = wrap_after_us([])
    AgentInstrumentor().uninstrument()
    undo_theirs()  # theirs restores what it found: our wrapper, switched off
    try:
        assert (NamedAgent().run(), telemetry.agent_spans()) == ("plan", [])
    finally:
        NamedAgent.run = pristine  # type: ignore[method-assign]


def test_targets_given_as_a_generator_are_all_instrumented(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=(target for target in [TARGET]))
    NamedAgent().run()
    assert [span.name for span in telemetry.agent_spans()] == ["invoke_agent planner"]


def test_disabled_adapters_given_as_a_generator_are_all_disabled(instrumentation: Instrumentation) -> None:
    from agents.run import AgentRunner

    before = vars(AgentRunner)["run"]
    instrumentation.on(disabled_adapters=(name for name in ["openai_agents"]))
    assert vars(AgentRunner)["run"] is before


# -- what a patched method looks like (_patching: plain functions of ours, wrapt for the rest) ---------------

PLAIN_AND_WRAPT_TARGETS = [
    "tests.sample_app.agents:NamedAgent.run",
    "tests.sample_app.agents:NamedAgent.arun",
    "tests.sample_app.agents:NamedAgent.astream",
    "tests.sample_app.agents:NamedAgent.stream",
    "tests.sample_app.agents:plan_function",
]


def _introspection(function: Any) -> tuple[Any, ...]:
    return (
        function.__name__,
        function.__qualname__,
        function.__module__,
        function.__doc__,
        str(inspect.signature(function)),
        typing.get_type_hints(function),
        inspect.iscoroutinefunction(function),
        inspect.isgeneratorfunction(function),
        inspect.isasyncgenfunction(function),
        inspect.isfunction(function),
    )


@pytest.mark.parametrize("name", ["run", "arun", "astream", "stream"])
def test_a_patched_method_introspects_as_the_original(instrumentation: Instrumentation, name: str) -> None:
    bare = _introspection(vars(NamedAgent)[name])
    instrumentation.on(targets=PLAIN_AND_WRAPT_TARGETS)
    assert _introspection(vars(NamedAgent)[name]) == bare


def test_a_patched_module_function_introspects_as_the_original(instrumentation: Instrumentation) -> None:
    bare = _introspection(agents.plan_function)
    instrumentation.on(targets=PLAIN_AND_WRAPT_TARGETS)
    assert _introspection(agents.plan_function) == bare


def test_a_patched_plain_method_binds_as_a_method_of_the_instance(instrumentation: Instrumentation) -> None:
    original = vars(NamedAgent)["run"]
    instrumentation.on(targets=PLAIN_AND_WRAPT_TARGETS)
    agent = NamedAgent()
    bound: Any = agent.run
    assert (inspect.ismethod(bound), bound.__self__ is agent, bound.__wrapped__ is original) == (True, True, True)


def test_a_plain_method_called_through_its_class_is_the_same_run(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=PLAIN_AND_WRAPT_TARGETS)
    agent = NamedAgent()
    result = NamedAgent.run(agent)
    assert (result, [span.name for span in telemetry.agent_spans()]) == ("plan", ["invoke_agent planner"])


def test_a_patched_plain_method_under_suppression_is_the_original_call(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=PLAIN_AND_WRAPT_TARGETS)
    with suppress_instrumentation():
        result = NamedAgent().run()
    assert (result, telemetry.agent_spans()) == ("plan", [])


def test_uninstrument_puts_back_every_original_object(instrumentation: Instrumentation) -> None:
    originals = [vars(NamedAgent)[name] for name in ("run", "arun", "astream", "stream")] + [agents.plan_function]
    instrumentation.on(targets=PLAIN_AND_WRAPT_TARGETS)
    AgentInstrumentor().uninstrument()
    now = [vars(NamedAgent)[name] for name in ("run", "arun", "astream", "stream")] + [agents.plan_function]
    assert all(a is b for a, b in zip(originals, now, strict=True))


# -- a target whose call runs none of its body (defers_body): no span made current around the call ------------


@pytest.mark.parametrize(
    ("attribute", "deferred"),
    [("arun", True), ("astream", True), ("stream", True), ("run", False), ("session", False)],
    ids=["async-def", "async-generator", "generator", "plain-def", "decorated-async-context-manager"],
)
def test_only_a_coroutine_or_generator_function_counts_as_deferring_its_body(attribute: str, deferred: bool) -> None:
    assert defers_body("tests.sample_app.agents", f"NamedAgent.{attribute}") is deferred


@pytest.mark.parametrize("attribute", ["arun", "astream"])
def test_a_deferred_target_called_with_wrong_arguments_raises_the_original_type_error_and_its_span_fails(
    instrumentation: Instrumentation, telemetry: Telemetry, attribute: str
) -> None:
    with pytest.raises(TypeError) as bare:
        getattr(NamedAgent(), attribute)(unknown=1)
    instrumentation.on(targets=[f"tests.sample_app.agents:NamedAgent.{attribute}"])
    with pytest.raises(TypeError) as instrumented:
        getattr(NamedAgent(), attribute)(unknown=1)
    [span] = telemetry.agent_spans()
    assert (str(instrumented.value), span.status.status_code, dict(span.attributes or {})["error.type"]) == (
        str(bare.value),
        StatusCode.ERROR,
        "TypeError",
    )


# -- a plain method without *args or **kwargs is patched with its own parameters (exact_signature_method) --------

OPTIONS_TARGET = "tests.sample_app.agents:OptionsAgent.run"


def test_a_patched_method_with_its_own_parameters_introspects_as_the_original(instrumentation: Instrumentation) -> None:
    bare = _introspection(vars(agents.OptionsAgent)["run"])
    instrumentation.on(targets=[OPTIONS_TARGET])
    assert _introspection(vars(agents.OptionsAgent)["run"]) == bare


@pytest.mark.parametrize("suppressed", [False, True], ids=["traced", "suppressed"])
def test_a_patched_method_passes_the_original_the_arguments_and_default_objects_it_would_receive(
    instrumentation: Instrumentation, suppressed: bool
) -> None:
    instrumentation.on(targets=[OPTIONS_TARGET])
    with suppress_instrumentation() if suppressed else contextlib.nullcontext():
        received = agents.OptionsAgent().run("p")
    assert received == ("p", "why", agents.DEFAULT_OPTIONS, False) and received[2] is agents.DEFAULT_OPTIONS


def test_a_patched_method_passes_arguments_given_by_name_as_the_original_receives_them(
    instrumentation: Instrumentation,
) -> None:
    bare = agents.OptionsAgent().run("p", question="how", stream=True, options={"seed": 1})
    instrumentation.on(targets=[OPTIONS_TARGET])
    assert agents.OptionsAgent().run("p", question="how", stream=True, options={"seed": 1}) == bare


# Four wrong calls of a function of OptionsAgent.run's parameters (prompt, /, question, *, options, stream).
WRONG_CALLS = pytest.mark.parametrize(
    "call",
    [
        lambda run: run(),
        lambda run: run(prompt="p"),
        lambda run: run("p", unknown=1),
        lambda run: run("p", "how", True),
    ],
    ids=["missing", "positional-only-by-name", "unknown-keyword", "keyword-only-by-position"],
)


@WRONG_CALLS
def test_a_patched_method_called_wrongly_raises_the_type_error_the_original_raises(
    instrumentation: Instrumentation, call: Callable[[Any], Any]
) -> None:
    with pytest.raises(TypeError) as bare:
        call(agents.OptionsAgent().run)
    instrumentation.on(targets=[OPTIONS_TARGET])
    with pytest.raises(TypeError) as instrumented:
        call(agents.OptionsAgent().run)
    assert str(instrumented.value) == str(bare.value)


def test_a_new_run_gets_the_bound_arguments_positional_ones_in_args_keyword_only_ones_in_kwargs() -> None:
    seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def run(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        seen.append((args, kwargs))
        assert (wrapped.__self__, wrapped.__func__) == (instance, original)  # the original, bound to the instance
        return "traced"

    original = vars(agents.OptionsAgent)["run"]
    method = exact_signature_method(original, [True], lambda instance: True, run)
    assert method is not None
    result = method(agents.OptionsAgent(), "p", stream=True)
    assert (result, seen) == ("traced", [(("p", "why"), {"options": agents.DEFAULT_OPTIONS, "stream": True})])


def test_a_method_taking_packed_arguments_gets_no_generated_method() -> None:
    def run(self: Any, *args: Any, **kwargs: Any) -> None:
        return None

    assert exact_signature_method(run, [True], lambda instance: True, lambda *_: None) is None  # type: ignore[arg-type]


# A `@contextmanager` method's helper takes `*args, **kwds` and hands both to the generator function: its
# generated method takes the generator function's parameters (pydantic-ai's run_stream and iter).
SESSION_TARGET = "tests.sample_app.agents:OptionsAgent.session"


def _session(agent: agents.OptionsAgent, *args: Any, **kwargs: Any) -> Any:
    with agent.session(*args, **kwargs) as received:
        return received


def test_a_context_manager_method_gets_a_method_with_its_generator_functions_parameters() -> None:
    def run(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        return "traced"

    method = exact_signature_method(vars(agents.OptionsAgent)["session"], [True], lambda instance: True, run)
    assert method is not None and list(inspect.signature(method).parameters) == [
        "self",
        "prompt",
        "question",
        "options",
        "stream",
    ]


def test_a_patched_context_manager_method_introspects_as_the_original(instrumentation: Instrumentation) -> None:
    bare = _introspection(vars(agents.OptionsAgent)["session"])
    instrumentation.on(targets=[SESSION_TARGET])
    assert _introspection(vars(agents.OptionsAgent)["session"]) == bare


@pytest.mark.parametrize("suppressed", [False, True], ids=["traced", "suppressed"])
def test_a_patched_context_manager_method_hands_its_generator_the_arguments_and_default_objects(
    instrumentation: Instrumentation, suppressed: bool
) -> None:
    instrumentation.on(targets=[SESSION_TARGET])
    with suppress_instrumentation() if suppressed else contextlib.nullcontext():
        received = _session(agents.OptionsAgent(), "p", stream=True)
    assert received == ("p", "why", agents.DEFAULT_OPTIONS, True) and received[2] is agents.DEFAULT_OPTIONS


@WRONG_CALLS
def test_a_patched_context_manager_method_called_wrongly_raises_the_type_error_the_original_raises(
    instrumentation: Instrumentation, call: Callable[[Any], Any]
) -> None:
    with pytest.raises(TypeError) as bare:
        call(functools.partial(_session, agents.OptionsAgent()))
    instrumentation.on(targets=[SESSION_TARGET])
    with pytest.raises(TypeError) as instrumented:
        call(functools.partial(_session, agents.OptionsAgent()))
    assert str(instrumented.value) == str(bare.value)


def test_a_method_under_another_decorator_taking_packed_arguments_gets_no_generated_method() -> None:
    # Another decorator may tell a default from an argument passed: its packed arguments are not unpacked.
    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def helper(*args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

        return helper

    @decorator
    def run(self: Any, prompt: str) -> str:
        return prompt

    assert exact_signature_method(run, [True], lambda instance: True, lambda *_: None) is None  # type: ignore[arg-type]


# -- a hook with applies_to (HookTarget): calls it has nothing to do with go straight to the original ----------


def _recording_wrapper(calls: list[Any]) -> WrapperFunction:
    """A hook's wrapper that records the arguments it got and marks what it returns."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        calls.append((args, kwargs))
        return ("hooked", wrapped(*args, **kwargs))

    return wrapper


def _hooked_run(applies_to: Callable[[Any], bool], calls: list[Any]) -> Callable[..., Any]:
    wrapper = _recording_wrapper(calls)
    method = deciding_method_factory(wrapper, applies_to, HOOK_DECISION)(vars(agents.OptionsAgent)["run"], [True])
    return functools.partial(method, agents.OptionsAgent())


class _FailingAgents:
    """A `run` patched with a method generated with its own parameters ("exact") and one patched with a
    packing method ("packed": it takes **kwargs); each raises its own error for the prompt "fail"."""

    class Exact:
        def run(self, prompt: str, *, stream: bool = False) -> Any:
            if prompt == "fail":
                raise ValueError("the original's own failure")
            return (prompt, stream)

    class Packed:
        def run(self, prompt: str, **options: Any) -> Any:
            if prompt == "fail":
                raise ValueError("the original's own failure")
            return (prompt, options)


def _hooked_call(where: str, applies_to: Callable[[Any], bool], calls: list[Any]) -> Callable[..., Any]:
    owner = _FailingAgents.Exact if where == "exact" else _FailingAgents.Packed
    method = deciding_method_factory(_recording_wrapper(calls), applies_to, HOOK_DECISION)(vars(owner)["run"], [True])
    generated = method.__code__.co_filename.startswith("<otel-agent-instrumentation patch")
    assert generated == (where == "exact")
    return functools.partial(method, owner())


def test_a_hook_that_does_not_apply_to_the_instance_is_not_called() -> None:
    calls: list[Any] = []
    result = _hooked_run(lambda instance: False, calls)("p", stream=True)
    assert (result, calls) == (("p", "why", agents.DEFAULT_OPTIONS, True), [])


def test_a_hook_that_applies_to_the_instance_gets_the_call_and_its_arguments() -> None:
    calls: list[Any] = []
    result = _hooked_run(lambda instance: True, calls)("p", stream=True)
    assert (result, calls) == (
        ("hooked", ("p", "why", agents.DEFAULT_OPTIONS, True)),
        [(("p", "why"), {"options": agents.DEFAULT_OPTIONS, "stream": True})],
    )


def _broken_predicate(instance: Any) -> bool:
    """An adapter's `applies_to` that raises."""
    raise RuntimeError("broken predicate")


def test_a_hook_whose_applies_to_raises_leaves_the_call_to_the_original_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[Any] = []
    result = _hooked_run(_broken_predicate, calls)("p")
    assert (result, calls, "deciding whether a hook applies" in caplog.text) == (
        ("p", "why", agents.DEFAULT_OPTIONS, False),
        [],
        True,
    )


@pytest.mark.parametrize("where", ["exact", "packed"])
def test_a_hook_whose_applies_to_raises_calls_the_original_with_the_arguments_as_given_and_logs(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[Any] = []
    result = _hooked_call(where, _broken_predicate, calls)("p", stream=True)
    expected = ("p", True) if where == "exact" else ("p", {"stream": True})
    assert (result, calls, "deciding whether a hook applies" in caplog.text) == (expected, [], True)


@pytest.mark.parametrize("where", ["exact", "packed"])
def test_what_the_original_raises_after_a_failed_decision_carries_no_error_of_ours(where: str) -> None:
    with pytest.raises(ValueError) as raised:
        _hooked_call(where, _broken_predicate, [])("fail")
    assert (str(raised.value), raised.value.__context__) == ("the original's own failure", None)


# -- a hook with applies_to on an `async def` gets an `async def` of ours (awaited_hook_coroutine) -------------

PREPARE_TARGETS = {"method": "OptionsAgent.prepare", "module function": "prepare_options"}


def _prepare(where: str) -> Callable[..., Any]:
    if where == "method":
        return agents.OptionsAgent().prepare
    return agents.prepare_options


@contextlib.contextmanager
def _hooked_prepare(where: str, applies: Callable[[Any], bool], calls: list[Any]) -> Iterator[_patching.Patch]:
    """`prepare` patched as the instrumentor patches a hook with applies_to; the wrapper records its call and
    tags the result."""

    async def tagged(awaitable: Any) -> Any:
        return ("hooked", await awaitable)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        calls.append((wrapped, instance, args, kwargs))
        return tagged(wrapped(*args, **kwargs))

    with _applied_hook(PREPARE_TARGETS[where], wrapper, applies) as patch:
        yield patch


@contextlib.contextmanager
def _applied_hook(
    attribute: str, wrapper: WrapperFunction, applies: Callable[[Any], bool] | None
) -> Iterator[_patching.Patch]:
    """A HookTarget on `tests.sample_app.agents:attribute` applied as the instrumentor applies it, reverted
    after."""
    target = HookTarget("tests.sample_app.agents", attribute, lambda telemetry: wrapper, applies)
    patch = apply_target(target, typing.cast(Any, None), "test")
    try:
        yield patch
    finally:
        patch.revert()


@pytest.mark.parametrize("where", PREPARE_TARGETS)
def test_a_hooked_async_def_is_patched_by_an_async_def_that_introspects_as_the_original(where: str) -> None:
    bare = _introspection(_prepare(where))
    with _hooked_prepare(where, lambda instance: False, []):
        patched = _prepare(where)
        assert (_introspection(patched), getattr(patched, "__otel_agent_patch__", False)) == (bare, True)


@pytest.mark.parametrize("where", PREPARE_TARGETS)
def test_a_hooked_async_def_that_does_not_apply_awaits_the_original_with_its_arguments_and_default_objects(
    where: str,
) -> None:
    calls: list[Any] = []
    with _hooked_prepare(where, lambda instance: False, calls):
        received = asyncio.run(_prepare(where)("p", stream=True))
    assert (received, calls) == (("p", "why", agents.DEFAULT_OPTIONS, True), [])
    assert received[2] is agents.DEFAULT_OPTIONS


def test_a_hooked_async_method_that_applies_gets_the_bound_original_the_instance_and_the_bound_arguments() -> None:
    calls: list[Any] = []
    agent = agents.OptionsAgent()
    with _hooked_prepare("method", lambda instance: instance is agent, calls):
        received: Any = asyncio.run(agent.prepare("p", stream=True))
    [(wrapped, instance, args, kwargs)] = calls
    assert (received, wrapped.__self__, wrapped.__func__, instance, args, kwargs) == (
        ("hooked", ("p", "why", agents.DEFAULT_OPTIONS, True)),
        agent,
        vars(agents.OptionsAgent)["prepare"],
        agent,
        ("p", "why"),
        {"options": agents.DEFAULT_OPTIONS, "stream": True},
    )


def test_a_hooked_async_module_function_that_applies_gets_no_instance_and_every_positional_argument() -> None:
    calls: list[Any] = []
    original = agents.prepare_options
    with _hooked_prepare("module function", lambda instance: True, calls):
        received: Any = asyncio.run(agents.prepare_options("p", stream=True))
    assert (received, calls) == (
        ("hooked", ("p", "why", agents.DEFAULT_OPTIONS, True)),
        [(original, None, ("p", "why"), {"options": agents.DEFAULT_OPTIONS, "stream": True})],
    )


def test_a_hooked_async_def_decides_at_its_first_step_not_at_the_call() -> None:
    # Where the original's own body starts: a coroutine made before the hook applies and awaited after.
    applying: list[bool] = []
    calls: list[Any] = []
    with _hooked_prepare("method", lambda instance: bool(applying), calls):
        made = agents.OptionsAgent().prepare("p")
        applying.append(True)
        received = asyncio.run(made)
    assert (received[0], len(calls)) == ("hooked", 1)


@pytest.mark.parametrize("where", PREPARE_TARGETS)
@WRONG_CALLS
def test_a_hooked_async_def_called_wrongly_raises_the_type_error_the_original_raises_at_the_call(
    where: str, call: Callable[[Any], Any]
) -> None:
    with pytest.raises(TypeError) as bare:
        call(_prepare(where))
    with _hooked_prepare(where, lambda instance: True, []), pytest.raises(TypeError) as instrumented:
        call(_prepare(where))
    assert str(instrumented.value) == str(bare.value)


def test_a_hooked_async_def_whose_applies_to_raises_awaits_the_original_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[Any] = []
    with _hooked_prepare("method", _broken_predicate, calls):
        received = asyncio.run(agents.OptionsAgent().prepare("p"))
    assert (received, calls, "deciding whether a hook applies" in caplog.text) == (
        ("p", "why", agents.DEFAULT_OPTIONS, False),
        [],
        True,
    )


def test_a_hooked_async_def_switched_off_awaits_the_original() -> None:
    # What uninstrument leaves when another wrapper sits on top of ours (Patch.revert).
    calls: list[Any] = []
    with _hooked_prepare("method", lambda instance: True, calls) as patch:
        patch.switch.clear()
        received = asyncio.run(agents.OptionsAgent().prepare("p"))
    assert (received, calls) == (("p", "why", agents.DEFAULT_OPTIONS, False), [])


@pytest.mark.parametrize("where", PREPARE_TARGETS)
def test_a_hook_without_applies_to_on_an_async_def_stays_with_wrapt(where: str) -> None:
    with _applied_hook(PREPARE_TARGETS[where], _pass, None) as patch:
        assert isinstance(patch.wrapper, wrapt.FunctionWrapper)


@pytest.mark.parametrize("where", PREPARE_TARGETS)
def test_reverting_a_hooked_async_def_puts_back_the_original_object(where: str) -> None:
    before = _patching.resolve("tests.sample_app.agents", PREPARE_TARGETS[where])[2]
    with _hooked_prepare(where, lambda instance: True, []):
        assert _patching.resolve("tests.sample_app.agents", PREPARE_TARGETS[where])[2] is not before
    assert _patching.resolve("tests.sample_app.agents", PREPARE_TARGETS[where])[2] is before


def test_a_hooked_async_def_taking_many_keyword_only_parameters_stays_with_wrapt() -> None:
    # Forwarding them would build a second dict of them (awaited_hook_coroutine): wrapt passes the caller's on.
    namespace: dict[str, Any] = {}
    exec(f"async def turn(*, {', '.join(f'k{index}' for index in range(20))}):\n    return None\n", namespace)
    assert (
        _patching.awaited_hook_coroutine(namespace["turn"], [True], lambda instance: True, _pass, bound=False) is None
    )


def _pass(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return wrapped(*args, **kwargs)


@contextlib.contextmanager
def _hooked_many_options(applies: Callable[[Any], bool], calls: list[Any]) -> Iterator[_patching.Patch]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        calls.append(kwargs)
        return wrapped(*args, **kwargs)

    with _applied_hook("prepare_many_options", wrapper, applies) as patch:
        yield patch


@pytest.mark.parametrize("applies", [False, True], ids=["does-not-apply", "applies"])
def test_a_hooked_module_function_that_stays_with_wrapt_calls_the_wrapper_only_where_the_hook_applies(
    applies: bool,
) -> None:
    calls: list[Any] = []
    with _hooked_many_options(lambda instance: applies, calls) as patch:
        received = asyncio.run(agents.prepare_many_options(o1=100))
    assert (isinstance(patch.wrapper, wrapt.FunctionWrapper), received, calls) == (
        True,
        235,
        [{"o1": 100}] if applies else [],
    )


def test_a_hooked_module_function_that_stays_with_wrapt_switched_off_calls_the_original() -> None:
    calls: list[Any] = []
    with _hooked_many_options(lambda instance: True, calls) as patch:
        patch.switch.clear()
        received = asyncio.run(agents.prepare_many_options())
    assert (received, calls) == (136, [])


# -- a run target's method that stays with wrapt decides where it is bound whether to bind the original -----------
# (_patching._DecidedAtBinding: a suppressed run binds the original and never meets wrapt)

# kind -> (owner, method name) in tests.sample_app.agents
WRAPT_RUN_METHODS: dict[str, tuple[Any, str]] = {
    "async def": (NamedAgent, "arun"),
    "forwarding through a dict": (agents.ManyOptionsAgent, "run"),
}


def _wrapt_run_target(where: str) -> str:
    owner, name = WRAPT_RUN_METHODS[where]
    return f"tests.sample_app.agents:{owner.__name__}.{name}"


def _call(bound: Any) -> Any:
    result = bound()
    return asyncio.run(result) if inspect.iscoroutine(result) else result


@pytest.mark.parametrize("where", WRAPT_RUN_METHODS)
def test_a_wrapt_run_method_bound_while_suppressed_is_the_originals_bound_method(
    instrumentation: Instrumentation, where: str
) -> None:
    owner, name = WRAPT_RUN_METHODS[where]
    original = vars(owner)[name]
    instrumentation.on(targets=[_wrapt_run_target(where)])
    agent = owner()
    with suppress_instrumentation():
        bound = getattr(agent, name)
    assert (type(bound), bound.__func__, bound.__self__) == (MethodType, original, agent)


@pytest.mark.parametrize("where", WRAPT_RUN_METHODS)
def test_a_wrapt_run_method_bound_and_called_outside_suppression_is_traced(
    instrumentation: Instrumentation, telemetry: Telemetry, where: str
) -> None:
    owner, name = WRAPT_RUN_METHODS[where]
    bare = _call(getattr(owner(), name))
    instrumentation.on(targets=[_wrapt_run_target(where)])
    result = _call(getattr(owner(), name))
    assert (result, [span.name for span in telemetry.agent_spans()]) == (bare, [f"invoke_agent {owner.name}"])


def test_a_wrapt_run_method_bound_before_suppression_and_called_inside_it_is_not_traced(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # The FunctionWrapper it binds outside suppression still decides at the call.
    instrumentation.on(targets=[_wrapt_run_target("async def")])
    bound = NamedAgent().arun
    with suppress_instrumentation():
        result = asyncio.run(bound())
    assert (result, telemetry.agent_spans()) == ("plan", [])


def test_a_wrapt_run_method_bound_while_suppressed_and_called_after_it_is_not_traced(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # What moving the decision to the binding changes (_patching._DecidedAtBinding): the method bound is the original.
    instrumentation.on(targets=[_wrapt_run_target("async def")])
    with suppress_instrumentation():
        bound = NamedAgent().arun
    assert (asyncio.run(bound()), telemetry.agent_spans()) == ("plan", [])


class LayeredAgent:
    """A run whose body binds a layer of itself (`super().run`, pydantic-ai's `run` binding `self.iter`), or
    another agent's run."""

    name = "layered"

    def __init__(self) -> None:
        self.bound_inside: Any = None

    async def arun(self, layers: int = 1, other: LayeredAgent | None = None) -> str:
        if not layers:
            return "plan"
        self.bound_inside = (other or self).arun
        return await self.bound_inside(layers - 1)  # type: ignore[no-any-return]


_LAYERED_TARGET = f"{__name__}:LayeredAgent.arun"


def test_a_wrapt_run_method_bound_inside_a_run_of_its_own_object_is_the_originals_bound_method(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # An inner layer of the running run binds the original: the call never meets wrapt.
    original = vars(LayeredAgent)["arun"]
    instrumentation.on(targets=[_LAYERED_TARGET])
    agent = LayeredAgent()
    result = asyncio.run(agent.arun())
    bound = agent.bound_inside
    assert (result, type(bound), bound.__func__, [span.name for span in telemetry.agent_spans()]) == (
        "plan",
        MethodType,
        original,
        ["invoke_agent layered"],
    )


def test_a_wrapt_run_method_of_another_object_bound_inside_a_run_is_traced_as_its_own_run(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=[_LAYERED_TARGET])
    result = asyncio.run(LayeredAgent().arun(other=LayeredAgent()))
    assert (result, span_tree(telemetry)) == (
        "plan",
        [
            ("invoke_agent layered", INTERNAL, None, UNSET),
            ("invoke_agent layered", INTERNAL, "invoke_agent layered", UNSET),
        ],
    )


def test_a_wrapt_run_method_bound_inside_a_run_of_its_own_object_and_called_after_it_is_not_traced(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    # What deciding at the binding changes for inner layers: the method bound is the original, whenever it is called.
    instrumentation.on(targets=[_LAYERED_TARGET])
    agent = LayeredAgent()
    asyncio.run(agent.arun())
    telemetry.spans.clear()
    assert (asyncio.run(agent.bound_inside(0)), telemetry.agent_spans()) == ("plan", [])


def test_a_switched_off_wrapt_run_method_binds_the_original(instrumentation: Instrumentation) -> None:
    # What uninstrument leaves when another wrapper sits on top of ours (Patch.revert).
    original = vars(NamedAgent)["arun"]
    instrumentation.on(targets=[_wrapt_run_target("async def")])
    (patch,) = [patch for patch in AgentInstrumentor()._patches if patch.owner is NamedAgent]
    patch.switch.clear()
    bound: Any = NamedAgent().arun
    assert (type(bound), bound.__func__) == (MethodType, original)


@pytest.mark.parametrize(
    ("function", "through_a_dict"),
    [
        (vars(agents.OptionsAgent)["run"], False),
        (vars(agents.OptionsAgent)["session"], False),
        (vars(agents.ManyOptionsAgent)["run"], True),
    ],
    ids=["4 parameters", "context manager of 4", "16 keyword-only"],
)
def test_forwarding_through_a_dict_is_read_from_compiled_code(function: Any, through_a_dict: bool) -> None:
    assert _patching.forwards_through_a_dict(function) is through_a_dict

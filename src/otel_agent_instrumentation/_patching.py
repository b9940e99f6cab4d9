"""Applying and reverting method patches so that uninstrument restores the very same objects.

`setattr(owner, name, original)` on undo would leave a copy of an inherited method on the subclass,
so each patch records whether the name was in the owner's own `__dict__` and deletes it on undo if not.

A plain synchronous function (a `def` that is not a generator or a coroutine function: Agent Framework's,
agno's and smolagents' `run`, the frameworks' span helpers) is replaced by a plain function of ours that
calls the wrapper with wrapt's (wrapped, instance, args, kwargs) signature; everything else (coroutine
and generator functions, classmethods, staticmethods, other callables) by a wrapt `FunctionWrapper`.
Why not wrapt for all: binding a `FunctionWrapper` to an instance and calling it costs wrapt 2.5 about
1-2 us per call, and one agent run passes up to five wrapped layers (`super().run()` chains), which is the
whole cost of a suppressed run and much of ours above the SDK floor; binding a function costs what
Python's own method binding costs. What the plain function keeps: the name, qualified name, module,
docstring, annotations and `__wrapped__` (`functools.update_wrapper`, so `inspect.signature` and
`typing.get_type_hints` read the original's), and that it is a function (a method when bound). What it
cannot keep for coroutine or generator functions (`inspect.iscoroutinefunction` and the like read the
code flags, which wrapt forwards) is why those stay with wrapt, with one exception: a hook on an `async def`
that says when it applies (`HookTarget.applies_to`) gets an `async def` of ours with the original's parameters
(`awaited_hook_coroutine`), a coroutine function as the original is. Its decision moves from the call to the
first step of the coroutine, which is where the original's own body starts; a run target keeps wrapt, because
its span starts at the call (the lifecycle: a run made in one task and awaited in another, never awaited).
A run target's method that keeps wrapt (and a plain one whose arguments a generated method would pass through a
dict, `forwards_through_a_dict`) sits behind a proxy that decides where it is bound (`_DecidedAtBinding`):
bound where the call would not start a run (instrumentation suppressed, or an inner layer of the running run), it
binds the original, and neither a suppressed run nor a run's inner layer meets wrapt.
"""

from __future__ import annotations

import contextlib
import dis
import functools
import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from types import CodeType, FunctionType, MethodType, ModuleType
from typing import Any

import wrapt

from ._guard import report_failure

logger = logging.getLogger("otel_agent_instrumentation")

# wrapt's wrapper signature: (wrapped, instance, args, kwargs) -> result
WrapperFunction = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
# Makes the plain function that replaces a plain function in a class, from (original, switch); for wrappers
# that can decide cheaply when to call straight through (runs.py: suppressed, an inner layer of a run).
MethodFactory = Callable[[FunctionType, list[bool]], Callable[..., Any]]


@dataclass(frozen=True)
class Patch:
    """One applied patch and what undoing it takes."""

    owner: Any
    name: str
    original: Any
    was_own_attribute: bool
    # Our FunctionWrapper or plain function, and its on/off switch: wrapt calls `enabled` per call and
    # calls straight through when it returns a false value (`switch.__len__` is a C method, so the check
    # costs little); our plain function reads the list itself.
    wrapper: Any = None
    switch: list[bool] = field(default_factory=list)

    def revert(self) -> bool:
        """Put the original back; False when another wrapper now sits on top of ours.

        Another instrumentation that wrapped the method after us holds our wrapper inside its own:
        putting the original back would silently remove theirs. Ours then stays in their chain,
        switched off (a plain call-through), and theirs keeps working.
        """
        if self.wrapper is not None and vars(self.owner).get(self.name) is not self.wrapper:
            self.switch.clear()
            logger.info(
                "%s.%s was wrapped again after otel-agent-instrumentation; ours is left in place, switched off",
                getattr(self.owner, "__qualname__", self.owner),
                self.name,
            )
            return False
        if self.was_own_attribute:
            setattr(self.owner, self.name, self.original)
        else:
            delattr(self.owner, self.name)
        return True


def resolve(module_name: str, attribute_path: str) -> tuple[Any, str, Any, bool]:
    """(owner, name, raw attribute, was it in owner.__dict__) for "module", "Class.method"."""
    owner: Any = importlib.import_module(module_name)
    *parents, name = attribute_path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    own = vars(owner) if hasattr(owner, "__dict__") else {}
    if name in own:
        return owner, name, _callable(own[name], module_name, attribute_path), True
    if isinstance(owner, type):
        # Inherited: find the raw descriptor along the MRO without binding it.
        for klass in owner.__mro__[1:]:
            if name in vars(klass):
                return owner, name, _callable(vars(klass)[name], module_name, attribute_path), False
    raise AttributeError(f"{module_name}:{attribute_path} does not exist")


def _callable(raw: Any, module_name: str, attribute_path: str) -> Any:
    # A FunctionWrapper around a constant (a target like "os:sep") would silently replace the
    # application's value with a proxy; only functions and methods can be run targets.
    if callable(raw) or isinstance(raw, (classmethod, staticmethod)):
        return raw
    raise TypeError(f"{module_name}:{attribute_path} is a {type(raw).__name__}, not a function or method")


# Code flags of the functions wrapt keeps wrapping (see the module docstring).
_NOT_PLAIN = inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE | inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR


def is_plain_function(raw: Any) -> bool:
    """A `def` whose code is neither a generator's nor a coroutine's (what `inspect` reads from the code)."""
    return type(raw) is FunctionType and not raw.__code__.co_flags & _NOT_PLAIN


def is_coroutine_function(raw: Any) -> bool:
    """An `async def` that is not an async generator function."""
    return type(raw) is FunctionType and raw.__code__.co_flags & _NOT_PLAIN == inspect.CO_COROUTINE


# A call of such a function runs none of its body: it only makes the coroutine or generator.
_BODY_DEFERRED = inspect.CO_COROUTINE | inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR


def defers_body(module_name: str, attribute_path: str) -> bool:
    """Whether calling the target only makes a coroutine or generator: an `async def` or a generator function,
    also as a classmethod or staticmethod. Nothing of the target runs inside such a call, so the run's span
    need not be current for it (runs.py)."""
    raw = resolve(module_name, attribute_path)[2]
    function = raw.__func__ if isinstance(raw, (classmethod, staticmethod)) else raw
    return type(function) is FunctionType and bool(function.__code__.co_flags & _BODY_DEFERRED)


def _plain_patch(
    owner: Any, original: FunctionType, wrapper: WrapperFunction, switch: list[bool], method: MethodFactory | None
) -> Any:
    if isinstance(owner, ModuleType):

        def patched_function(*args: Any, **kwargs: Any) -> Any:
            if not switch:
                return original(*args, **kwargs)
            return wrapper(original, None, args, kwargs)

        patched: Any = patched_function
    elif method is not None:
        patched = method(original, switch)
    else:
        # A function in a class: called bound (`agent.run(...)`, `super().run(...)`) or through the class
        # with the instance first (`RawAgent.run(agent, ...)`); either way `self` is the instance, which
        # is what wrapt passes as `instance`, with `wrapped` bound to it.
        def patched_method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not switch:
                return original(self, *args, **kwargs)
            return wrapper(MethodType(original, self), self, args, kwargs)

        patched = patched_method
    _mark_ours(patched, original)
    return patched


def _mark_ours(patched: Any, original: FunctionType) -> None:
    functools.update_wrapper(patched, original)
    patched.__otel_agent_patch__ = True  # tells ours apart from the application's own wrappers (tests, doctor)


# Code flags of the functions a forwarding method is not generated for: their extra positional or keyword
# arguments arrive packed, so forwarding them costs what `*args, **kwargs` costs anyway.
_PACKED_ARGUMENTS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
_GENERATED_PREFIX = "_otel_agent_"

# What a failed decision is logged as (report_failure's site): a hook's `applies_to`, a run target's check.
HOOK_DECISION = "deciding whether a hook applies"
RUN_DECISION = "deciding whether a call starts a run"


def _generator_function() -> Any:
    yield  # pragma: no cover - never run: its decorated helpers' code is what is kept


# The code of contextlib's `@contextmanager` / `@asynccontextmanager` helpers, `helper(*args, **kwds)`, which
# hand both whole to the decorated generator function: any argument the function takes is passed on as is.
_CONTEXT_MANAGER_HELPERS = frozenset(
    {
        contextlib.contextmanager(_generator_function).__code__,
        contextlib.asynccontextmanager(_generator_function).__code__,
    }
)


def _parameters_of(original: FunctionType) -> FunctionType:
    """The function whose parameters and defaults a method generated for `original` takes: the original's
    own, or for a contextlib context-manager helper the generator function it decorates (pydantic-ai's
    `run_stream` and `iter`: 21 keyword arguments, which a `*args, **kwargs` patch packed and unpacked at
    each layer, 16k instructions a call). Only contextlib's helpers: another decorator may tell a default
    from an argument passed, and a generated method passes every parameter on."""
    if original.__code__ in _CONTEXT_MANAGER_HELPERS:
        inner = getattr(original, "__wrapped__", None)
        if type(inner) is FunctionType:
            return inner
    return original


def exact_signature_method(
    original: FunctionType,
    switch: list[bool],
    decides: Callable[[Any], bool],
    wrapper: WrapperFunction,
    site: str = RUN_DECISION,
) -> FunctionType | None:
    """A method with `original`'s own parameters and defaults that calls `original` straight through (by
    name, no argument packing) unless `switch` is on and `decides(self)` (what it raises logged at `site` and
    taken as False), and then returns
    `wrapper(original bound to self, self, args, kwargs)` (wrapt's signature, called from the generated frame: no
    frame of ours between them): positional parameters in `args`, keyword-only ones in `kwargs`, each with the
    value the call bound (a default when the caller left it out). None where that cannot be written: a
    function taking `*args` or `**kwargs`, a nameless one, a parameter whose name is one of ours. A
    contextlib context-manager helper gets the parameters of the generator function it decorates
    (`_parameters_of`), and hands that function every one of them by name.

    Why: an Agent Framework run passes four `run` layers (`super().run(...)` with its nine keyword
    arguments); a `*args, **kwargs` patch packs and unpacks them at each layer (measured per layer: 0.61 us
    on an idle machine, 2.6 us on a loaded one), this one passes them as the caller does (0.08 us, 0.3 us).
    Called with the wrong arguments it raises the TypeError the original would (same message: the qualified
    name is the original's)."""
    parameters_of = _parameters_of(original)
    parameters = _Parameters.of(parameters_of, bound=True)
    if parameters is None:
        return None
    body = _decision(parameters.instance) + (
        f"            return {_GENERATED_PREFIX}wrapper({_bound_original(parameters.instance)}, {parameters.instance}, "
        f"{parameters.args}, {parameters.kwargs})\n"
        f"    return {_GENERATED_PREFIX}original({parameters.forwarded})\n"
    )
    return _generated(f"def {parameters.signature}:\n{body}", original, parameters_of, switch, decides, wrapper, site)


def awaited_hook_coroutine(
    original: FunctionType,
    switch: list[bool],
    applies: Callable[[Any], bool],
    wrapper: WrapperFunction,
    bound: bool,
) -> FunctionType | None:
    """For an `async def` hook target: an `async def` with `original`'s own parameters and defaults whose
    coroutine, at its first step, awaits `original`'s (made with the arguments by name, no packing) unless
    `switch` is on and `applies(instance)` (what it raises logged and taken as False), and then awaits what
    `wrapper(original bound, instance, args, kwargs)` returns (`args` and `kwargs` as `exact_signature_method`
    gives them). `bound`: a function in a class (`instance` is its first parameter) rather than a module
    function (`instance` is None, and every positional parameter is in `args`). None where that cannot be
    written (as `exact_signature_method`).

    Why: a wrapt layer costs a suppressed run 6-12k instructions (about 1 us) per call even when it calls
    straight through (binding, packing, its call); this costs 2-3k with up to 14 keyword-only parameters
    (below), and an `async def` is what `inspect.iscoroutinefunction` reads it to be. What it changes: the
    decision is taken where the original's body starts (its first step) rather than at the call, a frame of
    ours sits between each step of the original and its awaiter, and the coroutine the caller holds is ours
    (with the original's name and qualified name)."""
    parameters = _Parameters.of(original, bound=bound)
    if parameters is None:
        return None
    target = _bound_original(parameters.instance) if bound else f"{_GENERATED_PREFIX}original"
    body = _decision(parameters.instance) + (
        f"            return await {_GENERATED_PREFIX}wrapper({target}, {parameters.instance}, {parameters.args}, "
        f"{parameters.kwargs})\n"
        f"    return await {_GENERATED_PREFIX}original({parameters.forwarded})\n"
    )
    coroutine = _generated(
        f"async def {parameters.signature}:\n{body}", original, original, switch, applies, wrapper, HOOK_DECISION
    )
    if _calls_through_a_dict(coroutine.__code__):
        # Many keyword arguments (15 or more in CPython 3.11) are passed through a dict the compiler builds, at
        # the framework's call site and in our call of the original alike: a second dict costs more than
        # wrapt's layer, which passes the caller's on (a module function taking 16 keyword-only parameters:
        # +10.5k instructions a call against wrapt's +6.0k; 14: +2.8k against +11.8k).
        return None
    return coroutine


_CALL_THROUGH_A_DICT = dis.opmap["CALL_FUNCTION_EX"]


def _calls_through_a_dict(code: CodeType) -> bool:
    """Whether compiled code makes a call whose arguments it packs (CPython 3.11: from 15 keyword arguments)."""
    return _CALL_THROUGH_A_DICT in code.co_code[::2]


@dataclass(frozen=True)
class _Parameters:
    """The pieces of source a generated function with a function's own parameters is written from."""

    signature: str  # "run(self, prompt, /, question, *, stream)": defaults are set on the function object
    instance: str  # the first parameter's name, or "None" for a module function
    args: str  # "(prompt, question, )": the positional parameters after the instance
    kwargs: str  # "{'stream': stream}": the keyword-only ones
    forwarded: str  # "self, prompt, question, stream=stream": the original's call

    @classmethod
    def of(cls, function: FunctionType, bound: bool) -> _Parameters | None:
        code = function.__code__
        if code.co_flags & _PACKED_ARGUMENTS or (bound and code.co_argcount == 0) or not code.co_name.isidentifier():
            return None
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if any(name.startswith(_GENERATED_PREFIX) for name in names):
            return None
        positional = list(names[: code.co_argcount])
        keyword_only = names[code.co_argcount :]
        parameters = list(positional)
        if code.co_posonlyargcount:
            parameters.insert(code.co_posonlyargcount, "/")
        if keyword_only:
            parameters += ["*", *keyword_only]
        instance = positional.pop(0) if bound else "None"
        return cls(
            signature=f"{code.co_name}({', '.join(parameters)})",
            instance=instance,
            args="(" + "".join(f"{name}, " for name in positional) + ")",
            kwargs="{" + ", ".join(f"{name!r}: {name}" for name in keyword_only) + "}",
            forwarded=", ".join(
                [*([instance] if bound else []), *positional, *(f"{name}={name}" for name in keyword_only)]
            ),
        )


def _refusal(site: str) -> Callable[[], bool]:
    def refused() -> bool:
        report_failure(site)
        return False

    return refused


def _bound_original(instance: str) -> str:
    """Generated source: the original bound to `instance` (what a generated method hands the wrapper as `wrapped`)."""
    return f"{_GENERATED_PREFIX}bind({_GENERATED_PREFIX}original, {instance})"


def _decision(instance: str) -> str:
    """The start of a generated body: whether to call `run`, the decision's own exception logged and taken as
    False in the generated frame (a guard of its own around the predicate is a Python call per call, 0.7-1k
    instructions, on every call a hook has nothing to do with). The call through is made after the `except`,
    so what the original raises carries no error of ours as its __context__."""
    decided = f"{_GENERATED_PREFIX}decided"
    return (
        f"    if {_GENERATED_PREFIX}switch:\n"
        f"        try:\n"
        f"            {decided} = {_GENERATED_PREFIX}decides({instance})\n"
        f"        except Exception:\n"
        f"            {decided} = {_GENERATED_PREFIX}refused()\n"
        f"        if {decided}:\n"
    )


def _generated(
    source: str,
    original: FunctionType,
    parameters_of: FunctionType,
    switch: list[bool],
    decides: Callable[[Any], bool],
    wrapper: Callable[..., Any],
    site: str,
) -> FunctionType:
    # Our module's name in its globals: frame walkers that skip our frames (pydantic_ai._skip_our_frames)
    # skip this one too.
    namespace: dict[str, Any] = {
        "__name__": __name__,
        f"{_GENERATED_PREFIX}switch": switch,
        f"{_GENERATED_PREFIX}decides": decides,
        f"{_GENERATED_PREFIX}refused": _refusal(site),
        f"{_GENERATED_PREFIX}wrapper": wrapper,
        f"{_GENERATED_PREFIX}original": original,
        f"{_GENERATED_PREFIX}bind": MethodType,
    }
    exec(compile(source, f"<otel-agent-instrumentation patch of {original.__qualname__}>", "exec"), namespace)
    function: FunctionType = namespace[parameters_of.__code__.co_name]
    # The same default objects, not copies: the original receives what it would have received.
    function.__defaults__ = parameters_of.__defaults__
    function.__kwdefaults__ = parameters_of.__kwdefaults__
    return function


def deciding_method_factory(wrapper: WrapperFunction, decides: Callable[[Any], bool], site: str) -> MethodFactory:
    """The plain-function patch of a method whose wrapper has something to do only for the calls
    `decides(instance)` says so of (a new run; a hook's call that applies): those go to `wrapper` with wrapt's
    signature, the others straight to the original, without packing the arguments where
    `exact_signature_method` can write the method. What `decides` raises is logged at `site` and taken as False."""
    refused = _refusal(site)

    def method_factory(original: FunctionType, switch: list[bool]) -> Callable[..., Any]:
        exact = exact_signature_method(original, switch, decides, wrapper, site)
        if exact is not None:
            return exact

        def patched_method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if switch:
                try:
                    decided = decides(self)
                except Exception:
                    decided = refused()
                if decided:
                    return wrapper(MethodType(original, self), self, args, kwargs)
            return original(self, *args, **kwargs)

        return patched_method

    return method_factory


def guarded_predicate(applies_to: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """A hook's `applies_to` (an adapter's predicate) with what it raises logged and taken as False, for wrapt's
    `enabled` (`_module_hook_enabled`); the generated and packing patches guard it in their own frame."""
    refused = _refusal(HOOK_DECISION)

    def applies(instance: Any) -> bool:
        try:
            return applies_to(instance)
        except Exception:
            return refused()

    return applies


def forwards_through_a_dict(original: FunctionType) -> bool:
    """Whether a method with `original`'s parameters (`_parameters_of`) passing each on by name would be compiled
    to pass them through a dict the call builds (CPython 3.11: from 15 keyword arguments in one call), which is
    what a generated method (`exact_signature_method`) would do: pydantic-ai's `iter` and `run_stream`, 21
    keyword parameters. Read from the compiled code, as the compiler's rule may differ between versions."""
    parameters = _Parameters.of(_parameters_of(original), bound=True)
    if parameters is None:
        return False
    source = f"def {parameters.signature}:\n    return {_GENERATED_PREFIX}original({parameters.forwarded})\n"
    module = compile(source, "<otel-agent-instrumentation forwarding check>", "exec")
    (function,) = (constant for constant in module.co_consts if isinstance(constant, CodeType))
    return _calls_through_a_dict(function)


class _DecidedAtBinding(wrapt.CallableObjectProxy):  # type: ignore[type-arg]  # proxies a FunctionWrapper
    """A run target's wrapt FunctionWrapper on a method, with its decision moved to where the method is bound
    (`agent.run`, `super().run`, `self.iter`): bound while its patch is switched off or while
    `traced_when_bound(instance)` says no (instrumentation suppressed, or an inner layer of the running run:
    pydantic-ai's `run` binding `self.iter`), it binds the original, so that the call never meets wrapt; bound
    otherwise, it binds the FunctionWrapper, which decides again at the call (suppression entered, or a run of the
    object started, between binding and call). Read through the class (`Agent.run`) it is the FunctionWrapper, and
    the class's own entry proxies it (what `inspect` reads of either is the original's).

    Why: binding a FunctionWrapper and calling straight through costs wrapt 8-12k instructions (about 1 us) per
    layer a suppressed run or a run's inner layer passes, even when its wrapper never traces; this costs about 3k
    (a Python `__get__` and one read of the context), and about 3k more per traced call, which binds through it.
    What it changes: a method bound where instrumentation is suppressed, or while a run of its own object runs
    through this target's layers, and called after that ended, is not traced (the reverse is: the
    FunctionWrapper still decides at the call). Each patch gets its own subclass
    (`_deciding_at_binding`), whose `__get__` reads what it needs from its closure: read off the proxy
    (`self._self_...`, through wrapt's attribute lookup) they cost about 1k instructions each."""

    __otel_agent_patch__ = True  # a class attribute: set on the instance, it would reach the original function


def _deciding_at_binding(
    function_wrapper: Any, original: FunctionType, switch: list[bool], traced_when_bound: Callable[[Any], bool]
) -> _DecidedAtBinding:
    bind = function_wrapper.__get__

    class DecidedAtBinding(_DecidedAtBinding):
        def __get__(self, instance: Any, owner: type | None = None) -> Any:
            if instance is not None and not (switch and traced_when_bound(instance)):
                return MethodType(original, instance)
            return bind(instance, owner)

    return DecidedAtBinding(function_wrapper)


def _module_hook_enabled(switch: list[bool], hook_applies: Callable[[Any], bool]) -> Callable[[], bool]:
    """wrapt's `enabled` for a hook on a module function that stays with wrapt: wrapt calls it without the
    instance, and a module function has none, so the hook's predicate can decide there. When it says False,
    wrapt calls the original itself with the caller's arguments as they came: OpenAI Agents' `run_single_turn`
    (20 keyword-only parameters), suppressed, +8.4k -> +2.7k instructions a call over bare."""

    def enabled() -> bool:
        return bool(switch) and hook_applies(None)

    return enabled


def apply(
    module_name: str,
    attribute_path: str,
    wrapper: WrapperFunction,
    method: MethodFactory | None = None,
    hook_applies: Callable[[Any], bool] | None = None,
    traced_when_bound: Callable[[Any], bool] | None = None,
) -> Patch:
    """Wrap `module:attribute_path` with `wrapper` (a plain function of ours, an `async def` of ours or a wrapt
    FunctionWrapper, see the module docstring) and return the undo record. `method`, when given, makes the
    plain function for a plain function in a class: it must behave as `wrapper` would (calling it or calling
    straight through). `hook_applies`, a hook's predicate (what it raises is logged and taken as False), when
    given lets an `async def` target have an `async def` of ours (`awaited_hook_coroutine`), and decides for
    wrapt whether to call the wrapper of a module function (`_module_hook_enabled`). `traced_when_bound`, when
    given, is asked where a method in a class that stays with wrapt is bound (`_DecidedAtBinding`); a plain
    function whose generated method would pass its arguments through a dict (`forwards_through_a_dict`) then
    stays with wrapt too."""
    owner, name, original, own = resolve(module_name, attribute_path)
    switch = [True]
    patched: Any = None
    if not (isinstance(owner, type) and type(original) is FunctionType):
        traced_when_bound = None  # nothing to bind: a module function, a classmethod, another callable
    if is_plain_function(original) and not (traced_when_bound is not None and forwards_through_a_dict(original)):
        patched = _plain_patch(owner, original, wrapper, switch, method)
    elif hook_applies is not None and is_coroutine_function(original):
        patched = awaited_hook_coroutine(original, switch, hook_applies, wrapper, not isinstance(owner, ModuleType))
        if patched is not None:
            _mark_ours(patched, original)
    if patched is None:
        enabled: Callable[[], bool] = switch.__len__  # type: ignore[assignment]
        if hook_applies is not None and isinstance(owner, ModuleType):
            enabled = _module_hook_enabled(switch, guarded_predicate(hook_applies))
        patched = wrapt.FunctionWrapper(original, wrapper, enabled=enabled)
        if traced_when_bound is not None:
            patched = _deciding_at_binding(patched, original, switch, traced_when_bound)
    setattr(owner, name, patched)
    return Patch(owner, name, original, own, patched, switch)


def is_patched_by(owner: Any, name: str, patches: list[Patch]) -> bool:
    return any(patch.owner is owner and patch.name == name for patch in patches)

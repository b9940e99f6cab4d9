"""Applying and reverting method patches so that uninstrument restores the very same objects.

`setattr(owner, name, original)` on undo would leave a copy of an inherited method on the subclass,
so each patch records whether the name was in the owner's own `__dict__` and deletes it on undo if not.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import wrapt

logger = logging.getLogger("otel_agent_instrumentation")

# wrapt's wrapper signature: (wrapped, instance, args, kwargs) -> result
WrapperFunction = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True)
class Patch:
    """One applied patch and what undoing it takes."""

    owner: Any
    name: str
    original: Any
    was_own_attribute: bool
    # Our FunctionWrapper, and its on/off switch: wrapt calls `enabled` per call and calls straight
    # through when it returns a false value; `switch.__len__` is a C method, so the check costs little.
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


def apply(module_name: str, attribute_path: str, wrapper: WrapperFunction) -> Patch:
    """Wrap `module:attribute_path` with `wrapper` (a wrapt FunctionWrapper) and return the undo record."""
    owner, name, original, own = resolve(module_name, attribute_path)
    switch = [True]
    function_wrapper = wrapt.FunctionWrapper(original, wrapper, enabled=switch.__len__)  # type: ignore[arg-type]
    setattr(owner, name, function_wrapper)
    return Patch(owner, name, original, own, function_wrapper, switch)


def is_patched_by(owner: Any, name: str, patches: list[Patch]) -> bool:
    return any(patch.owner is owner and patch.name == name for patch in patches)

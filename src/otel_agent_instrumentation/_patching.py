"""Applying and reverting method patches so that uninstrument restores the very same objects.

`setattr(owner, name, original)` on undo would leave a copy of an inherited method on the subclass,
so each patch records whether the name was in the owner's own `__dict__` and deletes it on undo if not.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import wrapt

# wrapt's wrapper signature: (wrapped, instance, args, kwargs) -> result
WrapperFunction = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True)
class Patch:
    """One applied patch and what undoing it takes."""

    owner: Any
    name: str
    original: Any
    was_own_attribute: bool

    def revert(self) -> None:
        if self.was_own_attribute:
            setattr(self.owner, self.name, self.original)
        else:
            delattr(self.owner, self.name)


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
    setattr(owner, name, wrapt.FunctionWrapper(original, wrapper))
    return Patch(owner=owner, name=name, original=original, was_own_attribute=own)


def is_patched_by(owner: Any, name: str, patches: list[Patch]) -> bool:
    return any(patch.owner is owner and patch.name == name for patch in patches)

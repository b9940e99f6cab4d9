"""Offline drivers, one module per framework (`<framework>_driver.py` with a module-level DRIVER).

They are discovered, so adding a framework means adding its driver module, nothing else here.
"""

from __future__ import annotations

import importlib
import pkgutil

from tests.scenarios import Driver


def _discover() -> list[Driver]:
    drivers: list[Driver] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.endswith("_driver"):
            drivers.append(importlib.import_module(f"{__name__}.{module.name}").DRIVER)
    return drivers


DRIVERS: list[Driver] = _discover()

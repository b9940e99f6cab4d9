"""Offline drivers, one module per framework (`<framework>_driver.py` with a module-level DRIVER).

They are discovered, so adding a framework means adding its driver module, nothing else here. Drivers of
frameworks with an environment of their own are in the subpackage named after it (tests/frameworks/<env>/);
a run discovers the drivers of its environment (tests/conftest.py: TEST_ENVIRONMENT) only.
"""

from __future__ import annotations

import importlib
import pkgutil

from tests.scenarios import Driver


def _discover() -> list[Driver]:
    from tests.conftest import TEST_ENVIRONMENT

    package = __name__ if TEST_ENVIRONMENT == "main" else f"{__name__}.{TEST_ENVIRONMENT}"
    path = importlib.import_module(package).__path__
    drivers: list[Driver] = []
    for module in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        if module.name.endswith("_driver"):
            drivers.append(importlib.import_module(f"{package}.{module.name}").DRIVER)
    return drivers


DRIVERS: list[Driver] = _discover()

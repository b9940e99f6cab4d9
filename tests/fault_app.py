"""A user's own agents for the fault-injection specs: long streams and odd `name` attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator

LONG_STREAM = 1000


class AppFailure(RuntimeError):
    pass


class Streamer:
    name: object = "streamer"

    def run(self) -> str:
        return "done"

    def fail(self) -> str:
        raise AppFailure("the app's own failure")

    async def astream(self, n: int = 3) -> AsyncIterator[str]:
        for index in range(n):
            yield f"u{index}"

    def stream(self, n: int = 3) -> Generator[str, None, None]:
        for index in range(n):
            yield f"u{index}"


class NoneNamed(Streamer):
    name = None


class IntNamed(Streamer):
    name = 7


class RaisingName(Streamer):
    @property
    def name(self) -> str:  # type: ignore[override]  # the odd object under test: a name property that raises
        raise RuntimeError("name is not available")


# The subclasses inherit the wrapped methods.
TARGETS = [f"tests.fault_app:Streamer.{method}" for method in ("run", "astream", "stream")]

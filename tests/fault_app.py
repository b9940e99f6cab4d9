"""A user's own agents for the fault-injection specs: long streams and odd `name` attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator

LONG_STREAM = 1000


class AppFailure(RuntimeError):
    pass


class Handoff(Exception):
    """A framework's control flow out of a run (as LangGraph's GraphInterrupt): the run ended, not failed."""


class Stepper:
    """A synchronous run that calls back into the test while it runs, and raises what the test asks for."""

    name = "stepper"

    def run(self, during: Callable[[], object] = lambda: None, raising: BaseException | None = None) -> object:
        seen = during()
        if raising is not None:
            raise raising
        return seen


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

"""A user's own agent classes, for the generic-target specs. Each method has a different result shape."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Generator
from typing import Any


class AgentFailure(RuntimeError):
    pass


class NamedAgent:
    name = "planner"

    def run(self, fail: bool = False) -> str:
        if fail:
            raise AgentFailure("plan failed")
        return "plan"

    async def arun(self, fail: bool = False, block: bool = False) -> str:
        await asyncio.sleep(0)
        if block:
            await asyncio.Event().wait()
        if fail:
            raise AgentFailure("plan failed")
        return "plan"

    async def astream(self, n: int = 3, fail_at: int | None = None) -> AsyncGenerator[str, None]:
        for index in range(n):
            if index == fail_at:
                raise AgentFailure(f"failed at {index}")
            yield f"u{index}"

    def stream(self, n: int = 3, fail_at: int | None = None) -> Generator[str, None, None]:
        for index in range(n):
            if index == fail_at:
                raise AgentFailure(f"failed at {index}")
            yield f"u{index}"

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[list[str]]:
        yield ["ready"]

    @contextlib.contextmanager
    def workspace(self) -> Generator[dict[str, str], None, None]:
        """A run whose results are read inside a `with` block: no stream, no updates."""
        yield {"plan": "ready"}

    def events(self) -> Events:
        return Events()


class Events:
    """An object with only __aiter__ (no __anext__ on itself)."""

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[Any]:
        yield "e0"
        yield "e1"


class UnnamedAgent:
    def run(self) -> str:
        return "ok"


def plan_function() -> str:
    return "plan"


def execute_function() -> str:
    return "done"


def plan_then_execute() -> str:
    """A function target calling another function target."""
    return execute_function()


def countdown(n: int) -> int:
    """A function target calling itself."""
    return n if n == 0 else countdown(n - 1)


class PlanningAgent:
    name = "plans"

    def plan(self) -> str:
        return self.execute()

    def execute(self) -> str:
        return "done"

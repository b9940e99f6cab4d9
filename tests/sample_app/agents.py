"""A user's own agent classes, for the generic-target specs. Each method has a different result shape."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
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

    @contextlib.asynccontextmanager
    async def stream_session(self) -> AsyncIterator[AsyncGenerator[str, None]]:
        """A run whose block consumes the stream the manager hands it: the stream's end is the run's."""
        yield self.astream(2)

    @contextlib.contextmanager
    def sync_stream_session(self) -> Generator[Generator[str, None, None], None, None]:
        yield self.stream(2)

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


class WatchingAgent:
    """Runs whose code reads what the caller's context holds, or that wait forever."""

    name = "watcher"

    def look(self) -> Generator[tuple[str | None, bool], None, None]:
        """Each update: the baggage `tenant` and whether instrumentation is on, as the agent's code sees them."""
        from opentelemetry import baggage
        from opentelemetry.instrumentation.utils import is_instrumentation_enabled

        for _ in range(2):
            tenant = baggage.get_baggage("tenant")
            yield (tenant if isinstance(tenant, str) else None, is_instrumentation_enabled())

    async def alook(self) -> AsyncGenerator[tuple[str | None, bool], None]:
        for update in self.look():
            await asyncio.sleep(0)
            yield update

    async def wait(self) -> str:
        await asyncio.Event().wait()
        return "never"

    async def collect_midway(self) -> str:
        """Suspends, then runs a garbage collection while the caller awaits it."""
        import gc

        await asyncio.sleep(0)
        gc.collect()
        await asyncio.sleep(0)
        return "collected"

    async def watch(self) -> AsyncGenerator[str, None]:
        yield "first"
        await asyncio.Event().wait()
        yield "never"

    def submit(self, loop: asyncio.AbstractEventLoop, fail: bool = False) -> asyncio.Future[str]:
        """A run handed back as an asyncio future, settled on the next loop turn."""
        future: asyncio.Future[str] = loop.create_future()
        if fail:
            loop.call_soon(future.set_exception, AgentFailure("submitted run failed"))
        else:
            loop.call_soon(future.set_result, "submitted")
        return future

    def pending(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[str]:
        """A future nobody settles."""
        return loop.create_future()

    def submit_to(self, executor: Any, seconds: float) -> Any:
        """A run handed back as a concurrent.futures future."""
        import time

        return executor.submit(time.sleep, seconds)


class DeferringAgent:
    """A run whose call is a coroutine that resolves to the stream doing the work."""

    name = "deferring"

    async def open(self, fail_at: int | None = None) -> AsyncIterator[str]:
        await asyncio.sleep(0)
        return NamedAgent().astream(fail_at=fail_at)


DEFAULT_OPTIONS: dict[str, Any] = {"temperature": 0.5}


class OptionsAgent:
    """A run with positional-only, positional and keyword-only parameters, as Agent Framework's `run`
    layers have: what it returns is what it received."""

    name = "options"

    def run(
        self, prompt: str, /, question: str = "why", *, options: dict[str, Any] = DEFAULT_OPTIONS, stream: bool = False
    ) -> tuple[str, str, dict[str, Any], bool]:
        return prompt, question, options, stream

    @contextlib.contextmanager
    def session(
        self, prompt: str, /, question: str = "why", *, options: dict[str, Any] = DEFAULT_OPTIONS, stream: bool = False
    ) -> Iterator[tuple[str, str, dict[str, Any], bool]]:
        """A run handed out by a `@contextmanager`: the block gets what the run received."""
        yield prompt, question, options, stream

    async def prepare(
        self, prompt: str, /, question: str = "why", *, options: dict[str, Any] = DEFAULT_OPTIONS, stream: bool = False
    ) -> tuple[str, str, dict[str, Any], bool]:
        """A step of a run a hook follows (as OpenAI Agents' turns and LangGraph's loop entry): an `async def`
        that suspends once and returns what it received."""
        await asyncio.sleep(0)
        return prompt, question, options, stream


async def prepare_options(
    prompt: str, /, question: str = "why", *, options: dict[str, Any] = DEFAULT_OPTIONS, stream: bool = False
) -> tuple[str, str, dict[str, Any], bool]:
    """`OptionsAgent.prepare` as a module function."""
    await asyncio.sleep(0)
    return prompt, question, options, stream


async def prepare_many_options(
    *,
    o1: int = 1,
    o2: int = 2,
    o3: int = 3,
    o4: int = 4,
    o5: int = 5,
    o6: int = 6,
    o7: int = 7,
    o8: int = 8,
    o9: int = 9,
    o10: int = 10,
    o11: int = 11,
    o12: int = 12,
    o13: int = 13,
    o14: int = 14,
    o15: int = 15,
    o16: int = 16,
) -> int:
    """A step taking as many keyword-only parameters as OpenAI Agents' turns (a hook on it stays with wrapt):
    returns their sum."""
    await asyncio.sleep(0)
    return o1 + o2 + o3 + o4 + o5 + o6 + o7 + o8 + o9 + o10 + o11 + o12 + o13 + o14 + o15 + o16


class ManyOptionsAgent:
    """A plain `run` taking as many keyword-only parameters as pydantic-ai's `iter` (a method of ours passing them on
    by name would build a dict of them, so it stays with wrapt): returns their sum."""

    name = "many options"

    def run(
        self,
        *,
        o1: int = 1,
        o2: int = 2,
        o3: int = 3,
        o4: int = 4,
        o5: int = 5,
        o6: int = 6,
        o7: int = 7,
        o8: int = 8,
        o9: int = 9,
        o10: int = 10,
        o11: int = 11,
        o12: int = 12,
        o13: int = 13,
        o14: int = 14,
        o15: int = 15,
        o16: int = 16,
    ) -> int:
        return o1 + o2 + o3 + o4 + o5 + o6 + o7 + o8 + o9 + o10 + o11 + o12 + o13 + o14 + o15 + o16

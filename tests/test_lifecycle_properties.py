"""Property-based lifecycle: random sequences of consumer actions on each stream shape, run side by
side on a bare stream and an instrumented one, with the span contract checked after every step.

Shapes: an async generator, a sync generator and an async context manager yielding a stream (user
targets from tests/property_app.py), and Agent Framework's real `ResponseStream` from
`Agent.run(..., stream=True)` on an offline chat client. Each machine step performs one consumer
action (pull, pull after the end, cancel the consumer's task while it awaits, close, close twice,
drop and collect, consume in another task, final response) on the bare stream, then on the traced
one. Invariants after every step:

- the bare and traced consumers observed the same updates, exceptions and result-hook calls;
- every invocation span is ended at most once, and exactly once after the consumer saw the end:
  with the outcome of the first ending the consumer observed (README, "Outcomes");
- the span is current inside the agent's code at each pull (or a span under it is);
- the caller's current span is unchanged by every step.
At teardown every remaining stream is dropped and collected, and `open_invocation_count()` is back to
what it was. Each machine owns one event loop (run_until_complete per step, closed at teardown).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import os
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from agent_framework import observability
from agents import Runner
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode
from pydantic_ai.run import AgentRunResultEvent
from smolagents.memory import ActionStep, FinalAnswerStep
from smolagents.utils import AgentGenerationError

from otel_agent_instrumentation import semconv
from otel_agent_instrumentation.invocation import open_invocation_count
from tests.conftest import Instrumentation, Telemetry
from tests.frameworks import agno_driver, smolagents_driver
from tests.frameworks import autogen_agentchat_driver as autogen_driver
from tests.frameworks import openai_agents_driver as openai_driver
from tests.property_app import (
    UPDATES,
    AppFailure,
    Effects,
    PropertyAgent,
    Script,
    make_agent,
    make_agno_agent,
    make_autogen_agent,
    make_openai_agent,
    make_pydantic_ai_agent,
    make_smolagents_agent,
)

APP_FAILURE = f"{AppFailure.__module__}.{AppFailure.__qualname__}"
CANCELLED = "asyncio.exceptions.CancelledError"
MAX_OPEN_RUNS = 3

# Sized for <= 40 s serial for the whole file on a loaded 2-core machine; print_blob reproduces a
# failure, and no example database is written into the repository. Derandomized so that CI runs the
# same examples every time (a red run is reproducible); set HYPOTHESIS_RANDOM=1 to explore new ones.
PROPERTY_SETTINGS = settings(
    max_examples=100,
    derandomize=not os.environ.get("HYPOTHESIS_RANDOM"),
    stateful_step_count=20,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

Obs = tuple[Any, ...]


# -- span bookkeeping ------------------------------------------------------------------------------


class EndCounter(SpanProcessor):
    """Counts on_end per span id (our invoke_agent spans) and remembers every span's parent.

    The SDK drops a second `end()` with a warning instead of a second on_end, so `double_ends`
    counts those warnings: together they make a span ended twice detectable. Hypothesis seeds
    `random` per example, so span ids repeat across examples: each machine starts with `reset()`.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started: list[int] = []
        self.parents: dict[int, int | None] = {}
        self.ends: collections.Counter[int] = collections.Counter()
        self.finished: dict[int, ReadableSpan] = {}

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        span_id = span.get_span_context().span_id
        self.parents[span_id] = span.parent.span_id if span.parent else None
        if span.instrumentation_scope and span.instrumentation_scope.name == "otel_agent_instrumentation":
            assert span_id not in self.started, "span id reused within one machine"
            self.started.append(span_id)

    def on_end(self, span: ReadableSpan) -> None:
        span_id = span.context.span_id if span.context else 0
        if span_id in self.started:
            self.ends[span_id] += 1
            self.finished[span_id] = span

    def under(self, span_id: int, ancestor: int) -> bool:
        seen = 0
        current: int | None = span_id
        while current is not None and seen < 64:
            if current == ancestor:
                return True
            current = self.parents.get(current)
            seen += 1
        return False


class DoubleEndLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "ended span" in record.getMessage():
            self.count += 1


@dataclass
class Bookkeeping:
    counter: EndCounter
    double_ends: DoubleEndLog


@pytest.fixture
def bookkeeping(telemetry: Telemetry) -> Iterator[Bookkeeping]:
    counter = EndCounter()
    telemetry.tracer_provider.add_span_processor(counter)
    handler = DoubleEndLog()
    sdk_logger = logging.getLogger("opentelemetry.sdk.trace")
    sdk_logger.addHandler(handler)
    yield Bookkeeping(counter, handler)
    sdk_logger.removeHandler(handler)


# -- one run, seen from both sides --------------------------------------------------------------


@dataclass
class World:
    """One side (bare or traced) of a run: the app's script and effects and the consumer's handles."""

    script: Script
    effects: Effects
    hooks: list[str] = field(default_factory=list)
    stream: Any = None  # what the consumer pulls from
    manager: Any = None  # the context manager (context-manager shape)
    entered: bool = False
    exited: bool = False
    saw_end: bool = False  # the consumer saw the stream's end (context-manager shape)
    saw_result: bool = False  # the consumer got the run's result event (Pydantic AI)


@dataclass
class Run:
    bare: World
    traced: World
    span_id: int
    # The first ending the consumer observed: (outcome, error.type); None while the run is open.
    expected: tuple[str, str | None] | None = None
    # After this the span must be ended (a context manager's run ends at block exit).
    must_be_ended: bool = False
    # The error type of a failure the framework returned as an event instead of raising it (agno).
    returned_failure: str | None = None
    dropped: bool = False
    steps: list[str] = field(default_factory=list)


def describe(error: BaseException) -> Obs:
    return ("raised", type(error).__name__, str(error))


def expected_from(observation: Obs, failure: str = APP_FAILURE) -> tuple[str, str | None] | None:
    """The outcome table (README): what the consumer observed -> what the span must say."""
    kind = observation[0]
    if kind in ("end", "final"):
        return ("completed", None)
    if kind == "raised":
        if observation[1] == "CancelledError":
            return ("cancelled", CANCELLED)
        return ("failed", failure)
    if kind == "closed":
        return ("closed_early", None)
    if kind == "dropped":
        return ("abandoned", None)
    return None


class LifecycleMachine(RuleBasedStateMachine):
    """The shape-independent rules and invariants; subclasses supply the shape's actions."""

    targets: tuple[str, ...] = ()
    bookkeeping: Bookkeeping
    # Whether pulls run the agent's code directly in the consumer's frame (so the span check applies).
    checks_pull_span = True
    # The error.type of the app's failure as the consumer sees it raised.
    failure_type = APP_FAILURE
    # Fewer examples for the real frameworks' streams (slower per step), to keep the file's time.
    max_examples = PROPERTY_SETTINGS.max_examples
    # Enough pulls for drain_then_pull to reach the end of the shape's longest stream.
    max_pulls = UPDATES + 3

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.world_loops: dict[int, asyncio.AbstractEventLoop] = {}
        self.runs: list[Run] = []
        self.baseline = open_invocation_count()
        self.bookkeeping.counter.reset()
        self.double_ends_before = self.bookkeeping.double_ends.count
        self.consumer_tracer = trace.get_tracer("property-consumer")

    # -- shape hooks ---------------------------------------------------------------------------
    def create(self, world: World) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def bare_mode(self) -> Iterator[None]:
        with suppress_instrumentation():
            yield

    # -- running one action on both sides ---------------------------------------------------------
    def on_both(self, run: Run, name: str, action: Callable[[World], Awaitable[list[Obs]]]) -> None:
        run.steps.append(name)
        with self.bare_mode():
            bare = self.step(run.bare, action)
        traced = self.step(run.traced, action)
        assert traced == bare, (name, run.steps, bare, traced)
        self.settle(run, traced)

    def step(self, world: World, action: Callable[[World], Awaitable[list[Obs]]]) -> list[Obs]:
        caller = trace.get_current_span()

        async def in_consumer_span() -> list[Obs]:
            with self.consumer_tracer.start_as_current_span("consumer step") as span:
                observed = await self.observe(world, await action(world))
                assert trace.get_current_span() is span, "a step changed the consumer's current span"
                return observed

        observed = self.loop_for(world).run_until_complete(in_consumer_span())
        assert trace.get_current_span() is caller
        return observed

    def settle(self, run: Run, observed: list[Obs]) -> None:
        for observation in observed:
            if run.expected is None:
                run.expected = self.expected_from(run, observation)
        if run.expected is not None:
            run.must_be_ended = True
        # The app's own exception reaches the consumer as the same object.
        raised_by_app = run.traced.effects.last_raised
        if raised_by_app is not None and any(o[:2] == ("raised", "AppFailure") for o in observed):
            assert self.caught is raised_by_app, run.steps
        # Tracebacks reference the stream's frames: holding them would keep a dropped stream alive.
        self.caught = run.traced.effects.last_raised = run.bare.effects.last_raised = None

    def expected_from(self, run: Run, observation: Obs) -> tuple[str, str | None] | None:
        return expected_from(observation, self.failure_type)

    # A framework that runs the agent in a background task gets one loop per world: a run then
    # progresses only during its own consumer's steps (not during the other side's or other runs'),
    # so the bare and instrumented runs see the same loop turns at every step.
    loop_per_world = False

    def loop_for(self, world: World) -> asyncio.AbstractEventLoop:
        """The loop a world's steps run on."""
        if not self.loop_per_world:
            return self.loop
        loop = self.world_loops.get(id(world))
        if loop is None:
            loop = self.world_loops[id(world)] = asyncio.new_event_loop()
        return loop

    async def observe(self, world: World, observed: list[Obs]) -> list[Obs]:
        """What the consumer observed in one step, as compared (a shape may describe items or add state)."""
        return observed

    # The last exception a consumer caught from the app (cleared after each step).
    caught: BaseException | None = None

    def pick(self, index: int) -> Run:
        """One of the live runs; every rule that picks is guarded by `has_live`."""
        live = [run for run in self.runs if not run.dropped]
        assert live, "a rule picked a run with none live"
        return live[index % len(live)]

    def has_live(self) -> bool:
        return any(not run.dropped for run in self.runs)

    def tick(self, world: World) -> None:
        # Lets the loop run the aclose() tasks its async-generator finalizer scheduled.
        loop = self.loop_for(world)
        for _ in range(3):
            loop.run_until_complete(asyncio.sleep(0))

    # -- rules -------------------------------------------------------------------------------
    @precondition(lambda self: sum(not run.dropped for run in self.runs) < MAX_OPEN_RUNS)
    @rule(fail_at=st.sampled_from([None, None, 0, 1, 2]))
    def start_run(self, fail_at: int | None) -> None:
        bare = World(Script(fail_at=fail_at), Effects())
        traced = World(Script(fail_at=fail_at), Effects())
        counter = self.bookkeeping.counter
        before = len(counter.started)
        with self.bare_mode():
            self.create(bare)
        assert len(counter.started) == before, "the bare run started a span"
        self.create(traced)
        new = counter.started[before:]
        assert len(new) == 1, f"one call started {len(new)} agent spans"
        self.runs.append(Run(bare, traced, new[0], steps=[f"start(fail_at={fail_at})"]))

    @precondition(has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def pull(self, index: int) -> None:
        run = self.pick(index)
        self.on_both(run, "pull", self.pull_one)

    @precondition(has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def pull_to_the_end_then_once_more(self, index: int) -> None:
        run = self.pick(index)
        self.on_both(run, "drain+pull", self.drain_then_pull)

    @precondition(has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def close(self, index: int) -> None:
        run = self.pick(index)
        self.on_both(run, "close", self.close_stream)

    @precondition(has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def close_twice(self, index: int) -> None:
        run = self.pick(index)
        self.on_both(run, "close+close", self.close_twice_stream)

    @precondition(has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def drop_and_collect(self, index: int) -> None:
        run = self.pick(index)
        self.drop(run)

    def drop(self, run: Run) -> None:
        run.steps.append("drop")
        for world in (run.bare, run.traced):
            world.stream = None
            world.manager = None
        run.dropped = True
        gc.collect()
        with self.bare_mode():
            self.tick(run.bare)
        self.tick(run.traced)
        if run.expected is None:
            run.expected = ("abandoned", None)
        run.must_be_ended = True

    # -- shape actions (overridden) ------------------------------------------------------------
    async def pull_one(self, world: World) -> list[Obs]:
        raise NotImplementedError

    async def drain_then_pull(self, world: World) -> list[Obs]:
        observed: list[Obs] = []
        for _ in range(self.max_pulls):
            step = await self.pull_one(world)
            observed.extend(step)
            if step[-1][0] != "item":
                break
        observed.extend(await self.pull_one(world))
        return observed

    async def close_stream(self, world: World) -> list[Obs]:
        raise NotImplementedError

    async def close_twice_stream(self, world: World) -> list[Obs]:
        return [*await self.close_stream(world), *await self.close_stream(world)]

    # -- invariants ---------------------------------------------------------------------------
    @invariant()
    def app_saw_the_same_side_effects(self) -> None:
        for run in self.runs:
            assert run.traced.effects.counts() == run.bare.effects.counts(), run.steps
            assert run.traced.hooks == run.bare.hooks, run.steps

    @invariant()
    def each_span_ends_once_with_the_observed_outcome(self) -> None:
        counter = self.bookkeeping.counter
        assert self.bookkeeping.double_ends.count == self.double_ends_before, "a span was ended twice"
        for run in self.runs:
            ends = counter.ends[run.span_id]
            assert ends <= 1, (run.steps, ends)
            if run.expected is None:
                assert ends == 0, ("span ended while the consumer saw the run still open", run.steps)
                continue
            if not run.must_be_ended and ends == 0:
                continue
            assert ends == 1, ("span not ended after the consumer saw the run end", run.steps)
            span = counter.finished[run.span_id]
            attributes = span.attributes or {}
            outcome, error_type = run.expected
            observed = (attributes.get(semconv.OUTCOME), attributes.get(semconv.ERROR_TYPE), span.status.status_code)
            status = StatusCode.ERROR if error_type else StatusCode.UNSET
            assert observed == (outcome, error_type, status), run.steps

    @invariant()
    def agent_code_runs_under_the_agent_span(self) -> None:
        if not self.checks_pull_span:
            return
        counter = self.bookkeeping.counter
        for run in self.runs:
            ended = counter.finished.get(run.span_id)
            for span_id, at in run.traced.effects.pull_spans:
                if ended is not None and ended.end_time is not None and at > ended.end_time:
                    continue  # pulled after the run ended: nothing to parent any more
                assert counter.under(span_id, run.span_id), ("a pull ran outside the agent span", run.steps)

    def teardown(self) -> None:
        try:
            for run in self.runs:
                if not run.dropped:
                    self.drop(run)
            self.app_saw_the_same_side_effects()
            self.each_span_ends_once_with_the_observed_outcome()
            assert open_invocation_count() == self.baseline, "an invocation was left open"
        finally:
            self.runs.clear()
            gc.collect()
            for loop in [self.loop, *self.world_loops.values()]:
                try:
                    loop.run_until_complete(_cancel_all(asyncio.all_tasks(loop)))
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()


async def _cancel_all(tasks: set[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# -- shapes --------------------------------------------------------------------------------------


async def _anext_observed(machine: LifecycleMachine, world: World, stream: Any) -> Obs:
    try:
        return ("item", await stream.__anext__())
    except StopAsyncIteration:
        return ("end",)
    except BaseException as error:
        machine.caught = error
        return describe(error)


async def _held_pull_cancelled(world: World, pull: Callable[[], Awaitable[Any]]) -> list[Obs]:
    """Run one pull in the consumer's own task, hold it in the app, cancel that task while it awaits."""
    world.script.held = True
    world.script.waiting = asyncio.Event()
    task = asyncio.ensure_future(pull())
    waiting = asyncio.ensure_future(world.script.waiting.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    task.cancel()
    world.script.held = False
    try:
        value = await task
    except StopAsyncIteration:
        return [("end",)]
    except BaseException as error:
        if not isinstance(error, asyncio.CancelledError | AppFailure):
            raise
        return [describe(error)]
    return [("item", value)]


class AsyncGeneratorMachine(LifecycleMachine):
    targets = ("tests.property_app:PropertyAgent.astream",)

    def create(self, world: World) -> None:
        world.stream = PropertyAgent(world.script, world.effects).astream()

    async def pull_one(self, world: World) -> list[Obs]:
        return [await _anext_observed(self, world, world.stream)]

    async def close_stream(self, world: World) -> list[Obs]:
        await world.stream.aclose()
        return [("closed",)]

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def cancel_while_awaiting(self, index: int) -> None:
        run = self.pick(index)
        self.on_both(run, "cancel", lambda world: _held_pull_cancelled(world, world.stream.__anext__))

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def consume_in_another_task(self, index: int) -> None:
        run = self.pick(index)
        self.on_both(run, "other task", lambda world: asyncio.ensure_future(self.drain_then_pull(world)))


class SyncGeneratorMachine(LifecycleMachine):
    targets = ("tests.property_app:PropertyAgent.stream",)

    def create(self, world: World) -> None:
        world.stream = PropertyAgent(world.script, world.effects).stream()

    async def pull_one(self, world: World) -> list[Obs]:
        try:
            return [("item", next(world.stream))]
        except StopIteration:
            return [("end",)]
        except AppFailure as error:
            self.caught = error
            return [describe(error)]

    async def close_stream(self, world: World) -> list[Obs]:
        world.stream.close()
        return [("closed",)]

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def throw_into(self, index: int) -> None:
        run = self.pick(index)

        async def throw(world: World) -> list[Obs]:
            try:
                return [("item", world.stream.throw(AppFailure("thrown by the consumer")))]
            except StopIteration:
                return [("end",)]
            except AppFailure as error:
                return [describe(error)]

        self.on_both(run, "throw", throw)


class AsyncContextManagerMachine(LifecycleMachine):
    """`async with agent.session() as stream: ...`, performed step by step as `async with` does."""

    targets: tuple[str, ...] = ("tests.property_app:PropertyAgent.session",)

    def create(self, world: World) -> None:
        world.manager = PropertyAgent(world.script, world.effects).session()

    def settle(self, run: Run, observed: list[Obs]) -> None:
        super().settle(run, observed)
        # The run is the block: it must be ended once the block is left, not before.
        run.must_be_ended = run.traced.exited

    async def enter(self, world: World) -> Obs | None:
        if world.entered:
            return None
        world.entered = True
        world.stream = await world.manager.__aenter__()
        return ("entered",)

    async def leave(self, world: World, error: BaseException | None) -> list[Obs]:
        world.exited = True
        if error is not None:
            suppressed = await world.manager.__aexit__(type(error), error, error.__traceback__)
            return [("exited", bool(suppressed))]
        suppressed = await world.manager.__aexit__(None, None, None)
        # Leaving the block before the stream's end is closing the run early (README, "Outcomes").
        return [("exited", bool(suppressed)), *([] if world.saw_end else [("closed",)])]

    async def pull_raising(self, world: World) -> Any:
        """One pull inside the block; if it raises, the block raises: `async with` exits with it."""
        try:
            return await world.stream.__anext__()
        except (AppFailure, asyncio.CancelledError) as error:
            self.caught = error
            await self.leave(world, error)
            raise

    async def pull_one(self, world: World) -> list[Obs]:
        if world.exited:
            return [("n/a",)]
        entered = await self.enter(world)
        observed: list[Obs] = [entered] if entered else []
        try:
            observed.append(("item", await self.pull_raising(world)))
        except StopAsyncIteration:
            world.saw_end = True
            observed.append(("end",))
        except (AppFailure, asyncio.CancelledError) as error:
            observed += [describe(error), ("exited", False)]
        return observed

    async def close_stream(self, world: World) -> list[Obs]:
        # Leaving the block cleanly, wherever the consumer is in the stream.
        if world.exited:
            return [("n/a",)]
        entered = await self.enter(world)
        return [*([entered] if entered else []), *await self.leave(world, None)]

    async def close_twice_stream(self, world: World) -> list[Obs]:
        # Inside the block the consumer closes the stream it got, then leaves the block.
        if world.exited:
            return [("n/a",)]
        entered = await self.enter(world)
        await world.stream.aclose()
        closed: list[Obs] = [] if world.saw_end else [("closed",)]
        world.saw_end = True  # a closed stream has nothing more to give
        return [*([entered] if entered else []), *closed, *await self.leave(world, None)]

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def cancel_while_awaiting(self, index: int) -> None:
        run = self.pick(index)

        async def cancel(world: World) -> list[Obs]:
            if world.exited:
                return [("n/a",)]
            entered = await self.enter(world)
            observed = await _held_pull_cancelled(world, lambda: self.pull_raising(world))
            return [*([entered] if entered else []), *observed]

        self.on_both(run, "cancel", cancel)


class AgentFrameworkMachine(LifecycleMachine):
    """The real ResponseStream from Agent.run(..., stream=True). Bare runs have the framework's own
    telemetry off: with it on, agent-framework-core 1.23.0 itself asks an early-closed stream for its
    final response and fires after_run (tests/test_agent_framework.py), which we stand down."""

    targets = ()
    # The framework's chat span sits between ours and the chat client; `under` allows that.
    checks_pull_span = True

    def create(self, world: World) -> None:
        world.stream = make_agent(world.script, world.effects, world.hooks).run("hello", stream=True)

    @contextlib.contextmanager
    def bare_mode(self) -> Iterator[None]:
        observability.disable_instrumentation()
        try:
            with suppress_instrumentation():
                yield
        finally:
            observability.enable_instrumentation(force=True)

    def drop(self, run: Run) -> None:
        # A ResponseStream dropped before its first pull never awaits the agent's inner coroutine:
        # agent-framework-core 1.23.0 then warns "coroutine ... was never awaited", bare or traced.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
            super().drop(run)

    async def pull_one(self, world: World) -> list[Obs]:
        observation = await _anext_observed(self, world, world.stream)
        if observation[0] == "item":
            observation = ("item", observation[1].text)
        return [observation]

    async def close_stream(self, world: World) -> list[Obs]:
        await world.stream.close()
        return [("closed",)]

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def cancel_while_awaiting(self, index: int) -> None:
        run = self.pick(index)

        async def cancel(world: World) -> list[Obs]:
            observed = await _held_pull_cancelled(world, world.stream.__anext__)
            return [("item", o[1].text) if o[0] == "item" else o for o in observed]

        self.on_both(run, "cancel", cancel)

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def consume_in_another_task(self, index: int) -> None:
        run = self.pick(index)
        self.on_both(run, "other task", lambda world: asyncio.ensure_future(self.drain_then_pull(world)))

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def final_response(self, index: int) -> None:
        run = self.pick(index)

        async def final(world: World) -> list[Obs]:
            try:
                return [("final", (await world.stream.get_final_response()).text)]
            except AppFailure as error:
                self.caught = error
                return [describe(error)]

        self.on_both(run, "final response", final)


class FrameworkStreamMachine(LifecycleMachine):
    """A framework's own async generator: pull, close, cancel while awaiting, consume in another task.
    The fakes (tests/property_app.py, over the drivers' fakes) fail and hold per the run's Script."""

    max_examples = 50

    def describe_item(self, item: Any) -> Any:
        raise NotImplementedError

    def observed(self, observations: list[Obs]) -> list[Obs]:
        return [("item", self.describe_item(o[1])) if o[0] == "item" else o for o in observations]

    async def pull_one(self, world: World) -> list[Obs]:
        return self.observed([await _anext_observed(self, world, world.stream)])

    async def close_stream(self, world: World) -> list[Obs]:
        await world.stream.aclose()
        return [("closed",)]

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def cancel_while_awaiting(self, index: int) -> None:
        run = self.pick(index)

        async def cancel(world: World) -> list[Obs]:
            return self.observed(await _held_pull_cancelled(world, world.stream.__anext__))

        self.on_both(run, "cancel", cancel)

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def consume_in_another_task(self, index: int) -> None:
        run = self.pick(index)
        self.on_both(run, "other task", lambda world: asyncio.ensure_future(self.drain_then_pull(world)))


class AutogenAgentChatMachine(FrameworkStreamMachine):
    """`AssistantAgent.run_stream(task=...)` with model streaming on: chunk events, the final message,
    then the TaskResult. The side effects are the model calls the agent made (`hooks`)."""

    failure_type = autogen_driver.MODEL_FAILURE

    def create(self, world: World) -> None:
        world.stream = make_autogen_agent(world.script, world.effects, world.hooks).run_stream(task="hi")

    def describe_item(self, item: Any) -> Any:
        return autogen_driver.describe(item)


class AutogenTeamMachine(FrameworkStreamMachine):
    """`RoundRobinGroupChat.run_stream(task=...)` (two agents, max_turns=2, model streaming off): the
    team clears its running flag only in the generator's `finally`, so every step also observes that
    flag: a close or drop that did not reach the real generator would leave the traced team running.
    No cancel rule: cancelling a team's task waits for the in-flight model call (the driver's notes)."""

    failure_type = "RuntimeError"  # the team re-raises a member's failure as RuntimeError

    def create(self, world: World) -> None:
        script = autogen_driver.Script(fail=world.script.fail_at is not None, calls=world.hooks)
        world.manager = autogen_driver.make_team(script)
        world.stream = world.manager.run_stream(task="hi")

    def describe_item(self, item: Any) -> Any:
        return autogen_driver.describe(item)

    def observed(self, observations: list[Obs]) -> list[Obs]:
        # The RuntimeError's text carries the member's traceback: its first line is the app's view.
        first_lines = [(*o[:2], o[2].splitlines()[0]) if o[0] == "raised" else o for o in observations]
        return super().observed(first_lines)

    async def settled_flag(self, world: World, observed: list[Obs]) -> list[Obs]:
        for _ in range(20):  # a closed team finishes its `finally` a few loop ticks later
            if not world.manager._is_running:
                break
            await asyncio.sleep(0)
        return [*observed, ("running", world.manager._is_running)]

    async def pull_one(self, world: World) -> list[Obs]:
        return await self.settled_flag(world, await super().pull_one(world))

    async def close_stream(self, world: World) -> list[Obs]:
        return await self.settled_flag(world, await super().close_stream(world))

    # Not the base class's cancel rule (see the docstring); other-task consumption stays.
    cancel_while_awaiting = None  # type: ignore[assignment]


class AgnoMachine(FrameworkStreamMachine):
    """`Agent.arun(..., stream=True, stream_events=True)`: agno yields a model failure as a
    RunErrorEvent and ends the stream normally, so a consumer that saw that event and then the end saw
    a failed run, typed by the event's error_type (tests/frameworks/agno_driver.py, Expected)."""

    def create(self, world: World) -> None:
        agent = make_agno_agent(world.script, world.effects, world.hooks)
        world.stream = agent.arun("hi", stream=True, stream_events=True)

    def describe_item(self, item: Any) -> Any:
        return agno_driver.describe(item)

    def expected_from(self, run: Run, observation: Obs) -> tuple[str, str | None] | None:
        if observation[0] == "item" and observation[1].startswith("RunErrorEvent("):
            run.returned_failure = observation[1].removeprefix("RunErrorEvent(").split(":")[0]
        if observation[0] in ("end", "final") and run.returned_failure is not None:
            return ("failed", run.returned_failure)
        if observation[0] == "closed" and run.returned_failure is not None:
            # Closed after the error event: closed early, and the span keeps the run's error (ERROR).
            return ("closed_early", run.returned_failure)
        return super().expected_from(run, observation)

    # A dropped stream is ended by the garbage collector, which reads no result facts (no framework
    # code at collection time): abandoned with no error type, even after a RunErrorEvent (base rule).


class SmolagentsMachine(LifecycleMachine):
    """`agent.run(task, stream=True)` (a sync generator), pulled one step at a time: a pull advances to
    the next ActionStep or FinalAnswerStep (closing between a step's outputs makes smolagents' own
    generator raise "generator ignored GeneratorExit", bare or traced). Side effects: the step
    callbacks and final-answer checks."""

    failure_type = smolagents_driver.GENERATION_ERROR
    max_examples = 50

    def create(self, world: World) -> None:
        world.stream = make_smolagents_agent(world.script, world.effects, world.hooks).run("6*7?", stream=True)

    async def pull_one(self, world: World) -> list[Obs]:
        try:
            while True:
                step = next(world.stream)
                if isinstance(step, ActionStep | FinalAnswerStep):
                    return [("item", smolagents_driver.describe(step))]
        except StopIteration:
            return [("end",)]
        except AgentGenerationError as error:
            self.caught = error
            return [describe(error)]

    async def close_stream(self, world: World) -> list[Obs]:
        world.stream.close()
        return [("closed",)]


class PydanticAIEventsMachine(AsyncContextManagerMachine):
    """`async with agent.run_stream_events(prompt) as events: async for event in events`, step by step
    as `async with` does, on a FunctionModel streaming UPDATES chunks (failing or held per the Script)
    and the driver's Recorder capability (before_run/after_run/on_run_error/wrap_run: `hooks`).

    pydantic-ai runs the agent in a background task started at the first pull, one event ahead of the
    consumer. The adapter's rules (adapters/pydantic_ai.py): the events the consumer iterates own the
    run (end of iteration completed, a pull's exception failed or cancelled, `aclose()` closed early);
    leaving the block ends it completed if the run finished (the consumer got its AgentRunResultEvent),
    else closed early. An events stream dropped without `__aexit__` leaves the background run blocked
    (tests/frameworks/pydantic_ai_driver.py): `drop` cancels that task after collection, as shutdown
    would, on both sides."""

    targets: tuple[str, ...] = ()
    max_examples = 40
    max_pulls = 12
    loop_per_world = True

    def create(self, world: World) -> None:
        world.manager = make_pydantic_ai_agent(world.script, world.effects, world.hooks).run_stream_events("hi")

    async def observe(self, world: World, observed: list[Obs]) -> list[Obs]:
        return [("item", _describe_pydantic_event(o[1])) if o[0] == "item" else o for o in observed]

    async def pull_raising(self, world: World) -> Any:
        event = await super().pull_raising(world)
        world.saw_result = world.saw_result or isinstance(event, AgentRunResultEvent)
        return event

    async def leave(self, world: World, error: BaseException | None) -> list[Obs]:
        observed = await super().leave(world, error)
        # Leaving after the run's result event leaves a finished run (the adapter's rule: completed).
        return [("finished",) if o == ("closed",) and world.saw_result else o for o in observed]

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1), then_leave=st.booleans())
    def pull_to_the_result_event(self, index: int, then_leave: bool) -> None:
        # Up to the run's last event and not past it: the run finished, the iteration did not end.
        run = self.pick(index)

        async def pull_to_result(world: World) -> list[Obs]:
            observed: list[Obs] = []
            while not world.saw_result and (not observed or observed[-1][0] == "item"):
                observed += await self.pull_one(world)
            if then_leave and observed[-1:] != [("exited", False)]:
                observed += await self.close_stream(world)
            return observed

        self.on_both(run, f"pull to result (then leave: {then_leave})", pull_to_result)

    def expected_from(self, run: Run, observation: Obs) -> tuple[str, str | None] | None:
        if observation == ("finished",):
            return ("completed", None)
        return super().expected_from(run, observation)

    def drop(self, run: Run) -> None:
        started = [
            (self.loop_for(world), world.stream._task, world.stream._receive_stream)
            for world in (run.bare, run.traced)
            if world.stream is not None and world.stream._task is not None
        ]
        super().drop(run)
        for loop, task, receive_stream in started:
            loop.run_until_complete(_cancel_all({task}))
            receive_stream.close()  # else "Unclosed <MemoryObjectReceiveStream>" when collected, bare or traced


def _describe_pydantic_event(event: Any) -> Any:
    delta = getattr(event, "delta", None)
    return (type(event).__name__, getattr(delta, "content_delta", None))


@dataclass
class OpenAIRunSide:
    """One world's own loop and what the app sees of its run task (`result.run_loop_task`)."""

    ended: str = "pending"  # how the run task ended, recorded by the app's own done callback
    stop_requested: bool = False  # the consumer called result.cancel() while the run task was pending

    def record(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            self.ended = "cancelled"
        else:
            error = task.exception()
            self.ended = "completed" if error is None else f"failed:{type(error).__name__}"

    async def until_ended(self, turns: int = 500) -> None:
        for _ in range(turns):  # loop turns, not wall time: the same point bare and instrumented
            if self.ended != "pending":
                return
            await asyncio.sleep(0)


class OpenAIAgentsMachine(LifecycleMachine):
    """`result = Runner.run_streamed(agent, "hi", hooks=...)` then `result.stream_events()`: the real
    RunResultStreaming, on the SDK's ScriptedModel (UPDATES turns, an `echo` tool call each until the
    final answer; the turn `fail_at` raises, a held turn waits) and the driver's RecordingHooks (`hooks`).
    The SDK's tracing (which would export to api.openai.com) is disabled by the driver at import.

    The run is its own task, so the span ends when that task ends, whatever the consumer read (unread
    events do not stop it; adapters/openai_agents.py): finished -> completed, raised -> failed, cancelled
    by the consumer's `result.cancel()` (close: cancel, then aclose the events) -> closed early,
    cancelled because the consumer's task was -> cancelled. So every step ends by observing how the run
    task ended (the app's own done callback), and the expected outcome follows that. Each world runs on
    its own loop, so a run progresses only during its own consumer's steps."""

    targets = ()
    max_examples = 30  # ~40 events per run: the slowest machine per example
    max_pulls = 40
    loop_per_world = True

    def __init__(self) -> None:
        super().__init__()
        self.sides: dict[int, OpenAIRunSide] = {}

    def side(self, world: World) -> OpenAIRunSide:
        return self.sides[id(world)]

    def create(self, world: World) -> None:
        side = self.sides[id(world)] = OpenAIRunSide()
        agent = make_openai_agent(world.script, world.effects)

        async def start() -> None:  # run_streamed creates the run task: it needs a running loop
            world.manager = Runner.run_streamed(agent, "hi", hooks=openai_driver.RecordingHooks(world.hooks))
            world.manager.run_loop_task.add_done_callback(side.record)
            world.stream = world.manager.stream_events()

        self.loop_for(world).run_until_complete(start())

    async def observe(self, world: World, observed: list[Obs]) -> list[Obs]:
        described = [("item", _describe_openai_event(o[1])) if o[0] == "item" else o for o in observed]
        return [*described, ("run task", self.side(world).ended)]

    def expected_from(self, run: Run, observation: Obs) -> tuple[str, str | None] | None:
        if observation[0] != "run task" or observation[1] == "pending":
            return None
        if observation[1] == "completed":
            return ("completed", None)
        if observation[1] == "cancelled":
            return ("closed_early", None) if self.side(run.traced).stop_requested else ("cancelled", CANCELLED)
        assert observation[1] == "failed:AppFailure", run.steps
        return ("failed", APP_FAILURE)

    async def pull_one(self, world: World) -> list[Obs]:
        return [await _anext_observed(self, world, world.stream)]

    async def close_stream(self, world: World) -> list[Obs]:
        # The SDK's way to stop a stream: result.cancel(), then close the events iterator.
        side = self.side(world)
        side.stop_requested = side.stop_requested or not world.manager.run_loop_task.done()
        world.manager.cancel()
        await world.stream.aclose()
        await side.until_ended()
        return [("closed",)]

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def cancel_while_awaiting(self, index: int) -> None:
        run = self.pick(index)

        async def cancel(world: World) -> list[Obs]:
            observed = await _held_pull_cancelled(world, world.stream.__anext__)
            if observed[0][0] == "raised":  # the SDK cancels the run: wait for its task to end
                await self.side(world).until_ended()
            return observed

        self.on_both(run, "cancel", cancel)

    @precondition(LifecycleMachine.has_live)
    @rule(index=st.integers(0, MAX_OPEN_RUNS - 1))
    def consume_in_another_task(self, index: int) -> None:
        run = self.pick(index)
        self.on_both(run, "other task", lambda world: asyncio.ensure_future(self.drain_then_pull(world)))

    def drop(self, run: Run) -> None:
        # Dropping the result does not stop the run: it runs to its end on the world's loop.
        run.steps.append("drop")
        for world in (run.bare, run.traced):
            world.stream = None
            world.manager = None
        run.dropped = True
        gc.collect()
        with self.bare_mode():
            self.loop_for(run.bare).run_until_complete(self.side(run.bare).until_ended())
        self.loop_for(run.traced).run_until_complete(self.side(run.traced).until_ended())
        ended = self.side(run.traced).ended
        assert ended == self.side(run.bare).ended, run.steps
        assert ended != "pending", ("a dropped run did not end", run.steps)
        if run.expected is None:
            run.expected = self.expected_from(run, ("run task", ended))
        run.must_be_ended = True


def _describe_openai_event(event: Any) -> Any:
    if event.type == "raw_response_event":
        return event.data.type
    if event.type == "run_item_stream_event":
        return event.name
    return event.type


def run_machine(machine: type[LifecycleMachine], instrumentation: Instrumentation, bookkeeping: Bookkeeping) -> None:
    instrumentation.on(targets=list(machine.targets))
    bound = type(machine.__name__, (machine,), {"bookkeeping": bookkeeping})
    # Every drop calls gc.collect(); with the frameworks imported a full collection takes ~0.4 s here.
    # Freezing what exists now leaves each collection only the objects the examples create.
    gc.collect()
    gc.freeze()
    try:
        run_state_machine_as_test(bound, settings=settings(PROPERTY_SETTINGS, max_examples=machine.max_examples))
    finally:
        gc.unfreeze()


def test_async_generator_random_lifecycles_keep_the_span_contract(
    instrumentation: Instrumentation, bookkeeping: Bookkeeping
) -> None:
    run_machine(AsyncGeneratorMachine, instrumentation, bookkeeping)


def test_sync_generator_random_lifecycles_keep_the_span_contract(
    instrumentation: Instrumentation, bookkeeping: Bookkeeping
) -> None:
    run_machine(SyncGeneratorMachine, instrumentation, bookkeeping)


def test_async_context_manager_random_lifecycles_keep_the_span_contract(
    instrumentation: Instrumentation, bookkeeping: Bookkeeping
) -> None:
    run_machine(AsyncContextManagerMachine, instrumentation, bookkeeping)


def test_agent_framework_stream_random_lifecycles_keep_the_span_contract(
    instrumentation: Instrumentation, bookkeeping: Bookkeeping
) -> None:
    run_machine(AgentFrameworkMachine, instrumentation, bookkeeping)


def test_span_ended_twice_is_caught_by_the_bookkeeping(telemetry: Telemetry, bookkeeping: Bookkeeping) -> None:
    # The SDK turns a second end() into a warning, not a second on_end: the invariant reads both.
    span = telemetry.tracer_provider.get_tracer("otel_agent_instrumentation").start_span("invoke_agent twice")
    span.end()
    span.end()
    assert (bookkeeping.counter.ends[span.get_span_context().span_id], bookkeeping.double_ends.count) == (1, 1)


def test_autogen_agentchat_run_stream_random_lifecycles_keep_the_span_contract(
    instrumentation: Instrumentation, bookkeeping: Bookkeeping
) -> None:
    with autogen_driver.framework_detach_errors_dropped():  # the bare runs' own (autogen-core's span)
        run_machine(AutogenAgentChatMachine, instrumentation, bookkeeping)


def test_smolagents_run_stream_random_lifecycles_keep_the_span_contract(
    instrumentation: Instrumentation, bookkeeping: Bookkeeping
) -> None:
    run_machine(SmolagentsMachine, instrumentation, bookkeeping)


def test_agno_arun_stream_random_lifecycles_keep_the_span_contract(
    instrumentation: Instrumentation, bookkeeping: Bookkeeping
) -> None:
    run_machine(AgnoMachine, instrumentation, bookkeeping)


def test_autogen_team_run_stream_random_lifecycles_keep_the_span_contract(
    instrumentation: Instrumentation, bookkeeping: Bookkeeping
) -> None:
    with autogen_driver.framework_detach_errors_dropped():  # the bare runs' own (autogen-core's span)
        run_machine(AutogenTeamMachine, instrumentation, bookkeeping)


def test_pydantic_ai_run_stream_events_random_lifecycles_keep_the_span_contract(
    instrumentation: Instrumentation, bookkeeping: Bookkeeping
) -> None:
    run_machine(PydanticAIEventsMachine, instrumentation, bookkeeping)


def test_openai_agents_run_streamed_random_lifecycles_keep_the_span_contract(
    instrumentation: Instrumentation, bookkeeping: Bookkeeping
) -> None:
    run_machine(OpenAIAgentsMachine, instrumentation, bookkeeping)

"""The table of ways an agent run can end, shared by every framework.

Each framework supplies a `Driver` (tests/frameworks/<framework>_driver.py) that builds a fresh agent
on an offline scripted model and performs one (mode, ending) pair the way an application would,
returning what the application observed. `test_lifecycle.py` runs every pair twice, without and with
instrumentation, and checks that the observations are equal and that the span says what happened.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol


class Ending(enum.Enum):
    COMPLETES = "completes"
    RAISES_AT_CALL = "raises_at_call"  # the call fails before any update exists
    RAISES_MID_STREAM = "raises_mid_stream"  # after at least one update
    CANCELLED = "cancelled"  # the consumer's task is cancelled while it awaits the run
    BREAK_AND_CLOSE = "break_and_close"  # consumer stops early and closes (close/aclose/with-exit)
    DROPPED = "dropped"  # consumer drops the stream unclosed; garbage collected
    FINAL_WITHOUT_ITERATING = "final_without_iterating"  # final response requested, no iteration
    OTHER_TASK = "other_task"  # created in one asyncio task, consumed in another
    CONCURRENT = "concurrent"  # many runs at once


# The endings of a run that returns a coroutine: nothing to close early, no final response to ask for.
AWAITED_ENDINGS: list[Ending] = [
    ending for ending in Ending if ending not in (Ending.BREAK_AND_CLOSE, Ending.FINAL_WITHOUT_ITERATING)
]

CONCURRENT_RUNS = 20


@dataclass
class Observed:
    """What the application saw. Compared between uninstrumented and instrumented runs."""

    updates: list[str] = field(default_factory=list)
    result: str | None = None
    result_type: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    hooks: list[str] = field(default_factory=list)
    # Not compared: the exception object itself, to check identity with what the framework raised.
    error: BaseException | None = field(default=None, compare=False)
    # Not compared: the type of the object the run call returned (checked by isinstance tests).
    returned: Any = field(default=None, compare=False, repr=False)

    def record_error(self, error: BaseException) -> None:
        """The exception the application caught: its class name and message (drivers whose
        frameworks put volatile text in messages keep their own variant)."""
        self.error = error
        self.error_type = type(error).__name__
        self.error_message = str(error)


@dataclass(frozen=True)
class Expected:
    """What the run's span must say about a (mode, ending)."""

    spans: int = 1
    error_type: str | None = None  # None: status UNSET; else status ERROR with this error.type
    outcome: str | None = None  # otel_agent_instrumentation.outcome, when set
    # gen_ai.operation.name of the run's span: "invoke_workflow" for a run that is a workflow of agents
    # (an AutoGen team), whose agents' own spans inside it are checked by that framework's tests.
    operation: str = "invoke_agent"


CANCELLED_ERROR = "asyncio.exceptions.CancelledError"


def default_expectation(ending: Ending, streamed: bool, error_type: str) -> Expected:
    """The outcome table of the README, for a driver whose failures raise `error_type`."""
    completed = "completed"
    table = {
        Ending.COMPLETES: Expected(outcome=completed),
        Ending.RAISES_AT_CALL: Expected(error_type=error_type, outcome="failed"),
        Ending.RAISES_MID_STREAM: Expected(error_type=error_type, outcome="failed"),
        Ending.CANCELLED: Expected(error_type=CANCELLED_ERROR, outcome="cancelled"),
        Ending.BREAK_AND_CLOSE: Expected(outcome="closed_early"),
        Ending.DROPPED: Expected(outcome="abandoned"),
        Ending.FINAL_WITHOUT_ITERATING: Expected(outcome=completed),
        Ending.OTHER_TASK: Expected(outcome=completed),
        Ending.CONCURRENT: Expected(spans=CONCURRENT_RUNS, outcome=completed),
    }
    return table[ending]


class Driver(Protocol):
    """One framework, driven offline."""

    framework: str
    agent_name: str

    def cases(self) -> list[tuple[str, Ending]]:
        """The (mode, ending) pairs this framework has, e.g. ("run", COMPLETES), ("stream", DROPPED)."""
        ...

    def expected(self, mode: str, ending: Ending) -> Expected:
        """What the span must say for this pair."""
        ...

    async def perform(self, mode: str, ending: Ending) -> Observed:
        """Build a fresh agent, perform the pair as an application would, report what it saw."""
        ...

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        """The baseline: `perform` with the framework's own tracing off where it has side effects
        of its own (the behaviour we compare against is the agent's, not another instrumentation's)."""
        ...

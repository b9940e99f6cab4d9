"""Patching and configuration specs: uninstrument with another wrapper on top, targets given as generators."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from otel_agent_instrumentation import AgentInstrumentor
from tests.conftest import Instrumentation, Telemetry
from tests.sample_app.agents import NamedAgent

TARGET = "tests.sample_app.agents:NamedAgent.run"


def wrap_after_us(calls: list[str]) -> Callable[[], None]:
    """Another instrumentation wrapping NamedAgent.run after ours; returns its own undo."""
    ours = vars(NamedAgent)["run"]

    @functools.wraps(ours)
    def theirs(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("theirs")
        return ours(self, *args, **kwargs)

    NamedAgent.run = theirs  # type: ignore[method-assign]

    def undo() -> None:
        NamedAgent.run = ours  # type: ignore[method-assign]

    return undo


def test_uninstrument_keeps_a_wrapper_added_after_ours(instrumentation: Instrumentation, telemetry: Telemetry) -> None:
    instrumentation.on(targets=[TARGET])
    calls: list[str] = []
    undo_theirs = wrap_after_us(calls)
    try:
        AgentInstrumentor().uninstrument()
        assert (NamedAgent().run(), calls, telemetry.agent_spans()) == ("plan", ["theirs"], [])
    finally:
        undo_theirs()


def test_a_wrapper_added_after_ours_and_removed_later_leaves_ours_switched_off(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    pristine = vars(NamedAgent)["run"]
    instrumentation.on(targets=[TARGET])
    undo_theirs = wrap_after_us([])
    AgentInstrumentor().uninstrument()
    undo_theirs()  # theirs restores what it found: our wrapper, switched off
    try:
        assert (NamedAgent().run(), telemetry.agent_spans()) == ("plan", [])
    finally:
        NamedAgent.run = pristine  # type: ignore[method-assign]


def test_targets_given_as_a_generator_are_all_instrumented(
    instrumentation: Instrumentation, telemetry: Telemetry
) -> None:
    instrumentation.on(targets=(target for target in [TARGET]))
    NamedAgent().run()
    assert [span.name for span in telemetry.agent_spans()] == ["invoke_agent planner"]


def test_disabled_adapters_given_as_a_generator_are_all_disabled(instrumentation: Instrumentation) -> None:
    from agents.run import AgentRunner

    before = vars(AgentRunner)["run"]
    instrumentation.on(disabled_adapters=(name for name in ["openai_agents"]))
    assert vars(AgentRunner)["run"] is before

"""The benchmark's subjects (benchmarks/subjects/) measure what they claim: each one's run and stream give
the application the same output with the instrumentation as without, and are traced as one agent run.

Only the subjects are exercised (the benchmark itself needs the `bench` extra); `overhead.py --quick`
is the smoke run of the harness.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from benchmarks.subjects import FRAMEWORKS, StreamOutput, Subject
from tests.conftest import Instrumentation, Telemetry

SHAPES = ("run", "stream")


def _subject(framework: str, shape: str = "run") -> Subject:
    # Skipped only when the framework itself is not installed (the subject module imports it), or when the
    # subject has no stream shape (AG2's 0.2 line: overhead.py then times its run only).
    subject: Subject = pytest.importorskip(f"benchmarks.subjects.{framework}").SUBJECT
    if shape == "stream" and subject.stream is None:
        pytest.skip(f"{framework}: no stream shape ({subject.note})")
    return subject


def _perform(subject: Subject, shape: str) -> str | StreamOutput:
    """One call of the subject as the benchmark makes it (sync frameworks are called directly)."""
    call: Callable[[], Any]
    if shape == "run":
        call = subject.run
    else:
        assert subject.stream is not None
        call = subject.stream(3)
    value = call()
    if inspect.isawaitable(value):
        value = asyncio.run(_await(value))
    assert isinstance(value, (str, tuple))
    return value


async def _await(value: Any) -> Any:
    return await value


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_subject_output_same_with_instrumentation(framework: str, shape: str, instrumentation: Instrumentation) -> None:
    subject = _subject(framework, shape)
    bare = _perform(subject, shape)
    instrumentation.on()
    assert _perform(subject, shape) == bare


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_subject_call_traced_as_one_agent_run(
    framework: str, shape: str, telemetry: Telemetry, instrumentation: Instrumentation
) -> None:
    subject = _subject(framework, shape)
    instrumentation.on()
    _perform(subject, shape)
    spans = telemetry.agent_spans()
    assert [(s.name, (s.attributes or {}).get("otel_agent_instrumentation.outcome")) for s in spans] == [
        ("invoke_agent bench", "completed")
    ]


def _child_labels(script_name: str, *arguments: str) -> list[str | None]:
    """The segment labels a benchmark script's child prints, run here without valgrind."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / script_name
    done = subprocess.run(
        [sys.executable, str(script), "--child", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    labels: list[str | None] = json.loads(done.stdout.strip().splitlines()[-1])["labels"]
    return labels


def test_instruction_counts_mark_one_segment_per_mode_and_shape_in_each_round() -> None:
    """benchmarks/instructions.py's child (run here without valgrind): after the set-up, a segment for the raw
    span, then in each round one for every mode and shape (Agent Framework's own telemetry among them), each
    followed by an unmeasured one."""
    pytest.importorskip("agent_framework")
    labels = _child_labels("instructions.py", "agent_framework", "--calls", "4", "--rounds", "2")
    modes = ("bare", "ours", "sdk_floor", "sdk_floor_current", "ours_code", "builtin", "suppressed")
    # The modes take turns, two rounds of two calls each; the 1000-update stream's count is --calls / 100, at
    # least two, shared by the rounds.
    shapes = {"run": 2, "stream": 2, "long": 1}
    one_round = [f"{mode}:{shape}:{calls}" for mode in modes for shape, calls in shapes.items()]
    expected = [None, "raw_span:4", None, *(item for label in one_round * 2 for item in (label, None))]
    assert labels == expected


def test_instruction_counts_sum_each_modes_segments_over_the_rounds() -> None:
    from benchmarks.instructions import per_call

    segments = [("bare:run:2", 200), ("ours:run:2", 260), ("bare:run:2", 220), ("ours:run:1", 150)]
    assert per_call(segments) == {"bare:run": 105.0, "ours:run": 410 / 3}


def test_update_floor_counts_each_consumer_on_a_short_and_a_long_stream() -> None:
    """benchmarks/update_floor.py's child (run here without valgrind): bare, the do-nothing proxy, the proxy
    attaching a context per pull and ours, each on a 4-update and a 1004-update run of AutoGen's stream (the
    child checks each run yielded that many updates)."""
    pytest.importorskip("autogen_agentchat")
    labels = _child_labels("update_floor.py", "--runs", "1")
    measured = [f"{mode}@{updates}:1" for mode in ("bare", "proxy", "proxy_context", "ours") for updates in (4, 1004)]
    assert labels == [None, *(item for label in measured for item in (label, None))]


def test_update_floor_takes_the_long_runs_excess_over_the_short_per_update() -> None:
    from benchmarks.update_floor import MODES, per_update

    per_run = {
        f"{mode}@{updates}": 1000.0 * index + updates * (index + 1)
        for index, mode in enumerate(MODES)
        for updates in (4, 1004)
    }
    assert per_update(per_run) == {mode: float(index + 1) for index, mode in enumerate(MODES)}


def test_instruction_counts_read_each_segment_in_the_order_callgrind_wrote_them(tmp_path: Any) -> None:
    from benchmarks.instructions import _totals

    for name, total in (("out.1", 10), ("out.2", 20), ("out.10", 100), ("out", 5)):
        (tmp_path / name).write_text(f"events: Ir\nsummary: {total}\ntotals: {total}\n")
    assert _totals(tmp_path) == [10, 20, 100, 5]


def test_suppressed_counts_alternate_bare_and_suppressed_segments_round_by_round() -> None:
    """benchmarks/suppressed.py's child (run here without valgrind): the raw span, then for each shape the
    rounds, each a bare segment and a suppressed one, each followed by an unmeasured segment."""
    pytest.importorskip("agent_framework")
    labels = _child_labels("suppressed.py", "agent_framework", "--rounds", "2", "--calls", "2")
    measured = [
        f"{mode}:{shape}:{round_index}:2"
        for shape in ("run", "stream")
        for round_index in range(2)
        for mode in ("bare", "suppressed")
    ]
    assert labels == [None, "raw_span:0:2", None, *(item for label in measured for item in (label, None))]


def test_suppressed_counts_take_each_rounds_difference_of_its_own_segments() -> None:
    from benchmarks.suppressed import round_differences

    per_call = {"bare:run:0": 100.0, "suppressed:run:0": 130.0, "bare:run:1": 200.0, "suppressed:run:1": 210.0}
    assert round_differences(per_call, "run", 2) == [30.0, 10.0]


@pytest.mark.parametrize("framework", ["langgraph", "agent_framework", "autogen_agentchat", "agno"])
def test_suppressed_layers_counts_each_layer_bare_then_with_our_patches(framework: str) -> None:
    """benchmarks/suppressed_layers.py's child (run here without valgrind): every layer listed for the framework
    (LangGraph's stand-ins of __aenter__ and put_writes among them) is counted in both modes."""
    pytest.importorskip(framework)
    from benchmarks.suppressed_layers import PER_RUN

    labels = _child_labels("suppressed_layers.py", framework, "--calls", "2")
    measured = [f"{mode}:{layer}" for mode in ("bare", "ours") for layer in PER_RUN[framework]]
    assert len(PER_RUN[framework]) > 0
    assert labels == [None, *(item for label in measured for item in (label, None))]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("current", [False, True], ids=["floor", "floor_span_current"])
def test_sdk_floor_makes_its_span_current_around_the_call_only_when_asked(current: bool, asynchronous: bool) -> None:
    """The floor with its span current (overhead.py's `sdk_floor_current`) runs the bare call under its first
    span, and leaves the caller's context as it was; the plain floor runs it under whatever was current."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.trace import TracerProvider

    from benchmarks.overhead import Floor, SpanRecipe

    tracer = TracerProvider().get_tracer("floor")
    recipe = SpanRecipe("invoke_agent floor", trace.SpanKind.INTERNAL, {}, {}, [], None)
    seen: list[trace.Span] = []

    def bare_sync() -> str:
        seen.append(trace.get_current_span())
        return "output"

    async def bare_async() -> str:
        return bare_sync()

    floor = Floor([recipe], []).wrap(
        tracer, metrics.NoOpMeter("floor"), bare_async if asynchronous else bare_sync, asynchronous, current
    )
    output = asyncio.run(floor()) if asynchronous else floor()

    assert output == "output"
    (span,) = seen
    assert (getattr(span, "name", None) == "invoke_agent floor") is current
    assert trace.get_current_span() is trace.INVALID_SPAN

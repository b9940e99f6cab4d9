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

"""Benchmark subjects: one module per framework, each with a module-level SUBJECT.

A subject is one agent on a tiny offline model, ready to run many times, and the switches for the
framework's own tracing ("builtin") and for its OpenInference instrumentor. Anchors import their
instrumentation packages lazily, so the subjects import (and the smoke test runs) without the `bench`
extra. Every anchor sends spans to the one provider the harness gives it (`Env.provider`).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

# Subjects whose framework lives in a separate test environment (crewai, llama_index, strands: openai2; ag2,
# google_adk: otel144) are skipped as not importable elsewhere: run the benchmark with that environment's python.
FRAMEWORKS = (
    "agent_framework",
    "autogen_agentchat",
    "pydantic_ai",
    "openai_agents",
    "smolagents",
    "agno",
    "crewai",
    "ag2",
    "llama_index",
    "google_adk",
    "strands",
    "langgraph",
)

# What a run or stream returns: comparable output (the final text, and for streams the number of
# updates the consumer saw and their text), so bare and instrumented runs can be checked for equality.
StreamOutput = tuple[int, str]
RunCall = Callable[[], Awaitable[str] | str]
StreamCall = Callable[[], Awaitable[StreamOutput] | StreamOutput]


class Env(Protocol):
    """What the harness offers an anchor: the provider, the global provider switch (for frameworks
    that read `trace.get_tracer_provider()` on every span) and one slot for an extra span processor
    placed in front of the exporting processor (OpenInference's span-rewriting processors)."""

    provider: TracerProvider

    def use_global_provider(self, on: bool) -> None: ...

    def set_extra_processor(self, processor: SpanProcessor | None) -> None: ...


@dataclass(frozen=True)
class Anchor:
    """Another instrumentation to compare with: `on(env)` turns it on, `off()` turns it fully off again."""

    label: str
    on: Callable[[Env], None]
    off: Callable[[], None]
    traces_streams: bool = True
    # Anchors whose off() cannot restore everything are measured after the others (see overhead.py).
    clean_off: bool = True
    # For tracing that is not OpenTelemetry (the OpenAI Agents SDK's): spans it has recorded so far.
    recorded: Callable[[], int] | None = None


@dataclass(frozen=True)
class Subject:
    framework: str
    asynchronous: bool  # run/stream return awaitables
    run: RunCall
    # stream(chunks): a stream call over a model that sends `chunks` text chunks.
    stream: Callable[[int], StreamCall] | None
    builtin: Anchor | None
    openinference: Anchor | None
    stream_label: str = ""
    note: str = ""
    # Puts the framework in its bare state (its own tracing switched off). Called by the benchmark
    # before measuring, never at import: the smoke test imports subjects into the test process.
    prepare: Callable[[], None] | None = None


def load(framework: str) -> Subject:
    subject: Subject = importlib.import_module(f"{__name__}.{framework}").SUBJECT
    return subject


def instrumentor_off(instrumentor: Any) -> None:
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def openinference_anchor(
    label: str,
    module: str,
    class_name: str,
    before: Callable[[Env], None] | None = None,
    after: Callable[[], None] | None = None,
) -> Anchor:
    """An OpenInference instrumentor, imported when turned on (so a missing package is reported, not
    fatal). Where it needs the framework's own tracing on, `before(env)` turns that on and `after()`
    off again."""
    instances: list[Any] = []

    def on(env: Env) -> None:
        instrumentor = getattr(importlib.import_module(module), class_name)()
        if before is not None:
            before(env)
        instrumentor.instrument(tracer_provider=env.provider)
        instances[:] = [instrumentor]

    def off() -> None:
        for instrumentor in instances:
            instrumentor_off(instrumentor)
        if after is not None:
            after()

    return Anchor(label, on, off)

"""Overhead of the instrumentation next to each framework's own tracing and OpenInference, in one process.

    python benchmarks/overhead.py [--quick] [--frameworks agent_framework,pydantic_ai] [--runs N]

Needs the `test` and `bench` extras (`pip install -e '.[test,bench]'`); an anchor whose package is
missing is reported as such. A script, not a test.

For each framework (benchmarks/subjects/<framework>.py: one agent on a tiny offline model) it times
a run, a short stream (3 model chunks) and a 1000-chunk stream in each mode:
  bare           no instrumentation: the global tracer provider is the API's no-op, the framework's
                 own tracing is off where it has a switch
  ours           AgentInstrumentor().instrument(tracer_provider=provider, meter_provider=meters)
  ours_code      ours with the API's no-op tracer and meter providers: our own code's share, apart
                 from the SDK's work for the span and the metrics (the "our code only" column)
  builtin        the framework's own tracing, where it has one
  openinference  the OpenInference instrumentor for the framework, configured as its README says
  suppressed     ours, with the run inside suppress_instrumentation()
Every instrumentation sends its spans to the same SDK TracerProvider: one slot for an extra span
processor (used only by OpenInference's span-rewriting processors), then a SimpleSpanProcessor to an
exporter that drops them. Metrics go to one SDK MeterProvider (global, and passed to ours), so the
cost of recording them is counted for every mode that records any.
Modes are switched on and off in turn inside the process; before timing, each mode is checked: it
must emit spans when on (else it is marked "no spans"), none once off (else it did not uninstrument
cleanly and is timed after all the others, so it cannot pollute them), and produce the bare output.
Each figure is the median of interleaved batches (every batch runs every mode, each batch starting
with the next mode), with the garbage collector off inside each timing window, after a warm-up; a mode's
added cost is the median of its per-batch differences to bare (paired).
Each window makes as many calls as fill --window-ms in bare mode.
Then, for the frameworks whose tool calls get our execute_tool span (agno, OpenAI Agents, Pydantic AI), a
tool call span against the SDK alone doing what it recorded (benchmarks/tool_span.py; --tool-rounds 0 skips).
  sdk_floor      the SDK alone recording what ours recorded in a run of that shape (read back from the check
                 run: spans, attributes, events, status, histogram records), around the bare call
  sdk_floor_current  the same, its first span made current around the bare call (Floor.wrap)
Targets (issue 13): ours above the SDK floor <= one raw SDK span per run; per update of a 1000-update stream
<= +1 us and <= 1.05x bare; a suppressed run <= 2 us over bare; ours <= 0.75x the framework's own tracing
where it records the same span and metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import inspect
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import NoOpTracerProvider, SpanKind, Status, StatusCode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.subjects import FRAMEWORKS, Anchor, Subject, load
from benchmarks.tool_span import TOOL_FRAMEWORKS, measure_all
from otel_agent_instrumentation import AgentInstrumentor, semconv

LONG_CHUNKS = 1000
SHORT_CHUNKS = 3
SHAPES = ("run", "stream", "long")  # a run, a 3-chunk stream, a 1000-chunk stream


class DropExporter(SpanExporter):
    """Counts the spans it is given and keeps none, except while `captured` is a list (the floor's recipe)."""

    def __init__(self) -> None:
        self.count = 0
        self.captured: list[ReadableSpan] | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        if self.captured is not None:
            self.captured.extend(spans)
        return SpanExportResult.SUCCESS


OUR_SCOPE = "otel_agent_instrumentation"
# The attributes our span is started with (the sampler sees them); the others are set when the run ends.
START_ATTRIBUTES = frozenset(
    {
        semconv.GEN_AI_OPERATION_NAME,
        semconv.GEN_AI_AGENT_NAME,
        semconv.GEN_AI_WORKFLOW_NAME,
        semconv.GEN_AI_TOOL_NAME,
        semconv.GEN_AI_PROVIDER_NAME,
        semconv.GEN_AI_REQUEST_MODEL,
        semconv.GEN_AI_TOOL_TYPE,
        semconv.GEN_AI_TOOL_CALL_ID,
        semconv.GEN_AI_TOOL_DESCRIPTION,
    }
)


@dataclass(frozen=True)
class SpanRecipe:
    """What one of our spans carried, to be made again by the SDK alone."""

    name: str
    kind: SpanKind
    start_attributes: dict[str, Any]
    end_attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status: Status | None

    @classmethod
    def of(cls, span: ReadableSpan) -> SpanRecipe:
        attributes = dict(span.attributes or {})
        start = {key: value for key, value in attributes.items() if key in START_ATTRIBUTES}
        end = {key: value for key, value in attributes.items() if key not in START_ATTRIBUTES}
        events = [(event.name, dict(event.attributes or {})) for event in span.events]
        status = span.status if span.status.status_code is not StatusCode.UNSET else None
        return cls(span.name, span.kind, start, end, events, status)


@dataclass(frozen=True)
class MetricRecord:
    """One histogram record our run made (instrument, attributes, value)."""

    instrument: str
    unit: str
    attributes: dict[str, Any]
    value: float


@dataclass
class Floor:
    """The SDK alone doing what our run recorded: its spans and its histogram records, around the bare call.

    Each record is made with the span in its context, as ours are (the SDK's default exemplar filter then
    keeps an exemplar, which is part of what ours records)."""

    spans: list[SpanRecipe]
    records: list[MetricRecord]

    def wrap(
        self,
        tracer: trace.Tracer,
        meter: metrics.Meter,
        call: Callable[[], Any],
        asynchronous: bool,
        current: bool = False,
    ) -> Any:
        """The floor's call. `current`: the first span is made current around the whole bare call (one attach
        and detach), as the simplest instrumentation whose children nest under its span would
        (`start_as_current_span` around the call): what a framework does because a recording span is current
        (pydantic-graph injects a traceparent) is then in the floor. Not a lower bound of ours: ours makes its
        span current around each step of the run, one attach per pull, and leaves the consumer's code between
        pulls outside it, where the framework may react to a current span too (a Pydantic AI stream: 5
        traceparent injections a run in this floor, 1 in ours; its run: 4 in both)."""
        histograms = {r.instrument: meter.create_histogram(r.instrument, unit=r.unit) for r in self.records}
        recipes, records = self.spans, [(histograms[r.instrument], r.attributes, r.value) for r in self.records]

        def begin() -> list[tuple[trace.Span, SpanRecipe]]:
            return [(tracer.start_span(r.name, kind=r.kind, attributes=r.start_attributes), r) for r in recipes]

        def end(started: list[tuple[trace.Span, SpanRecipe]]) -> None:
            for span, recipe in started:
                span.set_attributes(recipe.end_attributes)
                for name, attributes in recipe.events:
                    span.add_event(name, attributes)
                if recipe.status is not None:
                    span.set_status(recipe.status)
                span.end()
            context = trace.set_span_in_context(started[0][0]) if started else None
            for histogram, attributes, value in records:
                histogram.record(value, attributes, context)

        if asynchronous and current:

            async def floor_current_async() -> Any:
                started = begin()
                token = otel_context.attach(trace.set_span_in_context(started[0][0])) if started else None
                try:
                    value = await call()
                finally:
                    if token is not None:
                        otel_context.detach(token)
                end(started)
                return value

            return floor_current_async

        if asynchronous:

            async def floor_async() -> Any:
                started = begin()
                value = await call()
                end(started)
                return value

            return floor_async

        if current:

            def floor_current_sync() -> Any:
                started = begin()
                token = otel_context.attach(trace.set_span_in_context(started[0][0])) if started else None
                try:
                    value = call()
                finally:
                    if token is not None:
                        otel_context.detach(token)
                end(started)
                return value

            return floor_current_sync

        def floor_sync() -> Any:
            started = begin()
            value = call()
            end(started)
            return value

        return floor_sync


class ProcessorSlot(SpanProcessor):
    """One replaceable span processor (SDK providers cannot remove a processor once added)."""

    def __init__(self) -> None:
        self.inner: SpanProcessor | None = None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.inner is not None:
            self.inner.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self.inner is not None:
            self.inner.on_end(span)


class GlobalProviderSwitch(trace.TracerProvider):
    """The global tracer provider: the API's no-op, or the benchmark's provider. Frameworks that trace
    through the global provider (Agent Framework, autogen-core) ask it for a tracer on every span."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.target: trace.TracerProvider = trace.NoOpTracerProvider()

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return self.target.get_tracer(*args, **kwargs)


class BenchEnv:
    def __init__(self) -> None:
        self.exporter = DropExporter()
        self.slot = ProcessorSlot()
        self.provider = TracerProvider()
        self.provider.add_span_processor(self.slot)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.switch = GlobalProviderSwitch(self.provider)
        # The delta reader tells what one run recorded (the floor's recipe); the other is a plain reader.
        self.delta_reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})
        self.meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader(), self.delta_reader])
        metrics.set_meter_provider(self.meter_provider)
        self.counters: list[Callable[[], int]] = []
        trace.set_tracer_provider(self.switch)

    def use_global_provider(self, on: bool) -> None:
        self.switch.target = self.provider if on else trace.NoOpTracerProvider()

    def set_extra_processor(self, processor: SpanProcessor | None) -> None:
        self.slot.inner = processor

    def spans(self) -> int:
        """Spans recorded so far: exported, plus those of non-OpenTelemetry tracing (`Anchor.recorded`)."""
        return self.exporter.count + sum(count() for count in self.counters)

    def reset(self) -> None:
        self.use_global_provider(False)
        self.set_extra_processor(None)

    def our_records(self) -> list[MetricRecord]:
        """Our histogram records since the last call, one per record (a point of count n is n records)."""
        data = self.delta_reader.get_metrics_data()
        records: list[MetricRecord] = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                if scope.scope.name != OUR_SCOPE:
                    continue
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        if isinstance(point, HistogramDataPoint) and point.count:
                            value = point.sum / point.count
                            attributes = dict(point.attributes or {})
                            records += [MetricRecord(metric.name, metric.unit or "", attributes, value)] * point.count
        return records


@dataclass
class Mode:
    name: str
    on: Callable[[], None]
    off: Callable[[], None]
    suppressed: bool = False
    label: str = ""
    problems: list[str] = field(default_factory=list)
    traces: dict[str, bool] = field(default_factory=dict)  # shape -> spans seen
    clean_off: bool = True
    times: dict[str, list[float]] = field(default_factory=dict)  # shape -> us per call, one per batch
    # The calls this mode times instead of the subject's (the SDK floor wraps them); set by check_modes.
    calls: dict[str, Callable[[], Any]] | None = None


@dataclass
class Calls:
    subject: Subject
    calls: dict[str, Callable[[], Any]]
    updates: dict[str, int] = field(default_factory=dict)  # shape -> updates the consumer saw
    floors: dict[str, Floor] = field(default_factory=dict)  # shape -> what our run recorded
    bare_us: dict[str, float] = field(default_factory=dict)  # shape -> warm-up time per call, bare


async def call_once(call: Callable[[], Any]) -> Any:
    value = call()
    if inspect.isawaitable(value):
        value = await value
    return value


async def time_calls(call: Callable[[], Any], asynchronous: bool, n: int, suppressed: bool) -> float:
    """Microseconds per call over n calls, gc off inside the window."""
    await settle()
    gc.disable()
    try:
        if suppressed:
            with suppress_instrumentation():
                return await _loop(call, asynchronous, n)
        return await _loop(call, asynchronous, n)
    finally:
        gc.enable()


async def _loop(call: Callable[[], Any], asynchronous: bool, n: int) -> float:
    start = time.perf_counter_ns()
    if asynchronous:
        for _ in range(n):
            await call()
    else:
        for _ in range(n):
            call()
    return (time.perf_counter_ns() - start) / n / 1000


def build_modes(subject: Subject, env: BenchEnv, instrumentor: AgentInstrumentor) -> list[Mode]:
    def ours_on() -> None:
        instrumentor.instrument(tracer_provider=env.provider, meter_provider=env.meter_provider)

    def ours_code_only_on() -> None:
        # Our wrappers, readers and bookkeeping with the API's no-op tracer and meter: what our own
        # code costs, apart from the SDK's work for the span and metrics it is asked to record.
        instrumentor.instrument(tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider())

    def ours_off() -> None:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()

    def nothing() -> None:
        pass

    def anchor_mode(name: str, anchor: Anchor) -> Mode:
        def on() -> None:
            anchor.on(env)

        def off() -> None:
            anchor.off()
            env.reset()

        return Mode(name, on, off, label=anchor.label, clean_off=anchor.clean_off)

    modes = [
        Mode("bare", nothing, nothing),
        Mode("ours", ours_on, ours_off),
        # Timed calls made by check_modes from what ours recorded (Floor); never instruments anything.
        Mode("sdk_floor", nothing, nothing),
        Mode("sdk_floor_current", nothing, nothing),
        Mode("ours_code", ours_code_only_on, ours_off),
    ]
    if subject.builtin is not None:
        modes.append(anchor_mode("builtin", subject.builtin))
    if subject.openinference is not None:
        modes.append(anchor_mode("openinference", subject.openinference))
    modes.append(Mode("suppressed", ours_on, ours_off, suppressed=True))
    return modes


async def settle() -> None:
    """Collect garbage and let the loop run what that scheduled (async generator finalizers), so that
    spans a mode ends late are counted for that mode and never run inside another mode's window."""
    gc.collect()
    for _ in range(5):
        await asyncio.sleep(0)


def _scope_name(span: ReadableSpan) -> str | None:
    scope = span.instrumentation_scope
    return scope.name if scope is not None else None


async def check_modes(calls: Calls, modes: list[Mode], env: BenchEnv, warmup: int) -> None:
    """Warm each mode up and check it: spans when on (and whether they end with the run), none after
    off, the bare output."""
    expected: dict[str, Any] = {}
    for mode in modes:
        try:
            mode.on()
        except ImportError as error:
            mode.problems.append(f"not installed ({error.name})")
            mode.off()
            continue
        if mode.name in ("sdk_floor", "sdk_floor_current"):
            tracer, meter = env.provider.get_tracer("floor"), env.meter_provider.get_meter("floor")
            asynchronous, current = calls.subject.asynchronous, mode.name == "sdk_floor_current"
            mode.calls = {
                shape: calls.floors[shape].wrap(tracer, meter, call, asynchronous, current)
                for shape, call in calls.calls.items()
            }
        for shape, call in (mode.calls or calls.calls).items():
            before = env.spans()
            if mode.name == "ours":
                env.exporter.captured = []
                env.our_records()  # drains what came before
            with suppress_instrumentation() if mode.suppressed else contextlib.nullcontext():
                output = await call_once(call)
            at_return = env.spans()
            await settle()
            if mode.name == "ours":
                ours = [s for s in env.exporter.captured or () if _scope_name(s) == OUR_SCOPE]
                calls.floors[shape] = Floor([SpanRecipe.of(s) for s in ours], env.our_records())
                env.exporter.captured = None
            mode.traces[shape] = env.spans() > before
            if env.spans() > at_return and mode.name != "bare":
                mode.problems.append(f"{shape}: spans end only after the run, when its objects are collected")
            if mode.name == "bare":
                expected[shape] = output
                if shape != "run":
                    calls.updates[shape] = output[0]
            elif output != expected[shape]:
                mode.problems.append(f"{shape} output {output!r:.60} != bare {expected[shape]!r:.60}")
            count = warmup if shape != "long" else 1
            started = time.perf_counter_ns()
            for _ in range(count):
                await call_once(call)
            if mode.name == "bare":
                calls.bare_us[shape] = (time.perf_counter_ns() - started) / count / 1000
        mode.off()
        await settle()
        before = env.spans()
        for shape, call in calls.calls.items():
            if shape != "long":
                await call_once(call)
        await settle()
        if env.spans() != before:
            mode.clean_off = False
            mode.problems.append("spans after off: not uninstrumented cleanly, timed last")
    if any(modes[0].traces.values()):
        modes[0].problems.append("bare run emitted spans")


def prepared_calls(subject: Subject) -> Calls:
    """The subject's calls by shape (a run; a short and a 1000-chunk stream where it streams), prepared."""
    calls: dict[str, Callable[[], Any]] = {"run": subject.run}
    if subject.stream is not None:
        calls["stream"] = subject.stream(SHORT_CHUNKS)
        calls["long"] = subject.stream(LONG_CHUNKS)
    if subject.prepare is not None:
        subject.prepare()
    return Calls(subject, calls)


async def measure_framework(
    subject: Subject, env: BenchEnv, instrumentor: AgentInstrumentor, args: argparse.Namespace
) -> tuple[Calls, list[Mode]]:
    bench = prepared_calls(subject)
    calls = bench.calls
    env.counters = [a.recorded for a in (subject.builtin, subject.openinference) if a and a.recorded]
    modes = build_modes(subject, env, instrumentor)
    await check_modes(bench, modes, env, args.warmup)
    runnable = [m for m in modes if not any(p.startswith("not installed") for p in m.problems)]
    # Calls per timing window: as many as fill --window-ms when bare (at least 3; 1 for the long stream).
    counts = {
        shape: max(1 if shape == "long" else 3, round(args.window_ms * 1000 / bench.bare_us[shape])) for shape in calls
    }
    clean = [m for m in runnable if m.clean_off]
    # Anchors that leave something behind are timed after everything else, in their own batches.
    for group in (clean, [m for m in runnable if not m.clean_off]):
        for batch in range(args.batches if group else 0):
            # Each batch starts with a different mode, so a drift in machine speed favours none.
            for mode in group[batch % len(group) :] + group[: batch % len(group)]:
                mode.on()
                try:
                    for shape, call in (mode.calls or calls).items():
                        us = await time_calls(call, subject.asynchronous, counts[shape], mode.suppressed)
                        mode.times.setdefault(shape, []).append(us)
                finally:
                    mode.off()
    await settle()
    return bench, modes


def reference_rows(env: BenchEnv, instrumentor: AgentInstrumentor, n: int, batches: int) -> dict[str, float]:
    """A raw SDK span start+end, and a user target (generic adapter): plain, traced, suppressed."""
    tracer = env.provider.get_tracer("bench")

    def raw_span() -> None:
        tracer.start_span("raw").end()

    def time_sync(fn: Callable[[], Any], count: int) -> float:
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter_ns()
            for _ in range(count):
                fn()
            return (time.perf_counter_ns() - start) / count / 1000
        finally:
            gc.enable()

    def median_of(measure: Callable[[], float]) -> float:
        return statistics.median(measure() for _ in range(batches))

    # The SDK work our span for the user target cannot avoid: the same span (two attributes at start,
    # the outcome at the end) and the duration histogram record, with nothing of ours around it.
    duration = env.meter_provider.get_meter("bench").create_histogram("bench.duration")
    start_attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "Target",
        "gen_ai.provider.name": "_OTHER",
    }
    end_attributes = {"otel_agent_instrumentation.outcome": "completed"}

    def sdk_floor() -> None:
        span = tracer.start_span("invoke_agent Target", attributes=start_attributes)
        span.set_attributes(end_attributes)
        span.end()
        duration.record(0.001, start_attributes, trace.set_span_in_context(span))  # with its exemplar, as ours

    target = Target()
    raw = median_of(lambda: time_sync(raw_span, n))
    floor = median_of(lambda: time_sync(sdk_floor, n))
    plain = median_of(lambda: time_sync(target.run, n * 10))
    instrumentor.instrument(
        tracer_provider=env.provider, meter_provider=env.meter_provider, targets=["__main__:Target.run"]
    )
    try:

        def suppressed_calls() -> float:
            with suppress_instrumentation():
                return time_sync(target.run, n * 10)

        suppressed = median_of(suppressed_calls)
        traced = median_of(lambda: time_sync(target.run, n))
    finally:
        instrumentor.uninstrument()
    return {"raw": raw, "floor": floor, "plain": plain, "traced": traced, "suppressed": suppressed}


class Target:
    def run(self) -> str:
        return "x"


Medians = dict[str, dict[str, float]]  # mode -> shape -> median us per call


def medians(modes: list[Mode]) -> Medians:
    """Each mode's time per shape: bare's median, and for the others bare's median plus the median of their
    per-batch differences to bare (paired: a batch's modes run back to back, so a drift in machine speed
    between batches, which moves a millisecond run by more than our cost, cancels out)."""
    bare = next((m.times for m in modes if m.name == "bare"), {})
    result: Medians = {}
    for mode in modes:
        if not mode.times:
            continue
        result[mode.name] = {}
        for shape, times in mode.times.items():
            base = bare.get(shape)
            if mode.name == "bare" or base is None or len(base) != len(times):
                result[mode.name][shape] = statistics.median(times)
            else:
                differences = [time - bare_time for time, bare_time in zip(times, base, strict=True)]
                result[mode.name][shape] = statistics.median(base) + statistics.median(differences)
    return result


def added(med: Medians, mode: str, shape: str) -> float | None:
    """Microseconds a mode adds over bare, or None when the mode was not timed."""
    if shape not in med.get(mode, {}) or shape not in med.get("bare", {}):
        return None
    return med[mode][shape] - med["bare"][shape]


def _signed(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _row(cells: list[str]) -> None:
    print("| " + " | ".join(cells) + " |")


RATIOS = ["ours / lowest anchor", "ours / raw span", "our code only +us", "our code / raw span"]


def report(results: list[tuple[Calls, list[Mode]]], refs: dict[str, float]) -> None:
    raw = refs["raw"]
    print(f"raw SDK span start+end: {raw:.2f} us\n")
    _row(["framework", "shape", "bare us", "ours +us", "builtin +us", "openinference +us", *RATIOS])
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for calls, modes in results:
        med = medians(modes)
        for shape in ("run", "stream"):
            if shape not in med.get("bare", {}):
                continue
            ours = added(med, "ours", shape)
            code = added(med, "ours_code", shape)
            anchors = [a for a in (added(med, "builtin", shape), added(med, "openinference", shape)) if a and a > 0]
            lowest = min(anchors) if anchors else None
            updates = calls.updates.get(shape)
            _row(
                [
                    calls.subject.framework,
                    "run" if shape == "run" else f"stream ({updates} updates)",
                    f"{med['bare'][shape]:.1f}",
                    _signed(ours),
                    _signed(added(med, "builtin", shape)) if calls.subject.builtin else "none",
                    _signed(added(med, "openinference", shape)),
                    f"{ours / lowest:.2f}" if ours is not None and lowest else "-",
                    f"{ours / raw:.2f}" if ours is not None else "-",
                    _signed(code),
                    f"{code / raw:.2f}" if code is not None else "-",
                ]
            )

    print(
        "\nOurs above the SDK floor: the floor is the SDK alone recording what our run recorded (its spans'"
        " names, kinds, attributes, events and status, its histogram records, exemplars included) around"
        " the bare call; target <= 1 raw span. The floor with its span current (made current around the whole"
        " bare call, as start_as_current_span would) also holds what the framework does while a recording span"
        " is current:\n"
    )
    _row(
        [
            "framework",
            "shape",
            "sdk floor +us",
            "ours +us",
            "ours above floor us",
            "in raw spans",
            "floor, span current +us",
            "ours above it, raw spans",
            "ours / own",
        ]
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for calls, modes in results:
        med = medians(modes)
        for shape in ("run", "stream"):
            ours, floor = added(med, "ours", shape), added(med, "sdk_floor", shape)
            if ours is None or floor is None:
                continue
            builtin = added(med, "builtin", shape)
            current = added(med, "sdk_floor_current", shape)
            recipe = calls.floors.get(shape)
            made = f" ({len(recipe.spans)} spans, {len(recipe.records)} records)" if recipe else ""
            _row(
                [
                    calls.subject.framework,
                    ("run" if shape == "run" else f"stream ({calls.updates.get(shape)} updates)") + made,
                    f"{floor:+.1f}",
                    f"{ours:+.1f}",
                    f"{ours - floor:+.1f}",
                    f"{(ours - floor) / raw:.2f}",
                    "-" if current is None else f"{current:+.1f}",
                    "-" if current is None else f"{(ours - current) / raw:.2f}",
                    f"{ours / builtin:.2f}" if builtin and builtin > 0 else "-",
                ]
            )

    print(f"\nPer update, {LONG_CHUNKS}-chunk model stream (added = whole-stream difference / updates):\n")
    _row(
        [
            "framework",
            "stream",
            "updates",
            "bare ns/update",
            "ours +ns",
            "ours / bare",
            "builtin +ns",
            "oi +ns",
            "our code only +ns",
        ]
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for calls, modes in results:
        med = medians(modes)
        if "long" not in med.get("bare", {}):
            continue
        updates = calls.updates["long"]
        base = med["bare"]["long"]

        def per_update(mode: str, med: Medians = med, updates: int = updates) -> str:
            value = added(med, mode, "long")
            return "-" if value is None else f"{value * 1000 / updates:+.0f}"

        _row(
            [
                calls.subject.framework,
                calls.subject.stream_label,
                str(updates),
                f"{base * 1000 / updates:.0f}",
                per_update("ours"),
                f"{med['ours']['long'] / base:.3f}" if "ours" in med else "-",
                per_update("builtin") if calls.subject.builtin else "none",
                per_update("openinference"),
                per_update("ours_code"),
            ]
        )

    print("\nSuppressed: suppress_instrumentation() around an instrumented run, vs bare:\n")
    _row(["framework", "bare run us", "suppressed +us"])
    print("| --- | ---: | ---: |")
    for calls, modes in results:
        med = medians(modes)
        if "run" in med.get("suppressed", {}):
            _row([calls.subject.framework, f"{med['bare']['run']:.1f}", _signed(added(med, "suppressed", "run"), 2)])
    traced, suppressed = refs["traced"] - refs["plain"], refs["suppressed"] - refs["plain"]
    print(
        f"\nuser target (generic adapter): plain call {refs['plain']:.3f} us; traced +{traced:.2f} us "
        f"({traced / raw:.2f}x raw span); suppressed +{suppressed:.3f} us"
    )
    print(
        f"SDK floor for that span (same span, attributes and duration record, nothing of ours): "
        f"{refs['floor']:.2f} us ({refs['floor'] / raw:.2f}x raw span); ours above it: {traced - refs['floor']:+.2f} us"
    )

    notes: list[str] = []
    for calls, modes in results:
        framework = calls.subject.framework
        if calls.subject.note:
            notes.append(f"{framework}: {calls.subject.note}")
        for mode in modes:
            if mode.label:
                notes.append(f"{framework} {mode.name}: {mode.label}")
            notes.extend(f"{framework} {mode.name}: {problem}" for problem in mode.problems)
            if mode.name in ("ours", "builtin", "openinference"):
                notes.extend(f"{framework} {mode.name}: no spans for {s}" for s, on in mode.traces.items() if not on)
    print("\nNotes:\n" + "\n".join(f"- {note}" for note in notes))


async def main_async(args: argparse.Namespace) -> None:
    env = BenchEnv()
    instrumentor = AgentInstrumentor()
    results: list[tuple[Calls, list[Mode]]] = []
    for framework in args.frameworks:
        try:
            subject = load(framework)
        except ImportError as error:
            print(f"{framework}: skipped, not importable ({error})", file=sys.stderr)
            continue
        started = time.perf_counter()
        results.append(await measure_framework(subject, env, instrumentor, args))
        print(f"{framework}: measured in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    refs = reference_rows(env, instrumentor, args.reference_calls, args.batches)
    report(results, refs)
    tool_frameworks = [f for f in args.frameworks if f in TOOL_FRAMEWORKS]
    if tool_frameworks and args.tool_rounds:
        # Last, on their own providers (benchmarks/tool_span.py): a tool call span against its SDK floor.
        print(f"\nTool call spans ({args.tool_rounds} rounds x {args.tool_calls} calls, us per call):")
        for cost in await measure_all(tool_frameworks, args.tool_rounds, args.tool_calls):
            print("\n".join(cost.lines()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few runs and batches")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated subset")
    parser.add_argument("--window-ms", type=float, default=200, help="length of one timing window, bare")
    parser.add_argument("--batches", type=int, default=9, help="interleaved batches (the median is reported)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up calls per mode and shape")
    parser.add_argument("--reference-calls", type=int, default=20000, help="calls per window, reference rows")
    parser.add_argument("--tool-rounds", type=int, default=60, help="rounds of the tool call span rows (0: none)")
    parser.add_argument("--tool-calls", type=int, default=100, help="calls per mode per round, tool call rows")
    args = parser.parse_args()
    if args.quick:
        args.window_ms, args.batches, args.warmup, args.reference_calls = 20, 3, 3, 2000
        args.tool_rounds, args.tool_calls = 5, 20
    args.frameworks = [f for f in args.frameworks.split(",") if f]
    unknown = set(args.frameworks) - set(FRAMEWORKS)
    if unknown:
        parser.error(f"unknown frameworks {sorted(unknown)}; choose from {', '.join(FRAMEWORKS)}")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()

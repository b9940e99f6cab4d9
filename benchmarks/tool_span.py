"""What one tool call span costs, per framework whose tool calls get our execute_tool span.

    python benchmarks/tool_span.py [agno,openai_agents,pydantic_ai] [--rounds N] [--calls N]

benchmarks/overhead.py runs the same measurement (fewer rounds) after its run and stream rows.

The timed call is the one our execute_tool span wraps, with a tool that returns at once:
  agno           FunctionCall.execute() of a sync function tool
  openai_agents  agents.run_internal.tool_execution._invoke_function_tool_with_metadata(function_tool,
                 ToolContext, arguments), as the SDK's batch executor awaits it (an async tool: a sync one
                 adds a worker thread hop, far more than a span)
  pydantic_ai    ToolManager._run_execute_hooks(validated, usage=...) of a manager and ValidatedToolCall
                 taken from a real run, after that run
smolagents is left out: its tool spans are made only inside a traced agent run (a tool object is also
called outside runs), so a tool call alone is not one.
Same SDK setup as overhead.py: one TracerProvider with a SimpleSpanProcessor to an exporter that drops the
spans, one SDK MeterProvider whose reader is read once, before timing. Modes:
  bare        the call with no instrumentation
  ours        the same call with AgentInstrumentor on: one execute_tool span and its duration record
  sdk floor   the SDK alone doing exactly what our span did, around the same call: the span name, kind and
              attributes our span carried (read back from a traced call before timing: those known at the
              start given at start, the outcome set at the end), the same duration record, made in the span's
              context as ours is (so with the exemplar the SDK's default filter keeps)
  our code    ours with the API's no-op tracer and meter: our wrapper, readers and bookkeeping alone
  raw around  a raw span (start, the same call, end) around the same call: a raw span's cost in place
  raw span    tracer.start_span("raw").end() on the same provider, alone in a loop
Each round times every mode once for --calls calls, garbage collector off inside the window, the paired
modes back to back in an order that turns each round. The call itself varies by more than a span costs on a
busy machine, so each mode's cost is the median over the rounds of its difference to the round's bare
window. The target (issue: the whole run as a tree): ours above the SDK floor <= one raw span. Code that
runs around a call runs with colder caches than a tight loop, so both "raw span" (alone) and "raw around"
are printed as units. A script, not a test.
"""

# No `from __future__ import annotations`: agno and Pydantic AI resolve the tools' type hints (agno at
# every call, tools/function.py `_build_entrypoint_args`), and string annotations would not resolve here.
import argparse
import asyncio
import gc
import inspect
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import NoOpTracerProvider, set_span_in_context

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from otel_agent_instrumentation import AgentInstrumentor, semconv

DESCRIPTION = "Looks a word up."
TOOL_FRAMEWORKS = ("agno", "openai_agents", "pydantic_ai")
PAIRED = ("bare", "ours", "sdk floor", "our code", "raw around")

# A tool call: sync (returns the result) or async (returns an awaitable), looked up at each call so the
# patched function is the one called when we are on.
ToolCall = Callable[[], Any]


class KeepLastExporter(SpanExporter):
    """Counts the spans it is given and keeps the last one (read back before timing)."""

    def __init__(self) -> None:
        self.count = 0
        self.last: ReadableSpan | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        self.last = spans[-1]
        return SpanExportResult.SUCCESS


def agno_call() -> ToolCall:
    # Agno posts usage telemetry to its API after every run unless told not to (agno/agent/_init.py:64).
    os.environ["AGNO_TELEMETRY"] = "false"
    from agno.tools.function import Function, FunctionCall

    def lookup(word: str) -> str:
        return word

    lookup.__doc__ = DESCRIPTION
    call = FunctionCall(function=Function.from_callable(lookup), arguments={"word": "otter"}, call_id="call-1")
    return lambda: call.execute()


def openai_agents_call() -> ToolCall:
    import agents
    from agents.run_internal import tool_execution
    from agents.tool_context import ToolContext

    agents.set_tracing_disabled(True)  # its own trace processors would export to api.openai.com

    async def lookup(word: str) -> str:
        return word

    tool = agents.function_tool(lookup, description_override=DESCRIPTION)
    arguments = '{"word": "otter"}'
    context = ToolContext(None, tool_name="lookup", tool_call_id="call-1", tool_arguments=arguments)
    return lambda: tool_execution._invoke_function_tool_with_metadata(  # type: ignore[attr-defined]
        function_tool=tool, context=context, arguments=arguments
    )


async def pydantic_ai_call() -> ToolCall:
    from pydantic_ai import Agent, RunContext
    from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel
    from pydantic_ai.usage import RunUsage

    taken: dict[str, Any] = {}

    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) > 1 and isinstance(messages[-1], ModelRequest):
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(parts=[ToolCallPart("take", {}, tool_call_id="call-0")])

    agent = Agent(FunctionModel(respond), name="bench")

    @agent.tool  # type: ignore[arg-type]  # RunContext[None] for an agent without deps
    async def take(ctx: RunContext[None]) -> str:
        """Takes the run's tool manager and a validated call of `lookup`."""
        manager = ctx.tool_manager
        assert manager is not None
        taken["manager"] = manager
        call = ToolCallPart("lookup", {"word": "otter"}, tool_call_id="call-1")
        taken["validated"] = await manager.validate_tool_call(call)
        return "taken"

    @agent.tool_plain(description=DESCRIPTION)
    async def lookup(word: str) -> str:
        return word

    await agent.run("go")
    manager, validated, usage = taken["manager"], taken["validated"], RunUsage()
    return lambda: manager._run_execute_hooks(validated, usage=usage)


async def make_call(framework: str) -> ToolCall:
    maker: Callable[[], Any] = {
        "agno": agno_call,
        "openai_agents": openai_agents_call,
        "pydantic_ai": pydantic_ai_call,
    }[framework]
    made = maker()
    call: ToolCall = await made if inspect.isawaitable(made) else made
    return call


async def time_calls(call: ToolCall, asynchronous: bool, count: int) -> float:
    """Microseconds per call over `count` calls, garbage collector off."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        if asynchronous:
            for _ in range(count):
                await call()
        else:
            for _ in range(count):
                call()
        return (time.perf_counter_ns() - start) / count / 1000
    finally:
        gc.enable()


@dataclass(frozen=True)
class ToolSpanCost:
    """Microseconds per call: bare, and each mode's median added cost over bare (raw span: alone)."""

    framework: str
    bare: float
    ours: float
    sdk_floor: float
    our_code: float
    raw_around: float
    raw_span: float

    @property
    def above_floor(self) -> float:
        return self.ours - self.sdk_floor

    def lines(self) -> list[str]:
        return [
            f"{self.framework}: bare call {self.bare:.2f} us; ours +{self.ours:.2f}, sdk floor +{self.sdk_floor:.2f},"
            f" our code alone +{self.our_code:.2f}, raw span alone {self.raw_span:.2f}, around +{self.raw_around:.2f}",
            f"{self.framework}: ours above the SDK floor {self.above_floor:+.2f} us ="
            f" {self.above_floor / self.raw_span:.2f} raw spans alone,"
            f" {self.above_floor / self.raw_around:.2f} raw spans around the call",
        ]


def _floor_from(span: ReadableSpan) -> tuple[str, Any, dict[str, Any], dict[str, Any]]:
    """(name, kind, start attributes, end attributes) of what our span carried: the outcome is the one
    attribute set at the end."""
    attributes = dict(span.attributes or {})
    end = {semconv.OUTCOME: attributes.pop(semconv.OUTCOME)}
    return span.name, span.kind, attributes, end


def _duration_attributes(metric_reader: InMemoryMetricReader) -> dict[str, Any]:
    data = metric_reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == semconv.METRIC_EXECUTE_TOOL_DURATION:
                    (point,) = metric.data.data_points
                    return dict(point.attributes or {})
    raise SystemExit("our tool call recorded no gen_ai.execute_tool.duration")


async def measure(framework: str, rounds: int, calls: int) -> ToolSpanCost:
    exporter = KeepLastExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metric_reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[metric_reader])
    tracer = provider.get_tracer("bench")
    duration = meter_provider.get_meter("bench").create_histogram(semconv.METRIC_EXECUTE_TOOL_DURATION, unit="s")
    instrumentor = AgentInstrumentor()
    execute = await make_call(framework)
    asynchronous = inspect.isawaitable(probe := execute())
    if asynchronous:
        await probe

    async def once(call: ToolCall) -> Any:
        value = call()
        return await value if asynchronous else value

    def ours_on() -> None:
        instrumentor.instrument(tracer_provider=provider, meter_provider=meter_provider)

    def our_code_on() -> None:
        instrumentor.instrument(tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider())

    def ours_off() -> None:
        instrumentor.uninstrument()

    # Checked before timing: ours makes one execute_tool span per call, bare none, the same result.
    ours_on()
    traced = await once(execute)
    ours_off()
    spans_after_ours = exporter.count
    bare = await once(execute)
    ours_span = exporter.last
    if (spans_after_ours, exporter.count) != (1, 1) or ours_span is None or repr(traced) != repr(bare):
        raise SystemExit(f"{framework}: mode check failed: spans {spans_after_ours}/{exporter.count}, {traced!r:.80}")
    if not ours_span.name.startswith(semconv.EXECUTE_TOOL):
        raise SystemExit(f"{framework}: our span is {ours_span.name!r}, not an execute_tool span")
    name, kind, start_attributes, end_attributes = _floor_from(ours_span)
    metric_attributes = _duration_attributes(metric_reader)

    def sdk_floor() -> Any:
        span = tracer.start_span(name, kind=kind, attributes=start_attributes)
        started = time.perf_counter()
        result = execute()

        def end() -> None:
            span.set_attributes(end_attributes)
            span.end()
            # In the span's context, as ours records it: the SDK's default exemplar filter keeps an exemplar.
            duration.record(time.perf_counter() - started, metric_attributes, set_span_in_context(span))

        if not asynchronous:
            end()
            return result

        async def awaited() -> Any:
            value = await result
            end()
            return value

        return awaited()

    def raw_around() -> Any:
        span = tracer.start_span("raw")
        result = execute()
        if not asynchronous:
            span.end()
            return result

        async def awaited() -> Any:
            value = await result
            span.end()
            return value

        return awaited()

    def raw_span() -> None:
        tracer.start_span("raw").end()

    def nothing() -> None:
        pass

    modes: dict[str, tuple[Callable[[], None], ToolCall, Callable[[], None]]] = {
        "bare": (nothing, execute, nothing),
        "ours": (ours_on, execute, ours_off),
        "sdk floor": (nothing, sdk_floor, nothing),
        "our code": (our_code_on, execute, ours_off),
        "raw around": (nothing, raw_around, nothing),
    }
    gc.freeze()  # everything built so far lives to the end: keep it out of the collector's walks
    times: dict[str, list[float]] = {name: [] for name in [*modes, "raw span"]}
    for on, timed, off in modes.values():  # warm-up
        on()
        await time_calls(timed, asynchronous, max(calls // 10, 1))
        off()
    for round_number in range(rounds):
        turn = round_number % len(PAIRED)
        for mode in [*PAIRED[turn:], *PAIRED[:turn]]:
            on, timed, off = modes[mode]
            on()
            try:
                times[mode].append(await time_calls(timed, asynchronous, calls))
            finally:
                off()
        times["raw span"].append(await time_calls(raw_span, False, calls))

    def over_bare(mode: str) -> float:
        return statistics.median(t - b for t, b in zip(times[mode], times["bare"], strict=True))

    return ToolSpanCost(
        framework,
        bare=statistics.median(times["bare"]),
        ours=over_bare("ours"),
        sdk_floor=over_bare("sdk floor"),
        our_code=over_bare("our code"),
        raw_around=over_bare("raw around"),
        raw_span=statistics.median(times["raw span"]),
    )


async def measure_all(frameworks: Sequence[str], rounds: int, calls: int) -> list[ToolSpanCost]:
    costs = []
    for framework in frameworks:
        try:
            costs.append(await measure(framework, rounds, calls))
        except ImportError as error:
            print(f"{framework}: tool span skipped, not importable ({error})", file=sys.stderr)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description="The cost of one tool call span, per framework.")
    parser.add_argument("frameworks", nargs="?", default=",".join(TOOL_FRAMEWORKS), help="comma-separated")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--calls", type=int, default=200, help="calls per mode per round")
    options = parser.parse_args()
    frameworks = [f for f in options.frameworks.split(",") if f]
    unknown = set(frameworks) - set(TOOL_FRAMEWORKS)
    if unknown:
        parser.error(f"unknown frameworks {sorted(unknown)}; choose from {', '.join(TOOL_FRAMEWORKS)}")
    print(f"{options.rounds} rounds x {options.calls} calls; us per call, median over rounds")
    for cost in asyncio.run(measure_all(frameworks, options.rounds, options.calls)):
        print("\n".join(cost.lines()))


if __name__ == "__main__":
    main()

"""What one tool call span costs in the async frameworks: an OpenAI Agents SDK or Pydantic AI tool call bare,
traced by us, and a raw SDK span; the async counterpart of tool_span.py (agno), with the same modes.

    python benchmarks/tool_span_async.py openai_agents|pydantic_ai [--rounds N] [--calls N]

The timed call is the one our execute_tool span wraps, awaited in a loop in one event loop, with an async tool
that returns at once (a sync tool adds a worker thread hop, far more than a span):
  openai_agents  agents.run_internal.tool_execution._invoke_function_tool_with_metadata(function_tool, ToolContext,
                 arguments), as the SDK's batch executor awaits it
  pydantic_ai    ToolManager._run_execute_hooks(validated, usage=...) of a manager and ValidatedToolCall taken
                 from a real run (its root capability, toolset and run context), after that run
Modes, SDK setup and the reading of the results are tool_span.py's: each mode's cost is the median over the
rounds of its difference to the round's bare window. The target (BRIEF_TREE.md): ours - sdk span <= raw span.
A script, not a test.
"""

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import NoOpTracerProvider, SpanKind

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.overhead import DropExporter
from otel_agent_instrumentation import AgentInstrumentor, semconv

DESCRIPTION = "Looks a word up."


def openai_agents_call() -> Callable[[], Awaitable[Any]]:
    import agents
    from agents.run_internal import tool_execution
    from agents.tool_context import ToolContext

    agents.set_tracing_disabled(True)  # its own trace processors would export to api.openai.com

    async def lookup(word: str) -> str:
        return word

    tool = agents.function_tool(lookup, description_override=DESCRIPTION)
    arguments = '{"word": "otter"}'
    context = ToolContext(None, tool_name="lookup", tool_call_id="call-1", tool_arguments=arguments)

    def call() -> Awaitable[Any]:
        # Looked up at each call: the wrapped function when we are on.
        return tool_execution._invoke_function_tool_with_metadata(
            function_tool=tool, context=context, arguments=arguments
        )

    return call


async def pydantic_ai_call() -> Callable[[], Awaitable[Any]]:
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

    @agent.tool
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

    def call() -> Awaitable[Any]:
        return manager._run_execute_hooks(validated, usage=usage)

    return call


async def time_calls(call: Callable[[], Awaitable[Any]], count: int) -> float:
    """Microseconds per awaited call over `count` calls, garbage collector off."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in range(count):
            await call()
        return (time.perf_counter_ns() - start) / count / 1000
    finally:
        gc.enable()


async def main() -> None:
    parser = argparse.ArgumentParser(description="The cost of one async tool call span.")
    parser.add_argument("framework", choices=["openai_agents", "pydantic_ai"])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--calls", type=int, default=200, help="calls per mode per round")
    options = parser.parse_args()

    exporter = DropExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    tracer = provider.get_tracer("bench")
    duration = meter_provider.get_meter("bench").create_histogram(semconv.METRIC_EXECUTE_TOOL_DURATION, unit="s")
    instrumentor = AgentInstrumentor()
    execute = openai_agents_call() if options.framework == "openai_agents" else await pydantic_ai_call()

    start_attributes = {
        semconv.GEN_AI_OPERATION_NAME: semconv.EXECUTE_TOOL,
        semconv.GEN_AI_TOOL_NAME: "lookup",
        semconv.GEN_AI_TOOL_TYPE: semconv.TOOL_TYPE_FUNCTION,
        semconv.GEN_AI_TOOL_CALL_ID: "call-1",
        semconv.GEN_AI_TOOL_DESCRIPTION: DESCRIPTION,
    }
    metric_attributes = {key: start_attributes[key] for key in list(start_attributes)[:3]}
    end_attributes = {semconv.OUTCOME: "completed"}

    async def sdk_span_around() -> Any:
        span = tracer.start_span("execute_tool lookup", kind=SpanKind.INTERNAL, attributes=start_attributes)
        start = time.perf_counter()
        result = await execute()
        span.set_attributes(end_attributes)
        span.end()
        duration.record(time.perf_counter() - start, metric_attributes)
        return result

    async def raw_span() -> None:
        tracer.start_span("raw").end()

    async def raw_span_around() -> Any:
        span = tracer.start_span("raw")
        result = await execute()
        span.end()
        return result

    def ours_on() -> None:
        instrumentor.instrument(tracer_provider=provider, meter_provider=meter_provider)

    def our_code_on() -> None:
        instrumentor.instrument(tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider())

    def ours_off() -> None:
        instrumentor.uninstrument()

    def nothing() -> None:
        pass

    modes: dict[str, tuple[Callable[[], None], Callable[[], Awaitable[Any]], Callable[[], None]]] = {
        "bare": (nothing, execute, nothing),
        "ours": (ours_on, execute, ours_off),
        "sdk span": (nothing, sdk_span_around, nothing),
        "our code": (our_code_on, execute, ours_off),
        "raw around": (nothing, raw_span_around, nothing),
        "raw span": (nothing, raw_span, nothing),
    }
    paired = ["bare", "ours", "sdk span", "our code", "raw around"]

    # Checked before timing: ours makes one span per call, bare none, and the tool gets the same result.
    ours_on()
    traced = await execute()
    ours_off()
    spans_after_ours = exporter.count
    bare = await execute()
    if (spans_after_ours, exporter.count, repr(traced)) != (1, 1, repr(bare)):
        raise SystemExit(f"mode check failed: spans {spans_after_ours}/{exporter.count}, {traced!r} vs {bare!r}")

    gc.freeze()
    times: dict[str, list[float]] = {name: [] for name in modes}
    for on, timed, off in modes.values():  # warm-up
        on()
        await time_calls(timed, max(options.calls // 10, 1))
        off()
    for round_number in range(options.rounds):
        turn = round_number % len(paired)
        for name in [*paired[turn:], *paired[:turn], "raw span"]:
            on, timed, off = modes[name]
            on()
            try:
                times[name].append(await time_calls(timed, options.calls))
            finally:
                off()

    def over_bare(name: str) -> float:
        return statistics.median(t - b for t, b in zip(times[name], times["bare"], strict=True))

    ours, sdk, code, raw_around = (over_bare(name) for name in ("ours", "sdk span", "our code", "raw around"))
    raw = statistics.median(times["raw span"])
    print(f"{options.framework}: {options.rounds} rounds x {options.calls} calls; us per call, median over rounds")
    print(f"  bare call {statistics.median(times['bare']):.2f}")
    print(f"  sdk span around it +{sdk:.2f}, raw span around it +{raw_around:.2f}, our code alone +{code:.2f}")
    print(f"tool span: ours +{ours:.2f} us, raw span {raw:.2f} us, ours above raw span {ours - raw:+.2f} us")
    above = ours - sdk
    print(
        f"ours above the SDK's span: {above:+.2f} us = {above / raw:.2f} raw spans alone,"
        f" {above / raw_around:.2f} raw spans around the call"
    )


if __name__ == "__main__":
    asyncio.run(main())

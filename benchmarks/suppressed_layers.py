"""What each of our layers costs a suppressed run, counted one layer at a time with the calls a run makes.

    python benchmarks/suppressed_layers.py [--frameworks openai_agents,pydantic_ai,langgraph] [--calls 2000]

Needs valgrind on PATH, and the `test` extra. A script, not a test; about a minute per framework.

Why: a suppressed run of a framework whose run is millions of instructions cannot be told from a bare one
by whole runs (`suppressed.py`: rounds of the same code differ by up to +-55k instructions). What ours does
in it is a few patched layers, each entered and called straight through; each is counted here alone.

How: each layer a suppressed run of the framework's benchmark subject passes (found with cProfile: our
functions a suppressed run calls) is called `--calls` times under `suppress_instrumentation()`, bare and
with our patches, with the arguments the framework passes at that call site (the keywords spelled out as
the caller spells them). Its targets are `async def`s, async generator functions and context-manager
helpers: the call makes the coroutine, generator or context manager and runs none of the framework's code,
which is closed unstarted; a synchronous target that runs the framework's code (LangGraph's
`PregelLoop.put_writes`, smolagents' `run`, tool call and tool) and a hook on an `async def` (OpenAI Agents'
`run_single_turn`, LangGraph's `AsyncPregelLoop.__aenter__`: ours decides at the coroutine's first step, so it
is driven to its end) are counted on a stand-in of its signature carrying the adapter's same patch.
Instructions as in instructions.py (between `os.getppid()` marks, garbage collector off); the sum over a
run's layers, times how often the run passes each, is ours per suppressed run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Layer -> how many times a suppressed run of the benchmark subject passes it (its `run` shape).
PER_RUN = {
    "openai_agents": {"AgentRunner.run": 1, "run_single_turn (stand-in)": 1},
    "pydantic_ai": {"AbstractAgent.run": 1, "Agent.iter": 1, "ModelRequestNode.stream": 1},
    "langgraph": {
        "Pregel.ainvoke": 1,
        "Pregel.astream": 1,
        "AsyncPregelLoop.__aenter__ (stand-in)": 1,
        "PregelLoop.put_writes (stand-in)": 2,
    },
    "smolagents": {
        "MultiStepAgent.run (stand-in)": 1,
        "ToolCallingAgent.execute_tool_call (stand-in)": 1,
        "Tool.__call__ (stand-in)": 1,
    },
    "agent_framework": {"Agent.run (3 layers, 1 hook)": 1, "RawAgent.run": 1},
    "autogen_agentchat": {"BaseChatAgent.run": 1, "trace_invoke_agent_span": 1},
    "agno": {"Agent.arun": 1, "Agent.arun, stream=True": 0},
}
# A layer counted x0 is another shape of the run (agno's streamed run: `Agent.arun` and the hook on agno's stream
# generator function that the dispatcher calls), shown beside the run's layers, not in their sum.


def _cases(framework: str) -> dict[str, Callable[[], Any]]:
    """Layer -> a call of it as the framework makes it in a run."""
    if framework == "openai_agents":
        import agents.run

        from benchmarks.subjects.openai_agents import RUN_AGENT

        runner = agents.run.AgentRunner()
        turn = dict.fromkeys(_TURN_KEYWORDS)
        return {
            # Runner.run -> runner.run (run.py:352), every keyword spelled out
            "AgentRunner.run": lambda: runner.run(
                RUN_AGENT,
                "hi",
                context=None,
                max_turns=10,
                hooks=None,
                run_config=None,
                error_handlers=None,
                previous_response_id=None,
                auto_previous_response_id=False,
                conversation_id=None,
                session=None,
            ),
            # run.py:1909, seventeen keywords; looked up at each call, as the module's own code does
            "run_single_turn (stand-in)": lambda: _driven(globals()["run_single_turn"](**turn)),
        }
    if framework == "pydantic_ai":
        from pydantic_ai._agent_graph import ModelRequestNode
        from pydantic_ai.messages import ModelRequest

        from benchmarks.subjects.pydantic_ai import RUN_AGENT as agent

        node: Any = ModelRequestNode(request=ModelRequest(parts=[]))
        context = types.SimpleNamespace(deps=object())
        return {
            "AbstractAgent.run": lambda: agent.run("hi"),
            # AbstractAgent.run -> self.iter (agent/abstract.py:632), every keyword spelled out
            "Agent.iter": lambda: agent.iter(
                user_prompt="hi",
                output_type=None,
                conversation=None,
                message_history=None,
                deferred_tool_results=None,
                conversation_id=None,
                run_id=None,
                model=None,
                instructions=None,
                deps=None,
                model_settings=None,
                usage_limits=None,
                cancellation_token=None,
                timeout=None,
                usage=None,
                metadata=None,
                retries=None,
                toolsets=None,
                capabilities=None,
                workspace=None,
                spec=None,
            ),
            "ModelRequestNode.stream": lambda: node.stream(context),
        }
    if framework == "langgraph":
        from benchmarks.subjects.langgraph import INPUT
        from benchmarks.subjects.langgraph import RUN_AGENT as graph

        stand_in, stand_in_loop = _PutWrites(), _AsyncLoop()
        writes = [("messages", [object()])]
        return {
            "Pregel.ainvoke": lambda: graph.ainvoke(INPUT),  # the application's call (a run target since round 14)
            # Pregel.ainvoke -> self.astream (pregel/main.py:4180)
            "Pregel.astream": lambda: graph.astream(
                INPUT,
                None,
                context=None,
                stream_mode="values",
                print_mode=(),
                output_keys=None,
                interrupt_before=None,
                interrupt_after=None,
                durability=None,
            ),
            "AsyncPregelLoop.__aenter__ (stand-in)": lambda: _driven(stand_in_loop.__aenter__()),  # `async with`
            "PregelLoop.put_writes (stand-in)": lambda: stand_in.put_writes("task", writes),  # _loop.py:1091
        }
    if framework == "smolagents":
        smol_agent, smol_tool = _SmolAgent(), _SmolTool()
        arguments = {"answer": "w"}
        return {
            "MultiStepAgent.run (stand-in)": lambda: smol_agent.run("task"),  # the application's call
            # agents.py:1390 and :1486
            "ToolCallingAgent.execute_tool_call (stand-in)": lambda: smol_agent.execute_tool_call(
                "final_answer", arguments
            ),
            "Tool.__call__ (stand-in)": lambda: smol_tool(**arguments, sanitize_inputs_outputs=True),
        }
    if framework == "agent_framework":
        from agent_framework.observability import AgentTelemetryLayer

        from benchmarks.subjects.agent_framework import RUN_AGENT as af_agent

        raw_run_keywords: dict[str, Any] = dict.fromkeys(
            "messages stream session tools options compaction_strategy tokenizer function_invocation_kwargs "
            "client_kwargs".split()
        )
        raw_run_keywords.update(messages="hi", stream=False)
        return {
            # The application's call: the three outer `run` layers and the telemetry layer's
            # `_trace_agent_invocation` (a hook of ours) run before the awaitable is returned.
            "Agent.run (3 layers, 1 hook)": lambda: af_agent.run("hi"),
            # observability.py: `super().run` called with `**super_run_kwargs` when the awaitable runs
            "RawAgent.run": lambda: super(AgentTelemetryLayer, af_agent).run(**raw_run_keywords),
        }
    if framework == "autogen_agentchat":
        from autogen_agentchat.agents import _base_chat_agent

        from benchmarks.subjects.autogen_agentchat import RUN_AGENT as autogen_agent

        return {
            "BaseChatAgent.run": lambda: autogen_agent.run(task="hi"),  # the application's call
            # _base_chat_agent.py, BaseChatAgent.run's body (a hook of ours standing theirs down)
            # (the module's own name, which our hook replaces: autogen-core's function, imported there)
            "trace_invoke_agent_span": lambda: _base_chat_agent.trace_invoke_agent_span(  # type: ignore[attr-defined]
                agent_name=autogen_agent.name, agent_description=autogen_agent.description
            ),
        }
    if framework == "agno":
        from benchmarks.subjects.agno import RUN_AGENT as agno_agent

        return {  # the application's calls
            "Agent.arun": lambda: agno_agent.arun("hi"),
            "Agent.arun, stream=True": lambda: agno_agent.arun("hi", stream=True),
        }
    raise SystemExit(f"no layers listed for {framework}")


def _driven(coroutine: Any) -> None:
    """Run a stand-in's coroutine to its end (it never suspends): a hook on an `async def` decides at the
    coroutine's first step, so a coroutine closed unstarted would leave ours uncounted."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise RuntimeError("a stand-in suspended")


# openai-agents' run_single_turn's parameters, all keyword-only (run_internal/run_loop.py)
_TURN_KEYWORDS = (
    "bindings original_input generated_items hooks context_wrapper run_config should_run_agent_start_hooks "
    "tool_use_tracker server_conversation_tracker session session_items_to_rewind reasoning_item_id_policy "
    "prompt_cache_key_resolver error_handlers agent_span on_response_accepted on_response_hooks_started"
).split()
# Its stand-in: `async def run_single_turn(*, bindings, ...)` returning None, written from those names.
exec(f"async def run_single_turn(*, {', '.join(_TURN_KEYWORDS)}):\n    return None\n")


class _AsyncLoop:
    """AsyncPregelLoop.__aenter__'s signature, doing nothing."""

    async def __aenter__(self) -> None:
        return None


class _PutWrites:
    """PregelLoop.put_writes's signature, doing nothing."""

    def put_writes(self, task_id: str, writes: Any, *, cached: bool = False) -> None:
        return None


class _SmolAgent:
    """The signatures of smolagents' MultiStepAgent.run and ToolCallingAgent.execute_tool_call, doing nothing."""

    def run(
        self,
        task: str,
        stream: bool = False,
        reset: bool = True,
        images: Any = None,
        additional_args: Any = None,
        max_steps: Any = None,
        return_full_result: Any = None,
    ) -> None:
        return None

    def execute_tool_call(self, tool_name: str, arguments: Any) -> None:
        return None


class _SmolTool:
    """The signature of smolagents' Tool.__call__, doing nothing."""

    def __call__(self, *args: Any, sanitize_inputs_outputs: bool = False, **kwargs: Any) -> None:
        return None


# Synchronous targets that run the framework's code, counted on stand-ins: (framework's target, stand-in's).
_STAND_INS = {
    "openai_agents": [("run_single_turn", "run_single_turn")],
    "langgraph": [
        ("AsyncPregelLoop.__aenter__", "_AsyncLoop.__aenter__"),
        ("PregelLoop.put_writes", "_PutWrites.put_writes"),
    ],
    "smolagents": [
        ("MultiStepAgent.run", "_SmolAgent.run"),
        ("ToolCallingAgent.execute_tool_call", "_SmolAgent.execute_tool_call"),
        ("Tool.__call__", "_SmolTool.__call__"),
    ],
}


def _patch_stand_ins(framework: str, instrumentor: Any) -> None:
    """The adapter's own patch of each of its synchronous targets, applied to that target's stand-in."""
    import importlib

    from otel_agent_instrumentation.instrumentor import apply_target

    telemetry = instrumentor._telemetry
    adapter = importlib.import_module(f"otel_agent_instrumentation.adapters.{framework}")
    targets = {target.attribute: target for target in adapter.targets(telemetry.config)}
    for attribute, stand_in in _STAND_INS.get(framework, []):
        apply_target(targets[attribute], telemetry, adapter.name, (__name__, stand_in))


def _close(value: Any) -> None:
    """Close what a call made, unstarted (a coroutine, an async generator, a context manager's generator)."""
    made = getattr(value, "gen", value)
    close = getattr(made, "close", None) or getattr(made, "aclose", None)
    if close is not None:
        closing = close()
        if asyncio.iscoroutine(closing):
            closing.close()


def child(framework: str, calls: int) -> None:
    """Runs under callgrind: each layer's calls, bare then with our patches, all suppressed."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    from otel_agent_instrumentation import AgentInstrumentor

    cases = _cases(framework)
    from benchmarks.instructions import SegmentMarks

    marks = SegmentMarks()

    def count_each(mode: str) -> None:
        for layer, make in cases.items():
            for _ in range(50):
                _close(make())
            gc.collect()
            gc.disable()
            marks.mark(f"{mode}:{layer}")
            for _ in range(calls):
                _close(make())
            marks.mark(None)
            gc.enable()

    with suppress_instrumentation():
        count_each("bare")
        instrumentor = AgentInstrumentor()
        instrumentor.instrument(tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider())
        _patch_stand_ins(framework, instrumentor)
        # instrument() imported every installed framework: frozen, what it left is not walked by the
        # collections before each segment (as in instructions.py's child).
        gc.collect()
        gc.freeze()
        count_each("ours")
    print(json.dumps({"labels": marks.labels}))


def count(framework: str, calls: int) -> dict[str, float]:
    """mode:layer -> instructions per call."""
    from benchmarks.instructions import counted_segments

    segments = counted_segments(__file__, [framework, "--calls", str(calls)])
    return {label: total / calls for label, total in segments}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default=",".join(PER_RUN), help="comma-separated")
    parser.add_argument("--calls", type=int, default=2000, help="calls per layer and mode")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.calls)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not on PATH")
    print("| framework | layer | bare call | ours over bare | per suppressed run |")
    print("| --- | --- | ---: | ---: | ---: |")
    for framework in args.frameworks.split(","):
        per_call = count(framework, args.calls)
        total = 0.0
        for layer, times in PER_RUN[framework].items():
            bare, ours = per_call[f"bare:{layer}"], per_call[f"ours:{layer}"]
            total += (ours - bare) * times
            print(f"| {framework} | {layer} | {bare / 1000:.1f}k | {(ours - bare) / 1000:+.1f}k | x{times} |")
        print(f"| {framework} | **all layers of a suppressed run** | | **{total / 1000:+.1f}k** | |")


if __name__ == "__main__":
    main()

"""OpenAI Agents SDK, driven offline: the SDK's own `agents.testing.ScriptedModel` and recording RunHooks.

The SDK's tracing would export to api.openai.com: it is disabled for the whole test process here,
at import, and never re-enabled.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import agents
from agents import Agent, FunctionTool, ModelSettings, RunHooks, Runner, RunResultStreaming, Usage, function_tool
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call

from tests.scenarios import AWAITED_ENDINGS, CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation

agents.set_tracing_disabled(True)


class ModelFailure(RuntimeError):
    """What the scripted model raises."""


MODEL_FAILURE = f"{ModelFailure.__module__}.{ModelFailure.__qualname__}"
AGENT_NAME = "scripted"


class RecordingHooks(RunHooks[Any]):
    """Records the SDK's lifecycle hooks in the order they fire."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    async def on_agent_start(self, context: Any, agent: Any) -> None:
        self.calls.append(f"agent_start:{agent.name}")

    async def on_agent_end(self, context: Any, agent: Any, output: Any) -> None:
        self.calls.append(f"agent_end:{output}")

    async def on_llm_start(self, context: Any, agent: Any, system_prompt: Any, input_items: Any) -> None:
        self.calls.append("llm_start")

    async def on_llm_end(self, context: Any, agent: Any, response: Any) -> None:
        self.calls.append("llm_end")

    async def on_tool_start(self, context: Any, agent: Any, tool: Any) -> None:
        self.calls.append(f"tool_start:{tool.name}")

    async def on_tool_end(self, context: Any, agent: Any, tool: Any, result: Any) -> None:
        self.calls.append(f"tool_end:{tool.name}")

    async def on_handoff(self, context: Any, from_agent: Any, to_agent: Any) -> None:
        self.calls.append(f"handoff:{from_agent.name}->{to_agent.name}")


async def _block(call: Any) -> Any:
    await asyncio.Event().wait()


def answer(text: str = "hello") -> ModelStep:
    return ModelStep(
        output=[assistant_message(text)],
        usage=Usage(requests=1, input_tokens=11, output_tokens=7, total_tokens=18),
        response_id="resp-1",
    )


def failure() -> ModelStep:
    return ModelStep.raise_error(ModelFailure("model failed"))


def blocking() -> ModelStep:
    return ModelStep.respond(_block)


class ToolFailure(RuntimeError):
    """What the failing tools raise."""


TOOL_FAILURE = f"{ToolFailure.__module__}.{ToolFailure.__qualname__}"


@function_tool
def lookup(word: str) -> str:
    """Looks a word up."""
    return f"{word}: found"


@function_tool
async def broken(word: str) -> str:
    """Looks a word up, and fails."""
    raise ToolFailure(f"no entry for {word}")


@function_tool(failure_error_function=None)
def fatal() -> str:
    """Fails, and the run with it."""
    raise ToolFailure("fatal lookup")


def tool_step(*calls: tuple[str, dict[str, Any], str]) -> ModelStep:
    """A model response calling each (tool name, arguments, call id)."""
    return ModelStep(
        output=[function_call(tool, arguments, call_id=call_id) for tool, arguments, call_id in calls],
        usage=Usage(requests=1, input_tokens=5, output_tokens=3, total_tokens=8),
    )


def make_tool_agent(*tools: FunctionTool, name: str = "looker") -> Agent[Any]:
    """An agent whose model calls every tool in one response (call ids c1, c2, ...), then answers "done"."""
    calls = [(tool.name, {"word": "otter"} if tool.name != "fatal" else {}, f"c{i}") for i, tool in enumerate(tools, 1)]
    return Agent(name=name, model=ScriptedModel([tool_step(*calls), answer("done")]), tools=list(tools))


def make_handoff_agents(*specialist_steps: ModelStep) -> Agent[Any]:
    """`triage`, whose model hands the run to `specialist` at once; by default specialist's model calls `lookup`
    and `broken` (call ids c2, c3), then answers "special"."""
    default_steps = [
        tool_step(("lookup", {"word": "otter"}, "c2"), ("broken", {"word": "otter"}, "c3")),
        answer("special"),
    ]
    specialist = Agent(
        name="specialist",
        handoff_description="answers lookups",
        model=ScriptedModel(list(specialist_steps) or default_steps),
        tools=[lookup, broken],
    )
    return Agent(
        name="triage",
        model=ScriptedModel([tool_step(("transfer_to_specialist", {}, "c1"))]),
        handoffs=[specialist],
    )


def make_agent(step: ModelStep, name: str = AGENT_NAME, **kwargs: Any) -> Agent[Any]:
    return Agent(
        name=name,
        instructions="be terse",
        model=ScriptedModel([step]),
        model_settings=ModelSettings(temperature=0.2, max_tokens=64),
        **kwargs,
    )


async def _collect(result: RunResultStreaming, observed: Observed) -> None:
    async for event in result.stream_events():
        observed.updates.append(event.type)


async def _until_model_called(hooks: list[str]) -> None:
    # Loop turns, not time: the earliest turn at which the run is in its model call.
    while "llm_start" not in hooks:
        await asyncio.sleep(0)


async def _run_task_done(result: RunResultStreaming) -> None:
    run_task = result.run_loop_task
    assert run_task is not None
    await asyncio.wait([run_task])  # its done callbacks, the span's end among them, have run


async def _background_work_done() -> None:
    """Wait (briefly) for the tasks a dropped stream left running: its run still completes."""
    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        await asyncio.wait(others, timeout=1)


class OpenAIAgentsDriver:
    framework = "openai_agents"
    agent_name = AGENT_NAME

    def cases(self) -> list[tuple[str, Ending]]:
        run = AWAITED_ENDINGS
        return [("run", ending) for ending in run] + [("stream", ending) for ending in Ending]

    def expected(self, mode: str, ending: Ending) -> Expected:
        if ending is Ending.RAISES_AT_CALL:
            return Expected(error_type="TypeError", outcome="failed")
        if mode == "stream" and ending is Ending.DROPPED:
            # The run lives in its own task and the event queue is unbounded: dropping the result
            # does not stop the run, it completes.
            return Expected(outcome="completed")
        if mode == "run" and ending is Ending.DROPPED:
            # `Runner.run` is itself a coroutine function: a coroutine nobody awaits never reaches
            # AgentRunner.run, so no run started and there is no span.
            return Expected(spans=0)
        return default_expectation(ending, streamed=mode == "stream", error_type=MODEL_FAILURE)

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        step = answer()
        if ending is Ending.RAISES_MID_STREAM:
            step = failure()
        elif ending is Ending.CANCELLED or (mode == "stream" and ending is Ending.BREAK_AND_CLOSE):
            step = blocking()
        agent = make_agent(step)
        hooks = RecordingHooks(observed.hooks)
        try:
            if mode == "run":
                await self._run(agent, hooks, ending, observed)
            else:
                await self._stream(agent, hooks, ending, observed)
        except BaseException as error:  # the observation is the point
            observed.record_error(error)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        # The SDK's tracing is already off for the process (see the module docstring).
        return await self.perform(mode, ending)

    async def _run(self, agent: Agent[Any], hooks: RecordingHooks, ending: Ending, observed: Observed) -> None:
        if ending is Ending.RAISES_AT_CALL:
            await Runner.run(agent, "hello", hooks=object())  # type: ignore[arg-type]
        elif ending is Ending.CANCELLED:
            task = asyncio.ensure_future(Runner.run(agent, "hello", hooks=hooks))
            await _until_model_called(observed.hooks)
            task.cancel()
            await task
        elif ending is Ending.DROPPED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
                pending = Runner.run(agent, "hello", hooks=hooks)
                observed.returned = type(pending)
                del pending
                gc.collect()
        elif ending is Ending.OTHER_TASK:
            pending = Runner.run(agent, "hello", hooks=hooks)
            result = await asyncio.create_task(_await(pending))
            observed.result = result.final_output
        elif ending is Ending.CONCURRENT:
            results = await asyncio.gather(
                *(Runner.run(make_agent(answer(f"t{i}")), "hello", hooks=hooks) for i in range(CONCURRENT_RUNS))
            )
            observed.result = "|".join(sorted(r.final_output for r in results))
            observed.hooks.sort()
        else:
            result = await Runner.run(agent, "hello", hooks=hooks)
            observed.result = result.final_output
            observed.result_type = type(result).__name__

    async def _stream(self, agent: Agent[Any], hooks: RecordingHooks, ending: Ending, observed: Observed) -> None:
        if ending is Ending.RAISES_AT_CALL:
            Runner.run_streamed(agent, "hello", hooks=object())  # type: ignore[arg-type]
            return
        if ending is Ending.CONCURRENT:
            results = [
                Runner.run_streamed(make_agent(answer(f"t{i}")), "hello", hooks=hooks) for i in range(CONCURRENT_RUNS)
            ]
            await asyncio.gather(*(_collect(r, Observed()) for r in results))
            observed.result = "|".join(sorted(str(r.final_output) for r in results))
            observed.hooks.sort()
            return
        result = Runner.run_streamed(agent, "hello", hooks=hooks)
        observed.returned = result
        observed.result_type = type(result).__name__
        if ending is Ending.CANCELLED:
            task = asyncio.create_task(_collect(result, observed))
            await _until_model_called(observed.hooks)
            task.cancel()
            try:
                await task
            finally:
                # stream_events() only asks the run task to cancel (result.py:1082): cancelled before its
                # model call is suspended, the run task unwinds a loop turn after the consumer's task is
                # done. The run, and so its span, is over when the run task is.
                await _run_task_done(result)
        elif ending is Ending.BREAK_AND_CLOSE:
            # The SDK's way to stop a stream: break, result.cancel(), then close the iterator.
            events: Any = result.stream_events()  # an async generator: it has aclose()
            async for event in events:
                observed.updates.append(event.type)
                break
            await _until_model_called(observed.hooks)
            result.cancel()
            await events.aclose()
            observed.result = str(result.final_output)
        elif ending is Ending.DROPPED:
            async for event in result.stream_events():
                observed.updates.append(event.type)
                break
            del result
            observed.returned = None
            gc.collect()
            await _background_work_done()
        elif ending is Ending.FINAL_WITHOUT_ITERATING:
            # No events read: the run still completes; the application waits for it and reads the output.
            run_task = result.run_loop_task
            assert run_task is not None
            await run_task
            observed.result = result.final_output
        elif ending is Ending.OTHER_TASK:
            await asyncio.create_task(_collect(result, observed))
            observed.result = result.final_output
        else:
            await _collect(result, observed)
            observed.result = result.final_output


async def _await(awaitable: Any) -> Any:
    return await awaitable


DRIVER = OpenAIAgentsDriver()

"""CrewAI, driven offline: a scripted `BaseLLM` subclass, recording kickoff/task/step callbacks.

A crew run is a workflow (`invoke_workflow {crew.name}`); its agents and tools are checked by
tests/separate/openai2/test_crewai.py. Every scenario ends by checking that nothing reached beyond loopback.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import threading
import time
import warnings
import weakref
from typing import Any

from tests.separate.openai2 import crewai_env  # before crewai: telemetry off, storage in a temporary HOME

# isort: split
from crewai import Agent, Crew, Task
from crewai.llms.base_llm import BaseLLM
from crewai.tools import tool
from pydantic import Field

from tests.scenarios import CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation

CREW_NAME = "pipeline"
AGENT_ROLE = "writer"
MODEL_ID = "scripted-crewai-v1"
ANSWER = "Thought: I know it.\nFinal Answer: hello world"

# One model turn: text (ReAct: "Action: ..." or "Final Answer: ..."), or native tool calls as
# (name, arguments) pairs; ids are call_1, call_2, ... in the order asked for.
Turn = str | list[tuple[str, dict[str, Any]]]


class ScriptedLLM(BaseLLM):  # type: ignore[misc]  # crewai is not installed where mypy runs
    """Plays `script`, one turn per call (the last repeats), 10/5 tokens per call. Streamed (crewai sets
    `stream` on a streaming crew's agents), a text turn is also emitted as two chunk events. `fail` raises
    ConnectionError at every call; `native` answers crewai's native function-calling check."""

    script: list[Any] = [ANSWER]
    fail: bool = False
    # block: each call waits for `release` (set by the driver after cancelling the run); `called` is set then.
    block: bool = False
    called: threading.Event = Field(default_factory=threading.Event)
    release: threading.Event = Field(default_factory=threading.Event)
    native: bool = False
    turns: int = 0
    call_ids: int = 0

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        if self.fail:
            raise ConnectionError("model connection dropped")
        if self.block:
            self.called.set()
            self.release.wait(10)
        turn = self.script[min(self.turns, len(self.script) - 1)]
        self.turns += 1
        self._track_token_usage_internal({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
        if isinstance(turn, str):
            if self.stream:
                half = len(turn) // 2
                for chunk in (turn[:half], turn[half:]):
                    self._emit_stream_chunk_event(chunk=chunk, from_task=from_task, from_agent=from_agent)
            return turn
        calls = []
        for name, arguments in turn:
            self.call_ids += 1
            function = {"name": name, "arguments": json.dumps(arguments)}
            calls.append({"id": f"call_{self.call_ids}", "type": "function", "function": function})
        return calls

    def supports_function_calling(self) -> bool:
        return self.native


class ToolFailure(RuntimeError):
    """What the `fails` tool raises."""


@tool("echo")  # type: ignore[untyped-decorator]
def echo(text: str) -> str:
    """Echoes its text."""
    return f"echo:{text}"


@tool("fails")  # type: ignore[untyped-decorator]
def fails(text: str) -> str:
    """Always fails."""
    raise ToolFailure(f"tool broke on {text}")


# Where the app's callbacks record, for the run in this context (crewai calls them from its threads, which
# carry the context). crewai wants module-level functions as callbacks (types/callback.py: it warns about
# methods, closures and partials, which it cannot serialize for checkpoints).
RECORDING: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("crewai_recording", default=None)
_recording_lock = threading.Lock()


def note(text: str) -> None:
    calls = RECORDING.get()
    if calls is not None:
        with _recording_lock:
            calls.append(text)


def before_kickoff(inputs: Any) -> Any:
    note("before_kickoff")
    return inputs


def before_kickoff_refusing(inputs: Any) -> Any:
    note("before_kickoff")
    raise ValueError("refused by before_kickoff")


def after_kickoff(output: Any) -> Any:
    note(f"after_kickoff:{output.raw}")
    return output


def task_done(output: Any) -> None:
    note(f"task:{output.raw}")


def step_done(step: Any) -> None:
    note(f"step:{type(step).__name__}")


def make_agent(llm: BaseLLM, tools: list[Any] | None = None, role: str = AGENT_ROLE, **options: Any) -> Agent:
    return Agent(role=role, goal="write things", backstory="Be brief.", llm=llm, tools=tools or [], **options)


def make_crew(
    *,
    fail: bool = False,
    block: bool = False,
    refuse: bool = False,
    stream: bool = False,
    script: list[Any] | None = None,
    tools: list[Any] | None = None,
    native: bool = False,
    name: str = CREW_NAME,
) -> Crew:
    llm = ScriptedLLM(model=MODEL_ID, fail=fail, block=block, native=native, script=script or [ANSWER])
    agent = make_agent(llm, tools, step_callback=step_done)
    task = Task(description="Write a greeting.", expected_output="a greeting", agent=agent, callback=task_done)
    return Crew(
        name=name,
        agents=[agent],
        tasks=[task],
        stream=stream,
        before_kickoff_callbacks=[before_kickoff_refusing if refuse else before_kickoff],
        after_kickoff_callbacks=[after_kickoff],
    )


def _result(observed: Observed, output: Any) -> None:
    observed.result = output.raw
    observed.result_type = type(output).__name__


class CrewAIDriver:
    framework = "crewai"
    agent_name = CREW_NAME

    def cases(self) -> list[tuple[str, Ending]]:
        basic = [Ending.COMPLETES, Ending.RAISES_AT_CALL, Ending.RAISES_MID_STREAM, Ending.CONCURRENT]
        awaited = [*basic, Ending.OTHER_TASK, Ending.DROPPED, Ending.CANCELLED]
        streamed = [Ending.COMPLETES, Ending.RAISES_MID_STREAM, Ending.BREAK_AND_CLOSE, Ending.DROPPED]
        streamed.append(Ending.OTHER_TASK)
        return (
            [("kickoff", ending) for ending in basic]
            + [("kickoff_async", ending) for ending in awaited]
            + [("akickoff", ending) for ending in awaited]
            + [("stream", ending) for ending in streamed]
            + [("akickoff_stream", ending) for ending in streamed]
            + [("kickoff_async_stream", ending) for ending in [Ending.COMPLETES, Ending.BREAK_AND_CLOSE]]
        )

    def expected(self, mode: str, ending: Ending) -> Expected:
        if ending is Ending.RAISES_AT_CALL:
            return Expected(error_type="ValueError", outcome="failed", operation="invoke_workflow")
        base = default_expectation(ending, streamed="stream" in mode, error_type="ConnectionError")
        return Expected(base.spans, base.error_type, base.outcome, operation="invoke_workflow")

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        options: dict[str, Any] = {
            "fail": ending is Ending.RAISES_MID_STREAM,
            "refuse": ending is Ending.RAISES_AT_CALL,
            "stream": "stream" in mode,
        }
        RECORDING.set(observed.hooks)
        try:
            if mode == "kickoff":
                await self._kickoff(observed, ending, options)
            elif mode in ("kickoff_async", "akickoff"):
                await self._awaited(mode, observed, ending, options)
            elif mode == "stream":
                # A sync app: crewai refuses sync runs inside a running event loop.
                await asyncio.to_thread(self._stream, observed, ending, options)
            else:
                await self._astream(mode.removesuffix("_stream"), observed, ending, options)
        except AssertionError:  # the driver's own checks (a wait that timed out) are not observations
            raise
        except BaseException as error:  # the observation is the point
            observed.record_error(error)
        crewai_env.assert_offline()
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        # crewai's own telemetry is off (crewai_env), as it is for the instrumented run.
        return await self.perform(mode, ending)

    async def _kickoff(self, observed: Observed, ending: Ending, options: dict[str, Any]) -> None:
        if ending is Ending.CONCURRENT:
            outputs = await asyncio.gather(*(asyncio.to_thread(make_crew().kickoff) for _ in range(CONCURRENT_RUNS)))
            observed.result = "|".join(sorted(str(o.raw) for o in outputs))
            observed.hooks.sort()
            return
        output = await asyncio.to_thread(make_crew(**options).kickoff)  # a sync app, off the loop
        observed.returned = output
        _result(observed, output)

    async def _awaited(self, mode: str, observed: Observed, ending: Ending, options: dict[str, Any]) -> None:
        def call() -> Any:
            return getattr(make_crew(**options), mode)()

        if ending is Ending.CONCURRENT:
            outputs = await asyncio.gather(*(call() for _ in range(CONCURRENT_RUNS)))
            observed.result = "|".join(sorted(str(o.raw) for o in outputs))
            observed.hooks.sort()
            return
        if ending is Ending.CANCELLED:
            crew = make_crew(block=True)
            llm = crew.agents[0].llm
            task = asyncio.ensure_future(getattr(crew, mode)())
            await asyncio.to_thread(llm.called.wait, 10)  # the model call is under way, in crewai's thread
            task.cancel()
            try:
                await task
            finally:
                observed.hooks = list(observed.hooks)  # what the app saw until the cancellation
                llm.release.set()
                if mode == "kickoff_async":  # cancelling the await does not stop the thread running kickoff
                    await asyncio.to_thread(_wait_for, lambda: any("after_kickoff" in h for h in RECORDING.get() or []))
            return
        if ending is Ending.DROPPED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
                pending = call()
                observed.returned = type(pending)
                del pending
                gc.collect()
            return
        pending = call()
        observed.returned = pending
        output = await (asyncio.create_task(_await(pending)) if ending is Ending.OTHER_TASK else pending)
        _result(observed, output)

    def _stream(self, observed: Observed, ending: Ending, options: dict[str, Any]) -> None:
        streaming: Any = make_crew(**options).kickoff()
        observed.returned = streaming
        if ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            for chunk in streaming:
                observed.updates.append(chunk.content)
                break
            if ending is Ending.BREAK_AND_CLOSE:
                streaming.close()  # crewai joins the crew's thread: the run finishes inside close()
            else:
                observed.returned = None
                holder = [streaming]
                del streaming
                _drop(holder)
            return
        if ending is Ending.OTHER_TASK:  # consumed in another thread than the one that kicked it off
            consumer = threading.Thread(target=lambda: observed.updates.extend(c.content for c in streaming))
            consumer.start()
            consumer.join()
        else:
            observed.updates = [chunk.content for chunk in streaming]
        _result(observed, streaming.result)

    async def _astream(self, method: str, observed: Observed, ending: Ending, options: dict[str, Any]) -> None:
        streaming: Any = await getattr(make_crew(**options), method)()
        observed.returned = streaming
        if ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            async for chunk in streaming:
                observed.updates.append(chunk.content)
                break
            if ending is Ending.BREAK_AND_CLOSE:
                await streaming.aclose()
                if method == "kickoff_async":  # aclose() cancels the await, not the thread running kickoff
                    await asyncio.to_thread(_wait_for, lambda: any("after_kickoff" in h for h in observed.hooks))
                else:  # how far the cancelled akickoff got is a race: compare the rest only
                    observed.hooks = []
            else:
                observed.returned = None
                holder = [streaming]
                del streaming
                await asyncio.to_thread(_drop, holder)
            return
        if ending is Ending.OTHER_TASK:
            observed.updates = await asyncio.create_task(_acollect(streaming))
        else:
            observed.updates = await _acollect(streaming)
        _result(observed, streaming.result)


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _drop(holder: list[Any]) -> None:
    """Drop the app's last reference (the one in `holder`) and wait until the output is collected: it sits
    in a reference cycle with its own generator, reachable from the crew's thread or task until the run
    has finished."""
    gone = weakref.ref(holder.pop())

    def collected() -> bool:
        gc.collect()
        return gone() is None

    _wait_for(collected)


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def _acollect(streaming: Any) -> list[str]:
    return [chunk.content async for chunk in streaming]


DRIVER = CrewAIDriver()

"""Agno workflows, driven offline: a `Workflow` named "flow" whose first step is the scripted agent of
tests/frameworks/agno_driver.py (its pre/post hooks recorded) and whose second step is a function.

The run's span is `invoke_workflow flow`; the agent's `invoke_agent` span inside it is checked by
tests/test_agno_workflows.py. A failure mid-run is the function step raising with agno's `fail` policy
(a step failing otherwise is skipped by default, and an agent's failure is returned, not raised).
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

from agno.db.in_memory import InMemoryDb
from agno.workflow import Step, Workflow
from agno.workflow.types import HumanReview, OnError, StepInput, StepOutput

from tests.frameworks.agno_driver import BAD_INPUT, StrictInput, describe, make_agent
from tests.scenarios import CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation

WORKFLOW_NAME = "flow"


class StepBroke(RuntimeError):
    """What the failing function step raises."""


STEP_BROKE = f"{StepBroke.__module__}.{StepBroke.__qualname__}"


def shout(step_input: StepInput) -> StepOutput:
    return StepOutput(content=str(step_input.previous_step_content).upper())


def breaks(step_input: StepInput) -> StepOutput:
    raise StepBroke("step broke")


def make_workflow(calls: list[str], fail: bool = False, block: bool = False, strict: bool = False) -> Workflow:
    last = (
        Step(name="breaks", executor=breaks, max_retries=0, human_review=HumanReview(on_error=OnError.fail))
        if fail
        else Step(name="shout", executor=shout)
    )
    return Workflow(
        name=WORKFLOW_NAME,
        steps=[Step(name="write", agent=make_agent(calls, block=block)), last],
        input_schema=StrictInput if strict else None,
        telemetry=False,
    )


async def background_workflow_runs() -> None:
    """Wait for the tasks of background workflow runs, and their done callbacks (agno keeps the tasks in
    `_workflow_background_tasks`; `agno.run.background.await_background_runs` waits for agents' only)."""
    from agno.workflow import workflow as workflow_module

    tasks: set[asyncio.Task[Any]] = workflow_module._workflow_background_tasks
    await asyncio.gather(*list(tasks), return_exceptions=True)
    await asyncio.sleep(0)


def _result(observed: Observed, output: Any) -> None:
    observed.result = f"{output.status.value}:{output.content}"
    observed.result_type = type(output).__name__


class AgnoWorkflowDriver:
    framework = "agno_workflow"
    agent_name = WORKFLOW_NAME  # the run's span is named after the workflow

    def cases(self) -> list[tuple[str, Ending]]:
        basic = [Ending.COMPLETES, Ending.RAISES_AT_CALL, Ending.RAISES_MID_STREAM, Ending.CONCURRENT]
        streamed = [*basic, Ending.BREAK_AND_CLOSE, Ending.DROPPED, Ending.OTHER_TASK]
        return (
            [("run", ending) for ending in basic]
            + [("arun", ending) for ending in [*basic, Ending.CANCELLED, Ending.OTHER_TASK, Ending.DROPPED]]
            + [("arun_stream", ending) for ending in [*streamed, Ending.CANCELLED]]
            + [("run_stream", ending) for ending in streamed]
            + [("arun_background", ending) for ending in [Ending.COMPLETES, Ending.RAISES_MID_STREAM, Ending.DROPPED]]
        )

    def expected(self, mode: str, ending: Ending) -> Expected:
        if ending is Ending.RAISES_AT_CALL:
            expected = Expected(error_type="ValueError", outcome="failed")
        elif ending is Ending.RAISES_MID_STREAM and mode == "arun_background":
            # The task's failure is kept on the output (status ERROR), not raised: its error type is unknown.
            expected = Expected(error_type="_OTHER", outcome="failed")
        else:
            expected = default_expectation(ending, streamed="stream" in mode, error_type=STEP_BROKE)
        return Expected(expected.spans, expected.error_type, expected.outcome, operation="invoke_workflow")

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        options = {
            "fail": ending is Ending.RAISES_MID_STREAM,
            "block": ending is Ending.CANCELLED,
            "strict": ending is Ending.RAISES_AT_CALL,
        }
        message: Any = BAD_INPUT if options["strict"] else "hi"
        try:
            await getattr(self, f"_{mode}")(observed, ending, options, message)
        except BaseException as error:  # the observation is the point
            observed.record_error(error)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        return await self.perform(mode, ending)  # agno core has no tracing of its own

    async def _run(self, observed: Observed, ending: Ending, options: dict[str, bool], message: Any) -> None:
        if ending is Ending.CONCURRENT:
            outputs = await asyncio.gather(
                *(asyncio.to_thread(make_workflow(observed.hooks).run, "hi") for _ in range(CONCURRENT_RUNS))
            )
            observed.result = "|".join(sorted(str(output.content) for output in outputs))
            observed.hooks.sort()
            return
        output = make_workflow(observed.hooks, **options).run(message)
        observed.returned = output
        _result(observed, output)

    async def _arun(self, observed: Observed, ending: Ending, options: dict[str, bool], message: Any) -> None:
        if ending is Ending.CONCURRENT:
            outputs = await asyncio.gather(*(make_workflow(observed.hooks).arun("hi") for _ in range(CONCURRENT_RUNS)))
            observed.result = "|".join(sorted(str(output.content) for output in outputs))
            observed.hooks.sort()
            return
        workflow = make_workflow(observed.hooks, **options)
        if ending is Ending.CANCELLED:
            task = asyncio.ensure_future(workflow.arun(message))
            while not observed.hooks:  # the agent's pre_hook ran: the run is under way
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.005)
            task.cancel()
            await task
            return
        if ending is Ending.DROPPED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
                pending = workflow.arun(message)
                observed.returned = type(pending)
                del pending
                gc.collect()
            return
        pending = workflow.arun(message)
        observed.returned = pending
        output = await (asyncio.create_task(_await(pending)) if ending is Ending.OTHER_TASK else pending)
        _result(observed, output)

    async def _arun_background(
        self, observed: Observed, ending: Ending, options: dict[str, bool], message: Any
    ) -> None:
        workflow = make_workflow(observed.hooks, **options)
        workflow.db = InMemoryDb()  # type: ignore[no-untyped-call]  # background runs need one; agno leaves it untyped
        if ending is Ending.DROPPED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                pending = workflow.arun(message, background=True)
                observed.returned = type(pending)
                del pending
                gc.collect()
            return
        output = await workflow.arun(message, background=True)
        observed.updates.append(output.status.value)  # what the call returned: PENDING, the run goes on
        await background_workflow_runs()
        _result(observed, output)

    async def _arun_stream(self, observed: Observed, ending: Ending, options: dict[str, bool], message: Any) -> None:
        if ending is Ending.CONCURRENT:
            streams = [make_workflow(observed.hooks).arun("hi", stream=True) for _ in range(CONCURRENT_RUNS)]
            described = await asyncio.gather(*(_adescribed(stream) for stream in streams))
            observed.updates = sorted(",".join(items) for items in described)
            observed.hooks.sort()
            return
        stream: Any = make_workflow(observed.hooks, **options).arun(message, stream=True, stream_events=True)
        observed.returned = stream
        if ending is Ending.CANCELLED:
            task = asyncio.create_task(_acollect(stream, observed))
            while "RunContentEvent(hello )" not in observed.updates:
                await asyncio.sleep(0.001)
            task.cancel()
            await task
        elif ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            async for item in stream:
                observed.updates.append(describe(item))
                break
            if ending is Ending.BREAK_AND_CLOSE:
                await stream.aclose()
            else:
                observed.returned = None
                del stream
                gc.collect()
        elif ending is Ending.OTHER_TASK:
            await asyncio.create_task(_acollect(stream, observed))
        else:
            await _acollect(stream, observed)

    async def _run_stream(self, observed: Observed, ending: Ending, options: dict[str, bool], message: Any) -> None:
        if ending is Ending.CONCURRENT:
            streams = [make_workflow(observed.hooks).run("hi", stream=True) for _ in range(CONCURRENT_RUNS)]
            described = await asyncio.gather(*(asyncio.to_thread(_described, stream) for stream in streams))
            observed.updates = sorted(",".join(items) for items in described)
            observed.hooks.sort()
            return
        stream: Any = make_workflow(observed.hooks, **options).run(message, stream=True, stream_events=True)
        observed.returned = stream
        if ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            for item in stream:
                observed.updates.append(describe(item))
                break
            if ending is Ending.BREAK_AND_CLOSE:
                stream.close()
            else:
                observed.returned = None
                del stream
                gc.collect()
        elif ending is Ending.OTHER_TASK:
            observed.updates = await asyncio.to_thread(_described, stream)
        else:
            for item in stream:
                observed.updates.append(describe(item))


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def _acollect(stream: Any, observed: Observed) -> None:
    async for item in stream:
        observed.updates.append(describe(item))


async def _adescribed(stream: Any) -> list[str]:
    return [describe(item) async for item in stream]


def _described(stream: Any) -> list[str]:
    return [describe(item) for item in stream]


DRIVER = AgnoWorkflowDriver()

"""Microsoft Agent Framework workflows, driven offline: a `WorkflowBuilder` workflow named "pipeline" whose
one executor is an agent on the scripted chat client (tests/frameworks/agent_framework_driver.py).

The run's span is `invoke_workflow pipeline`; the agent's `invoke_agent` span inside it is checked by
tests/test_agent_framework_workflows.py. The app's view of a run: the workflow events it pulled (type,
and the text of an output), the outputs of the final result, the agent's context-provider hooks.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

from agent_framework import Workflow, WorkflowBuilder, observability

from tests.frameworks.agent_framework_driver import MODEL_FAILURE, Script, make_agent
from tests.scenarios import AWAITED_ENDINGS, CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation

WORKFLOW_NAME = "pipeline"


def make_workflow(script: Script, calls: list[str], agent_name: str = "scripted") -> Workflow:
    agent = make_agent(script, calls, name=agent_name)
    return WorkflowBuilder(name=WORKFLOW_NAME, start_executor=agent).build()


def describe(event: Any) -> str:
    """An event as the app reads it: its type, and the text an output carries."""
    text = getattr(getattr(event, "data", None), "text", None)
    return f"{event.type}:{text}" if event.type == "output" else str(event.type)


def outputs(result: Any) -> str:
    return "|".join(str(getattr(output, "text", output)) for output in result.get_outputs())


class AgentFrameworkWorkflowDriver:
    framework = "agent_framework_workflow"
    agent_name = WORKFLOW_NAME  # the run's span is named after the workflow

    def cases(self) -> list[tuple[str, Ending]]:
        return [("run", ending) for ending in AWAITED_ENDINGS] + [("stream", ending) for ending in Ending]

    def expected(self, mode: str, ending: Ending) -> Expected:
        if ending is Ending.RAISES_AT_CALL:
            expected = Expected(error_type="ValueError", outcome="failed")
        elif mode == "run" and ending is Ending.DROPPED:
            expected = Expected(outcome="abandoned")  # a coroutine nobody awaits: the run never happened
        else:
            expected = default_expectation(ending, streamed=mode == "stream", error_type=MODEL_FAILURE)
        return Expected(expected.spans, expected.error_type, expected.outcome, operation="invoke_workflow")

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        script = Script()
        if ending is Ending.RAISES_MID_STREAM:
            script = Script(fail_at=1) if mode == "stream" else Script(fail_at=0)
        elif ending is Ending.CANCELLED:
            script = Script(block_at=1)
        workflow = make_workflow(script, observed.hooks)
        try:
            if mode == "run":
                await self._run(workflow, ending, observed)
            else:
                await self._stream(workflow, ending, observed)
        except BaseException as error:
            observed.record_error(error)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        # As for agents (agent_framework_driver): the framework's own agent telemetry fires after_run on a
        # stream closed early; the baseline is the workflow's behaviour, not that instrumentation's.
        observability.disable_instrumentation()
        try:
            return await self.perform(mode, ending)
        finally:
            observability.enable_instrumentation(force=True)

    async def _run(self, workflow: Workflow, ending: Ending, observed: Observed) -> None:
        if ending is Ending.RAISES_AT_CALL:
            workflow.run()  # no message: refused before any run state is touched
        elif ending is Ending.CANCELLED:
            task = asyncio.ensure_future(workflow.run("hello"))
            await asyncio.sleep(0.02)
            task.cancel()
            await task
        elif ending is Ending.DROPPED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
                pending = workflow.run("hello")
                observed.returned = type(pending)
                del pending
                gc.collect()
        elif ending is Ending.OTHER_TASK:
            pending = workflow.run("hello")
            observed.result = outputs(await asyncio.create_task(_await(pending)))
        elif ending is Ending.CONCURRENT:
            results = await asyncio.gather(
                *(make_workflow(Script(), observed.hooks).run("hello") for _ in range(CONCURRENT_RUNS))
            )
            observed.result = "|".join(sorted(outputs(result) for result in results))
            observed.hooks.sort()
        else:
            pending = workflow.run("hello")
            observed.returned = pending
            result = await pending
            observed.updates = [describe(event) for event in result]
            observed.result = outputs(result)
            observed.result_type = type(result).__name__

    async def _stream(self, workflow: Workflow, ending: Ending, observed: Observed) -> None:
        if ending is Ending.RAISES_AT_CALL:
            workflow.run(stream=True)
            return
        if ending is Ending.CONCURRENT:
            workflows = [make_workflow(Script(), observed.hooks) for _ in range(CONCURRENT_RUNS)]
            streams = [workflow.run("hello", stream=True) for workflow in workflows]
            described = await asyncio.gather(*(_described(stream) for stream in streams))
            observed.updates = sorted(",".join(events) for events in described)
            observed.hooks.sort()
            return
        stream = workflow.run("hello", stream=True)
        observed.returned = stream
        if ending is Ending.CANCELLED:
            task = asyncio.create_task(_collect(stream, observed))
            while not any(update.startswith("output") for update in observed.updates):
                await asyncio.sleep(0.001)
            task.cancel()
            await task
        elif ending is Ending.BREAK_AND_CLOSE:
            async for event in stream:
                observed.updates.append(describe(event))
                break
            await stream.close()
        elif ending is Ending.DROPPED:
            async for event in stream:
                observed.updates.append(describe(event))
                break
            del stream
            observed.returned = None
            gc.collect()
        elif ending is Ending.FINAL_WITHOUT_ITERATING:
            observed.result = outputs(await stream.get_final_response())
        elif ending is Ending.OTHER_TASK:
            await asyncio.create_task(_collect(stream, observed))
            observed.result = outputs(await stream.get_final_response())
        else:
            await _collect(stream, observed)
            result = await stream.get_final_response()
            observed.result = outputs(result)
            observed.result_type = type(result).__name__


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def _collect(stream: Any, observed: Observed) -> None:
    async for event in stream:
        observed.updates.append(describe(event))


async def _described(stream: Any) -> list[str]:
    return [describe(event) async for event in stream]


DRIVER = AgentFrameworkWorkflowDriver()

"""LlamaIndex agents, driven offline: `MockFunctionCallingLLM` with a scripted response generator, and
LlamaIndex's own instrumentation dispatcher recorded (its span and event handlers are the framework's hooks)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Sequence
from typing import Any

from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent
from llama_index.core.base.llms.types import ToolCallBlock
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers.base import BaseEventHandler
from llama_index.core.instrumentation.events.base import BaseEvent
from llama_index.core.instrumentation.span.base import BaseSpan
from llama_index.core.instrumentation.span_handlers.base import BaseSpanHandler
from llama_index.core.llms import ChatMessage, MockFunctionCallingLLM

from tests.scenarios import CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation

AGENT_NAME = "helper"
CONNECTION_ERROR = "ConnectionError"
CANCELLED_BY_USER = "workflows.errors.WorkflowCancelledByUser"

# One model turn: the tool calls it asks for, as (call id, tool name, arguments), or its answer.
Turn = list[tuple[str, str, dict[str, Any]]] | str


class ScriptedModel:
    """A response generator for `MockFunctionCallingLLM`: plays `script`, one turn per model call (the last
    repeats). `fail_at` raises ConnectionError at that call (0-based; kept as `raised`); `block_at` streams one
    chunk there and waits until `release` is set (never, unless a test sets it), then answers "hello world".
    `calls` counts the model calls made."""

    def __init__(self, script: Sequence[Turn], fail_at: int | None = None, block_at: int | None = None) -> None:
        self.script = list(script)
        self.fail_at = fail_at
        self.block_at = block_at
        self.calls = 0
        self.blocked = asyncio.Event()
        self.release = asyncio.Event()
        self.raised: BaseException | None = None

    def __call__(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage | AsyncIterator[ChatMessage]:
        index = self.calls
        self.calls += 1
        if index == self.fail_at:
            self.raised = ConnectionError("model connection dropped")
            raise self.raised
        if index == self.block_at:
            return self._block()
        turn = self.script[min(index, len(self.script) - 1)]
        if isinstance(turn, str):
            return ChatMessage(role="assistant", content=turn)
        blocks = [
            ToolCallBlock(tool_call_id=call_id, tool_name=tool, tool_kwargs=arguments)
            for call_id, tool, arguments in turn
        ]
        return ChatMessage(role="assistant", blocks=blocks)

    async def _block(self) -> AsyncIterator[ChatMessage]:
        yield ChatMessage(role="assistant", content="thinking")
        self.blocked.set()
        await self.release.wait()
        yield ChatMessage(role="assistant", content="hello world")


def scripted_llm(model: ScriptedModel) -> MockFunctionCallingLLM:
    return MockFunctionCallingLLM(response_generator=model)


class ToolFailure(RuntimeError):
    """What the `fails` tool raises."""


def echo(text: str) -> str:
    """Echoes its text."""
    return f"echo:{text}"


async def aecho(text: str) -> str:
    """Echoes its text, awaited."""
    return f"aecho:{text}"


def fails(text: str) -> str:
    """Always fails."""
    raise ToolFailure(f"tool broke on {text}")


def make_agent(
    model: ScriptedModel, tools: list[Any] | None = None, name: str = AGENT_NAME, **kwargs: Any
) -> FunctionAgent:
    return FunctionAgent(
        name=name,
        description=f"{name} answers",
        system_prompt="Be brief.",
        llm=scripted_llm(model),
        tools=tools or [],
        **kwargs,
    )


class SpanRecorder(BaseSpanHandler[BaseSpan]):  # type: ignore[misc]  # untyped framework base
    """LlamaIndex's own spans, as a span handler the app attached sees them: opens, exits and drops, by the
    instrumented function's name."""

    _records: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "SpanRecorder"

    def new_span(self, id_: str, *args: Any, **kwargs: Any) -> None:
        self._records.append(f"span:{id_.split('-')[0]}")
        return None

    def prepare_to_exit_span(self, id_: str, *args: Any, **kwargs: Any) -> None:
        self._records.append(f"exit:{id_.split('-')[0]}")
        return None

    def prepare_to_drop_span(self, id_: str, *args: Any, err: BaseException | None = None, **kwargs: Any) -> None:
        self._records.append(f"drop:{id_.split('-')[0]}:{type(err).__name__}")
        return None


class EventRecorder(BaseEventHandler):  # type: ignore[misc]  # untyped framework base
    """LlamaIndex's own events, as an event handler the app attached sees them: their classes."""

    _records: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "EventRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self._records.append(f"event:{type(event).__name__}")


class recording_dispatcher:  # used as a context manager, like contextlib's
    """Attach a span and an event recorder to LlamaIndex's root dispatcher for the block; both write to the
    list the block gets, in the order the dispatcher calls them."""

    def __enter__(self) -> list[str]:
        records: list[str] = []
        self.spans, self.events = SpanRecorder(), EventRecorder()
        self.spans._records = self.events._records = records
        self.dispatcher = get_dispatcher()
        self.dispatcher.add_span_handler(self.spans)
        self.dispatcher.add_event_handler(self.events)
        return records

    def __exit__(self, *exc: object) -> None:
        self.dispatcher.span_handlers.remove(self.spans)
        self.dispatcher.event_handlers.remove(self.events)


async def settle() -> None:
    """Wait until every other task of the loop is done: runs the app no longer holds go on in the background."""
    current = asyncio.current_task()
    for _ in range(2000):
        if all(task is current or task.done() for task in asyncio.all_tasks()):
            # A task that just finished has its done callbacks (our span's end among them) queued, not yet
            # run: one more turn lets them run before the caller looks.
            await asyncio.sleep(0)
            return
        await asyncio.sleep(0.001)


def describe(event: Any) -> str:
    text = type(event).__name__
    name = getattr(event, "tool_name", None)
    return f"{text}({name})" if isinstance(name, str) else text


def result_text(result: Any) -> str:
    return f"{type(result).__name__}:{getattr(getattr(result, 'response', None), 'content', None)}"


class LlamaIndexDriver:
    framework = "llama_index"
    agent_name = AGENT_NAME

    def cases(self) -> list[tuple[str, Ending]]:
        awaited = [
            Ending.COMPLETES,
            Ending.RAISES_AT_CALL,
            Ending.RAISES_MID_STREAM,
            Ending.CANCELLED,
            Ending.DROPPED,
            Ending.OTHER_TASK,
            Ending.CONCURRENT,
        ]
        streamed = [
            Ending.COMPLETES,
            Ending.RAISES_MID_STREAM,
            Ending.BREAK_AND_CLOSE,
            Ending.OTHER_TASK,
            Ending.CONCURRENT,
        ]
        return (
            [("run", ending) for ending in awaited]
            + [("stream_events", ending) for ending in streamed]
            + [("cancel_run", Ending.CANCELLED)]
            + [("workflow", ending) for ending in (Ending.COMPLETES, Ending.RAISES_MID_STREAM, Ending.CANCELLED)]
        )

    def expected(self, mode: str, ending: Ending) -> Expected:
        operation = "invoke_workflow" if mode == "workflow" else "invoke_agent"
        if mode == "cancel_run":
            # cancel_run() makes the run raise WorkflowCancelledByUser to whoever awaits the handler.
            return Expected(error_type=CANCELLED_BY_USER, outcome="cancelled", operation=operation)
        if ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            # Neither closing stream_events() nor dropping the handler stops the run: it ends completed.
            return Expected(outcome="completed", operation=operation)
        expected = default_expectation(ending, streamed=mode == "stream_events", error_type=CONNECTION_ERROR)
        if ending is Ending.RAISES_AT_CALL:
            expected = Expected(error_type="ValueError", outcome="failed")
        return Expected(expected.spans, expected.error_type, expected.outcome, operation)

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        with recording_dispatcher() as records:
            try:
                await getattr(self, f"_{mode}")(observed, ending)
            except BaseException as error:  # the observation is the point
                observed.record_error(error)
            await settle()
        # Order-insensitive: steps run as concurrent tasks; what each handler saw, and how often, must match.
        observed.hooks = sorted(records)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        return await self.perform(mode, ending)  # LlamaIndex's dispatcher is recorded both ways

    @staticmethod
    def _model(ending: Ending) -> ScriptedModel:
        return ScriptedModel(
            ["hello world"],
            fail_at=0 if ending is Ending.RAISES_MID_STREAM else None,
            block_at=0 if ending is Ending.CANCELLED else None,
        )

    async def _run(self, observed: Observed, ending: Ending) -> None:
        if ending is Ending.CONCURRENT:
            handlers = [make_agent(ScriptedModel([f"answer {i}"])).run(user_msg="hi") for i in range(CONCURRENT_RUNS)]
            results = await asyncio.gather(*handlers)
            observed.result = "|".join(sorted(result_text(r) for r in results))
            return
        model = self._model(ending)
        agent = make_agent(model)
        if ending is Ending.RAISES_AT_CALL:
            agent.run(user_msg="hi", start_event=object())  # not a StartEvent: ValueError from run() itself
            return
        if ending is Ending.DROPPED:
            handler: Any = agent.run(user_msg="hi")
            observed.returned = handler
            observed.returned = None
            del handler
            gc.collect()
            await settle()
            observed.updates.append(f"model calls after the handler was dropped: {model.calls}")
            return
        handler = agent.run(user_msg="hi")
        observed.returned = handler
        if ending is Ending.CANCELLED:
            task = asyncio.ensure_future(_await(handler))
            await model.blocked.wait()
            task.cancel()
            await task
            return
        if ending is Ending.OTHER_TASK:
            result = await asyncio.create_task(_await(handler))
        else:
            result = await handler
        observed.result = result_text(result)

    async def _stream_events(self, observed: Observed, ending: Ending) -> None:
        if ending is Ending.CONCURRENT:
            handlers = [make_agent(ScriptedModel([f"answer {i}"])).run(user_msg="hi") for i in range(CONCURRENT_RUNS)]
            streams = await asyncio.gather(*(_collect(h.stream_events()) for h in handlers))
            observed.updates = sorted("/".join(events) for events in streams)
            return
        handler = make_agent(self._model(ending)).run(user_msg="hi")
        observed.returned = handler
        stream = handler.stream_events()
        if ending is Ending.BREAK_AND_CLOSE:
            async for event in stream:
                observed.updates.append(describe(event))
                break
            await stream.aclose()  # the run goes on
        elif ending is Ending.OTHER_TASK:
            observed.updates = await asyncio.create_task(_collect(stream))
        else:
            observed.updates = await _collect(stream)
        observed.result = result_text(await handler)

    async def _cancel_run(self, observed: Observed, ending: Ending) -> None:
        model = self._model(Ending.CANCELLED)
        handler = make_agent(model).run(user_msg="hi")
        await model.blocked.wait()
        await handler.cancel_run()
        observed.updates.append(f"done after cancel_run: {handler.is_done()}")
        await handler

    async def _workflow(self, observed: Observed, ending: Ending) -> None:
        model = self._model(ending)
        # Named like the agent: the lifecycle table checks every span's name against one name.
        workflow = AgentWorkflow(agents=[make_agent(model, name="solo")], workflow_name=AGENT_NAME)
        handler = workflow.run(user_msg="hi")
        observed.returned = handler
        if ending is Ending.CANCELLED:
            task = asyncio.ensure_future(_await(handler))
            await model.blocked.wait()
            task.cancel()
            await task
            return
        observed.result = result_text(await handler)


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def _collect(stream: AsyncIterator[Any]) -> list[str]:
    return [describe(event) async for event in stream]


DRIVER = LlamaIndexDriver()

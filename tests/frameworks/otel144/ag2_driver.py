"""AG2, driven offline, both API lines: the 1.x `ag2` module (`ag2.testing.TestConfig`, and a model that never
answers, written here) and the 0.2-line `autogen` module (`autogen.testing.TestAgent`, and an async reply
function that never answers). Middleware, observers, reply functions and hooks record what they see."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from ag2 import Agent, observer
from ag2.config import LLMClient
from ag2.events import BaseEvent, ModelResponse
from ag2.middleware import BaseMiddleware
from ag2.testing import TestConfig
from autogen import Agent as AutogenAgent
from autogen import ConversableAgent, GroupChat, GroupChatManager
from autogen.events.agent_events import ErrorEvent, RunCompletionEvent
from autogen.testing import TestAgent

from tests.scenarios import CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation

AGENT_NAME = "assistant"
CONFIG_MISSING = "ag2.exceptions.ConfigNotProvidedError"


# -- the 1.x API -------------------------------------------------------------------------------------------------


class NeverAnswers(LLMClient):  # type: ignore[misc]  # ag2 is not installed where mypy runs
    """A model call that waits forever (to be cancelled, or left)."""

    async def __call__(self, messages: Sequence[BaseEvent], context: Any, **kwargs: Any) -> ModelResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class NeverAnswersConfig(TestConfig):  # type: ignore[misc]
    def create(self) -> Any:
        return NeverAnswers()


def recording_middleware(calls: list[str]) -> type[BaseMiddleware]:
    class Recording(BaseMiddleware):  # type: ignore[misc]
        async def on_turn(self, call_next: Any, event: Any, context: Any) -> Any:
            calls.append("turn")
            response = await call_next(event, context)
            calls.append(f"turn_end:{response.content}")
            return response

        async def on_llm_call(self, call_next: Any, events: Any, context: Any) -> Any:
            calls.append("llm")
            return await call_next(events, context)

        async def on_tool_execution(self, call_next: Any, event: Any, context: Any) -> Any:
            calls.append(f"tool:{event.name}")
            return await call_next(event, context)

    return Recording


def recording_observer(calls: list[str]) -> Any:
    def on_response(event: ModelResponse) -> None:
        calls.append(f"observed:{event.content}")

    return observer(ModelResponse, on_response, sync_to_thread=False)


def make_v1_agent(calls: list[str], config: Any = None, tools: Sequence[Any] = ()) -> Agent:
    return Agent(
        AGENT_NAME,
        "Be brief.",
        config=config,
        tools=tools,
        middleware=[recording_middleware(calls)],
        observers=[recording_observer(calls)],
    )


def v1_config(ending: Ending) -> Any:
    if ending is Ending.RAISES_AT_CALL:
        return None  # ConfigNotProvidedError when the turn is opened
    if ending is Ending.RAISES_MID_STREAM:
        return TestConfig(ConnectionError("model connection dropped"))
    if ending in (Ending.CANCELLED, Ending.BREAK_AND_CLOSE):
        return NeverAnswersConfig()
    return TestConfig("hello world")


# -- the 0.2-line API --------------------------------------------------------------------------------------------


def record_replies(agent: ConversableAgent, calls: list[str]) -> None:
    """A reply function and a hook that record and let AG2 go on."""

    def reply(recipient: Any, messages: Any = None, sender: Any = None, config: Any = None) -> tuple[bool, None]:
        calls.append(f"reply:{recipient.name}")
        return False, None

    def before_send(sender: Any, message: Any, recipient: Any, silent: Any) -> Any:
        content = message.get("content") if isinstance(message, dict) else message
        calls.append(f"send:{sender.name}>{recipient.name}:{content}")
        return message

    agent.register_reply([AutogenAgent, None], reply)
    agent.register_hook("process_message_before_send", before_send)


def make_pair(calls: list[str], sender_turns: int = 1) -> tuple[ConversableAgent, ConversableAgent]:
    """user -> assistant; the user answers once (an empty auto reply), then the chat ends."""
    assistant = ConversableAgent(AGENT_NAME, llm_config=False, human_input_mode="NEVER", description="answers")
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER", max_consecutive_auto_reply=sender_turns)
    record_replies(assistant, calls)
    record_replies(user, calls)
    return user, assistant


def script(ending: Ending) -> Iterator[str]:
    yield "hello world"
    if ending is Ending.RAISES_MID_STREAM:
        raise ConnectionError("model connection dropped")
    yield "and more"


def critic_script(ending: Ending) -> Iterator[str]:
    """The critic's model: fails at its turn, after the writer's, when the run is to fail mid-way."""
    if ending is Ending.RAISES_MID_STREAM:
        raise ConnectionError("model connection dropped")
    yield "fine"


def block_replies(agent: ConversableAgent, calls: list[str]) -> None:
    async def never(recipient: Any, messages: Any = None, sender: Any = None, config: Any = None) -> Any:
        calls.append(f"blocking:{recipient.name}")
        await asyncio.Event().wait()

    agent.register_reply([AutogenAgent, None], never)


def make_group(calls: list[str]) -> tuple[ConversableAgent, GroupChatManager, list[ConversableAgent]]:
    members = [ConversableAgent(n, llm_config=False, human_input_mode="NEVER") for n in ("writer", "critic")]
    for member in members:
        record_replies(member, calls)
    chat = GroupChat(members, messages=[], max_round=3, speaker_selection_method="round_robin")
    manager = GroupChatManager(chat, name=AGENT_NAME, llm_config=False)
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER")
    return user, manager, members


def wait_for_run_end(response: Any) -> None:
    """Wait, without reading them, until the run's thread has put its last event."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        queued = list(response.iostream.input_stream.queue)
        if any(isinstance(event, (RunCompletionEvent, ErrorEvent)) for event in queued):
            return
        time.sleep(0.005)
    raise AssertionError("the run's thread did not end")


def _chat_result(observed: Observed, result: Any) -> None:
    observed.result = result.summary
    observed.result_type = type(result).__name__


class Ag2Driver:
    framework = "ag2"
    agent_name = AGENT_NAME

    def cases(self) -> list[tuple[str, Ending]]:
        basic = [Ending.COMPLETES, Ending.RAISES_AT_CALL, Ending.RAISES_MID_STREAM, Ending.CONCURRENT]
        awaited = [*basic, Ending.CANCELLED, Ending.DROPPED, Ending.OTHER_TASK]
        return (
            [("v1_ask", ending) for ending in awaited]
            + [("v1_run", ending) for ending in [*awaited, Ending.BREAK_AND_CLOSE]]
            + [("chat", ending) for ending in basic]
            + [("achat", ending) for ending in awaited if ending is not Ending.RAISES_AT_CALL]
            + [
                ("run", ending)
                for ending in [
                    Ending.COMPLETES,
                    Ending.RAISES_MID_STREAM,
                    Ending.BREAK_AND_CLOSE,
                    Ending.DROPPED,
                    Ending.CONCURRENT,
                ]
            ]
            + [("group", ending) for ending in (Ending.COMPLETES, Ending.RAISES_MID_STREAM, Ending.CONCURRENT)]
        )

    def expected(self, mode: str, ending: Ending) -> Expected:
        operation = "invoke_workflow" if mode == "group" else "invoke_agent"
        if mode == "run" and ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            # The chat runs in its thread whatever the consumer does with the events: it completes.
            return Expected(outcome="completed")
        if ending is Ending.RAISES_AT_CALL:
            error_type = CONFIG_MISSING if mode.startswith("v1") else "RuntimeError"
            return Expected(error_type=error_type, outcome="failed")
        expected = default_expectation(ending, streamed=mode == "v1_run", error_type="ConnectionError")
        return Expected(expected.spans, expected.error_type, expected.outcome, operation)

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        try:
            await getattr(self, f"_{mode}")(observed, ending)
        except BaseException as error:  # the observation is the point
            observed.record_error(error)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        return await self.perform(mode, ending)  # AG2's own OpenTelemetry is opt-in and off here

    # -- 1.x ---------------------------------------------------------------------------------------------------

    async def _v1_ask(self, observed: Observed, ending: Ending) -> None:
        calls = observed.hooks
        if ending is Ending.CONCURRENT:
            replies = await asyncio.gather(
                *(make_v1_agent(calls, v1_config(ending)).ask("hi") for _ in range(CONCURRENT_RUNS))
            )
            observed.result = "|".join(str(reply.body) for reply in replies)
            calls.sort()
            return
        agent = make_v1_agent(calls, v1_config(ending))
        if ending is Ending.DROPPED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
                pending = agent.ask("hi")
                observed.returned = type(pending)
                del pending
                gc.collect()
            return
        if ending is Ending.CANCELLED:
            task = asyncio.ensure_future(agent.ask("hi"))
            await _until(lambda: "llm" in calls)
            task.cancel()
            await task
            return
        pending = agent.ask("hi")
        observed.returned = pending
        reply = await (asyncio.create_task(_await(pending)) if ending is Ending.OTHER_TASK else pending)
        observed.result = reply.body
        observed.result_type = type(reply).__name__

    async def _v1_run(self, observed: Observed, ending: Ending) -> None:
        calls = observed.hooks
        if ending is Ending.CONCURRENT:
            runs = (_v1_block(make_v1_agent(calls, v1_config(ending))) for _ in range(CONCURRENT_RUNS))
            bodies = await asyncio.gather(*runs)
            observed.result = "|".join(bodies)
            calls.sort()
            return
        agent = make_v1_agent(calls, v1_config(ending))
        run = agent.run("hi")
        observed.returned = run
        if ending is Ending.DROPPED:
            observed.returned = None
            del run  # never entered: the last reference
            gc.collect()
            return
        if ending is Ending.OTHER_TASK:
            observed.result = await asyncio.create_task(_v1_enter(run))
            return
        async with run as entered:
            observed.updates.append(entered.__class__.__name__)  # what isinstance sees
            if ending is Ending.BREAK_AND_CLOSE:
                entered.start()
                await _until(lambda: "llm" in calls)
                return  # leaving the block cancels the turn
            if ending is Ending.CANCELLED:
                task = asyncio.ensure_future(entered.result())
                await _until(lambda: "llm" in calls)
                task.cancel()
                await task
            reply = await entered.result()
            observed.result = reply.body

    # -- 0.2 line ----------------------------------------------------------------------------------------------

    async def _chat(self, observed: Observed, ending: Ending) -> None:
        calls = observed.hooks
        if ending is Ending.CONCURRENT:
            summaries = await asyncio.gather(*(asyncio.to_thread(_one_chat, calls) for _ in range(CONCURRENT_RUNS)))
            observed.result = "|".join(sorted(summaries))
            calls.sort()
            return
        user, assistant = make_pair(calls)
        if ending is Ending.RAISES_AT_CALL:
            block_replies(assistant, calls)  # an async reply function: a sync chat refuses to start
        with TestAgent(assistant, script(ending)):
            result = user.initiate_chat(assistant, message="hi", silent=True)
        observed.returned = result
        _chat_result(observed, result)

    async def _achat(self, observed: Observed, ending: Ending) -> None:
        calls = observed.hooks
        if ending is Ending.CONCURRENT:
            summaries = await asyncio.gather(*(_one_achat(calls) for _ in range(CONCURRENT_RUNS)))
            observed.result = "|".join(sorted(summaries))
            calls.sort()
            return
        user, assistant = make_pair(calls)
        if ending is Ending.CANCELLED:
            block_replies(assistant, calls)
        with TestAgent(assistant, script(ending)):
            if ending is Ending.DROPPED:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    pending = user.a_initiate_chat(assistant, message="hi", silent=True)
                    observed.returned = type(pending)
                    del pending
                    gc.collect()
                return
            if ending is Ending.CANCELLED:
                task = asyncio.ensure_future(user.a_initiate_chat(assistant, message="hi", silent=True))
                await _until(lambda: f"blocking:{AGENT_NAME}" in calls)
                task.cancel()
                await task
                return
            pending = user.a_initiate_chat(assistant, message="hi", silent=True)
            observed.returned = pending
            result = await (asyncio.create_task(_await(pending)) if ending is Ending.OTHER_TASK else pending)
        _chat_result(observed, result)

    async def _run(self, observed: Observed, ending: Ending) -> None:
        calls = observed.hooks
        if ending is Ending.CONCURRENT:
            summaries = await asyncio.gather(*(asyncio.to_thread(_one_run, calls) for _ in range(CONCURRENT_RUNS)))
            observed.result = "|".join(sorted(summaries))
            calls.sort()
            return
        await asyncio.to_thread(_run_thread, observed, ending)

    async def _group(self, observed: Observed, ending: Ending) -> None:
        calls = observed.hooks
        if ending is Ending.CONCURRENT:
            summaries = await asyncio.gather(*(asyncio.to_thread(_one_group, calls) for _ in range(CONCURRENT_RUNS)))
            observed.result = "|".join(sorted(summaries))
            calls.sort()
            return
        user, manager, (writer, critic) = make_group(calls)
        with TestAgent(writer, ["draft"]), TestAgent(critic, critic_script(ending)):
            result = user.initiate_chat(manager, message="go", silent=True)
        _chat_result(observed, result)
        observed.updates = [str(message.get("content")) for message in manager.groupchat.messages]


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.005)


async def _await(awaitable: Any) -> Any:
    return await awaitable


async def _v1_block(agent: Agent) -> str:
    async with agent.run("hi") as run:
        reply = await run.result()
    return str(reply.body)


async def _v1_enter(run: Any) -> str:
    async with run as entered:
        reply = await entered.result()
    return str(reply.body)


def _one_chat(calls: list[str]) -> str:
    user, assistant = make_pair(calls)
    with TestAgent(assistant, ["hello world", "and more"]):
        return str(user.initiate_chat(assistant, message="hi", silent=True).summary)


async def _one_achat(calls: list[str]) -> str:
    user, assistant = make_pair(calls)
    with TestAgent(assistant, ["hello world", "and more"]):
        return str((await user.a_initiate_chat(assistant, message="hi", silent=True)).summary)


def _one_run(calls: list[str]) -> str:
    user, assistant = make_pair(calls)
    with TestAgent(assistant, ["hello world", "and more"]):
        response = user.run(assistant, message="hi", silent=True)
        for _ in response.events:
            pass
    return str(response.summary)


def _one_group(calls: list[str]) -> str:
    user, manager, (writer, critic) = make_group(calls)
    with TestAgent(writer, ["draft"]), TestAgent(critic, ["fine"]):
        return str(user.initiate_chat(manager, message="go", silent=True).summary)


def _run_thread(observed: Observed, ending: Ending) -> None:
    user, assistant = make_pair(observed.hooks)
    with TestAgent(assistant, script(ending)):
        response = user.run(assistant, message="hi", silent=True)
        observed.returned = response
        if ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            events = response.events
            if ending is Ending.BREAK_AND_CLOSE:
                for event in events:
                    observed.updates.append(type(event).__name__)
                    break
                events.close()  # a generator
            wait_for_run_end(response)
            return
        try:
            for event in response.events:
                observed.updates.append(type(event).__name__)
        finally:
            observed.result = response.summary


DRIVER = Ag2Driver()

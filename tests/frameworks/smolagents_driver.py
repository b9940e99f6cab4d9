"""smolagents, driven offline: a scripted `Model` subclass, recording step callbacks and final-answer checks.

smolagents is synchronous: `run(stream=True)` returns a plain generator, so there is no asyncio
cancellation to test (CANCELLED is left out), and "another task" means another thread.
"""

from __future__ import annotations

import gc
import io
import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rich.console import Console
from smolagents import CodeAgent, Tool, ToolCallingAgent
from smolagents.memory import ActionStep, FinalAnswerStep, MemoryStep, PlanningStep
from smolagents.models import (
    ChatMessage,
    ChatMessageStreamDelta,
    ChatMessageToolCall,
    ChatMessageToolCallFunction,
    ChatMessageToolCallStreamDelta,
    MessageRole,
    Model,
)
from smolagents.monitoring import AgentLogger, LogLevel, TokenUsage

from tests.scenarios import CONCURRENT_RUNS, Ending, Expected, Observed, default_expectation

GENERATION_ERROR = "smolagents.utils.AgentGenerationError"
INPUT_TOKENS = 11
OUTPUT_TOKENS = 7

# One scripted model action: ("tool", name, arguments), ("tools", [(name, arguments), ...]) for
# several calls in one message (run in parallel by ToolCallingAgent), or ("raise", exception).
Action = tuple[Any, ...]
ECHO: Action = ("tool", "echo", {"text": "hi"})
FAIL: Action = ("tool", "fails", {"text": "x"})


def final(answer: str = "42") -> Action:
    return ("tool", "final_answer", {"answer": answer})


class ModelFailure(RuntimeError):
    """What the scripted model raises (smolagents re-raises it as AgentGenerationError's __cause__)."""


class ScriptedModel(Model):  # type: ignore[misc]  # smolagents ships no type information
    """Plays `script`, one action per model call (the last one repeats); streams two deltas per action."""

    def __init__(self, script: Sequence[Action], fail_mid_stream: bool = False) -> None:
        super().__init__(model_id="scripted-model-v1")
        self.script = list(script)
        self.calls = 0
        self.fail_mid_stream = fail_mid_stream

    def _next(self) -> list[tuple[str, Any]]:
        """The next action's tool calls, as (name, arguments); raises a scripted failure."""
        action = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if action[0] == "raise":
            raise action[1]
        return list(action[1]) if action[0] == "tools" else [(action[1], action[2])]

    def _call_id(self, position: int) -> str:
        return f"call_{self.calls}" if position == 0 else f"call_{self.calls}_{position}"

    def generate(
        self,
        messages: Any,
        stop_sequences: Any = None,
        response_format: Any = None,
        tools_to_call_from: Any = None,
        **kwargs: Any,
    ) -> ChatMessage:
        calls = [
            ChatMessageToolCall(
                function=ChatMessageToolCallFunction(name=tool, arguments=arguments),
                id=self._call_id(position),
                type="function",
            )
            for position, (tool, arguments) in enumerate(self._next())
        ]
        return ChatMessage(
            role=MessageRole.ASSISTANT,
            content="calling tool",
            tool_calls=calls,
            token_usage=TokenUsage(input_tokens=INPUT_TOKENS, output_tokens=OUTPUT_TOKENS),
        )

    def generate_stream(
        self,
        messages: Any,
        stop_sequences: Any = None,
        response_format: Any = None,
        tools_to_call_from: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatMessageStreamDelta]:
        planned = self._next()
        yield ChatMessageStreamDelta(
            content="thinking ", token_usage=TokenUsage(input_tokens=INPUT_TOKENS, output_tokens=3)
        )
        if self.fail_mid_stream:
            raise ModelFailure("stream dropped mid-way")
        calls = [
            ChatMessageToolCallStreamDelta(
                index=position,
                id=self._call_id(position),
                type="function",
                function=ChatMessageToolCallFunction(name=tool, arguments=json.dumps(arguments)),
            )
            for position, (tool, arguments) in enumerate(planned)
        ]
        yield ChatMessageStreamDelta(
            content="", tool_calls=calls, token_usage=TokenUsage(input_tokens=0, output_tokens=OUTPUT_TOKENS - 3)
        )


class ScriptedCodeModel(Model):  # type: ignore[misc]  # smolagents ships no type information
    """A CodeAgent's model: answers each call with the next code block of `script` (the last repeats)."""

    def __init__(self, script: Sequence[str]) -> None:
        super().__init__(model_id="scripted-code-model-v1")
        self.script = list(script)
        self.calls = 0

    def generate(
        self,
        messages: Any,
        stop_sequences: Any = None,
        response_format: Any = None,
        tools_to_call_from: Any = None,
        **kwargs: Any,
    ) -> ChatMessage:
        code = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return ChatMessage(
            role=MessageRole.ASSISTANT,
            content=f"Thought: I will run code.\n<code>\n{code}\n</code>",
            token_usage=TokenUsage(input_tokens=INPUT_TOKENS, output_tokens=OUTPUT_TOKENS),
        )


def make_code_agent(
    script: Sequence[str], tools: Sequence[Tool] = (), managed_agents: Sequence[Any] = (), **kwargs: Any
) -> CodeAgent:
    """A CodeAgent with the local executor: the code its model writes runs in smolagents' timeout thread."""
    return CodeAgent(
        tools=list(tools),
        model=ScriptedCodeModel(script),
        managed_agents=list(managed_agents),
        name="coder",
        logger=quiet_logger(),
        **kwargs,
    )


class Echo(Tool):  # type: ignore[misc]  # smolagents ships no type information
    name = "echo"
    description = "Echoes its text."
    inputs = {"text": {"type": "string", "description": "the text"}}
    output_type = "string"

    def forward(self, text: str) -> str:
        return f"echo:{text}"


class ToolFailure(RuntimeError):
    """What the `fails` tool raises."""


class Fails(Tool):  # type: ignore[misc]  # smolagents ships no type information
    name = "fails"
    description = "Always fails."
    inputs = {"text": {"type": "string", "description": "the text"}}
    output_type = "string"

    def forward(self, text: str) -> str:
        raise ToolFailure(f"tool broke on {text}")


def quiet_logger() -> AgentLogger:
    """LogLevel.OFF, and a console that writes nowhere: `stream_outputs=True` renders a rich Live
    display on the logger's console whatever the level (smolagents 1.26.0 agents.py:1298)."""
    return AgentLogger(LogLevel.OFF, console=Console(file=io.StringIO()))


def describe(step: Any) -> str:
    if isinstance(step, ActionStep):
        return f"ActionStep:{step.step_number}"
    if isinstance(step, FinalAnswerStep):
        return f"FinalAnswerStep:{step.output}"
    return type(step).__name__


def make_agent(
    script: Sequence[Action] = (ECHO, final()),
    hooks: list[str] | None = None,
    name: str = "calc",
    tools: Sequence[Tool] | None = None,
    **kwargs: Any,
) -> ToolCallingAgent:
    """A ToolCallingAgent (tools: `Echo` unless given) whose step callbacks and final-answer checks
    append to `hooks`."""
    calls = hooks if hooks is not None else []

    def on_step(step: MemoryStep, agent: Any = None) -> None:
        calls.append(f"step_callback:{describe(step)}")

    def check(answer: Any, memory: Any, agent: Any = None) -> bool:
        calls.append(f"final_answer_check:{answer}")
        return True

    return ToolCallingAgent(
        tools=list(tools) if tools is not None else [Echo()],
        model=ScriptedModel(script, fail_mid_stream=kwargs.pop("fail_mid_stream", False)),
        name=name,
        description="Does arithmetic",
        logger=quiet_logger(),
        step_callbacks={ActionStep: [on_step], PlanningStep: [on_step], FinalAnswerStep: [on_step]},
        final_answer_checks=[check],
        **kwargs,
    )


def error_seen(observed: Observed, error: BaseException) -> None:
    observed.error = error
    observed.error_type = type(error).__name__
    cause = error.__cause__
    observed.error_message = f"{error} (cause: {type(cause).__name__})" if cause else str(error)


class SmolagentsDriver:
    framework = "smolagents"
    agent_name = "calc"

    def cases(self) -> list[tuple[str, Ending]]:
        run = [Ending.COMPLETES, Ending.RAISES_AT_CALL, Ending.RAISES_MID_STREAM, Ending.OTHER_TASK, Ending.CONCURRENT]
        stream = [
            Ending.COMPLETES,
            Ending.RAISES_AT_CALL,
            Ending.RAISES_MID_STREAM,
            Ending.BREAK_AND_CLOSE,
            Ending.DROPPED,
            Ending.OTHER_TASK,
            Ending.CONCURRENT,
        ]
        return [("run", ending) for ending in run] + [("stream", ending) for ending in stream]

    def expected(self, mode: str, ending: Ending) -> Expected:
        if ending is Ending.RAISES_AT_CALL:
            return Expected(error_type="AttributeError", outcome="failed")
        return default_expectation(ending, streamed=mode == "stream", error_type=GENERATION_ERROR)

    async def perform(self, mode: str, ending: Ending) -> Observed:
        observed = Observed()
        failing = ending is Ending.RAISES_MID_STREAM
        agent = make_agent(
            [ECHO, ("raise", ModelFailure("model down"))] if failing else (ECHO, final()), observed.hooks
        )
        try:
            if mode == "run":
                self._run(agent, ending, observed)
            else:
                self._stream(agent, ending, observed)
        except Exception as error:
            error_seen(observed, error)
        return observed

    async def perform_bare(self, mode: str, ending: Ending) -> Observed:
        # smolagents has no tracing of its own: the baseline is the same run.
        return await self.perform(mode, ending)

    def _run(self, agent: ToolCallingAgent, ending: Ending, observed: Observed) -> None:
        if ending is Ending.RAISES_AT_CALL:
            agent.run(None)  # run() calls task.strip() eagerly: AttributeError
        elif ending is Ending.OTHER_TASK:
            results: list[Any] = []
            thread = threading.Thread(target=lambda: results.append(agent.run("what is 6*7?")))
            thread.start()
            thread.join()
            observed.result = str(results[0])
        elif ending is Ending.CONCURRENT:
            with ThreadPoolExecutor(CONCURRENT_RUNS) as pool:
                answers = list(
                    pool.map(lambda i: make_agent((final(f"a{i}"),), observed.hooks).run("q"), range(CONCURRENT_RUNS))
                )
            observed.result = "|".join(sorted(map(str, answers)))
            observed.hooks.sort()
        else:
            result = agent.run("what is 6*7?")
            observed.returned = result
            observed.result = str(result)
            observed.result_type = type(result).__name__

    def _stream(self, agent: ToolCallingAgent, ending: Ending, observed: Observed) -> None:
        if ending is Ending.RAISES_AT_CALL:
            agent.run(None, stream=True)
            return
        if ending is Ending.CONCURRENT:
            streams = [
                make_agent((final(f"a{i}"),), observed.hooks).run("q", stream=True) for i in range(CONCURRENT_RUNS)
            ]
            with ThreadPoolExecutor(CONCURRENT_RUNS) as pool:
                seen = list(pool.map(lambda s: [describe(step) for step in s], streams))
            observed.updates = sorted("|".join(steps) for steps in seen)
            observed.hooks.sort()
            return
        stream = agent.run("what is 6*7?", stream=True)
        observed.returned = stream
        if ending in (Ending.BREAK_AND_CLOSE, Ending.DROPPED):
            # Stop at a step boundary: closing inside a step makes smolagents' own generator raise
            # "generator ignored GeneratorExit" (a yield in its finally, agents.py:600-604).
            for step in stream:
                observed.updates.append(describe(step))
                if isinstance(step, ActionStep):
                    break
            if ending is Ending.BREAK_AND_CLOSE:
                stream.close()
            else:
                del stream
                observed.returned = None
                gc.collect()
        elif ending is Ending.OTHER_TASK:
            thread = threading.Thread(target=lambda: observed.updates.extend(describe(s) for s in stream))
            thread.start()
            thread.join()
        else:
            for step in stream:
                observed.updates.append(describe(step))


DRIVER = SmolagentsDriver()

"""AutoGen AgentChat (autogen-agentchat 0.7.5): an AssistantAgent on an offline ChatCompletionClient.

builtin: autogen-core's own `invoke_agent` spans (`autogen_core._telemetry.trace_invoke_agent_span`).
They have no switch: they go to the global tracer provider whenever one is set, so "bare" and "ours"
run with the API's no-op global provider and "builtin" with the benchmark's SDK provider as global.
openinference: `AutogenAgentChatInstrumentor` (it wraps `on_messages_stream`), global provider off.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import ModelClientStreamingChunkEvent
from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, CreateResult, LLMMessage, ModelFamily, ModelInfo, RequestUsage
from autogen_core.tools import Tool, ToolSchema

from benchmarks.subjects import Anchor, Env, StreamCall, StreamOutput, Subject, openinference_anchor

USAGE = RequestUsage(prompt_tokens=1, completion_tokens=1)


class BenchClient(ChatCompletionClient):
    """Answers "w", or streams `chunks` chunks of "w" and then the result."""

    def __init__(self, chunks: int = 3) -> None:
        self.chunks = chunks

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Any = "auto",
        json_output: Any = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        return CreateResult(finish_reason="stop", content="w", usage=USAGE, cached=False)

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Any = "auto",
        json_output: Any = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
        max_consecutive_empty_chunk_tolerance: int = 0,
    ) -> AsyncGenerator[str | CreateResult, None]:
        for _ in range(self.chunks):
            yield "w"
        yield CreateResult(finish_reason="stop", content="w" * self.chunks, usage=USAGE, cached=False)

    async def close(self) -> None:
        pass

    def actual_usage(self) -> RequestUsage:
        return USAGE

    def total_usage(self) -> RequestUsage:
        return USAGE

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = ()) -> int:
        return 0

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Tool | ToolSchema] = ()) -> int:
        return 10_000

    @property
    def capabilities(self) -> Any:
        return self.model_info

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            vision=False, function_calling=False, json_output=False, family=ModelFamily.UNKNOWN, structured_output=False
        )


RUN_AGENT = AssistantAgent("bench", model_client=BenchClient())
TOKEN = CancellationToken()


async def run() -> str:
    # The agent keeps its conversation between runs; cleared so that every run does the same work.
    await RUN_AGENT.on_reset(TOKEN)
    result = await RUN_AGENT.run(task="hi")
    return str(result.messages[-1].to_text())


def stream(chunks: int) -> StreamCall:
    agent = AssistantAgent("bench", model_client=BenchClient(chunks), model_client_stream=True)

    async def call() -> StreamOutput:
        await agent.on_reset(TOKEN)
        updates, text = 0, []
        async for item in agent.run_stream(task="hi"):
            updates += 1
            if isinstance(item, ModelClientStreamingChunkEvent):
                text.append(item.content)
            elif isinstance(item, TaskResult):
                text.append(f"|{item.messages[-1].to_text()}")
        return updates, "".join(text)

    return call


def builtin_on(env: Env) -> None:
    env.use_global_provider(True)


def builtin_off() -> None:
    pass  # the harness turns the global provider off again


SUBJECT = Subject(
    framework="autogen_agentchat",
    asynchronous=True,
    run=run,
    stream=stream,
    builtin=Anchor("autogen-core invoke_agent spans (global provider)", builtin_on, builtin_off),
    openinference=openinference_anchor(
        "AutogenAgentChatInstrumentor",
        "openinference.instrumentation.autogen_agentchat",
        "AutogenAgentChatInstrumentor",
    ),
    stream_label="AssistantAgent.run_stream (model_client_stream=True)",
)

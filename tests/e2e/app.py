"""The example agent app the end-to-end test runs under `opentelemetry-instrument`: offline, no model service.

A Microsoft Agent Framework agent whose scripted chat client first asks for the `lookup_capital` tool,
then answers from the tool's result, so a run has chat and tool spans under the agent span. Three runs:

- `geographer`: a plain run with the tool call, completed;
- `dropped_geographer`: a streamed run whose model connection drops after the first update (failed);
- `impatient_geographer`: a streamed run the consumer closes after the first update (closed early).

The app checks it saw what each run should do and exits non-zero otherwise, so a broken app is not
mistaken for broken telemetry. The SDK, exporter and instrumentor all come from `opentelemetry-instrument`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from agent_framework import (
    Agent,
    BaseChatClient,
    ChatResponse,
    ChatResponseUpdate,
    Content,
    FunctionInvocationLayer,
    Message,
    UsageDetails,
    tool,
)
from agent_framework.observability import ChatTelemetryLayer

MODEL = "offline-model"
TOOL_NAME = "lookup_capital"
QUESTION = "What is the capital of France?"
ANSWER = ["The ", "capital ", "is ", "Paris."]
# Usage each model call reports; the tool round trip makes two calls per completed run.
INPUT_TOKENS = 11
OUTPUT_TOKENS = 5
USAGE: UsageDetails = {"input_token_count": INPUT_TOKENS, "output_token_count": OUTPUT_TOKENS}
FAILURE = ConnectionResetError("model connection dropped")


@tool(name=TOOL_NAME, description="The capital city of a country.")
def lookup_capital(country: str) -> str:
    return {"France": "Paris"}.get(country, "unknown")


def _tool_result(messages: Sequence[Any]) -> str | None:
    for message in messages:
        for content in getattr(message, "contents", None) or ():
            if getattr(content, "type", None) == "function_result":
                return str(content.result)
    return None


class OfflineChatClient(FunctionInvocationLayer, ChatTelemetryLayer, BaseChatClient):
    """Plain runs ask for the tool, then answer from its result; streamed runs answer word by word and,
    with `drop_after`, raise FAILURE after that many updates.

    FunctionInvocationLayer runs the tool loop and ChatTelemetryLayer gives the framework's own chat
    spans, as a real client composed of the framework's layers has.
    """

    def __init__(self, drop_after: int | None = None) -> None:
        super().__init__()
        self.drop_after = drop_after

    def _inner_get_response(self, *, messages: Any, stream: bool, options: Any, **kwargs: Any) -> Any:
        if stream:
            return self._build_response_stream(self._updates())
        return self._response(_tool_result(messages))

    async def _response(self, tool_result: str | None) -> ChatResponse:
        await asyncio.sleep(0)
        finish: Literal["tool_calls", "stop"]
        if tool_result is None:
            call = Content.from_function_call("call-1", TOOL_NAME, arguments={"country": "France"})
            contents: list[Any] = [call]
            finish = "tool_calls"
        else:
            contents = [f"The capital is {tool_result}."]
            finish = "stop"
        return ChatResponse(
            messages=[Message(role="assistant", contents=contents)],
            response_id="offline-response",
            usage_details=USAGE,
            finish_reason=finish,
            model=MODEL,
        )

    async def _updates(self) -> AsyncIterator[ChatResponseUpdate]:
        for index, word in enumerate(ANSWER):
            if self.drop_after == index:
                raise FAILURE
            await asyncio.sleep(0)
            yield ChatResponseUpdate(
                role="assistant", contents=[Content.from_text(word)], response_id="offline-stream", model=MODEL
            )
        yield ChatResponseUpdate(role="assistant", contents=[Content.from_usage(USAGE)], finish_reason="stop")


def make_agent(name: str, drop_after: int | None = None) -> Agent:
    return Agent(
        OfflineChatClient(drop_after),
        name=name,
        description="Answers geography questions offline",
        instructions="Answer geography questions.",
        tools=[lookup_capital],
        default_options={"model": MODEL, "temperature": 0.0},
    )


async def main() -> list[str]:
    """Run the three scenarios; return what went differently from the plan (empty when all is well)."""
    problems: list[str] = []

    response = await make_agent("geographer").run(QUESTION)
    if response.text != "".join(ANSWER):
        problems.append(f"completed run answered {response.text!r}")

    dropped = make_agent("dropped_geographer", drop_after=1).run(QUESTION, stream=True)
    try:
        async for _ in dropped:
            pass
        problems.append("the failing stream did not raise")
    except ConnectionResetError as error:
        if error is not FAILURE:
            problems.append(f"the failing stream raised another error: {error!r}")

    impatient = make_agent("impatient_geographer").run(QUESTION, stream=True)
    async for _ in impatient:
        break
    await impatient.close()
    return problems


if __name__ == "__main__":
    found = asyncio.run(main())
    if found:
        sys.exit("app: " + "; ".join(found))

"""The example agent app the end-to-end test runs under `opentelemetry-instrument`: offline, no model service.

A Microsoft Agent Framework agent whose scripted chat client first asks for the `lookup_capital` tool,
then answers from the tool's result, so a run has chat and tool spans under the agent span. Four runs:

- `geographer`: a plain run with the tool call, completed;
- `coordinator`: a plain run whose tool is another agent (`researcher`, through `Agent.as_tool()`), so the
  tree has a sub-agent: coordinator -> execute_tool researcher -> invoke_agent researcher -> its own
  chat and `lookup_capital` tool spans;
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
SUB_AGENT_NAME = "researcher"
LOOKUP_CALL = (TOOL_NAME, {"country": "France"})
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

    def __init__(
        self, drop_after: int | None = None, tool_call: tuple[str, dict[str, str]] | None = LOOKUP_CALL
    ) -> None:
        super().__init__()
        self.drop_after = drop_after
        self.tool_call = tool_call  # None: answers at once

    def _inner_get_response(self, *, messages: Any, stream: bool, options: Any, **kwargs: Any) -> Any:
        if stream:
            return self._build_response_stream(self._updates())
        return self._response(_tool_result(messages))

    async def _response(self, tool_result: str | None) -> ChatResponse:
        await asyncio.sleep(0)
        finish: Literal["tool_calls", "stop"]
        if tool_result is None and self.tool_call is not None:
            name, arguments = self.tool_call
            call = Content.from_function_call("call-1", name, arguments=arguments)
            contents: list[Any] = [call]
            finish = "tool_calls"
        else:
            # From the tool's result, or the lookup's own answer when there is no tool.
            capital = (tool_result or "Paris").removeprefix("The capital is ").rstrip(".")
            contents = [f"The capital is {capital}."]
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


def make_agent(name: str, drop_after: int | None = None, asks_tool: bool = True) -> Agent:
    return Agent(
        OfflineChatClient(drop_after, LOOKUP_CALL if asks_tool else None),
        name=name,
        description="Answers geography questions offline",
        instructions="Answer geography questions.",
        tools=[lookup_capital],
        default_options={"model": MODEL, "temperature": 0.0},
    )


def make_coordinator() -> Agent:
    """An agent whose one tool is another agent: it asks the researcher, then answers from its reply."""
    # It answers at once: given a tool of its own, agent-framework-core 1.23.0 ended this nested run at
    # its tool request (seen bare too); one level of delegation is what the trace needs here.
    researcher = make_agent(SUB_AGENT_NAME, asks_tool=False)
    return Agent(
        OfflineChatClient(tool_call=(SUB_AGENT_NAME, {"task": QUESTION})),
        name="coordinator",
        description="Delegates geography questions",
        instructions="Ask the researcher.",
        tools=[researcher.as_tool()],
        default_options={"model": MODEL, "temperature": 0.0},
    )


async def main() -> list[str]:
    """Run the three scenarios; return what went differently from the plan (empty when all is well)."""
    problems: list[str] = []

    response = await make_agent("geographer").run(QUESTION)
    if response.text != "".join(ANSWER):
        problems.append(f"completed run answered {response.text!r}")

    delegated = await make_coordinator().run(QUESTION)
    if delegated.text != "".join(ANSWER):
        problems.append(f"delegated run answered {delegated.text!r}")

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

"""An offline Microsoft Agent Framework app: no network, no model service.

Run it traced with zero code changes:

    opentelemetry-instrument --traces_exporter console python examples/offline_agent.py

It runs the agent three ways: a plain run, a fully consumed stream, and a stream the consumer
abandons after the first update (closed early: the span says so, and no after_run hook fires).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from agent_framework import Agent, BaseChatClient, ChatResponse, ChatResponseUpdate, Content, Message
from agent_framework.observability import ChatTelemetryLayer

REPLY = ["Paris ", "is ", "the ", "capital ", "of ", "France."]


class OfflineChatClient(ChatTelemetryLayer, BaseChatClient):  # type: ignore[misc]
    """Answers every question with the same words, streamed one word per update.

    ChatTelemetryLayer gives it the framework's own chat spans, as a real client has.
    """

    def _inner_get_response(self, *, messages: Any, stream: bool, options: Any, **kwargs: Any) -> Any:
        if stream:
            return self._build_response_stream(self._words())
        return self._whole()

    async def _words(self) -> AsyncIterator[ChatResponseUpdate]:
        for word in REPLY:
            await asyncio.sleep(0)
            yield ChatResponseUpdate(role="assistant", contents=[Content.from_text(word)], response_id="offline-1")
        usage = Content.from_usage({"input_token_count": 12, "output_token_count": len(REPLY)})
        yield ChatResponseUpdate(role="assistant", contents=[usage], finish_reason="stop")

    async def _whole(self) -> ChatResponse:
        return ChatResponse(
            messages=[Message(role="assistant", contents=["".join(REPLY)])],
            response_id="offline-0",
            usage_details={"input_token_count": 12, "output_token_count": len(REPLY)},
            finish_reason="stop",
        )


def make_agent() -> Agent:
    return Agent(
        OfflineChatClient(),
        instructions="Answer geography questions.",
        name="geographer",
        description="Answers geography questions offline",
        default_options={"model": "offline-model", "temperature": 0.0},
    )


async def main() -> None:
    agent = make_agent()
    response = await agent.run("What is the capital of France?")
    print("run:", response.text)

    stream = agent.run("What is the capital of France?", stream=True)
    words = [update.text async for update in stream]
    print("stream:", "".join(words))

    early = agent.run("What is the capital of France?", stream=True)
    async for update in early:
        print("first update only:", update.text)
        break
    await early.close()


if __name__ == "__main__":
    asyncio.run(main())

"""An OpenAI chat-completions endpoint, offline: an HTTP transport that answers every request itself.

For frameworks' own OpenAI model classes (which have a known provider), driven through the real
`openai` client with nothing leaving the process. openai 3.x is built on `httpx2` and also accepts a
legacy `httpx` client, which is the only kind some frameworks pass on (agno `OpenAIChat.http_client`).
"""

from __future__ import annotations

import httpx
import httpx2

MODEL = "gpt-4o-mini"
INPUT_TOKENS = 11
OUTPUT_TOKENS = 7


def completion(content: str) -> dict[str, object]:
    """The chat completion every request gets: `content`, finish reason stop, 11/7 tokens."""
    return {
        "id": "chatcmpl-offline",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": INPUT_TOKENS,
            "completion_tokens": OUTPUT_TOKENS,
            "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
        },
    }


def http_client(content: str) -> httpx2.Client:
    """An httpx2 client (openai's own kind) whose every request is answered with `completion(content)`."""
    return httpx2.Client(transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json=completion(content))))


def legacy_http_client(content: str) -> httpx.Client:
    """The same as a legacy `httpx` client."""
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=completion(content))))

"""A local OpenAI-compatible HTTP server for tests: real HTTP on 127.0.0.1, a scripted conversation.

It answers `POST /v1/chat/completions` and `POST /v1/responses`, each streamed (SSE) or not, so a
framework's own OpenAI model class talks to it through the real `openai` client and an LLM-client
instrumentation (`opentelemetry-instrumentation-openai-v2`) sees real calls.

The script, the same for every framework: a request that does not yet carry a tool's result
(neither `TOOL_RESULT` nor `FINAL_ANSWER`, what an agent called as a tool answers, appears in its
body) is answered with a call of the first tool the request offers, each required argument set to
`ARGUMENT`; a request that carries one is answered with `FINAL_ANSWER`, as text, or as a call of
`final_answer` when the request offers that tool (smolagents' `ToolCallingAgent` ends a run only
that way); a request naming `PARALLEL_MODEL` gets a call of each tool it offers, at once. Each turn reports
its own usage (`TOOL_CALL_USAGE`, `ANSWER_USAGE`; a streamed chat completion only when the request
asks with `stream_options.include_usage`, as OpenAI does), so a test can tell which call a span
describes. Every request is recorded for assertions.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "gpt-4o-mini"
PARALLEL_MODEL = "gpt-4o-parallel"  # its tool-call turn calls every offered tool at once
ARGUMENT = "Paris"
TOOL_RESULT = "sunny-21C"  # what the tests' tool returns; distinct enough never to appear otherwise
FINAL_ANSWER = "It is sunny in Paris."
FINAL_ANSWER_TOOL = "final_answer"


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int


TOOL_CALL_USAGE = Usage(13, 5)
ANSWER_USAGE = Usage(29, 7)
TOOL_CALL = "tool_call"
ANSWER = "answer"


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    body: dict[str, Any]
    turn: str  # TOOL_CALL or ANSWER: what the server answered
    response_id: str

    @property
    def streamed(self) -> bool:
        return bool(self.body.get("stream"))


@dataclass(frozen=True)
class _Call:
    call_id: str
    name: str
    arguments: str  # JSON


@dataclass(frozen=True)
class _Turn:
    kind: str
    number: int
    calls: tuple[_Call, ...]  # none for a text answer

    @property
    def usage(self) -> Usage:
        return TOOL_CALL_USAGE if self.kind == TOOL_CALL else ANSWER_USAGE


def _tools(body: dict[str, Any]) -> dict[str, str]:
    """The offered tools' names, each with the JSON arguments a call of it gets."""
    tools: dict[str, str] = {}
    for tool in body.get("tools") or ():
        # Chat Completions nests the function under "function"; the Responses API puts it on the tool.
        function = tool.get("function") or tool
        name = function.get("name")
        if not isinstance(name, str):
            continue
        schema = function.get("parameters") or {}
        required = schema.get("required") or list(schema.get("properties") or {})[:1]
        tools[name] = json.dumps(dict.fromkeys(required, ARGUMENT))
    return tools


def _plan(raw_body: str, body: dict[str, Any], number: int) -> _Turn:
    tools = _tools(body)
    if TOOL_RESULT not in raw_body and FINAL_ANSWER not in raw_body:
        callable_tools = [name for name in tools if name != FINAL_ANSWER_TOOL]
        if body.get("model") != PARALLEL_MODEL:
            callable_tools = callable_tools[:1]
        if callable_tools:
            calls = tuple(
                _Call(f"call_{number}_{index}", name, tools[name]) for index, name in enumerate(callable_tools)
            )
            return _Turn(TOOL_CALL, number, calls)
    if FINAL_ANSWER_TOOL in tools:
        answer = json.dumps({"answer": FINAL_ANSWER})
        return _Turn(ANSWER, number, (_Call(f"call_{number}_0", FINAL_ANSWER_TOOL, answer),))
    return _Turn(ANSWER, number, ())


# -- Chat Completions ----------------------------------------------------------------------------


def _chat_usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def _chat_completion(turn: _Turn, response_id: str, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if turn.calls else FINAL_ANSWER}
    if turn.calls:
        message["tool_calls"] = [
            {"id": call.call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in turn.calls
        ]
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if turn.calls else "stop",
                "logprobs": None,
            }
        ],
        "usage": _chat_usage(turn.usage),
    }


def _chat_chunks(turn: _Turn, response_id: str, model: str, include_usage: bool) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }

    yield chunk({"role": "assistant", "content": None if turn.calls else ""})
    if turn.calls:
        for index, call in enumerate(turn.calls):
            head = {"index": index, "id": call.call_id, "type": "function"}
            yield chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": call.arguments}}]})
        yield chunk({}, "tool_calls")
    else:
        middle = len(FINAL_ANSWER) // 2
        yield chunk({"content": FINAL_ANSWER[:middle]})
        yield chunk({"content": FINAL_ANSWER[middle:]})
        yield chunk({}, "stop")
    if include_usage:
        yield {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [],
            "usage": _chat_usage(turn.usage),
        }


# -- Responses -----------------------------------------------------------------------------------


def _responses_items(turn: _Turn, status: str = "completed") -> list[dict[str, Any]]:
    if turn.calls:
        return [_responses_function_call(call, status) for call in turn.calls]
    content = [{"type": "output_text", "text": FINAL_ANSWER, "annotations": [], "logprobs": []}]
    message = {
        "type": "message",
        "id": f"msg_{turn.number}",
        "role": "assistant",
        "status": status,
        "content": content if status == "completed" else [],
    }
    return [message]


def _responses_function_call(call: _Call, status: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{call.call_id}",
        "call_id": call.call_id,
        "name": call.name,
        "arguments": call.arguments if status == "completed" else "",
        "status": status,
    }


def _response(turn: _Turn, response_id: str, model: str, status: str = "completed") -> dict[str, Any]:
    done = status == "completed"
    return {
        "id": response_id,
        "object": "response",
        "created_at": 0,
        "model": model,
        "status": status,
        "output": _responses_items(turn) if done else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "usage": {
            "input_tokens": turn.usage.input_tokens,
            "output_tokens": turn.usage.output_tokens,
            "total_tokens": turn.usage.input_tokens + turn.usage.output_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        if done
        else None,
    }


def _response_events(turn: _Turn, response_id: str, model: str) -> Iterator[dict[str, Any]]:
    yield {"type": "response.created", "response": _response(turn, response_id, model, "in_progress")}
    started = _responses_items(turn, "in_progress")
    for index, item in enumerate(_responses_items(turn)):
        yield {"type": "response.output_item.added", "output_index": index, "item": started[index]}
        if item["type"] == "function_call":
            common: dict[str, Any] = {"item_id": item["id"], "output_index": index}
            yield {"type": "response.function_call_arguments.delta", **common, "delta": item["arguments"]}
            yield {"type": "response.function_call_arguments.done", **common, "arguments": item["arguments"]}
        else:
            common = {"item_id": item["id"], "output_index": index, "content_index": 0}
            empty_part = {"type": "output_text", "text": "", "annotations": []}
            yield {"type": "response.content_part.added", **common, "part": empty_part}
            yield {"type": "response.output_text.delta", **common, "delta": FINAL_ANSWER, "logprobs": []}
            yield {"type": "response.output_text.done", **common, "text": FINAL_ANSWER, "logprobs": []}
            yield {"type": "response.content_part.done", **common, "part": item["content"][0]}
        yield {"type": "response.output_item.done", "output_index": index, "item": item}
    yield {"type": "response.completed", "response": _response(turn, response_id, model)}


# -- the server ----------------------------------------------------------------------------------


class OpenAIServer:
    """The running server: `base_url` for an OpenAI client, and the requests it answered, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._requests: list[RecordedRequest] = []
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._http.daemon_threads = True
        # shutdown() waits for the serving loop's next poll: a short interval keeps stopping fast.
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.01}, name="openai-server", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def answer(self, path: str, raw_body: str) -> tuple[_Turn, str, dict[str, Any]]:
        body = json.loads(raw_body or "{}")
        with self._lock:
            number = next(self._numbers)
            turn = _plan(raw_body, body, number)
            prefix = "chatcmpl" if path.endswith("/chat/completions") else "resp"
            response_id = f"{prefix}-{number}"
            self._requests.append(RecordedRequest(path, body, turn.kind, response_id))
        return turn, response_id, body


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so a streamed body simply ends with the connection.
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            raw_body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            path = self.path.split("?", 1)[0]
            if path not in ("/v1/chat/completions", "/v1/responses"):
                self._send_json(HTTPStatus.NOT_FOUND, {"error": {"message": f"no route {path}", "type": "not_found"}})
                return
            turn, response_id, body = server.answer(path, raw_body)
            model = str(body.get("model") or MODEL)
            if path == "/v1/chat/completions":
                if body.get("stream"):
                    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                    self._send_events(
                        ((None, chunk) for chunk in _chat_chunks(turn, response_id, model, include_usage)),
                        done_marker=True,
                    )
                    return
                self._send_json(HTTPStatus.OK, _chat_completion(turn, response_id, model))
                return
            if body.get("stream"):
                self._send_events(
                    (
                        (event["type"], {**event, "sequence_number": number})
                        for number, event in enumerate(_response_events(turn, response_id, model))
                    ),
                    done_marker=False,
                )
                return
            self._send_json(HTTPStatus.OK, _response(turn, response_id, model))

        def _send_json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _send_events(self, events: Iterator[tuple[str | None, dict[str, Any]]], done_marker: bool) -> None:
            # Chat Completions names no events and ends with a [DONE] line; the Responses API names
            # each event and ends with response.completed.
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for name, payload in events:
                head = f"event: {name}\n" if name else ""
                self.wfile.write(f"{head}data: {json.dumps(payload)}\n\n".encode())
            if done_marker:
                self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            # Quiet: pytest shows the recorded requests when an assertion needs them.
            pass

    return Handler


@contextlib.contextmanager
def serve() -> Iterator[OpenAIServer]:
    """A server for the block; stopped (port released) after it."""
    server = OpenAIServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()

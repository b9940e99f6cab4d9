"""Google ADK 2.13.0: an LlmAgent on an offline `BaseLlm` subclass, run through an `InMemoryRunner`.

builtin: ADK's own telemetry (always on, no switch; google/adk/telemetry): it writes `invoke_workflow`,
`invoke_agent` and `generate_content` spans to the global TracerProvider, so it records when the harness
points the global provider at its provider, and is a no-op otherwise (the bare mode). ADK takes its tracer
once, at import (`trace.get_tracer`); `prepare()` makes that tracer follow the global provider on every
span, so the harness's switch reaches it. openinference: `GoogleADKInstrumentor`.

Each call creates a session and makes one `Runner.run_async` on it (a session reused would grow by every run's
events, and the model request with it); the session's creation is in every mode's time alike. The stream
shape is the same call with the model streaming (`RunConfig(streaming_mode=SSE)`): `chunks` partial events
and the final one.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator
from typing import Any

from google.adk.agents import LlmAgent
from google.adk.agents.run_config import RunConfig, StreamingMode
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import InMemoryRunner
from google.genai import types
from opentelemetry import trace

from benchmarks.subjects import Anchor, Env, StreamCall, StreamOutput, Subject, openinference_anchor

USER = "bench"


class BenchLlm(BaseLlm):  # type: ignore[misc]  # ADK is read through Any in .venv's mypy
    """Answers "w"; streamed, `chunks` partial responses of "w" and the final "w" * chunks."""

    model: str = "bench"
    chunks: int = 3

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        if stream:
            for _ in range(self.chunks):
                yield LlmResponse(content=types.Content(role="model", parts=[types.Part(text="w")]), partial=True)
            text = "w" * self.chunks
        else:
            text = "w"
        yield LlmResponse(
            content=types.Content(role="model", parts=[types.Part(text=text)]),
            finish_reason=types.FinishReason.STOP,
        )


def make_runner(chunks: int = 3) -> InMemoryRunner:
    return InMemoryRunner(agent=LlmAgent(name="bench", model=BenchLlm(chunks=chunks)))


async def new_session(runner: InMemoryRunner) -> str:
    created = await runner.session_service.create_session(app_name=runner.app_name, user_id=USER)
    return str(created.id)


MESSAGE = types.Content(role="user", parts=[types.Part(text="hi")])
RUNNER = make_runner()


async def run() -> str:
    text = ""
    session = await new_session(RUNNER)
    async for event in RUNNER.run_async(user_id=USER, session_id=session, new_message=MESSAGE):
        if event.content and event.content.parts and event.content.parts[0].text:
            text = event.content.parts[0].text
    return text


def stream(chunks: int) -> StreamCall:
    runner = make_runner(chunks)
    config = RunConfig(streaming_mode=StreamingMode.SSE)

    async def call() -> StreamOutput:
        updates, text = 0, []
        session = await new_session(runner)
        async for event in runner.run_async(user_id=USER, session_id=session, new_message=MESSAGE, run_config=config):
            updates += 1
            if event.partial and event.content and event.content.parts:
                text.append(event.content.parts[0].text or "")
        return updates, "".join(text)

    return call


class _FollowGlobal(trace.Tracer):
    """ADK's tracer, asking the global provider for its tracer on every span (the harness switches it)."""

    def _tracer(self) -> trace.Tracer:
        return trace.get_tracer_provider().get_tracer("gcp.vertex.agent")

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._tracer().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._tracer().start_as_current_span(*args, **kwargs)


def prepare() -> None:
    from google.adk.telemetry import tracing

    original = tracing.tracer
    follower = _FollowGlobal()
    for name, module in list(sys.modules.items()):
        if name.startswith("google.adk") and getattr(module, "tracer", None) is original:
            module.tracer = follower


def builtin_on(env: Env) -> None:
    env.use_global_provider(True)


def builtin_off() -> None:
    pass  # the harness turns the global provider off again


def openinference_before(env: Env) -> None:
    # GoogleADKInstrumentor wraps ADK's own spans into OpenInference ones: they must record.
    env.use_global_provider(True)


SUBJECT = Subject(
    framework="google_adk",
    asynchronous=True,
    run=run,
    stream=stream,
    builtin=Anchor("ADK telemetry (global provider)", builtin_on, builtin_off),
    openinference=openinference_anchor(
        "GoogleADKInstrumentor",
        "openinference.instrumentation.google_adk",
        "GoogleADKInstrumentor",
        before=openinference_before,
    ),
    stream_label="Runner.run_async(streaming_mode=SSE)",
    note="ADK's own spans are always on; bare = a no-op global provider",
    prepare=prepare,
)

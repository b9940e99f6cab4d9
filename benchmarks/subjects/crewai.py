"""CrewAI 1.15.30: a one-agent, one-task Crew on an offline `BaseLLM` subclass (run in the `openai2` environment).

A run is `Crew.kickoff_async()` (crewai runs `kickoff` in `asyncio.to_thread`, which every anchor traces;
OpenLLMetry's does not wrap `akickoff`): ours makes an `invoke_workflow` span and the agent's `invoke_agent`
span. A stream is a `Crew(stream=True)` whose LLM emits `chunks` chunk events, consumed with `async for`.

builtin: crewai has none that can be measured offline (its telemetry exports to its hosted collector; off here,
CREWAI_DISABLE_TELEMETRY), so this slot holds OpenLLMetry's `CrewAIInstrumentor`
(opentelemetry-instrumentation-crewai: Crew.kickoff, Agent.execute_task, Task.execute_sync, LLM.call).
openinference: `CrewAIInstrumentor` (openinference-instrumentation-crewai).
"""

from __future__ import annotations

import os
from typing import Any

# CrewAI's anonymous telemetry and trace upload, off in every mode (they would reach its hosted services).
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_DISABLE_TRACKING", "true")
os.environ.setdefault("CREWAI_DISABLE_VERSION_CHECK", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

from crewai import Agent, Crew, Task
from crewai.llms.base_llm import BaseLLM

from benchmarks.subjects import Anchor, Env, StreamCall, StreamOutput, Subject, instrumentor_off, openinference_anchor


class BenchLLM(BaseLLM):  # type: ignore[misc]  # crewai is not installed where mypy runs
    """Answers "w" in ReAct's final-answer form; streamed, `chunks` chunk events of "w" first."""

    chunks: int = 3

    def call(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
        if self.stream:
            for _ in range(self.chunks):
                self._emit_stream_chunk_event(chunk="w", from_task=kwargs.get("from_task"))
        return "Final Answer: w"


def make_crew(chunks: int = 3, stream: bool = False) -> Crew:
    agent = Agent(role="bench", goal="answer", backstory="bench", llm=BenchLLM(model="bench", chunks=chunks))
    task = Task(description="Answer.", expected_output="w", agent=agent)
    return Crew(name="bench", agents=[agent], tasks=[task], stream=stream)


RUN_CREW = make_crew()


async def run() -> str:
    output = await RUN_CREW.kickoff_async()
    return str(output.raw)


def stream(chunks: int) -> StreamCall:
    crew = make_crew(chunks, stream=True)

    async def call() -> StreamOutput:
        streaming: Any = await crew.kickoff_async()
        updates, text = 0, []
        async for chunk in streaming:
            updates += 1
            text.append(chunk.content)
        return updates, "".join(text)

    return call


_openllmetry: list[Any] = []


def openllmetry_on(env: Env) -> None:
    from opentelemetry.instrumentation.crewai import CrewAIInstrumentor

    instrumentor = CrewAIInstrumentor()
    instrumentor.instrument(tracer_provider=env.provider)
    _openllmetry[:] = [instrumentor]


def openllmetry_off() -> None:
    for instrumentor in _openllmetry:
        instrumentor_off(instrumentor)


SUBJECT = Subject(
    framework="crewai",
    asynchronous=True,
    run=run,
    stream=stream,
    builtin=Anchor(
        "OpenLLMetry CrewAIInstrumentor (crewai has no offline tracing of its own)", openllmetry_on, openllmetry_off
    ),
    openinference=openinference_anchor(
        "CrewAIInstrumentor", "openinference.instrumentation.crewai", "CrewAIInstrumentor"
    ),
    stream_label="Crew(stream=True).kickoff_async()",
    note="the builtin column is OpenLLMetry's CrewAIInstrumentor: crewai's own telemetry goes to its hosted collector",
)

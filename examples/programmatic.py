"""The same offline agent, instrumented in code, with the spans printed as a small table."""

from __future__ import annotations

import asyncio
import os
import sys

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, os.path.dirname(__file__))
from offline_agent import main

from otel_agent_instrumentation import AgentInstrumentor


def run() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    AgentInstrumentor().instrument(tracer_provider=provider)
    asyncio.run(main())
    AgentInstrumentor().uninstrument()
    print(f"\n{'span':28} {'status':7} {'outcome':13} {'tokens in/out':13}")
    for span in exporter.get_finished_spans():
        attributes = span.attributes or {}
        tokens = f"{attributes.get('gen_ai.usage.input_tokens')}/{attributes.get('gen_ai.usage.output_tokens')}"
        print(
            f"{span.name:28} {span.status.status_code.name:7} "
            f"{attributes.get('otel_agent_instrumentation.outcome', ''):13} {tokens:13}"
        )


if __name__ == "__main__":
    run()

"""OpenTelemetry instrumentation for AI agent frameworks.

Zero-code: ``opentelemetry-instrument python app.py`` (entry point ``agents``). Programmatic::

    from otel_agent_instrumentation import AgentInstrumentor
    AgentInstrumentor().instrument(tracer_provider=provider)

Every run of a supported framework's agent becomes one ``invoke_agent {gen_ai.agent.name}`` span that
ends exactly once, with the outcome the consumer observed. See the README for configuration.
"""

from .instrumentor import AgentInstrumentor
from .version import __version__

__all__ = ["AgentInstrumentor", "__version__"]

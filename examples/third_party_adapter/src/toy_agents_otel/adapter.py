"""The whole adapter: name, distribution and supported range, where to wrap, and how to read objects.

Registered under the entry-point group `otel_agent_instrumentation.adapters` in this package's
pyproject.toml; otel-agent-instrumentation finds it without any change of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The adapter API: every name an adapter needs, from the one public module.
from otel_agent_instrumentation.adapters import Config, RequestFacts, RunTarget


def read_request(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    return RequestFacts(agent_name=agent.name, request_model=agent.model)


class ToyAdapter:
    name = "toy_agents"
    distribution = "toy-agents-otel"
    supported = ">=0.1,<1"

    def targets(self, config: Config) -> Sequence[RunTarget]:
        return [RunTarget("toy_agents_otel", "ToyAgent.run", read_request)]


ADAPTER = ToyAdapter()

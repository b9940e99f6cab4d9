"""Our stand-in for the conftest the smolagents sdist leaves out: agents are silent unless a test asks.

The suite expects agents built in tests to default to `verbosity_level=LogLevel.OFF` (test_agents.py
asserts `agent.logger.level == -1` for an agent built without one).
"""

from collections.abc import Iterator

import pytest
from smolagents.agents import MultiStepAgent
from smolagents.monitoring import LogLevel


@pytest.fixture(autouse=True)
def silent_agents_by_default(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original_init = MultiStepAgent.__init__

    def init(self: MultiStepAgent, *args: object, verbosity_level: LogLevel = LogLevel.OFF, **kwargs: object) -> None:
        original_init(self, *args, verbosity_level=verbosity_level, **kwargs)

    monkeypatch.setattr(MultiStepAgent, "__init__", init)
    yield

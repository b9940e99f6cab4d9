"""A toy agent framework (`ToyAgent`) and, in `adapter`, how otel-agent-instrumentation learns about it."""

from __future__ import annotations

from collections.abc import Iterator


class ToyAgent:
    def __init__(self, name: str, model: str) -> None:
        self.name = name
        self.model = model

    def run(self, task: str) -> Iterator[str]:
        for word in task.split():
            yield word.upper()

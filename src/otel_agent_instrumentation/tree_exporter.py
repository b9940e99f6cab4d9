"""`agent_tree`: a span exporter that prints the exported spans as a text tree when the provider shuts down.

    opentelemetry-instrument --traces_exporter console,agent_tree python app.py

Registered under `opentelemetry_traces_exporter` (the SDK's configurator loads it by name). It keeps the
spans it is given (at most `limit`, the first ones) and prints at shutdown, which `opentelemetry-instrument`
does at exit: name, outcome, ERROR with its message, and duration, children indented under their parent.
For looking at a short run (the demo), not for production.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import IO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from . import span_tree


class SpanTreeExporter(SpanExporter):
    def __init__(self, out: IO[str] | None = None, limit: int = 10_000) -> None:
        self._out = out
        self._limit = limit
        self._spans: list[ReadableSpan] = []
        self._lock = threading.Lock()
        self._printed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self._spans.extend(spans[: max(self._limit - len(self._spans), 0)])
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._printed:
                return
            self._printed = True
            spans = list(self._spans)
        out = self._out if self._out is not None else sys.stdout
        rows = span_tree.render(spans, durations=True)
        out.write(f"\n{len(spans)} spans exported, as trees:\n" + "".join(f"  {row}\n" for row in rows))
        out.flush()

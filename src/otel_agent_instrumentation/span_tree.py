"""Finished spans as an indented text tree: one row per span, children under their parent in start order.

Used by the `agent_tree` console exporter (the demo's summary) and the pytest plugin. Reads only what a
finished span has (name, ids, parent, times, status, our outcome attribute); no SDK import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import semconv


def _span_id(span: Any) -> int | None:
    context = getattr(span, "context", None)
    return getattr(context, "span_id", None)


def _row(span: Any, durations: bool) -> str:
    parts = [span.name]
    outcome = (span.attributes or {}).get(semconv.OUTCOME)
    if outcome:
        parts.append(f"[{outcome}]")
    status = getattr(getattr(span, "status", None), "status_code", None)
    if getattr(status, "name", None) == "ERROR":
        parts.append("ERROR" + (f": {span.status.description}" if span.status.description else ""))
    if durations and span.start_time is not None and span.end_time is not None:
        parts.append(f"{(span.end_time - span.start_time) / 1e6:.1f} ms")
    return " ".join(parts)


def render(spans: Sequence[Any], durations: bool = False) -> list[str]:
    """The rows of every trace in `spans`: roots (no parent among them) in start order, then their children."""
    ids = {_span_id(span) for span in spans}
    children: dict[int | None, list[Any]] = {}
    roots: list[Any] = []
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        parent = getattr(span.parent, "span_id", None) if span.parent is not None else None
        if parent is None or parent not in ids:
            roots.append(span)
        else:
            children.setdefault(parent, []).append(span)
    rows: list[str] = []

    def walk(span: Any, depth: int) -> None:
        rows.append("  " * depth + _row(span, durations))
        for child in children.get(_span_id(span), ()):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return rows

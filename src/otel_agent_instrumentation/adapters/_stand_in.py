"""A stand-in for a framework's own span while ours owns the run (a stand-down that keeps what the span parents)."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Span, SpanContext, Status, StatusCode
from opentelemetry.util import types as otel_types


class StandInSpan(Span):
    """Handed to a framework's telemetry in place of the span it would start, while our span owns the run.

    It has our span's context, so whatever the framework parents on it is under ours; it reports recording when
    ours was started recording, and is never ended or exported. While `forwarding` is set, writes made on it
    (app code reaching it as the current span) go to our span; otherwise they are dropped. `pending` is the
    adapter's: armed until the framework takes the stand-in.
    """

    def __init__(self, ours: Span, forwarding: bool) -> None:
        self._ours = ours
        self._recording = ours.is_recording()
        self.pending = True
        self.forwarding = forwarding

    def get_span_context(self) -> SpanContext:
        return self._ours.get_span_context()

    def is_recording(self) -> bool:
        return self._recording

    def end(self, end_time: int | None = None) -> None:
        pass

    def set_attributes(self, attributes: Any) -> None:
        if self.forwarding:
            self._ours.set_attributes(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        if self.forwarding:
            self._ours.set_attribute(key, value)

    def add_event(self, name: str, attributes: otel_types.Attributes = None, timestamp: int | None = None) -> None:
        if self.forwarding:
            self._ours.add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: otel_types.Attributes = None) -> None:
        if self.forwarding:
            self._ours.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        if self.forwarding:
            self._ours.update_name(name)

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if self.forwarding:
            self._ours.set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: otel_types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        if self.forwarding:
            self._ours.record_exception(exception, attributes, timestamp, escaped)

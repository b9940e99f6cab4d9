"""One agent run: its span, its metrics, and the facts folded into them; finished exactly once.

The span is started unattached. Code that runs on the agent's behalf runs between `attach()` and
`detach()` in the same frame (one call, one stream pull), never across a yield or a return to the
caller, so a context is never detached in another task, thread or the garbage collector (the
"Failed to detach context" family of bugs), and the caller's current span is unchanged after every call.
"""

from __future__ import annotations

import atexit
import enum
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry._logs import Logger, LoggerProvider, get_logger
from opentelemetry.context import Context
from opentelemetry.metrics import Histogram, Meter, MeterProvider, NoOpMeter, get_meter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.util.types import AttributeValue

from . import semconv
from ._context import SPAN_KEY, attach_context, current_context, detach_context
from ._guard import report_failure
from .config import Config
from .version import __version__

# Context key under which the running invocation sits while its code runs: the re-entry guard
# (one span per user-level run when one entry point calls another) reads it.
ACTIVE_INVOCATION_KEY = otel_context.create_key("otel_agent_instrumentation.invocation")


class Outcome(enum.Enum):
    """How a run ended. The README's outcome table documents each value."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CLOSED_EARLY = "closed_early"
    ABANDONED = "abandoned"
    SHUTDOWN = "shutdown"


class Operation(enum.Enum):
    """What a run is: an agent's run, a workflow of agents, or one tool call (gen_ai.operation.name).

    All three share the lifecycle (one span, ended once, with the outcome table); they differ in the
    span's name and attributes and in their duration metric. Only agent runs carry the provider, model,
    usage, token and time-to-first-chunk metrics and the content event.
    """

    AGENT = semconv.INVOKE_AGENT
    WORKFLOW = semconv.INVOKE_WORKFLOW
    TOOL = semconv.EXECUTE_TOOL


# The members as module globals, read so here and in the modules that import them: on CPython 3.11 a member
# read off its class (`Outcome.COMPLETED`) passes the enum metaclass's attribute hook, about 0.11 us (1k
# instructions) against 0.01 us for a global, and runs read several. `.value` costs 0.2 us; `_value_` is the
# plain attribute behind it.
COMPLETED, FAILED, CANCELLED = Outcome.COMPLETED, Outcome.FAILED, Outcome.CANCELLED
CLOSED_EARLY, ABANDONED, SHUTDOWN = Outcome.CLOSED_EARLY, Outcome.ABANDONED, Outcome.SHUTDOWN
AGENT, WORKFLOW, TOOL = Operation.AGENT, Operation.WORKFLOW, Operation.TOOL


@dataclass
class RequestFacts:
    """What the adapter read from the call, before the run starts."""

    operation: Operation = AGENT
    # The span is named after agent_name, workflow_name or tool_name, by operation.
    agent_name: str | None = None
    agent_description: str | None = None
    request_model: str | None = None
    # gen_ai.provider.name (semconv.provider_name of what the framework knows); None records _OTHER.
    provider_name: str | None = None
    conversation_id: str | None = None
    # Further gen_ai.request.* attributes (temperature, max_tokens, ...).
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    # Only filled when content capture is on: conventions' message JSON shapes.
    input_messages: list[dict[str, Any]] | None = None
    system_instructions: list[dict[str, Any]] | None = None
    workflow_name: str | None = None
    tool_name: str | None = None
    tool_type: str | None = None  # semconv.TOOL_TYPE_*
    tool_description: str | None = None
    tool_call_id: str | None = None  # the framework's own id, never one we make up
    # Only filled when content capture is on: the call's arguments as the framework holds them (JSON text).
    tool_arguments: str | None = None


@dataclass
class ResultFacts:
    """What the adapter read from the run's result or the updates the consumer already pulled."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    finish_reasons: list[str] | None = None
    response_id: str | None = None
    conversation_id: str | None = None
    output_messages: list[dict[str, Any]] | None = None
    # A failure the framework returned as a value (a status field, an error event) instead of raising.
    error_type: str | None = None
    error_message: str | None = None
    # Only filled when content capture is on: a tool call's result (JSON text or its string form).
    tool_result: str | None = None
    # The tokens are also in an enclosing run's usage (a handed-off agent's share of its run, a nested run
    # the framework adds to its caller's): on the span, but no token-usage points, so their sum counts
    # every token once.
    tokens_in_enclosing_run: bool = False


class Telemetry:
    """Tracer, instruments and configuration, bound once per `instrument()`."""

    __slots__ = (
        "capture_on_span",
        "config",
        "duration",
        "event_logger",
        "time_to_first_chunk",
        "token_usage",
        "tool_duration",
        "tracer",
        "workflow_duration",
    )

    def __init__(
        self,
        config: Config,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        logger_provider: LoggerProvider | None = None,
    ) -> None:
        self.config = config
        self.capture_on_span = config.capture_content.on_span
        self.tracer: Tracer = trace.get_tracer(
            "otel_agent_instrumentation", __version__, tracer_provider=tracer_provider
        )
        try:
            meter = get_meter("otel_agent_instrumentation", __version__, meter_provider=meter_provider)
            self._create_instruments(meter)
        except Exception:
            # A broken meter provider costs the metrics, not the spans, and never fails instrument().
            report_failure("creating the agent metrics")
            self._create_instruments(NoOpMeter("otel_agent_instrumentation"))
        self.event_logger: Logger | None = (
            get_logger("otel_agent_instrumentation", __version__, logger_provider=logger_provider)
            if config.capture_content.as_event
            else None
        )

    def _create_instruments(self, meter: Meter) -> None:
        self.duration: Histogram = meter.create_histogram(
            semconv.METRIC_INVOKE_AGENT_DURATION,
            unit="s",
            description="Duration of an agent invocation",
            explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
        )
        self.token_usage: Histogram = meter.create_histogram(
            semconv.METRIC_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Tokens used by an agent invocation",
            explicit_bucket_boundaries_advisory=[float(b) for b in semconv.TOKEN_BUCKETS],
        )
        self.workflow_duration: Histogram = meter.create_histogram(
            semconv.METRIC_WORKFLOW_DURATION,
            unit="s",
            description="Duration of a workflow of agents",
            explicit_bucket_boundaries_advisory=list(semconv.DURATION_BUCKETS),
        )
        self.tool_duration: Histogram = meter.create_histogram(
            semconv.METRIC_EXECUTE_TOOL_DURATION,
            unit="s",
            description="Duration of a tool call",
            explicit_bucket_boundaries_advisory=list(semconv.TOOL_DURATION_BUCKETS),
        )
        self.time_to_first_chunk: Histogram = meter.create_histogram(
            semconv.METRIC_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time from the start of a streamed agent invocation to its first update",
            explicit_bucket_boundaries_advisory=list(semconv.TIME_TO_FIRST_CHUNK_BUCKETS),
        )


# Invocations started and not yet finished; at interpreter exit the remaining ones are ended with
# Outcome.SHUTDOWN, before the providers' own exit hooks flush them (see `end_open_invocations`).
# A dict, not a set: `pop` tells the one caller that removed an invocation apart from the others, in one
# atomic operation, which makes `finish` exactly-once across threads without a lock.
_open_invocations: dict[Invocation, None] = {}
_exit_hook_lock = threading.Lock()
_exit_hook_registered = False
# False from instrument() until the first run moves the hook behind providers created in between.
_exit_hook_settled = True


_NOT_OPEN = object()


def open_invocation_count() -> int:
    """How many invocations are started and not finished (for tests and soak checks)."""
    return len(_open_invocations)


def end_open_invocations() -> None:
    """End every open invocation with Outcome.SHUTDOWN; runs at interpreter exit."""
    for invocation in list(_open_invocations):
        invocation.finish(SHUTDOWN)


def register_exit_hook() -> None:
    """Register `end_open_invocations` with atexit once.

    atexit runs hooks last-in first-out; registering at `instrument()` time, after the application
    created its TracerProvider (whose own hook shuts it down), makes ours run first.
    """
    global _exit_hook_registered, _exit_hook_settled
    with _exit_hook_lock:
        if not _exit_hook_registered:
            atexit.register(end_open_invocations)
            _exit_hook_registered = True
        _exit_hook_settled = False


def _settle_exit_hook() -> None:
    """Register the exit hook again at the first run after `instrument()`.

    An application that builds its TracerProvider after `instrument()` registers the provider's
    shutdown after our hook, so it would run first and a BatchSpanProcessor would drop the spans we
    end at exit (opentelemetry-sdk 1.45 `BatchProcessor.emit`, "Shutdown called, ignoring span").
    By the first run the provider exists in practice; registering again puts our hook before it.
    """
    global _exit_hook_settled
    with _exit_hook_lock:
        if not _exit_hook_settled:
            atexit.unregister(end_open_invocations)
            atexit.register(end_open_invocations)
            _exit_hook_settled = True


def active_invocation() -> Invocation | None:
    """The invocation whose code is running in the current context, if any."""
    value = current_context().get(ACTIVE_INVOCATION_KEY)
    return value if isinstance(value, Invocation) else None


def _message(error: BaseException) -> str | None:
    """The error's message for the span status; an exception whose __str__ raises costs the message only."""
    try:
        return str(error) or None
    except Exception:
        return None


def _messages_json(messages: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(messages), ensure_ascii=False, default=str)


class Invocation:
    """One run: an agent's, a workflow's or a tool call's (RequestFacts.operation). `finish()` is the only
    way to end its span, and it acts once."""

    __slots__ = (
        "__weakref__",
        "_metric_attributes",
        "_start",
        "_telemetry",
        "context",
        "finished",
        "first_chunk_at",
        "noted",
        "observe_update",
        "owner",
        "reentry_key",
        "request",
        "span",
        "step",
    )

    def __init__(
        self, telemetry: Telemetry, request: RequestFacts, owner: object, reentry_key: str | None = None
    ) -> None:
        if not _exit_hook_settled:
            _settle_exit_hook()
        self._telemetry = telemetry
        self.request = request
        # The object whose run this is and the key of the targets that are layers of it; the re-entry
        # guard compares both (runs.py).
        self.owner = owner
        self.reentry_key = reentry_key
        self.finished = False  # set only by finish()
        self.first_chunk_at: float | None = None
        # An adapter's fold of each update the consumer receives, for frameworks whose streams keep
        # nothing they yielded (called after the pull, with the span no longer current).
        self.observe_update: Callable[[Any], None] | None = None
        # What an adapter's hooks noted for this run (agno: the arguments its dispatcher handed the stream it
        # returns; OpenAI Agents: the run's handoffs), read by its result handler or later hooks. A slot of the
        # run rather than a weak-keyed map of runs, whose reads and writes cost about 0.2-1 us each.
        self.noted: Any = None
        operation = request.operation
        operation_name = operation._value_
        # What the span is named after (written out here, as the context below is, rather than helpers: a
        # Python call each on every run's path).
        subject = (
            request.agent_name
            if operation is AGENT
            else request.tool_name
            if operation is TOOL
            else request.workflow_name
        )
        # Sampling-relevant attributes go in at start; the metrics' attributes are a subset of them.
        attributes: dict[str, AttributeValue] = {semconv.GEN_AI_OPERATION_NAME: operation_name}
        if subject:
            # Not a dict keyed by the enum: an Enum's __hash__ is a Python call.
            attributes[
                semconv.GEN_AI_AGENT_NAME
                if operation is AGENT
                else semconv.GEN_AI_TOOL_NAME
                if operation is TOOL
                else semconv.GEN_AI_WORKFLOW_NAME
            ] = subject
        if operation is AGENT:
            attributes[semconv.GEN_AI_PROVIDER_NAME] = request.provider_name or semconv.PROVIDER_OTHER
            if request.request_model:
                attributes[semconv.GEN_AI_REQUEST_MODEL] = request.request_model
            self._metric_attributes = attributes
        elif operation is TOOL:
            self._metric_attributes = attributes.copy()
            if request.tool_type:
                attributes[semconv.GEN_AI_TOOL_TYPE] = self._metric_attributes[semconv.GEN_AI_TOOL_TYPE] = (
                    request.tool_type
                )
            if request.tool_call_id:
                attributes[semconv.GEN_AI_TOOL_CALL_ID] = request.tool_call_id
            if request.tool_description:
                attributes[semconv.GEN_AI_TOOL_DESCRIPTION] = request.tool_description
        else:
            self._metric_attributes = attributes
        parent = current_context()
        try:
            self.span: Span = telemetry.tracer.start_span(
                f"{operation_name} {subject}" if subject else operation_name,
                context=parent,
                kind=SpanKind.INTERNAL,
                attributes=attributes,
            )
        except Exception:
            # A broken tracer (a span processor raising in on_start) costs the span, not the run's
            # handling: the invocation still owns the run, so the re-entry guard and the stand-down of
            # a framework's own span (which would meet the same broken tracer) work as usual, and the
            # run's children keep the caller's span as their parent.
            report_failure("starting the agent span")
            self.span = trace.NonRecordingSpan(trace.get_current_span(parent).get_span_context())
        # The call-time context: the run's span and this invocation on top of the caller's context.
        self.context: Context = Context({**parent, SPAN_KEY: self.span, ACTIVE_INVOCATION_KEY: self})
        # (base, context made from it) for the latest step: see step_context(). One tuple, so that a
        # reader on another thread never pairs one step's base with another's context.
        self.step: tuple[Context, Context] = (parent, self.context)
        self._start = time.perf_counter()
        _open_invocations[self] = None

    def attach(self) -> object:
        """Make this run's span current for one step; pair with `detach` in the same frame."""
        return attach_context(self.step_context())

    def step_context(self) -> Context:
        """The context one step of the run (the call, a pull, a close) runs in: the run's span and this
        invocation on top of whatever is current where the step is taken, so baggage set or
        instrumentation suppressed by the consumer around a pull is seen by the agent's code, as it
        would be without us. Cached by the base context, which is usually the same object every pull."""
        base = current_context()
        step = self.step
        return step[1] if step[0] is base else self.context_on(base)

    def context_on(self, base: Context) -> Context:
        # set_span_in_context and set_value at once (each would copy the base; Context forbids item writes),
        # as __init__ makes the call-time context.
        context = Context({**base, SPAN_KEY: self.span, ACTIVE_INVOCATION_KEY: self})
        self.step = (base, context)
        return context

    @staticmethod
    def detach(token: object) -> None:
        detach_context(token)  # token came from attach(), in the same frame

    def mark_first_chunk(self) -> None:
        if self.first_chunk_at is None:
            self.first_chunk_at = time.perf_counter()

    def finish(
        self,
        outcome: Outcome,
        error: BaseException | None = None,
        result: ResultFacts | None = None,
    ) -> None:
        """End the span and record metrics, once. Never raises."""
        if self.finished:
            return
        # The exit hook, a consumer thread and a loop callback can reach here at once: only the caller
        # that takes the invocation out of the open set ends it (a check-then-set of `finished` alone
        # would let two of them through).
        if _open_invocations.pop(self, _NOT_OPEN) is _NOT_OPEN:
            return
        self.finished = True
        span = self.span
        try:
            duration = time.perf_counter() - self._start
            operation = self.request.operation
            telemetry = self._telemetry
            if error is None and result is None and operation is not AGENT and not telemetry.capture_on_span:
                # A tool call or workflow that ended with nothing to read (every tool call that returns, with
                # content capture off): what _apply and _record_metrics do for it, without their two calls.
                if span.is_recording():
                    span.set_attributes({semconv.OUTCOME: outcome._value_})
                histogram = telemetry.tool_duration if operation is TOOL else telemetry.workflow_duration
                histogram.record(duration, self._metric_attributes, self.context)
            else:
                self._record_metrics(duration, self._apply(outcome, error, result), result)
        except Exception:
            report_failure("finishing the agent span")
        finally:
            try:
                span.end()
            except Exception:
                report_failure("ending the agent span")

    def _apply(self, outcome: Outcome, error: BaseException | None, result: ResultFacts | None) -> str | None:
        """Set the span's attributes and status; return error.type for the metrics."""
        span = self.span
        error_type: str | None = None
        description: str | None = None
        if error is not None:
            error_type = semconv.error_type(error)
            description = _message(error)
        elif result is not None and result.error_type:
            error_type = result.error_type
            description = result.error_message
            if outcome is COMPLETED:
                outcome = FAILED  # the run ended, with a failure the framework returned as a value
        recording = span.is_recording()
        request = self.request
        is_agent = request.operation is AGENT
        if recording:
            attributes: dict[str, AttributeValue] = {semconv.OUTCOME: outcome._value_}
            if is_agent:
                attributes.update(request.attributes)
                if request.agent_description:
                    attributes[semconv.GEN_AI_AGENT_DESCRIPTION] = request.agent_description
                conversation_id = (result.conversation_id if result else None) or request.conversation_id
                if conversation_id:
                    attributes[semconv.GEN_AI_CONVERSATION_ID] = conversation_id
                if result is not None:
                    # Written out here, not a method and a comprehension: two Python frames a run.
                    for key, count in (
                        (semconv.GEN_AI_USAGE_INPUT_TOKENS, result.input_tokens),
                        (semconv.GEN_AI_USAGE_OUTPUT_TOKENS, result.output_tokens),
                        (semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, result.cache_read_input_tokens),
                        (semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, result.cache_creation_input_tokens),
                    ):
                        # Checked in place, no call a count: a str or None from an odd usage object must not be
                        # put on the span; bool is not a count.
                        if isinstance(count, int) and not isinstance(count, bool):
                            attributes[key] = count  # noqa: PERF403  (a comprehension is a frame on 3.11)
                    if result.response_id is not None:
                        attributes[semconv.GEN_AI_RESPONSE_ID] = result.response_id
                    if result.finish_reasons:
                        attributes[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = result.finish_reasons
            if self._telemetry.capture_on_span:
                self._content_attributes(result, attributes)
            if error_type:
                attributes[semconv.ERROR_TYPE] = error_type
            span.set_attributes(attributes)
            if error is not None:
                try:
                    span.record_exception(error)
                except Exception:  # the SDK formats the exception: one whose __str__ raises costs the event
                    report_failure("recording the run's exception")
        if error_type:
            span.set_status(Status(StatusCode.ERROR, description))
        if is_agent and self._telemetry.event_logger is not None:
            self._emit_content_event(result)
        return error_type

    def _content_attributes(self, result: ResultFacts | None, attributes: dict[str, AttributeValue]) -> None:
        request = self.request
        if request.operation is TOOL:
            if request.tool_arguments is not None:
                attributes[semconv.GEN_AI_TOOL_CALL_ARGUMENTS] = request.tool_arguments
            if result is not None and result.tool_result is not None:
                attributes[semconv.GEN_AI_TOOL_CALL_RESULT] = result.tool_result
            return
        if request.input_messages:
            attributes[semconv.GEN_AI_INPUT_MESSAGES] = _messages_json(request.input_messages)
        if request.system_instructions:
            attributes[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = _messages_json(request.system_instructions)
        if result is not None and result.output_messages:
            attributes[semconv.GEN_AI_OUTPUT_MESSAGES] = _messages_json(result.output_messages)

    def _emit_content_event(self, result: ResultFacts | None = None) -> None:
        logger = self._telemetry.event_logger
        if logger is None:
            return
        request = self.request
        attributes: dict[str, AttributeValue] = {semconv.GEN_AI_OPERATION_NAME: semconv.INVOKE_AGENT}
        if request.agent_name:
            attributes[semconv.GEN_AI_AGENT_NAME] = request.agent_name
        self._content_attributes(result, attributes)
        logger.emit(
            event_name=semconv.EVENT_OPERATION_DETAILS,
            attributes=attributes,
            context=self.context,
        )

    def _record_metrics(self, duration: float, error_type: str | None, result: ResultFacts | None) -> None:
        telemetry = self._telemetry
        request = self.request
        # Exemplars point at this run's span, not at whatever is current where the run ends.
        context = self.context
        attributes = self._metric_attributes
        operation = request.operation
        if operation is not AGENT:
            if error_type:
                attributes = {**attributes, semconv.ERROR_TYPE: error_type}
            histogram = telemetry.tool_duration if operation is TOOL else telemetry.workflow_duration
            histogram.record(duration, attributes, context)
            return
        if self.first_chunk_at is not None:
            telemetry.time_to_first_chunk.record(self.first_chunk_at - self._start, attributes, context)
        if result is not None and not result.tokens_in_enclosing_run:
            for token_type, count in (
                (semconv.TOKEN_TYPE_INPUT, result.input_tokens),
                (semconv.TOKEN_TYPE_OUTPUT, result.output_tokens),
            ):
                # As on the span; a str would also cost the duration metric (the SDK histogram raises on it).
                if isinstance(count, int) and not isinstance(count, bool):
                    telemetry.token_usage.record(count, {**attributes, semconv.GEN_AI_TOKEN_TYPE: token_type}, context)
        if error_type:
            attributes = {**attributes, semconv.ERROR_TYPE: error_type}
        telemetry.duration.record(duration, attributes, context)


# The name adapters used before workflow and tool runs shared the lifecycle.
AgentInvocation = Invocation

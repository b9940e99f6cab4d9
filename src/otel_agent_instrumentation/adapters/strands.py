"""Strands Agents (PyPI `strands-agents`), checked against 1.61.1.

Targets: `Agent.__call__`, `invoke_async`, `stream_async`, `structured_output` and `structured_output_async`.
Every run passes `stream_async` (an async generator): `__call__` runs `_invoke_async_and_flush -> invoke_async`
in a worker thread (`strands._async.run_async`, which copies the caller's context into it) and `invoke_async`
iterates `stream_async`; the deprecated `structured_output -> structured_output_async` path is the one that does
not. The core's re-entry guard makes each chain one span; the span starts at the user's call, so a sync run's
span also covers the memory flush `__call__` adds. Another agent's run inside a run (an agent used as a tool,
`agent.as_tool()` or a tool body that calls one) is a child span, under Strands' `execute_tool` span.

`stream_async` comes back proxied (the core's `trace_stream` with `carry_context`; still an async generator to
`isinstance` and duck typing).
The span ends with what the consumer does to it: the end, a pull that raises, cancellation, `aclose()`, or the
proxy collected (abandoned); nothing we do pulls, closes or finalizes it. Strands sets context of its own in the
generator and leaves it set across yields (its run baggage, then its agent, cycle, model and tool spans through
`trace.use_span`): without us the consumer's context holds it between pulls, and the next pull resumes in it.
The proxy restores the consumer's context after every pull (the caller's span is unchanged between updates) and
resumes each pull in the context the previous one left (what Strands set on top of our step context is carried to
the next step's context: `CarryingStreamProxy`), so code running in a later pull (a model's stream, a tool, an
LLM-client instrumentation) sees Strands' current span as it would without us. The run's result is noted from its
last update (`{"result": AgentResult}`) as the consumer pulls it.

Strands' invocation lock: `stream_async` takes the agent's lock (`ConcurrentInvocationMode.THROW`, the default)
at its first pull and releases it only in its own `finally`. A stream the consumer drops without closing holds
the lock until asyncio's async-generator finalizer closes it (scheduled on the loop when the generator is
collected); a call made before that raises `ConcurrencyException`, with or without us. The proxy keeps the
generator alive exactly as long as the consumer keeps the proxy (the proxy holds no other reference), so
it changes neither when the generator is collected nor when the lock is released. Close streams you stop
reading (`await stream.aclose()`).

Facts: `gen_ai.agent.name`/`description` (`Agent.name`, "Strands Agents" when unset, `description`),
`gen_ai.request.model` (`model.config["model_id"]`, as Strands' own spans read it), `gen_ai.provider.name` from the
model class (`OpenAIModel`/`OpenAIResponsesModel` `openai`, `BedrockModel` `aws.bedrock`, `AnthropicModel`
`anthropic`, `GeminiModel` `gcp.gemini`, `MistralModel` `mistral_ai`, `LiteLLMModel` the `provider/` prefix of
its model id; others `_OTHER`), `gen_ai.conversation.id` (the session manager's `session_id`, only when one is
attached: without one Strands' `session_id` is a random id per agent object). Usage: the run's own
`AgentInvocation` in `agent.event_loop_metrics` (not `accumulated_usage`, the agent's lifetime total that
Strands' own agent span records by default): for a run that returned its result, the agent's latest invocation
when it returned; for a stream or coroutine run that failed, was closed or cancelled, the one `stream_async`
appended when it started (found by its index, taken when the call returned), i.e. the model calls it made.
Input tokens are counted as Strands counts them (`_total_prompt_tokens`: cache reads and writes included when
reported beside `inputTokens`). The finish reason is the result's `stop_reason`. A sync `__call__` that raises
records no usage; `structured_output(_async)` records none (Strands keeps none for it). With
`ConcurrentInvocationMode.UNSAFE_REENTRANT` and overlapping runs of one agent, usage can be another run's.

Strands' own telemetry (`strands.telemetry.tracer`) puts its spans on the global tracer provider: an
`invoke_agent` span per run, `execute_event_loop_cycle` per cycle, `chat` per model call and `execute_tool` per
tool call, each parented explicitly (cycle -> `agent.trace_span`, chat and tool -> the cycle span). Unless
`keep_framework_spans` is set, while our span owns a run its `invoke_agent` span is replaced by ours: the span
`Agent._start_agent_trace_span` returns (and so `agent.trace_span`, what `use_span` makes current, the cycle
spans' parent) is `_StoodDownAgentSpan`, a stand-in with our span's context, so its cycle, chat and tool spans
are children of ours. We add no `execute_tool` spans (Strands has its own). What the bypassed code does (agent.py
`stream_async`, `_start_agent_trace_span`, `_end_agent_trace_span`; tracer.py `start_agent_span`,
`end_agent_span`, `end_span_with_cancellation`, 1.61.1), and what becomes of each step:

1. `_start_agent_trace_span` reads `model.config`, `tool_names`, `system_prompt(_content)` and
   `tool_registry.get_all_tools_config()` (which can raise for a broken tool registry, failing the run). Kept:
   the method runs whole; only `Tracer.start_agent_span` (attributes and events of their span, nothing else)
   returns the stand-in instead of starting a span. (test_stood_down_run_still_reads_the_tool_registry)
2. `self.trace_span = ...`: the agent's public `trace_span` attribute, which the event loop uses as the cycle
   spans' parent and app code may read. Kept: it is the stand-in, whose context is our span's.
   (test_agent_trace_span_is_our_span_during_the_run)
3. `trace.use_span(self.trace_span)` makes the agent span current for the run (what hooks, tools and the model
   see as current, the parent of spans started without an explicit one). Kept: the stand-in is made current,
   and it stands for our span; writes the app makes on it while the run goes on (`trace.get_current_span()
   .set_attribute(...)` in a hook or callback handler) go to our span. `use_span` recording the run's exception
   on it is dropped (our span records the failure itself). (test_app_attribute_on_the_current_span_lands_on_ours)
4. `trace_attributes` (the `Agent(trace_attributes=...)` the app asked for on the agent span; Strands also puts
   them on its cycle, chat and tool spans): kept, set on our span (they do not replace our own `gen_ai.*`
   identity attributes or the outcome). (test_trace_attributes_are_on_our_span)
5. Baggage (`baggage_attributes`) is attached by `stream_async` itself, around the span's start and the run,
   not by the span code: untouched. (test_baggage_attributes_reach_the_tools_as_bare)
6. `_end_agent_trace_span` -> `end_agent_span` / `end_span_with_cancellation`: the span's end time, output
   event, usage attributes (read from `response.metrics`: `accumulated_usage`, all of the agent's runs, or
   `latest_agent_invocation` under `gen_ai_use_latest_invocation_tokens`; nothing accumulated there), status and
   end; a `logger.warning` under that opt-in when there is no invocation. Telemetry only: skipped on the
   stand-in. Our span records this run's usage, status and outcome. (test_usage_is_the_runs_own)

Hooks (`BeforeInvocationEvent`, `AfterInvocationEvent`, ...), the callback handler, the lock and the idempotency
bookkeeping are outside the span code and run as without us (test_hooks_and_callbacks_fire_as_bare).
With `keep_framework_spans=True` nothing of Strands' is touched: its `invoke_agent` span is a child of ours.

Multi-agent orchestrations (`strands.multiagent`): `Swarm` and `Graph` have no model of their own, so a run of
one is `invoke_workflow {id}` (`Swarm(id=...)`, `GraphBuilder.set_graph_id`; "default_swarm"/"default_graph"
when unset), through their `__call__`, `invoke_async` and `stream_async` (the stream proxied as above); each node
agent's run is an `invoke_agent` child (a Swarm's handoffs are Strands' `execute_tool handoff_to_agent` spans in
the agent that hands off). Strands' own `invoke_swarm`/`invoke_graph` span (`Tracer.start_multiagent_span`:
attributes and an input event, telemetry only; `use_span(..., end_on_exit=True)` around the run) is replaced the
same way by a stand-in with our span's context whose writes are dropped; the orchestration's `trace_attributes`
go to our workflow span. With `keep_framework_spans=True` theirs is a child of ours.
(test_a_swarm_is_a_workflow_span_with_its_agents_under_it, test_a_graph_is_a_workflow_span_with_its_agents_under_it)

Known difference: a warning Strands raises with `stacklevel=2` directly in a wrapped method (the deprecation
warning of `structured_output`) is attributed to the core's run wrapper (runs.py) instead of the caller's line,
and one raised in `stream_async`'s body (its `**kwargs` deprecation) to the proxy's `__anext__` when the app
iterates the stream itself; a module-scoped warning filter (`default::DeprecationWarning:__main__`) then no longer
matches it. The same holds for every adapter's wrapped methods; not fixed here.

Strands' `Tracer()` (its first agent) calls `ThreadingInstrumentor().instrument()`, globally; we neither rely on
it (the sync path's thread gets the context from `run_async`'s `copy_context`) nor undo it in `uninstrument()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry.trace import Span

from .. import semconv
from ..config import Config
from ..invocation import (
    WORKFLOW,
    AgentInvocation,
    Outcome,
    RequestFacts,
    ResultFacts,
    Telemetry,
    active_invocation,
)
from ..stream import trace_result, trace_stream
from ._base import FrameworkAdapter, HookTarget, RunTarget, Target, is_mapping
from ._stand_in import StandInSpan

name = "strands"
distribution = "strands-agents"
supported = ">=1.61,<2"

# The model class's module -> gen_ai.provider.name (a subclass counts as its nearest Strands provider class).
_PROVIDERS = {
    "strands.models.openai": "openai",
    "strands.models.openai_responses": "openai",
    "strands.models.bedrock": "aws.bedrock",
    "strands.models.anthropic": "anthropic",
    "strands.models.gemini": "gcp.gemini",
    "strands.models.mistral": "mistral_ai",
}
_LITELLM = "strands.models.litellm"

# Our own attributes, which an agent's trace_attributes do not replace.
_RESERVED = frozenset(
    {
        semconv.GEN_AI_OPERATION_NAME,
        semconv.GEN_AI_PROVIDER_NAME,
        semconv.GEN_AI_AGENT_NAME,
        semconv.GEN_AI_REQUEST_MODEL,
        semconv.OUTCOME,
        semconv.ERROR_TYPE,
    }
)


def _model_id(model: Any) -> str | None:
    # As Strands' own spans read it (agent.py _start_agent_trace_span).
    config = getattr(model, "config", None)
    value = config.get("model_id") if is_mapping(config) else None
    return value if isinstance(value, str) and value else None


def _provider(model: Any, model_id: str | None) -> str | None:
    for klass in type(model).__mro__:
        module = klass.__module__
        if module == _LITELLM:
            prefix, slash, _ = (model_id or "").partition("/")
            return semconv.provider_name(prefix) if slash else None
        provider = _PROVIDERS.get(module)
        if provider is not None:
            return provider
    return None


def _text_of(content: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in content or ():
        if not isinstance(block, Mapping):
            continue
        if "text" in block:
            parts.append({"type": "text", "content": block["text"]})
        elif "toolUse" in block:
            use = block["toolUse"]
            parts.append(
                {
                    "type": "tool_call",
                    "id": use.get("toolUseId"),
                    "name": use.get("name"),
                    "arguments": use.get("input"),
                }
            )
        elif "toolResult" in block:
            result = block["toolResult"]
            parts.append(
                {"type": "tool_call_response", "id": result.get("toolUseId"), "response": result.get("content")}
            )
    return parts


def _input_messages(prompt: Any) -> list[dict[str, Any]] | None:
    if isinstance(prompt, str):
        return [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]
    if isinstance(prompt, list) and prompt and all(isinstance(item, Mapping) for item in prompt):
        if all("role" in item for item in prompt):  # Messages
            return [{"role": str(item["role"]), "parts": _text_of(item.get("content"))} for item in prompt]
        return [{"role": "user", "parts": _text_of(prompt)}]  # ContentBlocks
    return None


def read_request(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    model = getattr(agent, "model", None)
    model_id = _model_id(model)
    agent_name = getattr(agent, "name", None)
    description = getattr(agent, "description", None)
    session_manager = getattr(agent, "_session_manager", None)
    session_id = getattr(session_manager, "session_id", None) if session_manager is not None else None
    facts = RequestFacts(
        agent_name=agent_name if isinstance(agent_name, str) else None,
        agent_description=description if isinstance(description, str) and description else None,
        request_model=model_id,
        provider_name=_provider(model, model_id),
        conversation_id=session_id if isinstance(session_id, str) and session_id else None,
    )
    trace_attributes = getattr(agent, "trace_attributes", None)
    if is_mapping(trace_attributes):
        facts.attributes.update(
            {key: value for key, value in trace_attributes.items() if isinstance(key, str) and key not in _RESERVED}
        )
    if config.capture_content.enabled:
        # structured_output(output_model, prompt): the prompt is the second argument there.
        prompt = kwargs.get("prompt", args[0] if args else None)
        if isinstance(prompt, type) and len(args) > 1:
            prompt = args[1]
        facts.input_messages = _input_messages(prompt)
        system_prompt = getattr(agent, "system_prompt", None)
        if isinstance(system_prompt, str) and system_prompt:
            facts.system_instructions = [{"type": "text", "content": system_prompt}]
    return facts


def _usage_facts(facts: ResultFacts, usage: Any) -> None:
    if not is_mapping(usage):
        return
    input_tokens = usage.get("inputTokens")
    output_tokens = usage.get("outputTokens")
    total = usage.get("totalTokens")
    cache_read = usage.get("cacheReadInputTokens")
    cache_write = usage.get("cacheWriteInputTokens")
    if isinstance(input_tokens, int) and isinstance(output_tokens, int) and isinstance(total, int):
        # Strands' _total_prompt_tokens: providers fold cached tokens into inputTokens or report them beside it.
        if input_tokens + output_tokens != total:
            input_tokens += (cache_read or 0) + (cache_write or 0)
    facts.input_tokens = input_tokens if isinstance(input_tokens, int) else None
    facts.output_tokens = output_tokens if isinstance(output_tokens, int) else None
    facts.cache_read_input_tokens = cache_read if isinstance(cache_read, int) else None
    facts.cache_creation_input_tokens = cache_write if isinstance(cache_write, int) else None


def _facts(invocation_metrics: Any, result: Any, capture: bool) -> ResultFacts:
    facts = ResultFacts()
    _usage_facts(facts, getattr(invocation_metrics, "usage", None))
    stop_reason = getattr(result, "stop_reason", None)
    if isinstance(stop_reason, str):
        facts.finish_reasons = [stop_reason]
    if capture and result is not None:
        message = getattr(result, "message", None)
        if isinstance(message, Mapping):
            output: dict[str, Any] = {
                "role": str(message.get("role", "assistant")),
                "parts": _text_of(message.get("content")),
            }
            if isinstance(stop_reason, str):
                output["finish_reason"] = stop_reason
            facts.output_messages = [output]
    return facts


def _is_agent_result(value: Any) -> bool:
    return type(value).__name__ == "AgentResult" and hasattr(value, "metrics")


def make_result_reader(config: Config) -> Callable[[Any, Outcome], ResultFacts | None]:
    """For `__call__` and the structured-output methods: the returned value, once the run returned."""
    capture = config.capture_content.enabled

    def read_result(value: Any, outcome: Outcome) -> ResultFacts | None:
        if not _is_agent_result(value):
            return None
        return _facts(getattr(value.metrics, "latest_agent_invocation", None), value, capture)

    return read_result


class _RunReader:
    """Reads one run's facts from its agent: the run's own `AgentInvocation` (the one `stream_async` appends at
    its start, found by its index, which is known before the run starts) and the result the consumer received."""

    __slots__ = ("agent", "capture", "result", "start")

    def __init__(self, agent: Any, capture: bool) -> None:
        self.agent = agent
        self.capture = capture
        self.result: Any = None
        invocations = getattr(getattr(agent, "event_loop_metrics", None), "agent_invocations", None)
        self.start = len(invocations) if isinstance(invocations, list) else None

    def run_metrics(self) -> Any:
        invocations = getattr(getattr(self.agent, "event_loop_metrics", None), "agent_invocations", None)
        start = self.start
        if start is None or not isinstance(invocations, list) or len(invocations) <= start:
            return None  # the run never started (failed at its first step, or nothing was pulled)
        return invocations[start]

    def observe(self, update: Any) -> None:
        if type(update) is dict and "result" in update:
            self.result = update["result"]  # the run's last event: {"result": AgentResult}

    def __call__(self, value: Any, outcome: Outcome) -> ResultFacts | None:
        result = value if _is_agent_result(value) else self.result
        if result is not None:
            # The run just returned its result: the agent's latest invocation is this run's (also when the
            # coroutine was created before other runs of the agent, which moves the index).
            return _facts(getattr(result.metrics, "latest_agent_invocation", None), result, self.capture)
        return _facts(self.run_metrics(), None, self.capture)


# -- the stream ----------------------------------------------------------------------------------------------


def make_stream_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def handle_stream(result: Any, invocation: AgentInvocation) -> Any:
        reader = _RunReader(invocation.owner, capture)
        if not hasattr(type(result), "__anext__"):  # a subclass's stream_async that returns something else
            return trace_result(result, invocation, reader)
        invocation.observe_update = reader.observe
        return trace_stream(result, invocation, reader, carry_context=True)

    return handle_stream


def make_coroutine_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def handle_coroutine(result: Any, invocation: AgentInvocation) -> Any:
        # invoke_async's coroutine has not started: the run's AgentInvocation index is known now.
        return trace_result(result, invocation, _RunReader(invocation.owner, capture))

    return handle_coroutine


# -- Strands' agent span, stood down -------------------------------------------------------------------------


class _StoodDownAgentSpan(StandInSpan):
    """What `Agent._start_agent_trace_span` returns in place of Strands' agent span while ours owns the run.

    It has our span's context (so `use_span` makes ours current and the cycle spans are ours' children), reports
    recording when ours was started recording, and is never ended or exported. Writes made on it while the run
    goes on (app code reaching it as the current span) go to our span; from `_end_agent_trace_span` on (the run
    is over, `use_span` records the run's exception on the way out) they are dropped.
    """

    def __init__(self, ours: Span) -> None:
        super().__init__(ours, forwarding=True)


# The stand-in `Tracer.start_agent_span` hands out next, armed by `_start_agent_trace_span` of a run of ours.
_armed_stand_in: ContextVar[_StoodDownAgentSpan | None] = ContextVar(
    "otel_agent_instrumentation.strands.stand_in", default=None
)


# Each stand-down hook says when it applies (`HookTarget.applies_to`): any other call (a run under suppression, an
# agent not run through us) goes straight to Strands, its arguments not packed for a wrapper. The wrappers still
# tell the same themselves: a target that stays with wrapt calls them whatever the predicate says.


def _runs_as_ours(agent: Any) -> bool:
    """`Agent._start_agent_trace_span`: the agent's run is one of ours."""
    running = active_invocation()
    return running is not None and not running.finished and running.owner is agent


def _stand_in_armed(tracer: Any) -> bool:
    """`Tracer.start_agent_span`: a stand-in is armed for it."""
    stand_in = _armed_stand_in.get()
    return stand_in is not None and stand_in.pending


def _span_stood_down(agent: Any) -> bool:
    """`Agent._end_agent_trace_span`: the agent's span is our stand-in. Its exact class, not isinstance: a Span is
    an ABC, whose check of anything else (Strands' own span, every run not ours) is a Python-level call."""
    return type(getattr(agent, "trace_span", None)) is _StoodDownAgentSpan


def _start_agent_span_stood_down(telemetry: Telemetry) -> Any:
    def wrapper(wrapped: Callable[..., Any], agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        running = active_invocation()
        if running is None or running.finished or running.owner is not agent:
            return wrapped(*args, **kwargs)
        token = _armed_stand_in.set(_StoodDownAgentSpan(running.span))
        try:
            return wrapped(*args, **kwargs)  # everything it reads and computes, as without us (docstring, step 1)
        finally:
            _armed_stand_in.reset(token)

    return wrapper


def _hand_out_stand_in(telemetry: Telemetry) -> Any:
    def wrapper(wrapped: Callable[..., Any], tracer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        stand_in = _armed_stand_in.get()
        if stand_in is None or not stand_in.pending:
            return wrapped(*args, **kwargs)
        stand_in.pending = False
        return stand_in

    return wrapper


def _end_agent_span_stood_down(telemetry: Telemetry) -> Any:
    def wrapper(wrapped: Callable[..., Any], agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        span = getattr(agent, "trace_span", None)
        if type(span) is _StoodDownAgentSpan:  # as _span_stood_down
            span.forwarding = False
            return None  # telemetry only (docstring, step 6)
        return wrapped(*args, **kwargs)

    return wrapper


# -- multi-agent orchestrations: Swarm and Graph ---------------------------------------------------------------


def read_workflow_request(
    orchestration: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config
) -> RequestFacts:
    workflow_id = getattr(orchestration, "id", None)
    return RequestFacts(
        operation=WORKFLOW,
        workflow_name=workflow_id if isinstance(workflow_id, str) and workflow_id else None,
    )


def make_workflow_stream_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    def handle_stream(result: Any, invocation: AgentInvocation) -> Any:
        if not hasattr(type(result), "__anext__"):
            return trace_result(result, invocation)
        return trace_stream(result, invocation, carry_context=True)

    return handle_stream


def _hand_out_workflow_stand_in(telemetry: Telemetry) -> Any:
    """`Tracer.start_multiagent_span` (Swarm and Graph `stream_async`, the `invoke_swarm`/`invoke_graph` span) while
    our workflow span owns the run: a stand-in with our span's context, its writes dropped (the span's input event;
    `use_span(..., end_on_exit=True)` ends it: a no-op). Its `trace_attributes` go to our span."""

    def wrapper(wrapped: Callable[..., Any], tracer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        running = active_invocation()
        if (
            running is None
            or running.finished
            or running.request.operation is not WORKFLOW
            or getattr(running.owner, "tracer", None) is not tracer
        ):
            return wrapped(*args, **kwargs)
        custom = kwargs.get("custom_trace_attributes")
        if isinstance(custom, Mapping) and custom:
            running.span.set_attributes({key: value for key, value in custom.items() if key not in _RESERVED})
        stand_in = _StoodDownAgentSpan(running.span)
        stand_in.forwarding = False
        return stand_in

    return wrapper


def targets(config: Config) -> Sequence[Target]:
    module = "strands.agent.agent"
    reader = make_result_reader(config)
    found: list[Target] = [
        RunTarget(module, "Agent.__call__", read_request, reader),
        RunTarget(module, "Agent.invoke_async", read_request, handle_result=make_coroutine_handler(config)),
        RunTarget(module, "Agent.stream_async", read_request, handle_result=make_stream_handler(config)),
        RunTarget(module, "Agent.structured_output", read_request, reader),
        RunTarget(module, "Agent.structured_output_async", read_request, reader),
    ]
    for orchestration_module, orchestration in (
        ("strands.multiagent.swarm", "Swarm"),
        ("strands.multiagent.graph", "Graph"),
    ):
        found += [
            RunTarget(orchestration_module, f"{orchestration}.__call__", read_workflow_request),
            RunTarget(orchestration_module, f"{orchestration}.invoke_async", read_workflow_request),
            RunTarget(
                orchestration_module,
                f"{orchestration}.stream_async",
                read_workflow_request,
                handle_result=make_workflow_stream_handler(config),
            ),
        ]
    if not config.keep_framework_spans:
        found += [
            HookTarget("strands.telemetry.tracer", "Tracer.start_multiagent_span", _hand_out_workflow_stand_in),
            HookTarget(module, "Agent._start_agent_trace_span", _start_agent_span_stood_down, _runs_as_ours),
            HookTarget("strands.telemetry.tracer", "Tracer.start_agent_span", _hand_out_stand_in, _stand_in_armed),
            HookTarget(module, "Agent._end_agent_trace_span", _end_agent_span_stood_down, _span_stood_down),
        ]
    return found


ADAPTER = FrameworkAdapter(name, distribution, supported, targets)

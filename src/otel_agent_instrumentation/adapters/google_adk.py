"""Google Agent Development Kit (PyPI `google-adk`), checked against 2.13.0.

Targets:
- `Runner.run_async` (an async generator) and `Runner.run` (a generator that runs `run_async` in a thread of
  its own, with a copy of the caller's context taken at the first pull): one `invoke_agent {root agent}` span
  per run, `gen_ai.conversation.id` = the call's `session_id`. `run` -> `run_async` on the same runner is one
  run (the core's re-entry guard; the thread's context is copied from the pull that started it, so the
  guard and the parent are right there). A runner whose root is not an agent (an ADK `Workflow` or another
  node) is not traced here: ADK's own `invoke_workflow` span for it is kept, and the agents in it get ours.
- `BaseAgent.run_async` (an async generator; every agent's run passes through it, `SequentialAgent`,
  `ParallelAgent` and `LoopAgent` included: they are agents that orchestrate agents, so they are
  `invoke_agent` spans with their sub-agents' `invoke_agent` spans as children, as the conventions say).
  The root agent's run inside its runner's run is that run (one span); any other agent's run is a child
  span, also an agent used as a tool (`AgentTool` runs it through a `Runner` of its own: the child
  `invoke_agent` is under ADK's `execute_tool` span). `gen_ai.conversation.id` = the session's id.
- `Runner.run_live` and `BaseAgent.run_live` (bidirectional streaming over a live model connection): the
  same, an async generator per run; ADK opens no run-level span for them, only its agent span (stood down).

The generators come back proxied (the core's stream proxy): each pull runs with our span current, the span
ends with what the consumer did (exhausted, a pull raised, cancelled, `aclose()`/`close()`, dropped and
collected), and we never drive, close or finalize them. Usage (input: prompt + tool-use prompt tokens; output:
candidates + thoughts, as ADK's own token metrics count them), cache-read tokens and finish reasons are folded
from the events the consumer pulled (non-partial events' `usage_metadata`): the run's total, sub-agents
included. A sub-agent's run (any agent run inside an ADK run of ours, except through an `AgentTool`'s own
Runner) has its usage on its span but records no token-usage points (`tokens_in_enclosing_run`): summing the
metric counts every token once. `gen_ai.provider.name` is what ADK's own model spans record for the agent's model (its
`_resolve_gen_ai_provider_name` of the model id; ADK reports `gcp.gemini` for ids that name no provider).

ADK's own telemetry (google/adk/telemetry, on the global TracerProvider, no switch to turn it off) emits
`invoke_workflow {root}` (schema v2, the default; `invocation` under `ADK_TELEMETRY_SCHEMA_VERSION_OPT_IN=1`)
per runner run, `invoke_agent {agent}` per agent run, `generate_content {model}` (and `call_llm` in schema v1)
per model call and `execute_tool {tool}` per tool call. Unless `keep_framework_spans` is set, while our span
owns the run, its run-level and agent spans are stood down: the two context managers that open them,
`_instrumentation.record_invocation` (runner) and `_instrumentation.record_agent_invocation` (agent), are
replaced by copies without the span. Its model and tool spans are kept, as children of ours (they parent on
the context the run's code runs in, which carries our span). What the two do besides the span (read at
2.13.0), and how each step is kept:

`record_agent_invocation(ctx, agent)`:
1. Builds an `_AgentInvocationScope` and publishes it on the context the agent's code runs in (the yielded
   `scope.otel_context`, which `BaseAgent._run_with_lifecycle` hands to `stream_in_scope`), built on the
   context current at the agent's first step: ADK's per-agent token, model-call and tool-call totals
   accumulate into it, and whatever the caller put on that context (baggage, ADK's eval
   `collect_busy_intervals` collector) reaches the agent's code. Kept: the same scope on the same context,
   with our span in place of theirs.
   (test_agent_code_runs_on_the_callers_context_as_bare, test_adk_metrics_are_recorded_as_bare)
2. Records ADK's `gen_ai.invoke_agent.duration` (with `error.type` for an `Exception`) and flushes the
   scope's per-agent metrics (`_flush_invoke_agent_metrics`) when the run ends. Kept: the same calls.
   (test_adk_metrics_are_recorded_as_bare)
Not kept: its span, the span's attributes (`trace_agent_invocation`) and the exception recorded on it.

`record_invocation(entrypoint_node, conversation_id, run_config)`, for an agent entrypoint:
1. Schema v2: opens a root `_WorkflowScope` for the turn (nested ADK workflows and the turn's totals read it
   from the context), flushes its metrics and records `gen_ai.invoke_workflow.duration` at the end. Kept: the
   same scope on the context the runner's code runs in, the same flush and record. Schema v1: its `invocation`
   span only; nothing else to keep. (test_adk_metrics_are_recorded_as_bare)
2. Yields the context the invocation runs under (built on the caller's) and no entrypoint scope (that is for
   a `Workflow` entrypoint, which we do not stand down). Kept: the current context, which carries our span
   (every tree test: ADK's model and tool spans are under ours) and the caller's baggage and collectors
   (test_agent_code_runs_on_the_callers_context_as_bare).
Not kept: its span(s) and their attributes.

With `keep_framework_spans=True` both run as they are: ADK's `invoke_workflow`/`invoke_agent` spans are
children of ours.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from opentelemetry import context as otel_context

from .. import semconv
from .._guard import report_failure
from ..config import Config
from ..invocation import AgentInvocation, Outcome, RequestFacts, ResultFacts, Telemetry, active_invocation
from ..stream import trace_result
from ._base import FrameworkAdapter, HookTarget, RunTarget, Target

name = "google_adk"
distribution = "google-adk"
supported = ">=2.13,<3"


# -- reading the request ---------------------------------------------------------------------------------------


def _model_id(agent: Any) -> str | None:
    """The model id an LlmAgent uses, read without building the model (`canonical_model` would): its own,
    else the nearest ancestor's (sub-agents inherit it), else ADK's default."""
    node = agent
    while node is not None:
        model = getattr(node, "model", None)
        if isinstance(model, str) and model:
            return model
        model_name = getattr(model, "model", None)
        if isinstance(model_name, str) and model_name:
            return model_name
        node = getattr(node, "parent_agent", None)
    if not hasattr(agent, "model"):  # not an LlmAgent: no model of its own
        return None
    default = getattr(type(agent), "_default_model", None)
    return default if isinstance(default, str) and default else None


def _provider(model_id: str | None) -> str | None:
    if model_id is None:
        return None
    from google.adk.telemetry import tracing

    resolve = getattr(tracing, "_resolve_gen_ai_provider_name", None)
    return semconv.provider_name(resolve(model_id)) if callable(resolve) else None


def _text(content: Any) -> str | None:
    parts = getattr(content, "parts", None) or ()
    texts = [part.text for part in parts if isinstance(getattr(part, "text", None), str)]
    return "".join(texts) if texts else None


def _agent_facts(agent: Any, conversation_id: Any, user_content: Any, config: Config) -> RequestFacts:
    agent_name = getattr(agent, "name", None)
    description = getattr(agent, "description", None)
    model_id = _model_id(agent)
    facts = RequestFacts(
        agent_name=agent_name if isinstance(agent_name, str) else None,
        agent_description=description if isinstance(description, str) and description else None,
        request_model=model_id,
        provider_name=_provider(model_id),
        conversation_id=conversation_id if isinstance(conversation_id, str) and conversation_id else None,
    )
    if config.capture_content.enabled:
        text = _text(user_content)
        if text is not None:
            facts.input_messages = [{"role": "user", "parts": [{"type": "text", "content": text}]}]
        instruction = getattr(agent, "instruction", None)
        if isinstance(instruction, str) and instruction:
            facts.system_instructions = [{"type": "text", "content": instruction}]
    return facts


def read_runner_request(runner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    # run_async(*, user_id, session_id, ..., new_message, ...), run(...) and run_live(*, user_id, session_id,
    # live_request_queue, ..., session): keyword-only; run_live's deprecated `session=` carries the id instead.
    session_id = kwargs.get("session_id") or getattr(kwargs.get("session"), "id", None)
    return _agent_facts(runner.agent, session_id, kwargs.get("new_message"), config)


def read_agent_request(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    parent_context = args[0] if args else kwargs.get("parent_context")
    session = getattr(parent_context, "session", None)
    return _agent_facts(agent, getattr(session, "id", None), getattr(parent_context, "user_content", None), config)


# -- which calls are runs --------------------------------------------------------------------------------------


def _is_agent(node: Any) -> bool:
    from google.adk.agents.base_agent import BaseAgent

    return isinstance(node, BaseAgent)


def runner_should_trace(runner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    # A runner rooted at a Workflow (or another non-agent node) runs under ADK's own invoke_workflow span.
    return _is_agent(getattr(runner, "agent", None))


def _is_runners_root(running: AgentInvocation, agent: Any) -> bool:
    """Whether `agent` is the root agent of the runner whose run is `running`. By name: the runner's node
    path runs a copy of its agent (`model_copy` with the agent's mode), and names are unique in an agent tree."""
    from google.adk.runners import Runner

    owner = running.owner
    if not isinstance(owner, Runner):
        return False
    root = owner.agent
    return root is agent or getattr(root, "name", None) == getattr(agent, "name", None)


def agent_should_trace(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    # The root agent's run inside its runner's run is that run: one span.
    running = active_invocation()
    return running is None or running.finished or not _is_runners_root(running, agent)


def _owns(running: AgentInvocation | None, agent: Any) -> bool:
    return running is not None and not running.finished and (running.owner is agent or _is_runners_root(running, agent))


# -- reading the result: what the consumer pulled ---------------------------------------------------------------


class _RunTally:
    """Folds the events the consumer pulls into the run's usage and finish reasons (ADK's generators keep
    nothing they yielded); `observe` runs after each pull, `read` once at the end."""

    __slots__ = ("cache_read", "capture", "in_enclosing_run", "input_tokens", "last_text", "output_tokens", "reasons")

    def __init__(self, capture: bool, in_enclosing_run: bool = False) -> None:
        self.capture = capture
        self.in_enclosing_run = in_enclosing_run
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.cache_read: int | None = None
        self.reasons: list[str] = []
        self.last_text: str | None = None

    def observe(self, event: Any) -> None:
        if getattr(event, "partial", None):
            return
        usage = getattr(event, "usage_metadata", None)
        if usage is not None:
            prompt, tool = usage.prompt_token_count, usage.tool_use_prompt_token_count
            if prompt is not None or tool is not None:
                self.input_tokens = (self.input_tokens or 0) + (prompt or 0) + (tool or 0)
            candidates, thoughts = usage.candidates_token_count, usage.thoughts_token_count
            if candidates is not None or thoughts is not None:
                self.output_tokens = (self.output_tokens or 0) + (candidates or 0) + (thoughts or 0)
            cached = usage.cached_content_token_count
            if cached is not None:
                self.cache_read = (self.cache_read or 0) + cached
        reason = getattr(event, "finish_reason", None)
        if reason is not None:
            reason_text = str(getattr(reason, "value", reason)).lower()
            if reason_text not in self.reasons:
                self.reasons.append(reason_text)
        if self.capture:
            text = _text(getattr(event, "content", None))
            if text is not None and getattr(getattr(event, "content", None), "role", None) == "model":
                self.last_text = text

    def read(self, value: Any, outcome: Outcome) -> ResultFacts:
        facts = ResultFacts(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_input_tokens=self.cache_read,
            finish_reasons=list(self.reasons) or None,
            tokens_in_enclosing_run=self.in_enclosing_run,
        )
        if self.last_text is not None:
            facts.output_messages = [{"role": "assistant", "parts": [{"type": "text", "content": self.last_text}]}]
        return facts


def _in_enclosing_run() -> bool:
    """Whether an agent run starting here is part of an enclosing ADK run of ours: its events flow up into that
    run's (a sub-agent's through its parent agent, any agent's to the runner's consumer), so its tokens are in
    that run's usage too. An AgentTool's agent runs through a Runner of its own, whose events stay in the tool:
    a Runner's run is never counted in an enclosing one."""
    enclosing = active_invocation()  # the caller's: the wrapper has detached ours when the result is handled
    return enclosing is not None and not enclosing.finished and enclosing.reentry_key == name


def make_result_handler(config: Config, agent_run: bool = False) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def handle_result(result: Any, invocation: AgentInvocation) -> Any:
        tally = _RunTally(capture, agent_run and _in_enclosing_run())
        invocation.observe_update = tally.observe
        return trace_result(result, invocation, tally.read)

    return handle_result


# -- ADK's own run and agent spans, stood down (see the module docstring) ---------------------------------------


def _stand_down_agent_span(telemetry: Telemetry) -> Any:
    from google.adk.telemetry import _instrumentation, _metrics, tracing

    # Every name the copy uses, read once: a release that moved one fails here, at instrument() time.
    scope_type = _instrumentation._AgentInvocationScope
    scope_key = _instrumentation._AGENT_INVOCATION_SCOPE_KEY
    record_metrics = _instrumentation._record_agent_metrics
    flush_metrics = _instrumentation._flush_invoke_agent_metrics
    config_of = tracing._telemetry_config_from_invocation_context
    elapsed_s = _metrics.get_elapsed_s

    @contextlib.asynccontextmanager
    async def without_span(ctx: Any, agent: Any) -> AsyncIterator[Any]:
        # record_agent_invocation (telemetry/_instrumentation.py, 2.13.0) without its span.
        start_time = time.monotonic()
        caught_error: Exception | None = None
        scope = scope_type(agent_name=agent.name)
        scope.otel_context = otel_context.set_value(scope_key, scope, otel_context.get_current())
        try:
            yield scope
        except Exception as error:
            caught_error = error
            raise
        finally:
            record_metrics(agent.name, elapsed_s(None, start_time), caught_error)
            flush_metrics(scope, config_of(ctx))

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        agent = args[1] if len(args) > 1 else kwargs.get("agent")
        if not _owns(active_invocation(), agent):
            return wrapped(*args, **kwargs)
        ctx = args[0] if args else kwargs.get("ctx")
        return without_span(ctx, agent)

    return wrapper


def _stand_down_run_span(telemetry: Telemetry) -> Any:
    # Imported here, once: an import statement in the wrapper costs about 8k instructions a call.
    from google.adk.runners import Runner
    from google.adk.telemetry import _instrumentation, _metrics, node_tracing
    from google.adk.telemetry._schema_version import SCHEMA_VERSION_SEMCONV_ALIGNED, resolve_schema_version
    from google.adk.telemetry.context import TelemetryConfig

    scope_type = _instrumentation._WorkflowScope
    scope_key = _instrumentation._WORKFLOW_SCOPE_KEY
    enclosing_scope = _instrumentation._workflow_scope
    flush_metrics = _instrumentation._flush_workflow_metrics
    record_duration = _metrics.record_workflow_invocation_duration
    elapsed_s = _metrics.get_elapsed_s
    _ = node_tracing._use_invoke_workflow_span  # the function copied below: fail at instrument() if it moved

    @contextlib.contextmanager
    def without_span(entrypoint: Any, run_config: Any) -> Iterator[tuple[Any, None]]:
        # record_invocation for an agent entrypoint and node_tracing._use_invoke_workflow_span (2.13.0) without
        # their spans.
        parent = otel_context.get_current()
        if resolve_schema_version() < SCHEMA_VERSION_SEMCONV_ALIGNED:
            yield parent, None  # schema v1: an `invocation` span and nothing else
            return
        workflow_name = entrypoint.name if entrypoint is not None else ""
        enclosing = enclosing_scope(parent)
        nested = enclosing is not None
        telemetry_config = getattr(run_config, "telemetry", None) if run_config is not None else None
        scope = scope_type(
            root_agent_name=enclosing.root_agent_name if enclosing else workflow_name,
            telemetry_config=enclosing.telemetry_config if enclosing else telemetry_config or TelemetryConfig(),
            workflow_name=workflow_name,
            parent=enclosing,
        )
        scope.otel_context = otel_context.set_value(scope_key, scope, parent)
        start_s = time.monotonic()
        try:
            try:
                yield scope.otel_context, None
            finally:
                flush_metrics(scope)
        finally:
            record_duration(
                workflow_name=workflow_name,
                elapsed_s=elapsed_s(None, start_s),
                nested=nested,
                error=sys.exc_info()[1],
            )

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        entrypoint = args[0] if args else kwargs.get("entrypoint_node")
        running = active_invocation()
        try:
            # The runner whose run is ours entering at its root agent, or at the sub-agent its legacy picker
            # routed the turn to.
            ours = (
                running is not None
                and not running.finished
                and isinstance(running.owner, Runner)
                and _is_agent(entrypoint)
                and getattr(getattr(entrypoint, "root_agent", None), "name", None) == running.owner.agent.name
            )
        except Exception:
            report_failure("standing down ADK's run span")
            ours = False
        if not ours:
            return wrapped(*args, **kwargs)
        run_config = args[2] if len(args) > 2 else kwargs.get("run_config")
        return without_span(entrypoint, run_config)

    return wrapper


def targets(config: Config) -> Sequence[Target]:
    handle_result = make_result_handler(config)
    handle_agent_result = make_result_handler(config, agent_run=True)
    found: list[Target] = [
        RunTarget(
            "google.adk.runners",
            f"Runner.{method}",
            read_runner_request,
            should_trace=runner_should_trace,
            handle_result=handle_result,
        )
        for method in ("run_async", "run", "run_live")
    ]
    found += [
        RunTarget(
            "google.adk.agents.base_agent",
            f"BaseAgent.{method}",
            read_agent_request,
            should_trace=agent_should_trace,
            handle_result=handle_agent_result,
        )
        for method in ("run_async", "run_live")
    ]
    if not config.keep_framework_spans:
        instrumentation = "google.adk.telemetry._instrumentation"
        found += [
            HookTarget(instrumentation, "record_agent_invocation", _stand_down_agent_span),
            HookTarget(instrumentation, "record_invocation", _stand_down_run_span),
        ]
    return found


def framework_telemetry(config: Config) -> str:
    """What ADK's own telemetry does here (read from the environment and the global provider, nothing started)."""
    from google.adk.telemetry._schema_version import SCHEMA_VERSION_SEMCONV_ALIGNED, resolve_schema_version
    from opentelemetry import trace

    schema = resolve_schema_version()
    spans = (
        "invoke_workflow, invoke_agent, generate_content, execute_tool"
        if schema >= SCHEMA_VERSION_SEMCONV_ALIGNED
        else "invocation, invoke_agent, call_llm, generate_content, execute_tool"
    )
    provider = trace.get_tracer_provider()
    recorded = (
        "not recorded (no global TracerProvider is set)"
        if type(provider).__name__ in ("ProxyTracerProvider", "NoOpTracerProvider")
        else f"recorded by the global {type(provider).__name__}"
    )
    ours = (
        "kept, under ours (keep_framework_spans)"
        if config.keep_framework_spans
        else "its run and agent spans stood down while ours owns the run, its model and tool spans kept under ours"
    )
    return f"ADK telemetry always on (schema v{schema}: {spans}) on the global TracerProvider, {recorded}; {ours}"


ADAPTER = FrameworkAdapter(name, distribution, supported, targets, framework_telemetry)

"""CrewAI (PyPI `crewai`), checked against 1.15.30.

A `Crew` is a workflow of agents with no model of its own: `invoke_workflow {crew.name}`. Its runs pass
through `Crew.kickoff` (sync), `Crew.kickoff_async` (which runs `kickoff` in `asyncio.to_thread`, crew.py:
1189) and `Crew.akickoff` (native async, crew.py:1217). `to_thread` copies the context, so the `kickoff` it
runs sees our workflow span and is a layer of the same run (re-entry guard: same crew, same key): one span.

Streaming (`Crew(stream=True)`): each of the three returns a `CrewStreamingOutput` at once (crew.py:1019,
1162, 1241) and the crew runs when it is iterated: the first pull of `__iter__` starts a thread over a
copy of the current context (utilities/streaming.py:482) running `kickoff` again, the first pull of
`__aiter__` starts a task (streaming.py:522) running `kickoff` in `to_thread` or `akickoff`. The output
is not an iterator but an iterable (a new generator per `__iter__`/`__aiter__` call) with `close`/`aclose`
(`__aexit__` calls `aclose`) and a `result` property. It is returned to the app as it is, not proxied:
the run is registered against it (a weak mapping) and `StreamingOutputBase.__iter__`/`__aiter__`/
`close`/`aclose` are patched to act only for registered outputs. Each iteration generator comes back
behind the core's stream proxy, so the span is current during pulls (the crew's thread or task inherits
it: its `kickoff`/`akickoff` is a layer of the run, its agents and tools are children) and the run ends
completed at the stream's end or failed with what a pull raised; that proxy does not end the run when it
is collected (`for ... break` drops it while the app may still `close()` or iterate again). `close()`/
`aclose()` before the end ends it closed early (after crewai's sync close has joined the crew's thread);
the output collected unfinished ends it abandoned. Nothing of ours iterates, closes or reads `result`.

Agents: `Agent.execute_task`/`aexecute_task` (a crew's task executions, also the manager's in a
hierarchical crew and a coworker's under a delegation tool) and the standalone `Agent.kickoff`/
`kickoff_async`/`akickoff` are `invoke_agent {agent.role}` (goal as description). A retry of a failed
execution (`_handle_execution_error` calls `execute_task` again, agent/core.py:908) is a layer of the same
span; `kickoff` inside an event loop returns `kickoff_async(...)`, a layer too. `gen_ai.provider.name` is
the agent's LLM's `provider` for crewai's own LLM classes; for an application's `BaseLLM` subclass only when it
is not "openai", which BaseLLM fills in for every model id without a `provider/` prefix (base_llm.py:329), so
a custom LLM would otherwise claim to be OpenAI's (`_OTHER` then). Usage: for
`kickoff*` the `LiteAgentOutput.usage_metrics` crewai computes for the call; for a task execution the
growth of the agent LLM's counters (`get_token_usage_summary`, cumulative for the LLM instance) between
the start and the end of the execution, as crewai itself measures a kickoff's (`delta_since`); agents
sharing one LLM instance and running at once see each other's tokens in it. The workflow span carries no
usage (the core records usage on agent spans only): `crew.usage_metrics` is the sum of the agents' LLM
lifetime counters (crew.py:2311), so it is a run's total only for the first run of a crew whose agents
each have their own LLM instance, and a second kickoff reports both runs.

Tool calls: crewai emits no spans; each logical tool call is `execute_tool {tool.name}`, ended with what
crewai made of it:
- native function calling: `AgentExecutor._execute_single_native_tool_call(tool_call)` (one per call the
  model asked for, sequential or in crewai's thread pool, which copies the context: agent_executor.py:1978),
  with `gen_ai.tool.call.id` = the id the model gave (crewai makes one up when there is none; we do not
  record those);
- text (ReAct) tool calls: `ToolUsage._use`, including crewai's retries of a raising tool (it calls the
  tool again up to three times, each time twice: tool_usage.py:620-631, 740; the span covers them, as the
  conventions ask of retries). Both run in the thread the agent executor's flow method runs in
  (`asyncio.to_thread(ctx.run, ...)`, flow/runtime/__init__.py:3004), which carries the context.
crewai catches what a tool raises and hands the model text; the failure it keeps is a `ToolFailure`
(tools/tool_failure.py). A tool that raised ends the span ERROR with that exception (caught at crewai's
`failure_from_exception`, patched in the two modules that call it); any other failure (the tool returned a
`ToolFailure`, usage limit, unknown tool, invalid input) ERROR with the failure's `reason` as `error.type`
(`tool_reported`, `usage_limit`, ...). `ToolUsage._ause` (async text tool calls) has no caller in 1.15.30
and is not wrapped.

CrewAI's own OpenTelemetry (anonymous usage telemetry to a hosted collector, `crewai_core/telemetry.py`)
uses a provider of its own and, in 1.15.30, does not install it globally (`Telemetry.set_tracer`); it
stands down with `CREWAI_DISABLE_TELEMETRY=true` or `CREWAI_DISABLE_TRACKING=true` (or `OTEL_SDK_DISABLED`,
which also turns off the application's own SDK). Its trace upload to its platform answers to
`CREWAI_TRACING_ENABLED`. None of it is stood down by us: its spans are not agent spans.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import semconv
from .._guard import report_failure
from ..awaited import traced_await
from ..config import Config
from ..invocation import (
    CLOSED_EARLY,
    COMPLETED,
    FAILED,
    TOOL,
    WORKFLOW,
    AgentInvocation,
    Outcome,
    RequestFacts,
    ResultFacts,
)
from ..stream import AbandonWatch, finish_with_error, trace_coroutine, trace_stream
from ._base import FrameworkAdapter, HandledFailures, HookTarget, RunTarget, Target

if TYPE_CHECKING:
    from .._patching import WrapperFunction
    from ..invocation import Telemetry

name = "crewai"
distribution = "crewai"
supported = ">=1.15,<2"

_TOOL_REENTRY_KEY = f"{name}:tool"
_EXCEPTION_REASON = "exception"  # ToolFailureReason.EXCEPTION

# A streamed run's CrewStreamingOutput -> its invocation (see the module docstring).
_streams: weakref.WeakKeyDictionary[Any, AgentInvocation] = weakref.WeakKeyDictionary()
# A task execution's invocation -> the agent LLM's usage counters when it started.
_usage_at_start: weakref.WeakKeyDictionary[AgentInvocation, Any] = weakref.WeakKeyDictionary()
# An agent whose task execution is starting -> those counters, until the invocation exists (crewai refuses
# to run one agent's executor twice at once, agent_executor.py:3044).
_usage_by_agent: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
# A tool call's invocation -> the exception crewai caught from the tool (failure_from_exception).
_tool_errors = HandledFailures(_TOOL_REENTRY_KEY)
# `failure_from_exception(error)`: crewai turning what a tool raised into a ToolFailure.
_note_tool_error = _tool_errors.hook(
    lambda args, kwargs: args[0] if args else kwargs.get("error"), "noting a crewai tool's exception"
)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _json_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except Exception:  # a structure json cannot walk: no content rather than no span
        return None


# -- crews -----------------------------------------------------------------------------------------


def read_crew_request(crew: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    return RequestFacts(operation=WORKFLOW, workflow_name=_text(getattr(crew, "name", None)))


def _is_streaming_output(value: Any) -> bool:
    from crewai.types.streaming import StreamingOutputBase

    return isinstance(value, StreamingOutputBase)


def _follow_crew_result(value: Any, invocation: AgentInvocation) -> None:
    """End the run with a crew's result, or hand it over to the streaming output it returned."""
    if _is_streaming_output(value):
        _streams[value] = invocation
        AbandonWatch(value, invocation)  # ends the run abandoned; interpreter exit: the core's SHUTDOWN
        return
    invocation.finish(COMPLETED)


def handle_crew_result(result: Any, invocation: AgentInvocation) -> Any:
    if inspect.iscoroutine(result):  # kickoff_async, akickoff
        return trace_coroutine(result, invocation, None, lambda value: _follow_crew_result(value, invocation))
    _follow_crew_result(result, invocation)
    return result


def _registered(output: Any) -> AgentInvocation | None:
    """The open run a streaming output belongs to; None for any other (a flow's, an untraced crew's)."""
    try:
        invocation = _streams.get(output)
    except Exception:  # an output type that cannot be weakly referenced: never registered
        report_failure("looking up a crew stream's run")
        return None
    return None if invocation is None or invocation.finished else invocation


def _traced_iteration(telemetry: Telemetry) -> WrapperFunction:
    """`__iter__`/`__aiter__` of a registered output: the generator behind the core's proxy, whose own
    finalizer is detached (the output's covers a dropped run)."""

    def wrapper(wrapped: Callable[..., Any], output: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        iterator = wrapped(*args, **kwargs)
        try:
            invocation = _registered(output)
            if invocation is None:
                return iterator
            traced = trace_stream(iterator, invocation)
            traced._self_finalizer.detach()
            return traced
        except Exception:
            report_failure("tracing a crew stream's iteration")
            return iterator

    return wrapper


def _traced_close(telemetry: Telemetry) -> WrapperFunction:
    def wrapper(wrapped: Callable[..., Any], output: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        invocation = _registered(output)
        if invocation is None:
            return wrapped(*args, **kwargs)
        token = invocation.attach()
        try:
            value = wrapped(*args, **kwargs)  # joins the crew's thread when it was started
        except BaseException as error:
            invocation.detach(token)
            finish_with_error(invocation, error)
            raise
        invocation.detach(token)
        invocation.finish(CLOSED_EARLY)
        return value

    return wrapper


def _traced_aclose(telemetry: Telemetry) -> WrapperFunction:
    def wrapper(wrapped: Callable[..., Any], output: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        invocation = _registered(output)
        if invocation is None:
            return wrapped(*args, **kwargs)
        return traced_await(
            wrapped(*args, **kwargs), invocation, on_return=lambda _value: invocation.finish(CLOSED_EARLY)
        )

    return wrapper


# -- agents ------------------------------------------------------------------------------------------


_DEFAULT_PROVIDER = "openai"  # what BaseLLM fills in for a model id without a "provider/" prefix


def _provider(llm: Any) -> str | None:
    raw = getattr(llm, "provider", None)
    if type(llm).__module__.startswith("crewai.") or raw != _DEFAULT_PROVIDER:
        return semconv.provider_name(raw)
    # An application's BaseLLM subclass gets "openai" from BaseLLM's validator whatever it calls (base_llm.py:
    # 329): not knowledge of the provider.
    return None


def read_agent_request(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    llm = getattr(agent, "llm", None)
    facts = RequestFacts(
        agent_name=_text(getattr(agent, "role", None)),
        agent_description=_text(getattr(agent, "goal", None)),
        request_model=_text(getattr(llm, "model", None)) or _text(llm),
        provider_name=_provider(llm) if llm is not None and not isinstance(llm, str) else None,
    )
    if config.capture_content.enabled:
        backstory = _text(getattr(agent, "backstory", None))
        if backstory:
            facts.system_instructions = [{"type": "text", "content": backstory}]
        task = args[0] if args else kwargs.get("task")
        message = kwargs.get("messages", args[0] if args else None) if task is None else None
        prompt = _text(getattr(task, "description", None)) if task is not None else _text(message)
        if prompt:
            facts.input_messages = [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]
    return facts


def _usage_counters(agent: Any) -> Any:
    summary = getattr(getattr(agent, "llm", None), "get_token_usage_summary", None)
    return summary() if callable(summary) else None


def _usage_facts(usage: Any, facts: ResultFacts) -> ResultFacts:
    facts.input_tokens = _count(getattr(usage, "prompt_tokens", None))
    facts.output_tokens = _count(getattr(usage, "completion_tokens", None))
    cached = _count(getattr(usage, "cached_prompt_tokens", None))
    facts.cache_read_input_tokens = cached or None
    created = _count(getattr(usage, "cache_creation_tokens", None))
    facts.cache_creation_input_tokens = created or None
    return facts


def _output_facts(output: Any, capture: bool) -> ResultFacts:
    facts = ResultFacts()
    if capture:
        text = _text(getattr(output, "raw", None)) or _text(output)
        if text:
            facts.output_messages = [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
    return facts


def read_task_request(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    """A task execution's facts; also notes the agent LLM's usage counters as the execution starts (the
    invocation does not exist yet: the result handler moves them onto it)."""
    facts = read_agent_request(agent, args, kwargs, config)
    try:
        counters = _usage_counters(agent)
        if counters is not None:
            _usage_by_agent[agent] = counters
    except Exception:
        report_failure("reading an agent's usage counters")
    return facts


def make_task_result_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def read_result(agent: Any, invocation: AgentInvocation, value: Any) -> ResultFacts:
        facts = _output_facts(value, capture)
        start = _usage_at_start.pop(invocation, None)
        end = _usage_counters(agent)
        if start is not None and end is not None:
            _usage_facts(end.delta_since(start), facts)
        return facts

    def handle_result(result: Any, invocation: AgentInvocation) -> Any:
        agent = invocation.owner
        start = _usage_by_agent.pop(agent, None)
        if start is not None:
            _usage_at_start[invocation] = start
        if inspect.iscoroutine(result):
            return trace_coroutine(result, invocation, lambda value, _outcome: read_result(agent, invocation, value))
        invocation.finish(COMPLETED, None, read_result(agent, invocation, result))
        return result

    return handle_result


def make_kickoff_result_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def read_result(output: Any, _outcome: Outcome) -> ResultFacts | None:
        if output is None:
            return None
        facts = _output_facts(output, capture)
        usage = getattr(output, "usage_metrics", None)
        if isinstance(usage, dict):
            facts.input_tokens = _count(usage.get("prompt_tokens"))
            facts.output_tokens = _count(usage.get("completion_tokens"))
        return facts

    def handle_result(result: Any, invocation: AgentInvocation) -> Any:
        if inspect.iscoroutine(result):
            return trace_coroutine(result, invocation, read_result)
        invocation.finish(COMPLETED, None, read_result(result, COMPLETED))
        return result

    return handle_result


# -- tool calls ---------------------------------------------------------------------------------------


@functools.cache
def _description_prefix_stripper() -> Callable[[str], Any] | None:
    """crewai's `strip_composite_description_prefix`, imported once (None in a release without it): an import
    statement on a tool call's path costs about 8k instructions each time."""
    try:
        from crewai.tools.structured_tool import strip_composite_description_prefix
    except ImportError:
        return None
    strip: Callable[[str], Any] = strip_composite_description_prefix
    return strip


@functools.cache
def _tool_call_info_reader() -> Callable[[Any], Any]:
    """crewai's `extract_tool_call_info`, imported once."""
    from crewai.utilities.agent_utils import extract_tool_call_info

    read: Callable[[Any], Any] = extract_tool_call_info
    return read


def _tool_description(tool: Any) -> str | None:
    description = _text(getattr(tool, "description", None))
    if description is None:
        return None
    try:
        strip = _description_prefix_stripper()
        return description if strip is None else _text(strip(description))
    except Exception:
        return description


def _tool_facts(tool: Any, fallback_name: str | None, call_id: str | None) -> RequestFacts:
    return RequestFacts(
        operation=TOOL,
        tool_name=_text(getattr(tool, "name", None)) or fallback_name,
        tool_type=semconv.TOOL_TYPE_FUNCTION,
        tool_description=_tool_description(tool) if tool is not None else None,
        tool_call_id=call_id,
    )


def _model_call_id(tool_call: Any) -> str | None:
    """The id the model gave the call; crewai makes one up (`call_{id(...)}`) when there is none."""
    if isinstance(tool_call, dict):
        return _text(tool_call.get("call_id")) or _text(tool_call.get("id")) or _text(tool_call.get("toolUseId"))
    return _text(getattr(tool_call, "id", None))


def read_native_tool_request(
    executor: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config
) -> RequestFacts:
    tool_call = args[0] if args else kwargs.get("tool_call")
    info = _tool_call_info_reader()(tool_call)
    function_name = info[1] if info else None
    mapping = getattr(executor, "_tool_name_mapping", None) or {}
    facts = _tool_facts(mapping.get(function_name), function_name, _model_call_id(tool_call))
    if config.capture_content.enabled and info:
        facts.tool_arguments = _json_text(info[2] if info[2] else {})
    return facts


def read_text_tool_request(usage: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    # ToolUsage._use(tool_string, tool, calling); crewai passes them by keyword.
    tool = kwargs.get("tool", args[1] if len(args) > 1 else None)
    facts = _tool_facts(tool, None, None)
    if config.capture_content.enabled:
        calling = kwargs.get("calling", args[2] if len(args) > 2 else None)
        arguments = getattr(calling, "arguments", None)
        facts.tool_arguments = _json_text(arguments if arguments is not None else {})
    return facts


def _end_tool_call(invocation: AgentInvocation, failure: Any, result: Any, capture: bool) -> None:
    error = _tool_errors.take(invocation)
    if failure is None:
        facts = ResultFacts(tool_result=_json_text(result)) if capture else None
        invocation.finish(COMPLETED, None, facts)
        return
    reason = getattr(failure, "reason", None)
    reason = getattr(reason, "value", reason)
    if error is not None and reason == _EXCEPTION_REASON:
        invocation.finish(FAILED, error)
        return
    message = _text(getattr(failure, "message", None))
    invocation.finish(
        COMPLETED,
        None,
        ResultFacts(error_type=_text(reason) or semconv.ERROR_TYPE_OTHER, error_message=message),
    )


def make_native_tool_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def handle_result(result: Any, invocation: AgentInvocation) -> Any:
        failure = result.get("tool_failure") if isinstance(result, dict) else None
        output = result.get("result") if isinstance(result, dict) else None
        _end_tool_call(invocation, failure, output, capture)
        return result

    return handle_result


def make_text_tool_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def handle_result(result: Any, invocation: AgentInvocation) -> Any:
        _end_tool_call(invocation, getattr(invocation.owner, "last_failure", None), result, capture)
        return result

    return handle_result


# -- targets -------------------------------------------------------------------------------------------


def targets(config: Config) -> Sequence[Target]:
    handle_task_result = make_task_result_handler(config)
    handle_kickoff_result = make_kickoff_result_handler(config)
    crews: list[Target] = [
        RunTarget("crewai.crew", f"Crew.{method}", read_crew_request, handle_result=handle_crew_result)
        for method in ("kickoff", "kickoff_async", "akickoff")
    ]
    agents: list[Target] = [
        RunTarget("crewai.agent.core", f"Agent.{method}", read_task_request, handle_result=handle_task_result)
        for method in ("execute_task", "aexecute_task")
    ]
    agents += [
        RunTarget("crewai.agent.core", f"Agent.{method}", read_agent_request, handle_result=handle_kickoff_result)
        for method in ("kickoff", "kickoff_async", "akickoff")
    ]
    tools: list[Target] = [
        RunTarget(
            "crewai.agents.agent_executor",
            "AgentExecutor._execute_single_native_tool_call",
            read_native_tool_request,
            handle_result=make_native_tool_handler(config),
            reentry_key=_TOOL_REENTRY_KEY,
        ),
        RunTarget(
            "crewai.tools.tool_usage",
            "ToolUsage._use",
            read_text_tool_request,
            handle_result=make_text_tool_handler(config),
            reentry_key=_TOOL_REENTRY_KEY,
        ),
        HookTarget("crewai.agents.agent_executor", "failure_from_exception", _note_tool_error),
        HookTarget("crewai.tools.tool_usage", "failure_from_exception", _note_tool_error),
    ]
    streams: list[Target] = [
        HookTarget("crewai.types.streaming", "StreamingOutputBase.__iter__", _traced_iteration),
        HookTarget("crewai.types.streaming", "StreamingOutputBase.__aiter__", _traced_iteration),
        HookTarget("crewai.types.streaming", "StreamingOutputBase.close", _traced_close),
        HookTarget("crewai.types.streaming", "StreamingOutputBase.aclose", _traced_aclose),
    ]
    return [*crews, *agents, *tools, *streams]


_YES = frozenset({"true", "1", "yes", "on"})  # crewai_core's _env_flag_enabled


def framework_telemetry(config: Config) -> str:
    """What crewai itself sends, from the variables it reads (crewai_core/telemetry.py, execution.py)."""
    opted_out = [name for name in _TELEMETRY_OPT_OUTS if os.environ.get(name, "").strip().lower() in _YES]
    telemetry = (
        f"off ({opted_out[0]})"
        if opted_out
        else "on: anonymous usage spans to crewai's hosted collector (set CREWAI_DISABLE_TELEMETRY=true)"
    )
    uploads = os.environ.get("CREWAI_TRACING_ENABLED", "").strip().lower()
    tracing = (
        "off (CREWAI_TRACING_ENABLED=false)"
        if uploads in ("false", "0")
        else "as crewai decides (set CREWAI_TRACING_ENABLED=false)"
    )
    return (
        f"CrewAI telemetry {telemetry}; trace upload to crewai's platform {tracing}; "
        "both use crewai's own tracer provider, not the global one, and are left as they are"
    )


# OTEL_SDK_DISABLED also turns crewai's telemetry off, and the application's own SDK with it.
_TELEMETRY_OPT_OUTS = ("CREWAI_DISABLE_TELEMETRY", "CREWAI_DISABLE_TRACKING", "OTEL_SDK_DISABLED")


ADAPTER = FrameworkAdapter(name, distribution, supported, targets, framework_telemetry)

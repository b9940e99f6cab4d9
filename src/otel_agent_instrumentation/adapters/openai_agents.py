"""OpenAI Agents SDK (PyPI `openai-agents`), checked against 0.24.0.

Targets: `agents.run:AgentRunner.run` and `AgentRunner.run_streamed`. `Runner.run/run_sync/run_streamed`
are classmethods that forward to the default `AgentRunner` (run.py:349/452/552), so class-level patches
see every call. `run_sync` is not wrapped: it always runs `self.run(...)` as a task on the thread's
default loop (run.py:2596), so wrapping `run` gives it exactly one span; wrapping `run_sync` as well
would make the shared default runner own the run and hide nested runs (agent-as-tool) from us.

The re-entry guard compares `invocation.owner` with the runner; every run goes through the one
module-level `DEFAULT_AGENT_RUNNER`, so each invocation is re-owned, before any of the run executes,
by a fresh `_RunOwner` that stands for this run only: a `Runner.run` inside a tool (agent as tool) is
on another owner than the runner it calls, so it gets a child span. The owner is a sentinel that
refers to nothing, not the returned coroutine or `RunResultStreaming`: the invocation is held
strongly until it ends (the core's set of open invocations, the abandoned-run watch), so
an owner that is the run's own object kept the run, its task and its events alive, and a run the
application dropped while it waited forever was never collected, never ended `abandoned`. A weak
reference as the owner would do as well for the guard (it is not the runner either); a sentinel needs
no weak-referenceable target and no dereferencing.

`run_streamed` returns a real `RunResultStreaming` at once (no proxy: a proxy breaks `type() is`,
`dataclasses.replace` and `copy`); the run is its `run_loop_task`, created while our span is current,
so everything the run does is parented under it. The span ends from that task's done callback:
- finished normally: completed (closed early if `cancel(mode="after_turn")` stopped it before a
  final output);
- raised: failed, with the same exception the consumer gets from `stream_events()`;
- cancelled by `result.cancel()` (the SDK's way to stop a stream; the consumer breaks first): closed
  early, UNSET; cancelled because the consumer's task was cancelled (stream_events calls `cancel()`
  inside its `except CancelledError`, result.py:1082): cancelled, ERROR.
Events nobody reads do not stop the run (unbounded queue): it completes and so does the span. A run
that never ends (its model waits forever) and that the application drops, result and task, is
collected like an uninstrumented one; a weak watch on the task (the core's `AbandonWatch`) then ends the
span abandoned.

Time to first chunk: every event the consumer can get passes through the result's `_event_queue`,
written by the run task with `put_nowait` (run_internal/run_loop.py, run_internal/streaming.py:65;
`Queue.put` ends in `self.put_nowait`, which appends to the queue's own deque, `self._queue`). Until the run's
first event that deque is one of ours holding the same items (this queue only, not the class, not the result):
the event is appended first, then the chunk is marked and the queue gets a plain deque with what it holds, so
it is its plain self from then on. No attribute is added to the queue (see `_FirstEventDeque`). The SDK's
end-of-stream sentinel is not an event and does not count. Nothing is put before `run_streamed` returns (the
run task is only created, run.py:2922), so the first event cannot be missed. The mark is when the event becomes
available, not when the consumer pulls it; a run that ends with no event records no point.

`gen_ai.provider.name` is read from the model the run resolves first (`get_model` in
run_internal/turn_preparation.py: the run config's model, else the agent's), without resolving it (that
builds clients): `OpenAIResponsesModel` / `OpenAIChatCompletionsModel` (and subclasses) -> `openai`;
`LitellmModel` / `AnyLLMModel` -> the prefix of their "provider/model" name, through
`semconv.provider_name` ("anthropic/..." -> `anthropic`, "gemini/..." -> `gcp.gemini`; an unprefixed
LiteLLM name -> none, LiteLLM guesses it from its own tables; an unprefixed any-llm name -> `openai`, as
any-llm does); any other `Model` (a user's own, `ScriptedModel`) -> none (`_OTHER`). A model name, or
none (the SDK's default model), goes through the run config's model provider as `MultiProvider` routes
it: no prefix or "openai/" -> `openai` (also a custom base_url: the OpenAI provider's
OpenAI-compatible endpoint), "litellm/p/..." and "any-llm/p/..." -> `p`, a `provider_map` prefix -> by
the mapped provider, an unknown prefix -> `openai` under `unknown_prefix_mode="model_id"`, else none;
an `OpenAIProvider` -> `openai`; a user's own `ModelProvider` -> none. A handoff to an agent on
another provider does not change the span's value (the starting agent's).

Tool calls: every call of a function tool the model makes passes once through
`_invoke_function_tool_with_metadata` (tool.py, called by name from run_internal/tool_execution.py, whose
binding is the one wrapped: the batch executor's `_invoke_tool_and_run_post_invoke`), the one place the SDK
awaits `FunctionTool.on_invoke_tool`, for sync and async tools alike (a sync tool's invoker runs it in a
worker thread, copying the context). It is an `execute_tool {name}` span, `name` the name the model called
(`ToolContext.qualified_tool_name`: the namespace included), with the tool's description and
`gen_ai.tool.call.id` = the model's function call `call_id`; arguments (the model's JSON) and result only with
content capture. Tool calls that never run (awaiting approval, rejected, blocked by an input guardrail) have
none; the SDK's `on_tool_start`/`on_tool_end` hooks and tool guardrails run outside it. A tool that raises:
- by default its `failure_error_function` turns the exception into the call's result (the model is told,
  the run goes on): the SDK asks `maybe_invoke_function_tool_failure_error_function` (wrapped) inside the
  call's own await, where our span is the innermost invocation; the span ends ERROR with the tool's own
  exception (`error.type` its class, an exception event), outcome `failed`;
- with `failure_error_function=None` the exception leaves the call: the span ends ERROR with it, and the
  run fails with the SDK's `UserError` caused by it;
- a tool that times out (`timeout=`) with the default `timeout_behavior="error_as_result"` is answered with
  the SDK's timeout message (`is_sdk_generated_error`, no exception handled): ERROR with
  `error.type` `agents.exceptions.ToolTimeoutError`; a `timeout_error_function`'s answer cannot be told
  from a result and ends the span completed; `"raise_exception"` raises ToolTimeoutError: ERROR.
An agent used as a tool (`agent.as_tool`) runs `Runner.run` inside its tool call: its run is a child of the
tool call's span.

Handoffs: the run's span is the starting agent's, and spans the whole run. Every turn of a run passes through
one turn function (`run_single_turn`, `run_single_turn_streamed`, or `resolve_interrupted_turn` for a turn
resumed after an approval) with the turn's agent in its `bindings`; a turn that hands off returns
`NextStepHandoff`, and the run loop makes the new agent current (run.py:1543, run_loop.py:1618). The agent
that takes the run over gets an `invoke_agent {its name}` span, a child of the run's span, started at its first
turn and current during each of its turns (its model calls and tool calls are under it); it ends when it hands
off again (completed, when the turn that handed off returns) or when the run ends, with the run's outcome and
error, before the run's span (`Runner.run`: from the result reader the core calls on every ending, on a failure
while handling the run's exception; `run_streamed`: the run task's done callback; both: a dropped run, abandoned).
So a -> b -> c gives the run's span `a` with children `b` then `c`; an agent handed the run back (a -> b -> a)
is a child again (`a` under `a`), and a run resumed from a RunState whose current agent is another than the
starting one starts with that agent's child span. The child has its agent's name, description, model and
provider, the run's conversation id, and the usage of the responses made while it had the run; the run's span
keeps the run's total as the SDK counts it (`context_wrapper.usage`). Token-usage points count every token once:
a handed-off agent's tokens are in its run's total, so its span records none. An agent used as a tool runs with
a ToolContext that shares its caller's Usage object (agent.py `as_tool`), to which the SDK adds the nested run's
tokens: its span reads the usage added during the nested run (counts taken at its start), and records no
points either, its caller's run does. Input and output messages stay on the run's span. What the loop does between turns
(output guardrails, session saves) is under the run's span.

The SDK's own tracing (its trace processors, not OpenTelemetry) is left alone: we neither disable
nor replace its processors, so `keep_framework_spans` has nothing to stand down here.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import os
import sys
import weakref
from collections.abc import Callable, Mapping, Sequence
from types import CoroutineType
from typing import Any

from .. import semconv
from .._context import instrumentation_enabled
from .._guard import report_failure
from ..awaited import awaited_step, traced_await
from ..config import Config
from ..invocation import (
    ABANDONED,
    AGENT,
    CANCELLED,
    CLOSED_EARLY,
    COMPLETED,
    FAILED,
    TOOL,
    AgentInvocation,
    Invocation,
    Outcome,
    RequestFacts,
    ResultFacts,
    Telemetry,
    active_invocation,
)
from ..stream import AbandonWatch, finish_with_error, read_facts, trace_result
from ._base import FrameworkAdapter, HandledFailures, HookTarget, ResultReader, RunTarget, Target, is_mapping

name = "openai_agents"
distribution = "openai-agents"
supported = ">=0.24,<0.25"

_SETTINGS: tuple[tuple[str, str], ...] = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
)

_FAKE_ID = "__fake_id__"  # agents.models.fake_id.FAKE_RESPONSES_ID in 0.24.0

# agents.ModelSettings, once targets() imported it (the framework is imported only there): read_request reads
# its instances' fields directly.
_model_settings_class: type | None = None

# run_loop_task -> the cancel mode the application asked for (not the SDK reacting to a cancelled
# consumer); read by the task's done callback to tell closed early from cancelled.
_stop_requested: weakref.WeakKeyDictionary[asyncio.Future[Any], str] = weakref.WeakKeyDictionary()


def _get(obj: Any, key: str) -> Any:
    # run_config may be a RunConfig or a plain dict (normalised later by the runner); most runs pass none,
    # asked about three times a run.
    if obj is None:
        return None
    return obj.get(key) if is_mapping(obj) else getattr(obj, key, None)


def _model_name(model: Any) -> str | None:
    if isinstance(model, str):
        return model
    name_attr = getattr(model, "model", None)  # OpenAIResponsesModel, LitellmModel, ...
    return name_attr if isinstance(name_attr, str) else None


# What a model or model provider is, by the qualified names of the SDK classes in its MRO (subclasses
# included): the LiteLLM and any-llm modules import optional packages, so they are never imported here.
_OPENAI_MODEL = "openai model"
_LITELLM_MODEL = "litellm model"  # "provider/model"
_ANY_LLM_MODEL = "any-llm model"  # "provider/model"
_OPENAI_PROVIDER = "openai provider"
_MULTI_PROVIDER = "multi provider"
_LITELLM_PROVIDER = "litellm provider"
_ANY_LLM_PROVIDER = "any-llm provider"
_KINDS: dict[str, str] = {
    "agents.models.openai_responses.OpenAIResponsesModel": _OPENAI_MODEL,
    "agents.models.openai_chatcompletions.OpenAIChatCompletionsModel": _OPENAI_MODEL,
    "agents.extensions.models.litellm_model.LitellmModel": _LITELLM_MODEL,
    "agents.extensions.models.any_llm_model.AnyLLMModel": _ANY_LLM_MODEL,
    "agents.models.openai_provider.OpenAIProvider": _OPENAI_PROVIDER,
    "agents.models.multi_provider.MultiProvider": _MULTI_PROVIDER,
    "agents.extensions.models.litellm_provider.LitellmProvider": _LITELLM_PROVIDER,
    "agents.extensions.models.any_llm_provider.AnyLLMProvider": _ANY_LLM_PROVIDER,
}
# Type -> its kind (None: none of the SDK's). Bounded, for applications that make classes at run time.
_kind_of_type: dict[type, str | None] = {}


def _kind(obj: object) -> str | None:
    cls = type(obj)
    if cls in _kind_of_type:
        return _kind_of_type[cls]
    found = next((_KINDS[n] for n in (f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__) if n in _KINDS), None)
    if len(_kind_of_type) < 1024:
        _kind_of_type[cls] = found
    return found


def _prefix(model_name: object, unprefixed: str | None = None) -> str | None:
    """The provider part of a LiteLLM / any-llm model name ("anthropic/claude-..." -> "anthropic")."""
    if not isinstance(model_name, str):
        return None
    prefix, slash, _ = model_name.partition("/")
    return prefix if slash else unprefixed


def _provider_of_model(model: object) -> str | None:
    kind = _kind(model)
    if kind == _OPENAI_MODEL:
        return "openai"
    if kind == _LITELLM_MODEL:
        # An unprefixed name: LiteLLM guesses the provider from its own model tables, not consulted here.
        return _prefix(getattr(model, "model", None))
    if kind == _ANY_LLM_MODEL:
        return _prefix(getattr(model, "model", None), "openai")  # AnyLLMModel._split_model_name
    return None  # ScriptedModel, a user's own Model


def _provider_of_name(model_name: str | None, model_provider: object) -> str | None:
    """The provider of the model `model_provider.get_model(model_name)` returns, without calling it
    (that builds clients). `model_provider` None is the run config's default, a `MultiProvider()`."""
    kind = _MULTI_PROVIDER if model_provider is None else _kind(model_provider)
    if kind == _OPENAI_PROVIDER:
        return "openai"  # every name, and the default model (None)
    if kind == _LITELLM_PROVIDER:
        return _prefix(model_name)
    if kind == _ANY_LLM_PROVIDER:
        return _prefix(model_name, "openai")
    if kind != _MULTI_PROVIDER:
        return None  # a user's own ModelProvider
    # MultiProvider.get_model / _resolve_prefixed_model (models/multi_provider.py).
    if model_name is None or "/" not in model_name:
        return "openai"
    prefix, rest = model_name.split("/", 1)
    provider_map = getattr(model_provider, "provider_map", None)
    get_provider = getattr(provider_map, "get_provider", None)
    mapped = get_provider(prefix) if callable(get_provider) else None
    if mapped is not None:
        return _provider_of_name(rest, mapped)
    if prefix == "litellm":
        return _prefix(rest)
    if prefix == "any-llm":
        return _prefix(rest, "openai")
    if prefix == "openai" or getattr(model_provider, "_unknown_prefix_mode", None) == "model_id":
        return "openai"
    return None  # the run fails: UserError("Unknown prefix")


def _text_message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def _input_messages(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [_text_message("user", value)]
    messages: list[dict[str, Any]] = []
    for item in value if isinstance(value, Sequence) else ():
        content = _get(item, "content")
        role = _get(item, "role")
        if isinstance(role, str) and isinstance(content, str):
            messages.append(_text_message(role, content))
    return messages


class _SingleAgentRequest(RequestFacts):
    """The request of a run that cannot leave its starting agent: the agent has no handoffs, and the run starts
    from its input rather than resuming a RunState (whose current agent may be another). Its turns have no
    handoffs to follow, so the turn hooks send them straight to the SDK (`_run_of_turn`)."""


def read_request(runner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    # Every run passes here (about 33k instructions a run before it was written this way): each value is read
    # once, and what most runs leave unset (a run config, a context, settings) costs a check rather than a call.
    agent = args[0] if args else kwargs.get("starting_agent")
    run_input = args[1] if len(args) > 1 else kwargs.get("input")
    run_config = kwargs.get("run_config")
    # The run config's model wins over the agent's (run_internal/turn_preparation.py:134).
    config_model = _get(run_config, "model") if run_config is not None else None
    agent_model = getattr(agent, "model", None)
    model = (_model_name(config_model) if config_model is not None else None) or _model_name(agent_model)
    if model is None and agent_model is None and config_model is None:
        from agents.models import get_default_model

        model = get_default_model()
    # The model the run resolves first (run_internal/turn_preparation.py get_model): a Model, or a name (or None)
    # that the run config's provider resolves.
    resolved = config_model if config_model is not None else agent_model
    if resolved is None or isinstance(resolved, str):
        provider = _provider_of_name(resolved, _get(run_config, "model_provider"))
    else:
        provider = _provider_of_model(resolved)
    context = kwargs.get("context")
    if context is not None:
        _note_shared_usage(context)
    agent_name = getattr(agent, "name", None)
    # A str or a list of items, not a RunState; an agent whose handoffs are added during its run is not followed.
    single_agent = isinstance(run_input, (str, list)) and not getattr(agent, "handoffs", None)
    # Fields set after the facts are made, and only when present: a keyword argument to the class costs more
    # than an attribute set (about 1k instructions for these three).
    facts = _SingleAgentRequest() if single_agent else RequestFacts()
    if isinstance(agent_name, str):
        facts.agent_name = agent_name
    if model is not None:
        facts.request_model = model
    facts.provider_name = semconv.provider_name(provider)
    description = getattr(agent, "handoff_description", None)
    if isinstance(description, str):
        facts.agent_description = description
    conversation_id = kwargs.get("conversation_id")
    if not isinstance(conversation_id, str):
        try:  # a lazily created OpenAIConversationsSession raises ValueError until its first use
            conversation_id = getattr(kwargs.get("session"), "session_id", None)
        except Exception:
            conversation_id = None
    if isinstance(conversation_id, str):
        facts.conversation_id = conversation_id
    agent_settings = getattr(agent, "model_settings", None)
    # The SDK's own ModelSettings, a plain dataclass, is read off its fields' dict (the five getattr calls cost
    # 3.4k instructions a run, micro). Any other object (a subclass may compute a setting) by getattr.
    agent_fields = agent_settings.__dict__ if type(agent_settings) is _model_settings_class else None
    run_settings = _get(run_config, "model_settings") if run_config is not None else None
    for setting, attribute in _SETTINGS:
        value = _get(run_settings, setting) if run_settings is not None else None
        if value is None:
            value = agent_fields.get(setting) if agent_fields is not None else getattr(agent_settings, setting, None)
        # Most settings are unset: None costs one check.
        if value is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            facts.attributes[attribute] = value
    if config.capture_content.enabled:
        facts.input_messages = _input_messages(run_input)
        instructions = getattr(agent, "instructions", None)  # a callable is user code: not called
        if isinstance(instructions, str):
            facts.system_instructions = [{"type": "text", "content": instructions}]
    return facts


# A run given a context wrapper whose Usage an enclosing run shares (an agent used as a tool): the wrapper ->
# its usage counts (requests, input, output) when the run started. Weak: a run that fails leaves its entry
# to the wrapper's collection.
_shared_usage_at_start: weakref.WeakKeyDictionary[Any, tuple[int, int, int]] = weakref.WeakKeyDictionary()


def _is_tool_context(context: Any) -> bool:
    return type(context).__name__ == "ToolContext"


def _note_shared_usage(context: Any) -> None:
    """A run started with the SDK's ToolContext (agent.py `as_tool`) adds its tokens to its caller's Usage."""
    if not _is_tool_context(context):
        return
    counts = _usage_counts(getattr(context, "usage", None))
    if counts is not None:
        _shared_usage_at_start[context] = counts


def make_result_reader(config: Config) -> ResultReader:
    capture = config.capture_content.enabled

    def read_result(result: Any, outcome: Outcome) -> ResultFacts | None:
        if result is None:
            return None
        facts = ResultFacts()
        wrapper = getattr(result, "context_wrapper", None)
        usage = getattr(wrapper, "usage", None)
        requests = getattr(usage, "requests", None)
        # Only a ToolContext is ever noted: the others skip the weak-keyed pop (about 1 us). _is_tool_context,
        # written out.
        start = _shared_usage_at_start.pop(wrapper, None) if type(wrapper).__name__ == "ToolContext" else None
        now = _usage_counts(usage) if start is not None else None
        if start is not None and now is not None:  # a nested run: what it added to the shared usage
            if now[0] > start[0]:
                facts.input_tokens, facts.output_tokens = now[1] - start[1], now[2] - start[2]
                facts.tokens_in_enclosing_run = True
        elif usage is not None and isinstance(requests, int) and requests > 0:  # no model call: no usage
            facts.input_tokens = usage.input_tokens
            facts.output_tokens = usage.output_tokens
            cached = getattr(getattr(usage, "input_tokens_details", None), "cached_tokens", None)
            if isinstance(cached, int) and cached:
                facts.cache_read_input_tokens = cached
        raw_responses = getattr(result, "raw_responses", None)
        if raw_responses:
            response_id = getattr(raw_responses[-1], "response_id", None)
            # The SDK's placeholder for a model that returned no id (agents.models.fake_id) is not one.
            facts.response_id = response_id if isinstance(response_id, str) and response_id != _FAKE_ID else None
        final_output = getattr(result, "final_output", None)
        if capture and final_output is not None:
            text = final_output if isinstance(final_output, str) else str(final_output)
            facts.output_messages = [_text_message("assistant", text)]
        return facts

    return read_result


class _RunOwner:
    """The owner of one run (or tool call) for the re-entry guard: unique per run, refers to nothing
    (module docstring)."""

    __slots__ = ()


# -- handoffs (see the module docstring) ------------------------------------------------------------------------

_HANDOFF_REENTRY_KEY = f"{name}:handoff"


class _Handoffs:
    """One run's handoffs: whether its latest turn handed off, and the span of the agent that took over."""

    __slots__ = ("child", "handed_off", "usage", "usage_at_start")

    def __init__(self) -> None:
        self.handed_off = False
        self.child: AgentInvocation | None = None
        # The run's Usage (the SDK adds each response to it in place) and its counts when the child started.
        self.usage: Any = None
        self.usage_at_start: tuple[int, int, int] | None = None


def _noted_handoffs(root: AgentInvocation) -> _Handoffs | None:
    """The handoffs a run's turns noted on its invocation (its top span), from its first turn until the run ends."""
    noted = root.noted
    return noted if isinstance(noted, _Handoffs) else None


def _usage_counts(usage: Any) -> tuple[int, int, int] | None:
    counts = (
        getattr(usage, "requests", None),
        getattr(usage, "input_tokens", None),
        getattr(usage, "output_tokens", None),
    )
    if all(isinstance(count, int) for count in counts):
        return counts  # type: ignore[return-value]  # checked: three ints
    return None


def _end_child(handoffs: _Handoffs, outcome: Outcome, error: BaseException | None) -> None:
    """End the span of the agent that took the run over: it handed off again, or the run ended."""
    child = handoffs.child
    if child is None:
        return
    handoffs.child = None
    facts: ResultFacts | None = None
    start, now = handoffs.usage_at_start, _usage_counts(handoffs.usage)
    if start is not None and now is not None and now[0] > start[0]:  # its turns' model responses
        facts = ResultFacts(
            input_tokens=now[1] - start[1], output_tokens=now[2] - start[2], tokens_in_enclosing_run=True
        )
    if error is not None:
        finish_with_error(child, error, facts)
    else:
        child.finish(outcome, None, facts)


def _end_handoffs(root: AgentInvocation, outcome: Outcome, error: BaseException | None) -> None:
    """The run ended: the agent that has it ends with the run's outcome. Makes no context or framework calls
    (it also runs from the garbage collector)."""
    try:
        handoffs = _noted_handoffs(root)
        if handoffs is not None:
            root.noted = None
            _end_child(handoffs, outcome, error)
    except Exception:
        report_failure("ending the openai-agents handoff span")


def _turn_argument(args: tuple[Any, ...], kwargs: dict[str, Any], key: str, positions: Mapping[str, int]) -> Any:
    if key in kwargs:
        return kwargs[key]
    position = positions.get(key)
    return args[position] if position is not None and len(args) > position else None


def _run_of_turn() -> Invocation | None:
    """The run of ours a turn called now belongs to, if any."""
    if not instrumentation_enabled():
        return None
    # Turns are called from the run loop, where the run's own span is current (a tool's or a handed-off
    # agent's is current only inside a turn).
    root = active_invocation()
    if root is None or root.finished or root.reentry_key != name:
        return None
    request = root.request
    if request.operation is not AGENT or type(request) is _SingleAgentRequest:
        return None
    return root


def _turn_in_our_run(_: None) -> bool:
    """A turn hook's `applies_to` (a module function: no instance): only a turn of a run of ours that can hand
    off has handoffs to follow; the others (runs that stay with their agent, suppressed runs, runs that are not
    ours) go straight to the SDK."""
    return _run_of_turn() is not None


def _handoffs_of_turn(
    telemetry: Telemetry, args: tuple[Any, ...], kwargs: dict[str, Any], positions: Mapping[str, int]
) -> _Handoffs | None:
    """The handoffs of the run this turn belongs to, with the span of the agent that took it over started when
    this is that agent's first turn; None when the turn is not in a run of ours, or has nothing to follow."""
    root = _run_of_turn()
    if root is None:
        return None
    agent = getattr(_turn_argument(args, kwargs, "bindings", positions), "public_agent", None)
    handoffs = _noted_handoffs(root)
    if handoffs is None:
        # A run resumed from a RunState whose current agent is not the one it was started with.
        takes_over = getattr(agent, "name", None) != root.request.agent_name
        if not takes_over and not getattr(agent, "handoffs", True):
            return None  # as below, and nothing noted
        handoffs = root.noted = _Handoffs()
    else:
        takes_over = handoffs.handed_off
    handoffs.handed_off = False
    if takes_over:
        facts = read_request(
            None, (agent,), {"run_config": _turn_argument(args, kwargs, "run_config", positions)}, telemetry.config
        )
        facts.conversation_id = root.request.conversation_id
        facts.input_messages = None  # the run's input is on the run's span
        usage = getattr(_turn_argument(args, kwargs, "context_wrapper", positions), "usage", None)
        handoffs.usage, handoffs.usage_at_start = usage, _usage_counts(usage)
        # Started in the run loop's context: a child of the run's span.
        handoffs.child = AgentInvocation(telemetry, facts, _RunOwner(), _HANDOFF_REENTRY_KEY)
    if handoffs.child is None and not getattr(agent, "handoffs", True):
        # The run's own agent, which has no handoffs: this turn runs under the run's span and cannot hand
        # off, so there is nothing to follow (no coroutine of ours in the turn's await chain).
        return None
    return handoffs


async def _run_turn(turn: Any, handoffs: _Handoffs, handoff_step: type) -> Any:
    """Await one turn of a run of ours: under the span of the agent that took the run over, if one did, and
    noting a handoff the turn made."""
    child = handoffs.child
    result = await (turn if child is None or child.finished else awaited_step(turn, child))
    try:
        if isinstance(getattr(result, "next_step", None), handoff_step):
            _end_child(handoffs, COMPLETED, None)  # handed off again
            handoffs.handed_off = True
    except Exception:
        report_failure("following an openai-agents handoff")
    return result


def _turn_under_its_agent(handoff_step: type, positions: Mapping[str, int]) -> Callable[[Telemetry], Any]:
    """Wrap a turn function (`run_single_turn`, `run_single_turn_streamed`, `resolve_interrupted_turn`), whose
    `bindings` name the agent the turn runs; `positions` are the indexes of arguments it takes positionally."""

    def make_wrapper(telemetry: Telemetry) -> Any:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            turn = wrapped(*args, **kwargs)
            try:
                handoffs = _handoffs_of_turn(telemetry, args, kwargs, positions)
            except Exception:
                report_failure("following the agent of an openai-agents turn")
                return turn
            return turn if handoffs is None else _run_turn(turn, handoffs, handoff_step)

        return wrapper

    return make_wrapper


def _ending_handoffs(reader: ResultReader, root: AgentInvocation) -> ResultReader:
    """`reader`, ending the run's handed-off agent with the run's outcome first (`Runner.run`, whose end the
    core follows: it reads the result on every ending but the collection of a run that never started, which has
    no handoffs). On a failure it reads while handling the run's exception (stream._drive): that is the error."""

    def read_result(value: Any, outcome: Outcome) -> ResultFacts | None:
        error = sys.exc_info()[1] if outcome in (FAILED, CANCELLED) else None
        _end_handoffs(root, outcome, error)
        return reader(value, outcome)

    return read_result


# -- the run's end ------------------------------------------------------------------------------------------------


def _end_abandoned(invocation: AgentInvocation) -> None:
    # The run task was collected while pending (its waiter was garbage too): nothing else ends the span.
    if not invocation.finished:
        _end_handoffs(invocation, ABANDONED, None)
        invocation.finish(ABANDONED)


class _FirstEventDeque(collections.deque):  # type: ignore[type-arg]  # holds whatever the SDK puts
    """An event queue's deque until the run's first event (module docstring, "Time to first chunk").

    The queue is watched through the value of an attribute it already has (`Queue._put` appends to
    `self._queue`), not an attribute of ours: a new instance attribute makes the queue's `__dict__` once the
    class's shared keys are full (CPython 3.11 stops growing them after ~30 instances of a class), and a
    queue with a made `__dict__` has every attribute read off the interpreter's fast path for the rest of the
    run (+4.8k instructions per event). At the first event the queue gets a plain deque with what it holds.
    """

    __slots__ = ("end_marker", "invocation", "queue")

    queue: asyncio.Queue[Any]
    invocation: AgentInvocation
    end_marker: type

    def append(self, item: Any) -> None:
        super().append(item)  # the SDK's put, unchanged
        if not isinstance(item, self.end_marker):
            self.invocation.mark_first_chunk()
            self.restore()

    def restore(self) -> None:
        """Hand the queue a plain deque with what this one holds, if it is still the queue's."""
        if self.queue._queue is self:  # type: ignore[attr-defined]  # asyncio.Queue's own deque
            self.queue._queue = collections.deque(self)


def _mark_first_event(queue: asyncio.Queue[Any], invocation: AgentInvocation, end_marker: type) -> Callable[[], None]:
    """Mark the first chunk at the first event put on `queue`; returns the function that stops watching."""
    held = getattr(queue, "_queue", None)
    if type(held) is not collections.deque:
        return _noop  # another asyncio: not watched
    watch = _FirstEventDeque(held)
    watch.queue, watch.invocation, watch.end_marker = queue, invocation, end_marker
    queue._queue = watch  # type: ignore[attr-defined]  # this instance only, until its first event
    return watch.restore


def _noop() -> None:
    pass


def _stop_request(task: asyncio.Future[Any]) -> str | None:
    try:
        return _stop_requested.pop(task, None)
    except Exception:  # a done callback must not raise into the loop's handler
        return None


def _streamed_ending(result: Any, task: asyncio.Future[Any]) -> tuple[Outcome, BaseException | None]:
    """How a streamed run ended, from its run task (module docstring): (outcome, the error to record). The
    application's stop request is looked up only where it decides (a weak-keyed pop costs about 1 us; an entry
    not popped goes with its task): a run that completed with a final output ended completed whatever was asked."""
    if task.cancelled():
        if _stop_request(task) == "immediate":
            return CLOSED_EARLY, None
        return CANCELLED, asyncio.CancelledError()
    error = task.exception()
    if error is not None:
        return FAILED, error
    if getattr(result, "final_output", None) is None and _stop_request(task) == "after_turn":
        return CLOSED_EARLY, None
    return COMPLETED, None


def _run_loop_done(
    result: Any,
    invocation: AgentInvocation,
    reader: ResultReader,
    finalizer: AbandonWatch,
    unmark: Callable[[], None],
    task: asyncio.Future[Any],
) -> None:
    finalizer.detach()
    try:
        unmark()  # a run that ended before its first event
    except Exception:
        report_failure("restoring the openai-agents event queue")
    facts = read_facts(reader, result, COMPLETED)
    outcome, error = _streamed_ending(result, task)
    if invocation.noted is not None:  # a turn noted handoffs to follow
        _end_handoffs(invocation, outcome, error)
    if error is not None:
        finish_with_error(invocation, error, facts)
    else:
        invocation.finish(outcome, None, facts)


def make_handle_result(reader: ResultReader, end_marker: type) -> Callable[[Any, AgentInvocation], Any]:
    def handle_result(result: Any, invocation: AgentInvocation) -> Any:
        # Re-own the run (see the module docstring) before any of it runs.
        invocation.owner = _RunOwner()
        task = getattr(result, "run_loop_task", None)
        if not isinstance(task, asyncio.Future):  # `run`: a coroutine, traced by the core
            # A run that stays with its agent has no handed-off agent to end first.
            single_agent = type(invocation.request) is _SingleAgentRequest
            return trace_result(result, invocation, reader if single_agent else _ending_handoffs(reader, invocation))
        finalizer = AbandonWatch(task, invocation, _end_abandoned)
        unmark = _noop  # written out here, not a helper: a frame less on every streamed run
        try:
            queue = getattr(result, "_event_queue", None)
            if isinstance(queue, asyncio.Queue):
                unmark = _mark_first_event(queue, invocation, end_marker)
        except Exception:
            report_failure("watching the openai-agents event queue")
        # A partial, not a lambda: no Python frame between the loop and _run_loop_done.
        task.add_done_callback(functools.partial(_run_loop_done, result, invocation, reader, finalizer, unmark))
        return result

    return handle_result


def _record_stop_request(telemetry: Telemetry) -> Any:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            mode = args[0] if args else kwargs.get("mode", "immediate")
            task = getattr(instance, "run_loop_task", None)
            # Inside `except CancelledError` the SDK is reacting to its consumer's cancellation.
            reacting = isinstance(sys.exc_info()[1], asyncio.CancelledError)
            if isinstance(task, asyncio.Future) and not task.done() and not reacting and isinstance(mode, str):
                _stop_requested[task] = mode
        except Exception:
            pass  # a missed stop request only turns closed_early into cancelled
        return wrapped(*args, **kwargs)

    return wrapper


# -- tool calls (see the module docstring) --------------------------------------------------------------------

_TOOL_REENTRY_KEY = f"{name}:tool"
# What the SDK's default timeout message stands for (tool.py: `timeout_behavior="error_as_result"`).
_TOOL_TIMEOUT = "agents.exceptions.ToolTimeoutError"
# A running tool call -> the exception the SDK turned into the call's result (its failure_error_function).
_handled_failures = HandledFailures(_TOOL_REENTRY_KEY)


def _result_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except Exception:  # a structure json cannot walk (a cycle): no content rather than no span
        return None


def read_tool_request(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    # _invoke_function_tool_with_metadata(*, function_tool, context, arguments): the ToolContext carries the
    # model's function call (its call_id, and the name it called the tool by, namespace included).
    # Each tool call passes here: the non-empty-string checks are written out, not helper calls.
    function_tool = kwargs.get("function_tool")
    context = kwargs.get("context")
    qualified = getattr(context, "qualified_tool_name", None)
    name = qualified if isinstance(qualified, str) and qualified else getattr(function_tool, "name", None)
    description = getattr(function_tool, "description", None)
    call_id = getattr(context, "tool_call_id", None)
    facts = RequestFacts(
        operation=TOOL,
        tool_name=name if isinstance(name, str) and name else None,
        tool_type=semconv.TOOL_TYPE_FUNCTION,
        tool_description=description if isinstance(description, str) and description else None,
        tool_call_id=call_id if isinstance(call_id, str) and call_id else None,
    )
    if config.capture_content.enabled:
        arguments = kwargs.get("arguments")
        facts.tool_arguments = arguments if isinstance(arguments, str) else None
    return facts


def _end_tool_call(invocation: AgentInvocation, capture: bool, value: Any) -> None:
    """End a tool call that returned: a failure the SDK turned into its result is a failure."""
    output = getattr(value, "output", value)  # a _FunctionToolInvocationResult
    facts = ResultFacts(tool_result=_result_text(output)) if capture else None
    failure = _handled_failures.take(invocation)
    if failure is not None:
        invocation.finish(FAILED, failure, facts)
        return
    if getattr(value, "is_sdk_generated_error", False) is True:
        # No handled exception: the SDK's own message for a tool that timed out.
        facts = facts or ResultFacts()
        facts.error_type = _TOOL_TIMEOUT
        facts.error_message = output if isinstance(output, str) else None
    invocation.finish(COMPLETED, None, facts)


def make_tool_result_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def handle_tool_result(result: Any, invocation: AgentInvocation) -> Any:
        # A module function has no instance to own the call: this call, not any other, is its own layer.
        invocation.owner = _RunOwner()
        if not isinstance(result, CoroutineType):  # inspect.iscoroutine without its Python call
            return trace_result(result, invocation)
        # The batch executor awaits the call where it makes it (see awaited.py).
        # A partial, not a lambda: no Python frame between traced_await and the reader.
        return traced_await(result, invocation, functools.partial(_end_tool_call, invocation, capture))

    return handle_tool_result


def targets(config: Config) -> Sequence[Target]:
    global _model_settings_class
    from agents import ModelSettings
    from agents.run_internal.run_steps import NextStepHandoff, QueueCompleteSentinel  # end of stream, not an event

    _model_settings_class = ModelSettings

    reader = make_result_reader(config)
    handle_result = make_handle_result(reader, QueueCompleteSentinel)
    # run_single_turn_streamed(streamed_result, bindings, hooks, context_wrapper, run_config, ...); the others
    # take keywords only.
    streamed_turn = {"bindings": 1, "context_wrapper": 3, "run_config": 4}
    return [
        RunTarget("agents.run", "AgentRunner.run", read_request, reader, handle_result=handle_result),
        RunTarget("agents.run", "AgentRunner.run_streamed", read_request, reader, handle_result=handle_result),
        HookTarget("agents.result", "RunResultStreaming.cancel", _record_stop_request),
        HookTarget("agents.run", "run_single_turn", _turn_under_its_agent(NextStepHandoff, {}), _turn_in_our_run),
        HookTarget(
            "agents.run", "resolve_interrupted_turn", _turn_under_its_agent(NextStepHandoff, {}), _turn_in_our_run
        ),
        HookTarget(
            "agents.run_internal.run_loop",
            "run_single_turn_streamed",
            _turn_under_its_agent(NextStepHandoff, streamed_turn),
            _turn_in_our_run,
        ),
        HookTarget(
            "agents.run_internal.run_loop",
            "resolve_interrupted_turn",
            _turn_under_its_agent(NextStepHandoff, {}),
            _turn_in_our_run,
        ),
        RunTarget(
            "agents.run_internal.tool_execution",
            "_invoke_function_tool_with_metadata",
            read_tool_request,
            handle_result=make_tool_result_handler(config),
            reentry_key=_TOOL_REENTRY_KEY,
        ),
        HookTarget(
            "agents.tool",
            "maybe_invoke_function_tool_failure_error_function",
            # (*, function_tool, context, error): the tool raised `error` and the SDK asks the tool's
            # failure_error_function for the result, inside the call's own await. If the tool has none, the SDK
            # raises `error` again and the span ends with it.
            _handled_failures.hook(lambda _, kwargs: kwargs.get("error"), "noting an openai-agents tool failure"),
        ),
    ]


def framework_telemetry(config: Config) -> str:
    disabled = os.environ.get("OPENAI_AGENTS_DISABLE_TRACING", "").strip().lower() in ("1", "true")
    state = "off (OPENAI_AGENTS_DISABLE_TRACING)" if disabled else "on unless the app calls set_tracing_disabled"
    return (
        f"the SDK's own tracing (its trace processors, exported to OpenAI, not OpenTelemetry) {state}; "
        "left alone: we neither disable nor replace it"
    )


ADAPTER = FrameworkAdapter(name, distribution, supported, targets, framework_telemetry)

"""AutoGen AgentChat (PyPI `autogen-agentchat`), checked against 0.7.5 (with autogen-core 0.7.5).

The tree of a run: a single agent's `run`/`run_stream` is `invoke_agent {agent}`; a team's
(`BaseGroupChat`: RoundRobinGroupChat, SelectorGroupChat, Swarm, MagenticOneGroupChat, GraphFlow) is
`invoke_workflow {team}`, and each member turn inside it is `invoke_agent {member}`; tool calls are
autogen-core's own `execute_tool` spans (below), children of the agent span that made them.

Targets: `BaseChatAgent.run` / `run_stream` and `BaseGroupChat.run` / `run_stream`; no subclass in
agentchat or autogen-ext overrides them. `run` returns a coroutine, `run_stream` an async generator
(proxied: still an `async_generator`, `aclose` reaches the team's `finally`, which clears
`_is_running`). A team's `run` iterates its own `run_stream`: the core's re-entry guard makes that one
span. An agent's `run` does not call `run_stream`.

A team is a workflow: AutoGen's `Team` is a concept of its own, distinct from `ChatAgent`, with no model
of its own that answers the task. SelectorGroupChat's selector model and MagenticOne's orchestrator
model only pick the next speaker (in a `BaseGroupChatManager`, which is not an agent: no name, no
`ChatAgent` API), so they are part of the workflow: no agent span of their own, and their model calls (an
LLM-client instrumentation's spans) sit under the workflow span. A team nested as a member is a workflow
under the outer one (the member container calls its `run_stream`).

Member turns: the team's runtime delivers a `GroupChatRequestPublish` to the member's
`ChatAgentContainer`, whose `handle_request` runs the turn (the member's `on_messages_stream`, never its
`run`, inside autogen-core's own member span, then publishes the response or the error). The target is
`ChatAgentContainer.on_message_impl` (inherited from `SequentialRoutedAgent`), traced only for that
message and a member that is not a team. Not `handle_request` itself: a `RoutedAgent` copies its handler
functions into the instance when it is built, so containers built before `instrument()` (a team that
already ran) would never call a patched `handle_request`, and containers built while instrumented would
keep calling our wrapper, and making spans, after `uninstrument()`; `on_message_impl` is looked up per
message.
The span also covers the container's FIFO lock wait for that request (messages to one container are
handled in order; the earlier ones only buffer messages). Each turn is one run with the core's lifecycle
(a coroutine): completed; failed with the member's own exception (its agent run's exception, as when the
agent runs alone; the team re-raises it to the app as `RuntimeError(str(SerializableException))`,
`_base_group_chat.py:554`, recorded on the workflow span); cancelled when the team's CancellationToken
cancels the turn's model call or the loop cancels the runtime's task. Closing the team's `run_stream`
early does not stop a turn: the stream's `finally` awaits `stop_when_idle`, so the turn in flight and
the following ones (until the termination condition) run to their end inside `aclose()`; their spans end
with them, before the workflow span ends `closed_early`. Facts: the member agent's name, description,
model and provider (as for an agent run); with content capture, the messages the container hands the
member (its buffer); the usage and last chat message of what the container logs for the turn
(`_log_message`, hooked to fold each message into the turn's tally). The member span's parent is the
context the runtime runs the turn in: the workflow span, or, when the global tracer provider records
autogen-core's runtime spans, its `autogen process {member}` span under the workflow span. A team run on
a runtime the app started itself (`runtime=`): the workflow span, see below.

A team on a runtime the app owns (`RoundRobinGroupChat(..., runtime=runtime)`, the app calling
`runtime.start()`): the runtime's processing task was created where the app started it, and autogen-core
relates a message's handling to its sender by a span link only (`TraceHelper.trace_block` starts its
`autogen process` span in the current context, the sender's context as a link), so without help a member
turn would run in whatever context the app started the runtime in (its startup span, another trace).
`ChatAgentContainer.on_message` (the runtime's entry into the container, `BaseAgent.on_message`, final) is
patched to pass through, and for a turn request of a team whose workflow span is open (looked up by the
team's output topic, which names its team id) and not the running invocation already, to await the turn as
a step of that workflow run (`awaited_step`): the member span is the workflow span's child, as with the
team's own embedded runtime, where the turn's context already is the workflow's and nothing changes.

Facts: agent `name` and `description`, team `name` (gen_ai.workflow.name); the model name only where a
client keeps it privately (`_create_args["model"]` on the OpenAI, Anthropic and Ollama clients); token
usage is the sum of `models_usage` over the messages the app already got (the returned
`TaskResult.messages`, or the items the consumer already pulled from `run_stream`), per member turn for a
team (a workflow span carries no usage). `TaskResult.stop_reason` is the termination condition's free
text ("Maximum number of turns 2 reached.", None for a single agent), not a model finish reason, so it is
not recorded as `gen_ai.response.finish_reasons`. AgentChat has no conversation id.

`gen_ai.provider.name`: an agent's model client (`_model_client`), by its autogen-ext class (subclasses
included; those modules are not imported): `OpenAIChatCompletionClient` -> `openai`,
`AzureOpenAIChatCompletionClient` -> `azure.ai.openai`, `AnthropicChatCompletionClient` -> `anthropic`,
`AnthropicBedrockChatCompletionClient` -> `aws.bedrock`, `OllamaChatCompletionClient` -> `ollama`,
`AzureAIChatCompletionClient` -> `azure.ai.inference`, `ChatCompletionCache` -> the client it wraps;
anything else (`ReplayChatCompletionClient`, a user's own client, `SKChatCompletionAdapter`, no client)
-> none (`_OTHER`). The OpenAI client is `openai` whatever endpoint it talks to (a `base_url`, or the
Gemini/Anthropic OpenAI-compatible endpoints it picks itself for `gemini-*`/`claude-*` names): the
conventions set the provider from the client library in use, the model name telling the rest. A member
turn: its agent's client. A workflow span has no provider (the core records none for workflows).

Tools: autogen-core makes its own `execute_tool {tool}` span (kind INTERNAL, global tracer provider) in
`BaseTool.run_json`/`run_json_stream` (`trace_tool_span`, with the tool's name and description and the
model's `FunctionCall.id` as `gen_ai.tool.call.id`; a tool that raises: ERROR, `error.type` its bare class
name, then `StaticWorkbench` returns the failure to the model as a value). So none of ours: AssistantAgent
runs its tool calls in a task it creates inside the agent's code, which copies the context current
there, so autogen-core's tool spans are children of our agent or member span.

autogen-core opens its own `invoke_agent` span (kind CLIENT, global tracer provider) in
`BaseChatAgent.run`/`run_stream` and around each team member turn (`ChatAgentContainer`). Both call
sites hold their own `trace_invoke_agent_span` reference, so both module bindings are patched: while our
own span for that same agent owns the call (the agent's run of ours, or our member turn span of that
member) they get a no-op context manager (unless `keep_framework_spans`); where ours is missing, theirs
is kept. This also stops autogen-core's span being attached across `run_stream`'s yields ("Failed to
detach context" when the generator is closed from GC or another task).

What `trace_invoke_agent_span` (autogen_core/_telemetry/_genai.py, 0.7.5) does, and what standing it
down changes (call sites: `_base_chat_agent.py` `run` and `run_stream` with the agent's name and
description; `_chat_agent_container.py` `handle_request`, for a member that is not a team, with its
name, description and `agent_id=str(self.id)`; none passes a tracer or a parent, none binds the span):
1. `trace.get_tracer("autogen-core")` from the global provider: telemetry only.
2. Attributes `gen_ai.operation.name=invoke_agent`, `gen_ai.system=autogen`, `gen_ai.agent.name`,
   `gen_ai.agent.id` (member turns), `gen_ai.agent.description`: telemetry only; ours carries the name,
   description and operation (no agent id: AgentChat has none outside a team's runtime).
3. `start_as_current_span(kind=CLIENT, context=None)`: starts the span under the current context and
   makes it current for the block. Stood down, the code in the block (the agent's model client, its
   tools, the app's own agent code) sees our agent span current (a member turn: our member span), which
   outgoing trace headers then name; this is the one difference the app can observe, and only through
   OpenTelemetry. No baggage or other context key is set either way.
4. Yields the span; no call site binds it (`with trace_invoke_agent_span(...):`), so nothing gets it.
   The stand-in yields `INVALID_SPAN`.
5. An `Exception` in the block: `record_exception`, status ERROR, `error.type` (bare class name) on its
   span, then re-raised as the same object; `start_as_current_span` also records any BaseException and
   ends the span. No exception is caught, replaced or suppressed: the stand-in (`nullcontext`) passes
   every exception through unchanged, so the app sees the same objects (a member's failure is still
   published as `GroupChatError` by the container's own `except`, inside the block, before it re-raises).
No step is anything but telemetry, so nothing else needs keeping.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from .. import semconv
from .._guard import report_failure
from .._patching import WrapperFunction
from ..awaited import awaited_step
from ..config import Config
from ..invocation import (
    AGENT,
    WORKFLOW,
    AgentInvocation,
    Outcome,
    RequestFacts,
    ResultFacts,
    Telemetry,
    active_invocation,
)
from ..stream import class_attribute, trace_result
from ._base import FrameworkAdapter, HookTarget, RunTarget, Target

name = "autogen_agentchat"
distribution = "autogen-agentchat"
supported = ">=0.7.5,<0.8"

_AGENT_MODULE = "autogen_agentchat.agents._base_chat_agent"
_TEAM_MODULE = "autogen_agentchat.teams._group_chat._base_group_chat"
_CONTAINER_MODULE = "autogen_agentchat.teams._group_chat._chat_agent_container"


def _text(message: Any) -> str:
    to_text = getattr(message, "to_text", None)
    if callable(to_text):
        text = to_text()
        if isinstance(text, str):
            return text
    content = getattr(message, "content", None)
    return content if isinstance(content, str) else str(content)


def _message_json(message: Any, role: str) -> dict[str, Any]:
    if isinstance(message, str):
        return {"role": role, "parts": [{"type": "text", "content": message}]}
    entry: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": _text(message)}]}
    source = getattr(message, "source", None)
    if isinstance(source, str):
        entry["name"] = source
    return entry


def _model_name(owner: Any) -> str | None:
    # ChatCompletionClient.model_info has no model name; some clients keep it privately.
    client = getattr(owner, "_model_client", None)
    create_args = getattr(client, "_create_args", None)
    model = create_args.get("model") if isinstance(create_args, dict) else None
    return model if isinstance(model, str) else None


# autogen-ext's model clients by the qualified names of the classes in a client's MRO (subclasses
# included; the modules import optional packages, so they are never imported here) -> provider.
_CLIENT_PROVIDERS: dict[str, str] = {
    "autogen_ext.models.openai._openai_client.OpenAIChatCompletionClient": "openai",
    "autogen_ext.models.openai._openai_client.AzureOpenAIChatCompletionClient": "azure",
    "autogen_ext.models.anthropic._anthropic_client.AnthropicChatCompletionClient": "anthropic",
    "autogen_ext.models.anthropic._anthropic_client.AnthropicBedrockChatCompletionClient": "aws.bedrock",
    "autogen_ext.models.ollama._ollama_client.OllamaChatCompletionClient": "ollama",
    "autogen_ext.models.azure._azure_ai_client.AzureAIChatCompletionClient": "azure.ai.inference",
}
# A client that forwards every call it does not answer itself to the one in its `client` attribute.
_CACHE_CLIENT = "autogen_ext.models.cache._chat_completion_cache.ChatCompletionCache"
_CACHE = "cache"
# Client type -> provider, _CACHE, or None. Bounded, for applications that make classes at run time.
_client_kinds: dict[type, str | None] = {}


def _client_kind(client: object) -> str | None:
    cls = type(client)
    if cls in _client_kinds:
        return _client_kinds[cls]
    kind: str | None = None
    for base in cls.__mro__:
        name = f"{base.__module__}.{base.__qualname__}"
        if name in _CLIENT_PROVIDERS or name == _CACHE_CLIENT:
            kind = _CLIENT_PROVIDERS.get(name, _CACHE)
            break
    if len(_client_kinds) < 1024:
        _client_kinds[cls] = kind
    return kind


def _client_provider(client: object) -> str | None:
    for _ in range(4):  # a cache of a cache of ...: a few levels, never a cycle
        kind = _client_kind(client)
        if kind != _CACHE:
            return kind
        client = getattr(client, "client", None)
    return None


def _agent_facts(agent: Any) -> RequestFacts:
    """An agent's identity, model and provider: for its own run and for its turns in a team."""
    agent_name = getattr(agent, "name", None)
    description = getattr(agent, "description", None)
    return RequestFacts(
        agent_name=agent_name if isinstance(agent_name, str) else None,
        agent_description=description if isinstance(description, str) else None,
        request_model=_model_name(agent),
        provider_name=semconv.provider_name(_client_provider(getattr(agent, "_model_client", None))),
    )


def _task_messages(kwargs: dict[str, Any]) -> list[dict[str, Any]] | None:
    task = kwargs.get("task")  # run/run_stream take keyword-only arguments
    if task is None:
        return None
    tasks = task if isinstance(task, Sequence) and not isinstance(task, str) else [task]
    return [_message_json(message, "user") for message in tasks]


def read_request(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    """An agent's `run`/`run_stream`."""
    facts = _agent_facts(owner)
    if config.capture_content.enabled:
        facts.input_messages = _task_messages(kwargs)
    return facts


def read_team_request(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    """A team's `run`/`run_stream`: a workflow named after the team."""
    team_name = getattr(owner, "name", None)
    facts = RequestFacts(operation=WORKFLOW, workflow_name=team_name if isinstance(team_name, str) else None)
    if config.capture_content.enabled:
        facts.input_messages = _task_messages(kwargs)
    return facts


def read_member_request(container: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    """A member turn (`ChatAgentContainer.on_message_impl` with a request): the member agent's facts,
    and with content capture the messages the container hands it (its buffer)."""
    facts = _agent_facts(getattr(container, "_agent", None))
    if config.capture_content.enabled:
        buffer = getattr(container, "_message_buffer", None)
        if isinstance(buffer, list):
            facts.input_messages = [_message_json(message, "user") for message in buffer]
    return facts


def _member_turn_check(request_type: type, team_type: type) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], bool]:
    """Whether a message to a container starts a member turn: a `GroupChatRequestPublish` (matched by
    exact type, as the container's routing does) to a member that is an agent (a team member runs its
    own `run_stream`, a workflow of ours)."""

    def is_member_turn(container: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        message = args[0] if args else kwargs.get("message")
        return type(message) is request_type and not isinstance(getattr(container, "_agent", None), team_type)

    return is_member_turn


# Per message class: (has `models_usage`, is a BaseChatMessage). Items are pydantic models whose fields
# are fixed by their class; asking a model for a field it lacks raises inside pydantic's __getattr__,
# which per streamed chunk cost more than the rest of our per-update work together.
_TRAITS: dict[type, tuple[bool, bool]] = {}


def _traits(kind: type, message: Any) -> tuple[bool, bool]:
    traits = _TRAITS.get(kind)
    if traits is None:
        traits = _TRAITS[kind] = (
            hasattr(message, "models_usage"),
            hasattr(message, "source") and hasattr(message, "to_model_text"),
        )
    return traits


class _Tally:
    """Usage and the last chat message among the items the consumer already pulled."""

    __slots__ = ("input_tokens", "last_message", "output_tokens")

    def __init__(self) -> None:
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.last_message: Any = None

    def add(self, message: Any) -> None:
        # Called for every streamed item: the traits are looked up here, not through _traits' call.
        kind = type(message)
        traits = _TRAITS.get(kind)
        has_usage, is_chat_message = traits if traits is not None else _traits(kind, message)
        if has_usage:
            usage = message.models_usage
            if usage is not None:
                prompt = getattr(usage, "prompt_tokens", None)
                completion = getattr(usage, "completion_tokens", None)
                if isinstance(prompt, int):
                    self.input_tokens = (self.input_tokens or 0) + prompt
                if isinstance(completion, int):
                    self.output_tokens = (self.output_tokens or 0) + completion
        if is_chat_message:
            self.last_message = message

    def facts(self, capture: bool) -> ResultFacts:
        facts = ResultFacts(input_tokens=self.input_tokens, output_tokens=self.output_tokens)
        if capture and self.last_message is not None:
            facts.output_messages = [_message_json(self.last_message, "assistant")]
        return facts


def _tally_of(task_result: Any) -> _Tally:
    tally = _Tally()
    for message in getattr(task_result, "messages", None) or ():
        tally.add(message)
    return tally


def make_result_handler(config: Config, usage: bool = True) -> Callable[[Any, AgentInvocation], Any]:
    """An agent's or (usage=False) a team's `run`/`run_stream` result. A workflow span carries no usage,
    so a team's run reads nothing unless content capture wants its last message."""
    capture = config.capture_content.enabled

    def read_task_result(value: Any, outcome: Outcome) -> ResultFacts | None:
        return _tally_of(value).facts(capture) if value is not None else None

    def handle_result(result: Any, invocation: AgentInvocation) -> Any:
        if not usage:
            _note_team_run(invocation)
        if not usage and not capture:
            return trace_result(result, invocation)
        if class_attribute(type(result), "__anext__") is None:
            return trace_result(result, invocation, read_task_result)
        # The generator keeps nothing it yielded: fold each item the consumer receives (no extra
        # pulls, no buffering) and read the fold at the end.
        tally = _Tally()
        invocation.observe_update = tally.add
        return trace_result(result, invocation, lambda _value, _outcome: tally.facts(capture))

    return handle_result


# A team's output topic (`output_topic_{team id}`, also its containers') -> its open workflow invocation. The
# open-invocation registry of the core holds each invocation until it ends; weak values drop it after that.
_team_runs: weakref.WeakValueDictionary[str, AgentInvocation] = weakref.WeakValueDictionary()


def _note_team_run(invocation: AgentInvocation) -> None:
    topic = getattr(invocation.owner, "_output_topic_type", None)
    if isinstance(topic, str):
        _team_runs[topic] = invocation


def _turn_in_team_run(request_type: type) -> Callable[[Telemetry], WrapperFunction]:
    """`ChatAgentContainer.on_message`: a turn request of a team whose workflow run is open, delivered in
    another context than that run's (a runtime the app started), is awaited as a step of that run."""

    def make_wrapper(telemetry: Telemetry) -> WrapperFunction:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            call = wrapped(*args, **kwargs)
            try:
                message = args[0] if args else kwargs.get("message")
                if type(message) is not request_type:
                    return call
                team_run = _team_runs.get(getattr(instance, "_output_topic_type", None) or "")
                if team_run is None or team_run.finished or active_invocation() is team_run:
                    return call
                return awaited_step(call, team_run)
            except Exception:
                report_failure("relating a member turn to its team's run")
                return call

        return wrapper

    return make_wrapper


def make_member_result_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    """A member turn's coroutine, ended with it; its facts are the tally of what the container logged
    for the turn (`_fold_member_message`)."""
    capture = config.capture_content.enabled

    def handle_turn(result: Any, invocation: AgentInvocation) -> Any:
        tally = _Tally()
        invocation.observe_update = tally.add
        return trace_result(result, invocation, lambda _value, _outcome: tally.facts(capture))

    return handle_turn


def _fold_member_message(telemetry: Telemetry) -> WrapperFunction:
    """`ChatAgentContainer._log_message`: every event and the final chat message of a member turn pass
    through it, inside the turn; fold each into the turn's tally (our member span is the running one)."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        running = active_invocation()
        if running is not None and running.owner is instance and not running.finished:
            observe = running.observe_update
            if observe is not None:
                try:
                    observe(args[0] if args else kwargs.get("message"))
                except Exception:
                    report_failure("reading a member turn's message")
        return wrapped(*args, **kwargs)

    return wrapper


def _agent_name_of_run(owner: Any) -> object:
    return getattr(owner, "name", None)


def _agent_name_of_turn(owner: Any) -> object:
    return getattr(getattr(owner, "_agent", None), "name", None)


def _stand_down_framework_span(agent_name_of: Callable[[Any], object]) -> Callable[[Telemetry], Any]:
    """autogen-core's `trace_invoke_agent_span`, replaced by a no-op while our own agent span for that
    same agent owns the call: `agent_name_of(owner)` of the running agent invocation is the name the
    call site passes (an agent's run of ours; a member turn of ours). Otherwise theirs is kept: an agent
    span of theirs is only ever replaced by ours, never dropped."""
    from opentelemetry import trace

    def make_wrapper(telemetry: Telemetry) -> Any:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            running = active_invocation()
            if running is not None and running.request.operation is AGENT:
                agent_name = args[0] if args else kwargs.get("agent_name")
                if agent_name_of(running.owner) == agent_name:
                    return contextlib.nullcontext(trace.INVALID_SPAN)
            return wrapped(*args, **kwargs)

        return wrapper

    return make_wrapper


def targets(config: Config) -> Sequence[Target]:
    from autogen_agentchat.base import Team
    from autogen_agentchat.teams._group_chat._events import GroupChatRequestPublish

    handle_agent_result = make_result_handler(config)
    handle_team_result = make_result_handler(config, usage=False)
    found: list[Target] = [
        RunTarget(_AGENT_MODULE, f"BaseChatAgent.{method}", read_request, handle_result=handle_agent_result)
        for method in ("run", "run_stream")
    ]
    found += [
        RunTarget(_TEAM_MODULE, f"BaseGroupChat.{method}", read_team_request, handle_result=handle_team_result)
        for method in ("run", "run_stream")
    ]
    found.append(
        RunTarget(
            _CONTAINER_MODULE,
            "ChatAgentContainer.on_message_impl",
            read_member_request,
            should_trace=_member_turn_check(GroupChatRequestPublish, Team),
            handle_result=make_member_result_handler(config),
            reentry_key=f"{name}:member",
        )
    )
    found.append(HookTarget(_CONTAINER_MODULE, "ChatAgentContainer._log_message", _fold_member_message))
    found.append(
        HookTarget(_CONTAINER_MODULE, "ChatAgentContainer.on_message", _turn_in_team_run(GroupChatRequestPublish))
    )
    if not config.keep_framework_spans:
        found.append(
            HookTarget(_AGENT_MODULE, "trace_invoke_agent_span", _stand_down_framework_span(_agent_name_of_run))
        )
        found.append(
            HookTarget(_CONTAINER_MODULE, "trace_invoke_agent_span", _stand_down_framework_span(_agent_name_of_turn))
        )
    return found


def framework_telemetry(config: Config) -> str:
    disabled = os.environ.get("AUTOGEN_DISABLE_RUNTIME_TRACING") == "true"
    state = "off (AUTOGEN_DISABLE_RUNTIME_TRACING=true)" if disabled else "on (the global tracer provider)"
    spans = (
        "its agent spans are kept beside ours (keep_framework_spans)"
        if config.keep_framework_spans
        else "its agent spans are stood down for ours"
    )
    return f"autogen-core runtime tracing {state}; {spans}, its tool spans are kept"


ADAPTER = FrameworkAdapter(name, distribution, supported, targets, framework_telemetry)

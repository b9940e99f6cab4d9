"""AutoGen AgentChat (PyPI `autogen-agentchat`), checked against 0.7.5 (with autogen-core 0.7.5).

Targets: `BaseChatAgent.run` / `run_stream` and `BaseGroupChat.run` / `run_stream`; no subclass in
agentchat or autogen-ext overrides them. `run` returns a coroutine, `run_stream` an async generator
(proxied: still an `async_generator`, `aclose` reaches the team's `finally`, which clears
`_is_running`). A team's `run` iterates its own `run_stream`: the core's re-entry guard makes that one
span. An agent's `run` does not call `run_stream`.

Facts: agent/team `name` and `description`; the model name only where a client keeps it privately
(`_create_args["model"]` on the OpenAI, Anthropic and Ollama clients); token usage is the sum of
`models_usage` over the messages the app already got (the returned `TaskResult.messages`, or the items
the consumer already pulled from `run_stream`). `TaskResult.stop_reason` is the termination
condition's free text ("Maximum number of turns 2 reached.", None for a single agent), not a model
finish reason, so it is not recorded as `gen_ai.response.finish_reasons`. AgentChat has no
conversation id. Teams re-raise member failures as `RuntimeError(str(SerializableException))`
(`_base_group_chat.py:554`): the span records what the app sees, `RuntimeError`.

`gen_ai.provider.name`: an agent's model client (`_model_client`), by its autogen-ext class (subclasses
included; those modules are not imported): `OpenAIChatCompletionClient` -> `openai`,
`AzureOpenAIChatCompletionClient` -> `azure.ai.openai`, `AnthropicChatCompletionClient` -> `anthropic`,
`AnthropicBedrockChatCompletionClient` -> `aws.bedrock`, `OllamaChatCompletionClient` -> `ollama`,
`AzureAIChatCompletionClient` -> `azure.ai.inference`, `ChatCompletionCache` -> the client it wraps;
anything else (`ReplayChatCompletionClient`, a user's own client, `SKChatCompletionAdapter`, no client)
-> none (`_OTHER`). The OpenAI client is `openai` whatever endpoint it talks to (a `base_url`, or the
Gemini/Anthropic OpenAI-compatible endpoints it picks itself for `gemini-*`/`claude-*` names): the
conventions set the provider from the client library in use, the model name telling the rest. A team
(rule of ours): the one provider that every participant (nested teams included) and the team's own
model client (a selector's, an orchestrator's) have; none when they differ or any participant's calls
cannot be attributed (a `UserProxyAgent`, an agent of the app's own, a replay client), since then no
single provider serves the run.

autogen-core opens its own `invoke_agent` span (kind CLIENT, global tracer provider) in
`BaseChatAgent.run`/`run_stream` and around each team member turn (`ChatAgentContainer`). Both call
sites hold their own `trace_invoke_agent_span` reference, so both module bindings are patched: while
our invocation owns the run they get a no-op context manager (unless `keep_framework_spans`). This also
stops autogen-core's span being attached across `run_stream`'s yields ("Failed to detach context" when
the generator is closed from GC or another task).

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
   tools, the app's own agent code) sees our agent span current (a member turn: our team span), which
   outgoing trace headers then name; this is the one difference the app can observe, and only through
   OpenTelemetry. No baggage or other context key is set either way.
4. Yields the span; no call site binds it (`with trace_invoke_agent_span(...):`), so nothing gets it.
   The stand-in yields `INVALID_SPAN`.
5. An `Exception` in the block: `record_exception`, status ERROR, `error.type` (bare class name) on its
   span, then re-raised as the same object; `start_as_current_span` also records any BaseException and
   ends the span. No exception is caught, replaced or suppressed: the stand-in (`nullcontext`) passes
   every exception through unchanged, so the app sees the same objects (a member's failure is still
   published as `GroupChatError` by the container's own `except`, inside the block, before it re-raises).
No step is anything but telemetry, so nothing else needs keeping. Team members get no span of their own
while stood down (another change will give them theirs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from .. import semconv
from ..config import Config
from ..invocation import AgentInvocation, Outcome, RequestFacts, ResultFacts, Telemetry, active_invocation
from ..stream import trace_result
from ._base import FrameworkAdapter, HookTarget, RunTarget, Target

name = "autogen_agentchat"
distribution = "autogen-agentchat"
supported = ">=0.7.5,<0.8"


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


def _provider(owner: Any, depth: int = 0) -> str | None:
    """An agent's: its model client's provider. A team's: the one provider every participant's model
    calls go to (and its own model client's, a selector's or orchestrator's), else none."""
    participants = getattr(owner, "_participants", None)
    if not isinstance(participants, list):
        return _client_provider(getattr(owner, "_model_client", None))
    if depth > 8:
        return None
    found = {_provider(participant, depth + 1) for participant in participants}
    own_client = getattr(owner, "_model_client", None)
    if own_client is not None:
        found.add(_client_provider(own_client))
    return found.pop() if len(found) == 1 else None


def read_request(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    agent_name = getattr(owner, "name", None)
    description = getattr(owner, "description", None)
    facts = RequestFacts(
        agent_name=agent_name if isinstance(agent_name, str) else None,
        agent_description=description if isinstance(description, str) else None,
        request_model=_model_name(owner),
        provider_name=semconv.provider_name(_provider(owner)),
    )
    if config.capture_content.enabled:
        task = kwargs.get("task")  # run/run_stream take keyword-only arguments
        if task is not None:
            tasks = task if isinstance(task, Sequence) and not isinstance(task, str) else [task]
            facts.input_messages = [_message_json(message, "user") for message in tasks]
    return facts


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
        has_usage, is_chat_message = _traits(type(message), message)
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


def make_result_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def read_task_result(value: Any, outcome: Outcome) -> ResultFacts | None:
        return _tally_of(value).facts(capture) if value is not None else None

    def handle_result(result: Any, invocation: AgentInvocation) -> Any:
        if not hasattr(type(result), "__anext__"):
            return trace_result(result, invocation, read_task_result)
        # The generator keeps nothing it yielded: fold each item the consumer receives (no extra
        # pulls, no buffering) and read the fold at the end.
        tally = _Tally()
        invocation.observe_update = tally.add
        return trace_result(result, invocation, lambda _value, _outcome: tally.facts(capture))

    return handle_result


def _stand_down_framework_span(match_owner_name: bool) -> Callable[[Telemetry], Any]:
    """autogen-core's `trace_invoke_agent_span`, replaced by a no-op while our invocation owns the run:
    the agent's own run (its name matches our owner's) or any member turn of a team run of ours."""
    from opentelemetry import trace

    def make_wrapper(telemetry: Telemetry) -> Any:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            running = active_invocation()
            if running is not None:
                agent_name = args[0] if args else kwargs.get("agent_name")
                if not match_owner_name or getattr(running.owner, "name", None) == agent_name:
                    return contextlib.nullcontext(trace.INVALID_SPAN)
            return wrapped(*args, **kwargs)

        return wrapper

    return make_wrapper


def targets(config: Config) -> Sequence[Target]:
    handle_result = make_result_handler(config)
    found: list[Target] = [
        RunTarget(module, f"{owner}.{method}", read_request, handle_result=handle_result)
        for module, owner in (
            ("autogen_agentchat.agents._base_chat_agent", "BaseChatAgent"),
            ("autogen_agentchat.teams._group_chat._base_group_chat", "BaseGroupChat"),
        )
        for method in ("run", "run_stream")
    ]
    if not config.keep_framework_spans:
        found.append(
            HookTarget(
                "autogen_agentchat.agents._base_chat_agent",
                "trace_invoke_agent_span",
                _stand_down_framework_span(match_owner_name=True),
            )
        )
        found.append(
            HookTarget(
                "autogen_agentchat.teams._group_chat._chat_agent_container",
                "trace_invoke_agent_span",
                _stand_down_framework_span(match_owner_name=False),
            )
        )
    return found


ADAPTER = FrameworkAdapter(name, distribution, supported, targets)

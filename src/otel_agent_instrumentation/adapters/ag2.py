"""AG2, both of its API lines, told apart by the module they are imported as (not by distribution: the PyPI
distribution `ag2` ships the 1.x `ag2` module from 1.0 on and shipped the 0.2-line `autogen` module before;
the distribution `autogen` (0.14.1 checked) ships the `autogen` module). Checked against ag2 1.2.1 (module `ag2`)
and autogen 0.14.1 (module `autogen`); each line's version is read from its module.

## The 1.x API (module `ag2`)

`Agent.ask` (a coroutine) is one run, and so is `Agent.resume` (a turn resumed from recorded events; neither
calls the other). `Agent.run` returns an `AgentRun`, an async context manager: entering it
opens the turn's scope (middleware built, observers started), `result()` drives the turn in a task the scope
owns (`start()` starts that task without awaiting it), and leaving the block cancels a task still running
(ag2/agent.py `AgentRun`). The run's span covers the block: the core's context-manager proxy (an
`isinstance(run, AgentRun)` that holds), whose `result()` and `start()` run with the span current, so the
driving task, created there, inherits it. How the block ends, from the driving task (`AgentRunMethods`):
its reply -> completed; its exception -> failed, with that exception, ended where `result()` raises it;
`result()`'s await cancelled -> cancelled; the block left before the task finished (the scope cancels it) or
without driving it -> closed early. An exception of the application's own inside the block does not make the
run failed. `AgentReply.ask`/`AgentReply.run` (a conversation continued from a reply) are runs of the same
agent, with the same readers. The span carries the reply's response id and finish reason, and the id of the
stream the turn ran on as `gen_ai.conversation.id` (a continuation goes on on the same stream); AG2 keeps the run's
token usage in its stream history, readable only asynchronously (`AgentReply.usage()`), so the span records
none (the LLM-client instrumentation's `chat` spans carry each call's).

Tool calls: every call the model asks for is run by `ag2.tools.executor._execute_call`, one task per call
(created in the run's context), which returns the `ToolResultEvent`, or the `ToolErrorEvent` AG2 makes of what
the tool raised (`ToolErrorEvent.from_call`, the exception kept as `error`): an `execute_tool {name}` span with
the model's call id; a `ToolErrorEvent` ends it ERROR with the tool's exception.

AG2's opt-in OpenTelemetry (`TelemetryMiddleware`) emits `invoke_agent` per turn, `chat` per model call and
`execute_tool` per tool call. While a run or tool call of ours is current, its `invoke_agent` and `execute_tool`
spans are not recorded (a non-recording span that carries ours, so what it parents stays under ours, and its
usage watcher and everything else it does still run); its `chat` spans stay, under ours. `keep_framework_spans`
keeps all of them. This applies to middleware created after `instrument()` (its tracer is taken then).

## The 0.2-line API (module `autogen`, `ConversableAgent`)

`sender.initiate_chat(recipient, ...)` / `a_initiate_chat` is one run, named after the recipient: the agent
the conversation is started with (`invoke_agent {recipient.name}`, its model and provider from its
`llm_config`). A recipient that is a `GroupChatManager` makes it `invoke_workflow {manager.name}`: the manager
never takes a turn in the conversation and has no model of its own in it (its `llm_config`, when set, only picks
the next speaker, as AutoGen AgentChat's `SelectorGroupChat`, which is a workflow too); each member's turn
(`speaker.generate_reply(sender=manager)` / `a_generate_reply` in `GroupChatManager.run_chat`/`a_run_chat`)
is an `invoke_agent {member.name}` child. A member that is itself a `GroupChatManager` is a nested workflow.
Nested chats (`register_nested_chats`) call `initiate_chat` from inside a reply: child runs. Each chat's
invocation is owned by an object made for that call, so a nested chat started by the same sender as the
outer one is its own run, not a layer of it. The span carries the chat's id (`gen_ai.conversation.id`) and the
tokens the two agents' model clients counted during the chat (cached inference included; `ChatResult.cost`
itself adds up every chat the agents ever had, so it is not used as is).

`run`/`run_iter` and `run_group_chat` (and `sequential_run`, not tested) start the chat in a
`threading.Thread` that begins with an empty OpenTelemetry context and feed `RunResponse.events` from it
through a `ThreadIOStream` made in the caller's thread. We note the caller's context when such a stream is
made, and a chat started in a thread whose current stream is one of those, outside any run of ours, starts on
that context: the chat's span is a child of the caller's span and ends with the chat in the thread, completed
or failed, whether or not anyone drains the events. `a_run` starts it as an asyncio task, which inherits the
context by itself.
`a_generate_oai_reply` (an async chat's model call) runs `generate_oai_reply` in the loop's default executor,
whose thread starts with an empty context too: while it awaits, its context is kept for that thread (keyed by
the agent and the messages list it hands over), so the model call, and an LLM-client `chat` span, stay in the
chat's trace. AG2 registers `a_generate_oai_reply` in each agent's reply list when the agent is built: agents
built before `instrument()` keep the unpatched one, and their async chats' model calls start new traces.

Tool calls: `ConversableAgent.execute_function`/`a_execute_function` (every registered function the model
calls, run by the agent that executes it) is an `execute_tool {name}` span with `gen_ai.tool.call.id` = the
call id. AG2 catches what the function raises and returns `(False, {"content": "Error: ..."})`, keeping no
exception class: the span ends ERROR with `error.type` `_OTHER` and AG2's message.

AG2's opt-in `autogen.opentelemetry.instrument_agent` replaces the agent's methods on the instance (marking
them `__otel_wrapped__`): a `conversation {sender}` span around `initiate_chat`, an `invoke_agent {agent}`
span per `generate_reply`, an `execute_tool` span per `execute_function`. Its `conversation` spans stay (ours
runs inside them). Its `invoke_agent` spans inside a run of ours are not recorded (as for the 1.x middleware;
`keep_framework_spans` keeps them). Where it wraps `execute_function`/`a_execute_function`, its `execute_tool`
span is the tool call's and ours is not started. Order matters as for any instance patch: `instrument_agent`
called before `instrument()` captured the unpatched methods, so that agent's chats get its spans only.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import json
import logging
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from .. import semconv
from .._context import instrumentation_enabled
from .._guard import report_failure
from .._patching import WrapperFunction
from ..awaited import traced_await
from ..config import Config
from ..invocation import (
    ABANDONED,
    CANCELLED,
    CLOSED_EARLY,
    COMPLETED,
    FAILED,
    TOOL,
    WORKFLOW,
    Invocation,
    Outcome,
    RequestFacts,
    ResultFacts,
    Telemetry,
    active_invocation,
)
from ..stream import finish_with_error, trace_result
from ._base import FrameworkAdapter, HookTarget, RequestReader, ResultReader, RunTarget, Target

logger = logging.getLogger("otel_agent_instrumentation")

name = "ag2"
# None: each API line's version is read from its module (see the module docstring).
distribution = None
supported = ">=1.2,<2"  # the `ag2` module (1.x API)
AUTOGEN_SUPPORTED = ">=0.14,<1"  # the `autogen` module (0.2-line API)

_TOOL_KEY = f"{name}:tool"
_CHAT_KEY = f"{name}:chat"
_TURN_KEY = f"{name}:turn"
_AGENT_KEYS = frozenset({name, _CHAT_KEY, _TURN_KEY})
_TOOL_KEYS = frozenset({_TOOL_KEY})


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _json_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except Exception:  # a structure json cannot walk: no content rather than no span
        return None


def _user_text(text: Any) -> list[dict[str, Any]] | None:
    return [{"role": "user", "parts": [{"type": "text", "content": text}]}] if isinstance(text, str) else None


def _assistant_text(text: Any) -> list[dict[str, Any]] | None:
    if not isinstance(text, str) or not text:
        return None
    return [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]


def _system_text(texts: Sequence[Any]) -> list[dict[str, Any]] | None:
    parts = [{"type": "text", "content": text} for text in texts if isinstance(text, str) and text]
    return parts or None


class _Owner:
    """The owner of one invocation, made for that call alone: nothing else is a layer of it."""

    __slots__ = ()


def _running_ours(keys: frozenset[str]) -> bool:
    running = active_invocation()
    return running is not None and not running.finished and running.reentry_key in keys


# -- AG2's own OpenTelemetry: its agent (and 1.x tool) spans inside ours are not recorded -------------------------


class _StandDownTracer:
    """AG2's tracer, as its instrumentation holds it: spans named `invoke_agent ...` started while a run of ours
    is current, and `execute_tool ...` while a tool call of ours is, are a non-recording span carrying ours."""

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._tracer, attribute)

    @staticmethod
    def _stands_down(span_name: Any) -> bool:
        if not isinstance(span_name, str):
            return False
        if span_name.startswith("invoke_agent"):
            return _running_ours(_AGENT_KEYS)
        if span_name.startswith("execute_tool"):
            return _running_ours(_TOOL_KEYS)
        return False

    def start_as_current_span(self, span_name: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if self._stands_down(span_name):
                carrier = trace.NonRecordingSpan(trace.get_current_span().get_span_context())
                return trace.use_span(carrier, end_on_exit=False)
        except Exception:
            report_failure("standing AG2's own span down")
        return self._tracer.start_as_current_span(span_name, *args, **kwargs)


def _stand_down_tracer(telemetry: Telemetry) -> WrapperFunction:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return _StandDownTracer(wrapped(*args, **kwargs))

    return wrapper


# -- the 1.x API ------------------------------------------------------------------------------------------------


def _config_value(model_config: Any, attribute: str) -> str | None:
    try:  # ag2.testing.TestConfig raises NotImplementedError for what it was not given
        value = getattr(model_config, attribute, None)
    except Exception:
        return None
    return _text(getattr(value, "value", value))


def _read_agent_v1(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    model_config = kwargs.get("config") or getattr(agent, "config", None)
    facts = RequestFacts(
        agent_name=_text(getattr(agent, "name", None)),
        request_model=_config_value(model_config, "model"),
        provider_name=semconv.provider_name(_config_value(model_config, "provider")),
    )
    if config.capture_content.enabled:
        texts = [text for text in args if isinstance(text, str)]
        facts.input_messages = _user_text("\n".join(texts)) if texts else None
        facts.system_instructions = _system_text(tuple(getattr(agent, "system_prompt", ()) or ()))
    return facts


def read_request_v1(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    return _read_agent_v1(agent, args, kwargs, config)


def read_reply_request_v1(reply: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    # AgentReply.ask/run: the conversation goes on with the reply's agent.
    return _read_agent_v1(getattr(reply, "_AgentReply__agent", None), args, kwargs, config)


def _driving_task(run: Any) -> Any:
    """The task driving an AgentRun's turn (ag2/agent.py `AgentRun.__task`), None until result()/start().
    Read as an attribute, not through `vars()`, which would make the instance's dictionary (CPython 3.11 keeps
    an instance's attributes inline until something asks for it, and reads them slower once it is made)."""
    task = getattr(run, "_AgentRun__task", None)
    return task if isinstance(task, asyncio.Future) else None


def _driven_reply(value: Any) -> Any:
    if hasattr(value, "response") and hasattr(value, "context"):
        return value  # an AgentReply
    task = _driving_task(value)
    if task is None or not task.done() or task.cancelled() or task.exception() is not None:
        return None
    return task.result()


def make_result_reader_v1(config: Config) -> Callable[[Any, Outcome], ResultFacts | None]:
    capture = config.capture_content.enabled

    def read_result(value: Any, outcome: Outcome) -> ResultFacts | None:
        reply = _driven_reply(value)
        response = getattr(reply, "response", None)
        if response is None:
            return None
        finish_reason = _text(getattr(response, "finish_reason", None))
        # The stream the turn ran on is AG2's conversation: a continuation (`reply.ask`) goes on on it.
        stream_id = getattr(getattr(getattr(reply, "context", None), "stream", None), "id", None)
        facts = ResultFacts(
            response_id=_text(getattr(response, "response_id", None)),
            finish_reasons=[finish_reason] if finish_reason else None,
            conversation_id=str(stream_id) if stream_id is not None else None,
        )
        if capture:
            facts.output_messages = _assistant_text(getattr(response, "content", None))
        return facts

    return read_result


class AgentRunMethods:
    """Methods of `AgentRun` the context-manager proxy serves itself (mixed into the proxy class)."""

    def start(self) -> None:
        # The driving task is created here: with our span current, it inherits it.
        proxy: Any = self
        proxy._self_step(proxy.__wrapped__.start)

    async def result(self) -> Any:
        # Drives the turn (creating the task here) with our span current; what it raises ends the run.
        proxy: Any = self
        return await proxy._self_astep(proxy.__wrapped__.result())

    def _self_exit_outcome(self, error: BaseException | None) -> tuple[Outcome, BaseException | None]:
        """The block was left with the run open: how the turn ended, from its driving task (after the scope's exit
        has cancelled one still running)."""
        proxy: Any = self
        if isinstance(error, asyncio.CancelledError):
            return CANCELLED, error
        try:
            task = _driving_task(proxy.__wrapped__)
            if task is None or not task.done() or task.cancelled():
                return CLOSED_EARLY, None  # never driven, or stopped by leaving the block
            failure = task.exception()
        except Exception:  # an AgentRun we cannot read: the block's end is all we know
            report_failure("reading how an AG2 run ended")
            return CLOSED_EARLY, None
        if failure is not None:
            return FAILED, failure
        return COMPLETED, None


def read_tool_request_v1(_: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    # _execute_call(context, call): call is the model's ToolCallEvent.
    call = args[1] if len(args) > 1 else kwargs.get("call")
    facts = RequestFacts(
        operation=TOOL,
        tool_name=_text(getattr(call, "name", None)),
        tool_type=semconv.TOOL_TYPE_FUNCTION,
        tool_call_id=_text(getattr(call, "id", None)),
    )
    if config.capture_content.enabled:
        facts.tool_arguments = _text(getattr(call, "arguments", None))
    return facts


def _tool_result_text(event: Any) -> str | None:
    parts = getattr(getattr(event, "result", None), "parts", None) or ()
    texts = [getattr(part, "content", None) for part in parts]
    joined = "\n".join(text for text in texts if isinstance(text, str))
    return joined or None


def make_tool_result_handler_v1(config: Config, error_event: type) -> Callable[[Any, Invocation], Any]:
    capture = config.capture_content.enabled

    def end(event: Any, invocation: Invocation) -> None:
        error = getattr(event, "error", None) if isinstance(event, error_event) else None
        if isinstance(error, BaseException):
            invocation.finish(FAILED, error)
            return
        facts = ResultFacts(tool_result=_tool_result_text(event)) if capture else None
        invocation.finish(COMPLETED, None, facts)

    def handle_result(result: Any, invocation: Invocation) -> Any:
        invocation.owner = _Owner()  # a module function: no instance owns the call
        if not inspect.iscoroutine(result):
            end(result, invocation)
            return result
        # execute_tools awaits it as a task of its own, where it is made (see awaited.py).
        return traced_await(result, invocation, lambda event: end(event, invocation))

    return handle_result


def targets_v1(config: Config) -> list[Target]:
    from ag2.events import ToolErrorEvent

    read_result = make_result_reader_v1(config)
    found: list[Target] = [
        RunTarget("ag2.agent", "Agent.ask", read_request_v1, read_result),
        RunTarget("ag2.agent", "Agent.resume", read_request_v1, read_result),
        RunTarget("ag2.agent", "Agent.run", read_request_v1, read_result, stream_methods=AgentRunMethods),
        RunTarget("ag2.agent", "AgentReply.ask", read_reply_request_v1, read_result),
        RunTarget("ag2.agent", "AgentReply.run", read_reply_request_v1, read_result, stream_methods=AgentRunMethods),
        RunTarget(
            "ag2.tools.executor",
            "_execute_call",
            read_tool_request_v1,
            handle_result=make_tool_result_handler_v1(config, ToolErrorEvent),
            reentry_key=_TOOL_KEY,
        ),
    ]
    if not config.keep_framework_spans and _sdk_installed():
        # AG2's middleware needs OpenTelemetry's SDK (it imports it): without it there is nothing to stand down.
        found.append(HookTarget("ag2.middleware.builtin.telemetry", "_get_tracer", _stand_down_tracer))
    return found


# -- the 0.2-line API ------------------------------------------------------------------------------------------

_API_TYPE_PROVIDERS = {"azure": "azure.ai.openai", "bedrock": "aws.bedrock", "mistral": "mistral_ai"}


def _first_llm_config(agent: Any) -> Any:
    llm_config = getattr(agent, "llm_config", None)
    if not llm_config:
        return None
    config_list = getattr(llm_config, "config_list", None)
    if config_list is None and isinstance(llm_config, dict):
        config_list = llm_config.get("config_list")
    return config_list[0] if config_list else None


def _entry(entry: Any, key: str) -> Any:
    return entry.get(key) if isinstance(entry, dict) else getattr(entry, key, None)


def _agent_facts(agent: Any, config: Config) -> RequestFacts:
    entry = _first_llm_config(agent)
    api_type = _text(_entry(entry, "api_type")) if entry is not None else None
    if entry is not None and api_type is None:
        api_type = "openai"  # AG2's default api_type (autogen/oai/client.py)
    facts = RequestFacts(
        agent_name=_text(getattr(agent, "name", None)),
        agent_description=_text(getattr(agent, "description", None)),
        request_model=_text(_entry(entry, "model")) if entry is not None else None,
        provider_name=semconv.provider_name(_API_TYPE_PROVIDERS.get(api_type, api_type) if api_type else None),
    )
    if config.capture_content.enabled:
        facts.system_instructions = _system_text([getattr(agent, "system_message", None)])
    return facts


def _client_tokens(agents: Sequence[Any]) -> tuple[int, int] | None:
    """(input, output) tokens the agents' model clients have counted so far, as AG2's `gather_usage_summary`
    reads them (`client.total_usage_summary`, cached inference included); None when no client counts any."""
    counted = False
    input_tokens = output_tokens = 0
    for agent in {id(agent): agent for agent in agents}.values():
        summary = getattr(getattr(agent, "client", None), "total_usage_summary", None)
        if not isinstance(summary, dict):
            continue
        for counts in summary.values():
            if isinstance(counts, dict):
                counted = True
                input_tokens += _positive_int(counts.get("prompt_tokens")) or 0
                output_tokens += _positive_int(counts.get("completion_tokens")) or 0
    return (input_tokens, output_tokens) if counted else None


class _Chat:
    """One chat's owner: its sender and recipient, made per call (see the module docstring), and what their
    model clients had counted when it started."""

    __slots__ = ("recipient", "sender", "tokens_at_start")

    def __init__(self, sender: Any, recipient: Any) -> None:
        self.sender = sender
        self.recipient = recipient
        self.tokens_at_start: tuple[int, int] | None = None


def make_chat_reader(manager_type: type) -> Callable[[Any, tuple[Any, ...], dict[str, Any], Config], RequestFacts]:
    def read_chat_request(chat: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
        recipient = chat.recipient
        if isinstance(recipient, manager_type):
            facts = RequestFacts(operation=WORKFLOW, workflow_name=_text(getattr(recipient, "name", None)))
        else:
            facts = _agent_facts(recipient, config)
        if config.capture_content.enabled:
            facts.input_messages = _user_text(kwargs.get("message"))
        return facts

    return read_chat_request


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def make_chat_result_reader(config: Config) -> Callable[[_Chat], ResultReader]:
    """The reader of one chat's `ChatResult`. Its `cost` is what the two agents' clients have counted since they
    were made, over all their chats (autogen/agentchat/utils.py `gather_usage_summary`), so the chat's own tokens
    are what the clients counted between its start and its end (a nested chat with one of them is in both)."""
    capture = config.capture_content.enabled

    def reader_of(chat: _Chat) -> ResultReader:
        def read_result(result: Any, outcome: Outcome) -> ResultFacts | None:
            facts = ResultFacts()
            tokens_at_end = _client_tokens((chat.sender, chat.recipient))
            if tokens_at_end is not None:
                before = chat.tokens_at_start or (0, 0)
                facts.input_tokens = tokens_at_end[0] - before[0]
                facts.output_tokens = tokens_at_end[1] - before[1]
            if result is None or not hasattr(result, "chat_history"):
                return facts
            chat_id = getattr(result, "chat_id", None)
            facts.conversation_id = str(chat_id) if isinstance(chat_id, int) else _text(chat_id)
            if capture:
                facts.output_messages = _assistant_text(getattr(result, "summary", None))
            return facts

        return read_result

    return reader_of


# A ThreadIOStream -> the OpenTelemetry context current where it was made (see the module docstring).
_stream_contexts: weakref.WeakKeyDictionary[Any, otel_context.Context] = weakref.WeakKeyDictionary()


def _note_stream_context(telemetry: Telemetry) -> WrapperFunction:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        value = wrapped(*args, **kwargs)
        try:
            # Also when suppressed: the thread then runs suppressed, as its caller does.
            _stream_contexts[instance] = otel_context.get_current()
        except Exception:
            report_failure("noting the context of an AG2 run thread")
        return value

    return wrapper


def _start_run(
    telemetry: Telemetry,
    read_request: RequestReader,
    owner: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    reentry_key: str,
) -> Invocation | None:
    """A run's invocation from its request (a reader that raises costs the request facts, not the span); None when
    the span cannot be started. What runs.py's traced_run does, for the hooks here that run the lifecycle
    themselves."""
    try:
        request = read_request(owner, args, kwargs, telemetry.config)
    except Exception:
        report_failure("reading the agent request")
        request = RequestFacts()
    try:
        return Invocation(telemetry, request, owner, reentry_key)
    except Exception:
        report_failure("starting the agent span")
        return None


def make_chat_wrapper(
    read_chat: RequestReader, reader_of: Callable[[_Chat], ResultReader], current_stream: Callable[[], Any]
) -> Callable[[Telemetry], WrapperFunction]:
    """The wrapper of `initiate_chat`/`a_initiate_chat`: the core's run lifecycle (as a RunTarget gets it), owned
    by an object made for the call, so no other call is a layer of it (a nested chat from the same sender is its
    own run; only `ConversableAgent`'s own method is patched, so a subclass's override calling it is one run),
    and, in a run thread (see the module docstring), on the context of the caller who started it."""

    def read_chat_noting_tokens(chat: _Chat, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> Any:
        request = read_chat(chat, args, kwargs, config)
        chat.tokens_at_start = _client_tokens((chat.sender, chat.recipient))
        return request

    def make_wrapper(telemetry: Telemetry) -> WrapperFunction:
        def run(wrapped: Callable[..., Any], chat: _Chat, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not instrumentation_enabled():
                return wrapped(*args, **kwargs)
            invocation = _start_run(telemetry, read_chat_noting_tokens, chat, args, kwargs, _CHAT_KEY)
            if invocation is None:
                return wrapped(*args, **kwargs)
            token = invocation.attach()
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as error:
                invocation.detach(token)
                finish_with_error(invocation, error)
                raise
            invocation.detach(token)
            try:
                return trace_result(result, invocation, reader_of(chat))
            except Exception:
                report_failure("tracing the agent result")
                invocation.finish(ABANDONED)
                return result

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not instrumentation_enabled():
                return wrapped(*args, **kwargs)
            try:
                chat = _Chat(instance, args[0] if args else kwargs.get("recipient"))
                caller = None if active_invocation() is not None or not _stream_contexts else current_stream()
                context = _stream_contexts.get(caller) if caller is not None else None
            except Exception:
                report_failure("reading an AG2 chat")
                return wrapped(*args, **kwargs)
            if context is None:
                return run(wrapped, chat, args, kwargs)
            token = otel_context.attach(context)
            try:
                return run(wrapped, chat, args, kwargs)
            finally:
                otel_context.detach(token)

        return wrapper

    return make_wrapper


# (id(agent), id(messages)) -> the context of an `a_generate_oai_reply` awaiting its executor thread.
_executor_contexts: dict[tuple[int, int], otel_context.Context] = {}


def _messages_argument(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return args[0] if args else kwargs.get("messages")


def _hand_context_to_executor(telemetry: Telemetry) -> WrapperFunction:
    """`a_generate_oai_reply` runs `generate_oai_reply` in the loop's default executor, whose thread starts with
    an empty context: the model call (and an LLM-client span) would leave the run's trace. While it awaits, the
    context it was called in is kept for that thread, under the agent and the messages list it passed on."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not instrumentation_enabled() or active_invocation() is None:
            return wrapped(*args, **kwargs)
        key = (id(instance), id(_messages_argument(args, kwargs)))
        return _carried(wrapped(*args, **kwargs), key, otel_context.get_current())

    return wrapper


async def _carried(call: Any, key: tuple[int, int], context: otel_context.Context) -> Any:
    _executor_contexts[key] = context
    try:
        return await call
    finally:
        if _executor_contexts.get(key) is context:
            del _executor_contexts[key]


def _take_context_in_executor(telemetry: Telemetry) -> WrapperFunction:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not _executor_contexts or active_invocation() is not None:
            return wrapped(*args, **kwargs)
        context = _executor_contexts.get((id(instance), id(_messages_argument(args, kwargs))))
        if context is None:
            return wrapped(*args, **kwargs)
        token = otel_context.attach(context)
        try:
            return wrapped(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return wrapper


def make_member_turn_check(manager_type: type) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], bool]:
    def is_member_turn(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        # GroupChatManager.run_chat: `speaker.generate_reply(sender=self)`; generate_reply(messages, sender, ...)
        sender = kwargs["sender"] if "sender" in kwargs else (args[1] if len(args) > 1 else None)
        return isinstance(sender, manager_type)

    return is_member_turn


def _starts_member_turn(agent: Any) -> bool:
    """Whether an async turn of `agent` may be a run of ours: instrumentation on, and not a layer of the agent's running
    turn (what a run target's re-entry guard tells, with the same key as the sync turn's)."""
    if not instrumentation_enabled():
        return False
    running = active_invocation()
    return not (
        running is not None and running.owner is agent and running.reentry_key == _TURN_KEY and not running.finished
    )


def make_async_member_turn_hook(
    read_member: RequestReader, is_member_turn: Callable[[Any, tuple[Any, ...], dict[str, Any]], bool]
) -> Callable[[Telemetry], WrapperFunction]:
    """`ConversableAgent.a_generate_reply` as a hook whose `async def` of ours decides at its first step, rather than a
    run target that stays with wrapt (an `async def` target) and decides where it is bound.

    Why: AG2 checks each sender against its runtime protocol `Agent` for every reply function it considers
    (`_match_trigger`: `isinstance(sender, Agent)`, conversable_agent.py), and on Python 3.11 such a check reads every
    member of the protocol off the instance, `a_generate_reply` among them, with hasattr and then getattr. A method
    bound through our binding-time decision and wrapt costs 9.6k instructions a read against 1.4k for a function
    (callgrind micro, 2000 reads): four checks a reply in a plain two-agent chat, 8 reads, with us or suppressed.
    A function of ours is bound as the original is. The manager awaits the turn where it makes it
    (`reply = await speaker.a_generate_reply(sender=self)`, groupchat.py `a_run_chat`), so the turn's span is current
    for that await (`traced_await`) and ends with it. What the hook changes for a caller: the coroutine it holds is
    ours (with the original's name), and the turn is decided at its first step rather than at the call."""

    def make_wrapper(telemetry: Telemetry) -> WrapperFunction:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            try:
                member_turn = is_member_turn(instance, args, kwargs)
            except Exception:
                report_failure("deciding whether to trace the agent run")
                member_turn = False
            call = wrapped(*args, **kwargs)  # only makes the coroutine: nothing of the turn runs yet
            if not member_turn:
                return call
            invocation = _start_run(telemetry, read_member, instance, args, kwargs, _TURN_KEY)
            return call if invocation is None else traced_await(call, invocation)

        return wrapper

    return make_wrapper


def make_member_reader(manager_type: type) -> Callable[[Any, tuple[Any, ...], dict[str, Any], Config], RequestFacts]:
    def read_member_request(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
        if isinstance(agent, manager_type):  # a group chat that is a member of another
            return RequestFacts(operation=WORKFLOW, workflow_name=_text(getattr(agent, "name", None)))
        return _agent_facts(agent, config)

    return read_member_request


def _not_wrapped_by_ag2(method_name: str) -> Callable[[Any, tuple[Any, ...], dict[str, Any]], bool]:
    def check(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        # instrument_agent sets its wrapper on the instance; its execute_tool span is the call's. Read as an
        # attribute, not through `vars()` (which makes the instance's dictionary): the class's own method,
        # found when the instance has none, is never AG2's wrapper.
        return not hasattr(getattr(agent, method_name, None), "__otel_wrapped__")

    return check


def read_function_request(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    # execute_function(func_call, call_id=None, verbose=False)
    func_call = args[0] if args else kwargs.get("func_call")
    call_id = args[1] if len(args) > 1 else kwargs.get("call_id")
    function_name = func_call.get("name") if isinstance(func_call, dict) else None
    facts = RequestFacts(
        operation=TOOL,
        tool_name=_text(function_name),
        tool_type=semconv.TOOL_TYPE_FUNCTION,
        tool_call_id=_text(call_id),
    )
    if config.capture_content.enabled and isinstance(func_call, dict):
        facts.tool_arguments = _json_text(func_call.get("arguments", "{}"))
    return facts


def make_function_result_handler(config: Config) -> Callable[[Any, Invocation], Any]:
    capture = config.capture_content.enabled

    def end(value: Any, invocation: Invocation) -> None:
        # (is_exec_success, {"name", "role", "content"}): AG2 returns failures, keeping the message only.
        succeeded, result = value if isinstance(value, tuple) and len(value) == 2 else (True, None)
        content = result.get("content") if isinstance(result, dict) else None
        if succeeded is False:
            failure = ResultFacts(error_type=semconv.ERROR_TYPE_OTHER, error_message=_text(content))
            invocation.finish(FAILED, None, failure)
            return
        invocation.finish(COMPLETED, None, ResultFacts(tool_result=_json_text(content)) if capture else None)

    def handle_result(result: Any, invocation: Invocation) -> Any:
        if inspect.iscoroutine(result):  # a_execute_function: awaited where it is called
            return traced_await(result, invocation, lambda value: end(value, invocation))
        end(result, invocation)
        return result

    return handle_result


_CONVERSABLE = "autogen.agentchat.conversable_agent"


def targets_autogen(config: Config) -> list[Target]:
    from autogen.agentchat.groupchat import GroupChatManager
    from autogen.io.base import IOStream

    default_stream = IOStream._default_io_stream  # a ContextVar: read, never set

    def current_stream() -> Any:
        return default_stream.get()

    read_chat = make_chat_reader(GroupChatManager)
    read_chat_result = make_chat_result_reader(config)
    found: list[Target] = [
        HookTarget(
            _CONVERSABLE,
            f"ConversableAgent.{method}",
            make_chat_wrapper(read_chat, read_chat_result, current_stream),
        )
        for method in ("initiate_chat", "a_initiate_chat")
    ]
    is_member_turn = make_member_turn_check(GroupChatManager)
    read_member = make_member_reader(GroupChatManager)
    found += [
        RunTarget(
            _CONVERSABLE,
            "ConversableAgent.generate_reply",
            read_member,
            should_trace=is_member_turn,
            reentry_key=_TURN_KEY,
        ),
        HookTarget(
            _CONVERSABLE,
            "ConversableAgent.a_generate_reply",
            make_async_member_turn_hook(read_member, is_member_turn),
            _starts_member_turn,
        ),
    ]
    handle_function_result = make_function_result_handler(config)
    found += [
        RunTarget(
            _CONVERSABLE,
            f"ConversableAgent.{method}",
            read_function_request,
            should_trace=_not_wrapped_by_ag2(method),
            handle_result=handle_function_result,
            reentry_key=_TOOL_KEY,
        )
        for method in ("execute_function", "a_execute_function")
    ]
    found.append(HookTarget("autogen.io.thread_io_stream", "ThreadIOStream.__init__", _note_stream_context))
    found.append(HookTarget(_CONVERSABLE, "ConversableAgent.a_generate_oai_reply", _hand_context_to_executor))
    found.append(HookTarget(_CONVERSABLE, "ConversableAgent.generate_oai_reply", _take_context_in_executor))
    if not config.keep_framework_spans and _sdk_installed():
        # AG2's instrument_agent needs OpenTelemetry's SDK (it imports it): without it there is nothing to stand down.
        found += [
            HookTarget(f"autogen.opentelemetry.instrumentators.{module}", "get_tracer", _stand_down_tracer)
            for module in ("agent", "pattern")
        ]
    return found


# -- which API lines are installed ------------------------------------------------------------------------------


def _sdk_installed() -> bool:
    return importlib.util.find_spec("opentelemetry.sdk") is not None


def _line_is_usable(module_name: str, version_module: str, checked: str) -> bool:
    """Whether the module is importable at a version not below its checked range; logs as the core does."""
    if importlib.util.find_spec(module_name) is None:
        logger.debug("adapter %s: module %s is not installed", name, module_name)
        return False
    installed = str(getattr(importlib.import_module(version_module), "__version__", ""))
    try:
        version = Version(installed)
        specifiers = SpecifierSet(checked)
    except InvalidVersion:
        logger.warning("adapter %s: %s %r has no comparable version; skipped", name, module_name, installed)
        return False
    if specifiers.contains(version, prereleases=True):
        return True
    floor = [s for s in specifiers if s.operator in (">=", ">")]
    if any(not s.contains(version, prereleases=True) for s in floor):
        logger.warning(
            "adapter %s: module %s %s is below the versions it was checked against (%s); skipped",
            name,
            module_name,
            installed,
            checked,
        )
        return False
    logger.warning(
        "adapter %s: module %s %s is newer than the versions it was checked against (%s); instrumented unchecked",
        name,
        module_name,
        installed,
        checked,
    )
    return True


def targets(config: Config) -> Sequence[Target]:
    found: list[Target] = []
    if _line_is_usable("ag2", "ag2.version", supported):
        found += targets_v1(config)
    # The 0.2 line's module, whichever distribution installed it (`autogen`, `ag2` < 1, `pyautogen`).
    if _line_is_usable("autogen", "autogen.version", AUTOGEN_SUPPORTED) and importlib.util.find_spec(_CONVERSABLE):
        found += targets_autogen(config)
    return found


def framework_telemetry(config: Config) -> str:
    lines = [
        f"{module} {getattr(importlib.import_module(f'{module}.version'), '__version__', '?')} (checked {checked})"
        for module, checked in (("ag2", supported), ("autogen", AUTOGEN_SUPPORTED))
        if importlib.util.find_spec(module) is not None
    ]
    if not lines:
        return "neither the ag2 (1.x) nor the autogen (0.2-line) module is installed"
    spans = (
        "its invoke_agent spans (and 1.x execute_tool spans) are kept beside ours (keep_framework_spans)"
        if config.keep_framework_spans
        else "its invoke_agent spans inside our runs (and 1.x execute_tool spans inside our tool calls) are stood "
        "down for ours"
    )
    return (
        f"modules: {', '.join(lines)}; AG2's OpenTelemetry is opt-in (1.x TelemetryMiddleware, 0.2-line "
        f"instrument_agent), each made after instrument(): {spans}; its chat and conversation spans are kept"
    )


ADAPTER = FrameworkAdapter(name, distribution, supported, targets, framework_telemetry)

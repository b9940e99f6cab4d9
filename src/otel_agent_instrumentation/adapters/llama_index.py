"""LlamaIndex agents and workflows (PyPI `llama-index-core`, with `llama-index-workflows`), checked against
llama-index-core 0.14.25 and llama-index-workflows 2.26.1.

Runs: `Workflow.run` (workflows/workflow.py) is a plain `def` that validates the workflow, builds the start event
and returns a `WorkflowHandler` at once; the run itself is an asyncio task the runtime creates inside the call
(`BasicRuntime.run_workflow`, plugins/basic.py: `asyncio.create_task(run_with_concurrency_limit())`), and the
handler's own `_result_task` (handler.py) waits for its `StopEvent`. `BaseWorkflowAgent.run` (FunctionAgent,
ReActAgent, CodeActAgent) and `AgentWorkflow.run` parse their arguments and call `super().run()`, i.e.
`Workflow.run`: the three are targets with one re-entry key, so a run is one span from the user's call. The span is
current during the call, so the run's task, and every step task it creates, inherits it: the run's model calls, tool
calls and nested runs are its children. It ends when the handler's `_result_task` is done (a done callback; nothing
is awaited, streamed or cancelled by us): the `StopEvent` completed, `WorkflowCancelledByUser` (`cancel_run()`)
cancelled with that error type, another exception (a step's, `WorkflowTimeoutError`) failed, the task cancelled
(the deprecated `handler.cancel()`, loop shutdown, or a cancelled task that awaited the handler: asyncio cancels
the awaited result task with it, while the runtime's own run task goes on unobserved, as without us) cancelled with
`CancelledError`. Neither the return of `run`
nor closing `stream_events()` ends it (closing the stream does not stop the run), and a handler the app drops
does not either: the runtime keeps the run going (fire and forget) and the span ends with it. The caller gets the
very handler `run` returned. Which span: a `BaseWorkflowAgent` is `invoke_agent {agent.name}`; every other
`Workflow` (`AgentWorkflow`, the app's own workflows) is an orchestration without a model of its own,
`invoke_workflow {name}`: the `workflow_name` given to the constructor, else the class name.

Member agents of an `AgentWorkflow` never call `run`: the workflow's `run_agent_step` step calls the current
agent's `take_step` (one model call), its `call_tool` step runs the tool calls, and a `handoff` tool call moves
the run to another agent. A member's turn is `invoke_agent {member}` under the workflow span, from its first
`run_agent_step` through its tool calls to the next agent's first step (a handoff: completed) or the run's end
(with the run's outcome); a `run_agent_step` that raises ends it with that exception. Tool calls of the workflow
(its `_call_tool`) are children of the member's span although they run in their own step tasks.

Tool calls: `BaseWorkflowAgent._call_tool` and `AgentWorkflow._call_tool` (the `call_tool` steps' only way to a
tool) are `execute_tool {tool.metadata.name}` (type function, description, `gen_ai.tool.call.id` = the `ToolCall`
event's `tool_id`: the model's id for a function-calling agent, a uuid4 that ReAct and CodeAct agents make). Both
catch what the tool raises and return `ToolOutput(is_error=True, exception=e)`: the span is ERROR with the
exception's class (`_OTHER` for an error output without one, e.g. an unknown tool). A `WaitingForEvent` a tool
raises (`ctx.wait_for_event`, human in the loop) pauses the step, which runs again once the event arrives: the
paused call's span ends closed_early, the re-run gets its own. With content capture on, the arguments (the
`tool_input` dict as JSON) and the output's text.

Facts: agent `name`, `description`; the model is the LLM's `model` field (OpenAI, Anthropic, ...) and
`gen_ai.provider.name` the LLM's integration package (`llama_index.llms.openai` -> `openai`, ...; others,
`OpenAILike` and the mock LLMs `_OTHER`). `LLM.metadata` is not read: OpenAI's raises for model names it does not
know. Usage is the sum over the run's (a member turn's) model calls of the `AgentOutput.raw` usage each
`run_agent_step` produced (`prompt_tokens`/`completion_tokens` or `input_tokens`/`output_tokens`; a streamed
OpenAI call has usage only when the server sends it; the early-stopping and structured-output calls LlamaIndex makes
outside `run_agent_step` are not in it). With content capture on, the user message, the system
prompt and the final response. LlamaIndex has no conversation id. Its own instrumentation (the
`llama_index_instrumentation` dispatcher, its span and event handlers) is untouched: nothing of ours goes through it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context

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
    WORKFLOW,
    Invocation,
    Outcome,
    RequestFacts,
    ResultFacts,
    active_invocation,
)
from ..stream import AbandonWatch, finish_with_error
from ._base import FrameworkAdapter, HookTarget, RunTarget, Target

if TYPE_CHECKING:
    from .._patching import WrapperFunction
    from ..invocation import Telemetry

name = "llama_index"
distribution = "llama-index-core"
supported = ">=0.14.25,<0.15"

_MEMBER_REENTRY_KEY = f"{name}:member"
_TOOL_REENTRY_KEY = f"{name}:tool"
_CANCELLED_BY_USER = "WorkflowCancelledByUser"
_WAITING_FOR_EVENT = "WaitingForEvent"

# llama-index LLM integration package (llama_index.llms.<package>) -> the conventions' provider.
_PROVIDER_PACKAGES: dict[str, str] = {
    "openai": "openai",
    "azure_openai": "azure.ai.openai",
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "gemini": "gcp.gemini",
    "google_genai": "gcp.gen_ai",
    "vertex": "gcp.vertex_ai",
    "mistralai": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "cohere": "cohere",
    "perplexity": "perplexity",
    "xai": "x_ai",
    "ibm": "ibm.watsonx.ai",
    "azure_inference": "azure.ai.inference",
}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _provider(llm: Any) -> str | None:
    module = type(llm).__module__
    prefix = "llama_index.llms."
    if not module.startswith(prefix):
        return None
    return _PROVIDER_PACKAGES.get(module[len(prefix) :].split(".")[0])


def _model(llm: Any) -> str | None:
    return _text(getattr(llm, "model", None)) or _text(getattr(llm, "model_name", None))


def _message_text(message: Any) -> str | None:
    if isinstance(message, str):
        return _text(message)
    return _text(getattr(message, "content", None))


def agent_facts(agent: Any, config: Config) -> RequestFacts:
    llm = getattr(agent, "llm", None)
    facts = RequestFacts(
        agent_name=_text(getattr(agent, "name", None)),
        agent_description=_text(getattr(agent, "description", None)),
        request_model=_model(llm),
        provider_name=_provider(llm),
    )
    if config.capture_content.enabled:
        system_prompt = _text(getattr(agent, "system_prompt", None))
        if system_prompt:
            facts.system_instructions = [{"type": "text", "content": system_prompt}]
    return facts


def _workflow_name(workflow: Any) -> str | None:
    return _text(getattr(workflow, "_workflow_name", None)) or type(workflow).__name__


def make_request_reader(agent_type: type) -> Callable[[Any, tuple[Any, ...], dict[str, Any], Config], RequestFacts]:
    def read_request(workflow: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
        if not isinstance(workflow, agent_type):
            return RequestFacts(operation=WORKFLOW, workflow_name=_workflow_name(workflow))
        facts = agent_facts(workflow, config)
        if config.capture_content.enabled:
            # agent.run(user_msg=...) or the deprecated positional agent.run("...").
            message = kwargs.get("user_msg")
            if message is None and args and not hasattr(args[0], "store"):  # not a Context
                message = args[0]
            text = _message_text(message)
            if text:
                facts.input_messages = [{"role": "user", "parts": [{"type": "text", "content": text}]}]
        return facts

    return read_request


# -- usage, per agent run and per member turn -----------------------------------------------------------


@dataclass
class _Tally:
    input_tokens: int = 0
    output_tokens: int = 0
    seen: bool = False


_tallies: weakref.WeakKeyDictionary[Invocation, _Tally] = weakref.WeakKeyDictionary()


def _count(usage: Any, *keys: str) -> int | None:
    for key in keys:
        value = usage.get(key) if isinstance(usage, dict) else getattr(usage, key, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _fold_usage(invocation: Invocation, output: Any) -> None:
    """Add the usage of the model call behind one `AgentOutput` to the run's (or turn's) tally."""
    raw = getattr(output, "raw", None)
    usage = raw.get("usage") if isinstance(raw, dict) else getattr(raw, "usage", None)
    if usage is None:
        return
    input_tokens = _count(usage, "prompt_tokens", "input_tokens")
    output_tokens = _count(usage, "completion_tokens", "output_tokens")
    if input_tokens is None and output_tokens is None:
        return
    tally = _tallies.get(invocation)
    if tally is None:
        tally = _tallies[invocation] = _Tally()
    tally.input_tokens += input_tokens or 0
    tally.output_tokens += output_tokens or 0
    tally.seen = True


def _tally_facts(invocation: Invocation) -> ResultFacts | None:
    tally = _tallies.pop(invocation, None)
    if tally is None or not tally.seen:
        return None
    return ResultFacts(input_tokens=tally.input_tokens, output_tokens=tally.output_tokens)


# -- member turns of an AgentWorkflow ---------------------------------------------------------------------


@dataclass
class _Members:
    """The member agent whose turn an AgentWorkflow run is in."""

    current: Invocation | None = None
    ended: list[Invocation] = field(default_factory=list)


# A workflow run's invocation -> its member turns.
_members: weakref.WeakKeyDictionary[Invocation, _Members] = weakref.WeakKeyDictionary()


def _end_member(member: Invocation, outcome: Outcome, error: BaseException | None) -> None:
    facts = _tally_facts(member)
    if error is not None:
        if outcome is CANCELLED:
            member.finish(outcome, error, facts)
        else:
            finish_with_error(member, error, facts)
    else:
        member.finish(outcome, None, facts)


def _end_members(root: Invocation, outcome: Outcome, error: BaseException | None) -> None:
    """The run ended: the member whose turn it was ends with the run's outcome."""
    members = _members.pop(root, None)
    if members is not None and members.current is not None and not members.current.finished:
        _end_member(members.current, outcome, error)


def _step_argument(args: tuple[Any, ...], kwargs: dict[str, Any], key: str, position: int) -> Any:
    if key in kwargs:
        return kwargs[key]
    return args[position] if len(args) > position else None


def _member_of_turn(
    telemetry: Telemetry, workflow: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Invocation | None:
    """The span of the member agent whose step this is (started at its first step after another's), or None
    when the step is not in an AgentWorkflow run of ours."""
    if not instrumentation_enabled():
        return None
    root = active_invocation()
    if root is None or root.finished or root.owner is not workflow or root.request.operation is not WORKFLOW:
        return None
    event = _step_argument(args, kwargs, "ev", 1)  # run_agent_step(self, ctx, ev: AgentSetup)
    agent = getattr(workflow, "agents", {}).get(getattr(event, "current_agent_name", None))
    if agent is None:
        return None
    members = _members.get(root)
    if members is None:
        members = _members[root] = _Members()
    current = members.current
    if current is not None and not current.finished and current.owner is agent:
        return current
    if current is not None and not current.finished:
        _end_member(current, COMPLETED, None)  # handed off
    # Started in the step's context: a child of the workflow's span.
    members.current = Invocation(telemetry, agent_facts(agent, telemetry.config), agent, _MEMBER_REENTRY_KEY)
    return members.current


async def _member_turn(step: Any, member: Invocation) -> Any:
    try:
        output = await awaited_step(step, member)
    except BaseException as error:
        _end_member(member, _outcome_of_step(error), error)
        raise
    try:
        _fold_usage(member, output)
    except Exception:
        report_failure("reading a llama-index agent step's usage")
    return output


def _outcome_of_step(error: BaseException) -> Outcome:
    return CANCELLED if isinstance(error, asyncio.CancelledError) else FAILED


def _member_turns(telemetry: Telemetry) -> WrapperFunction:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        step = wrapped(*args, **kwargs)
        try:
            member = _member_of_turn(telemetry, instance, args, kwargs)
        except Exception:
            report_failure("starting a llama-index member agent span")
            member = None
        return step if member is None else _member_turn(step, member)

    return wrapper


async def _agent_step(step: Any, run: Invocation) -> Any:
    output = await step
    try:
        _fold_usage(run, output)
    except Exception:
        report_failure("reading a llama-index agent step's usage")
    return output


def _agent_steps(telemetry: Telemetry) -> WrapperFunction:
    """A single agent's own `run_agent_step`: its model call's usage goes to the agent's run."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        step = wrapped(*args, **kwargs)
        run = active_invocation()
        if run is None or run.owner is not instance or run.finished:
            return step
        return _agent_step(step, run)

    return wrapper


# -- the run's end: the handler's result task -----------------------------------------------------------


def _task_exception(task: asyncio.Future[Any]) -> BaseException | None:
    # Not task.exception(): that marks it retrieved, which is the app's (and llama-index's) business.
    error = getattr(task, "_exception", None)
    return error if isinstance(error, BaseException) else None


def _end_abandoned(run: Invocation) -> None:
    # From the garbage collector: no context or framework calls.
    if not run.finished:
        _members.pop(run, None)
        run.finish(ABANDONED)


def _run_facts(run: Invocation, stop_event: Any, capture: bool) -> ResultFacts | None:
    facts = _tally_facts(run)
    if capture and run.request.operation is AGENT:
        text = _message_text(getattr(getattr(stop_event, "result", None), "response", None))
        if text:
            facts = facts or ResultFacts()
            facts.output_messages = [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
    return facts


def _run_done(run: Invocation, capture: bool, finalizer: AbandonWatch, task: asyncio.Future[Any]) -> None:
    try:
        finalizer.detach()
        if task.cancelled():
            error: BaseException = asyncio.CancelledError()
            _end_members(run, CANCELLED, error)
            run.finish(CANCELLED, error, _tally_facts(run))
            return
        failure = _task_exception(task)
        if failure is not None:
            cancelled = type(failure).__name__ == _CANCELLED_BY_USER
            outcome = CANCELLED if cancelled else FAILED
            _end_members(run, outcome, failure)
            run.finish(outcome, failure, _tally_facts(run))
            return
        _end_members(run, COMPLETED, None)
        run.finish(COMPLETED, None, _run_facts(run, task.result(), capture))
    except Exception:
        report_failure("ending a llama-index run")
        run.finish(ABANDONED)


def make_result_handler(config: Config) -> Callable[[Any, Invocation], Any]:
    capture = config.capture_content.enabled

    def handle_result(handler: Any, run: Invocation) -> Any:
        task = getattr(handler, "_result_task", None)
        if not isinstance(task, asyncio.Future):
            run.finish(ABANDONED)  # not a WorkflowHandler we know: its end cannot be observed
            return handler
        finalizer = AbandonWatch(task, run, _end_abandoned)  # interpreter exit: the core ends open runs (shutdown)
        task.add_done_callback(functools.partial(_run_done, run, capture, finalizer))
        return handler

    return handle_result


# -- tool calls ----------------------------------------------------------------------------------------


def _json_text(value: Any) -> str | None:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except Exception:
        return None


def _tool_call_id(tool_name: str | None, current_step: Callable[[], Any] | None) -> str | None:
    """The `tool_id` of the `ToolCall` event the running `call_tool` step handles."""
    if current_step is None:
        return None
    event = getattr(current_step(), "event", None)
    if tool_name is None or getattr(event, "tool_name", None) != tool_name:
        return None
    return _text(getattr(event, "tool_id", None))


def _tool_facts(tool: Any, tool_input: Any, config: Config, current_step: Callable[[], Any] | None) -> RequestFacts:
    metadata = getattr(tool, "metadata", None)
    tool_name = _text(getattr(metadata, "name", None))
    facts = RequestFacts(
        operation=TOOL,
        tool_name=tool_name,
        tool_type=semconv.TOOL_TYPE_FUNCTION,
        tool_description=_text(getattr(metadata, "description", None)),
        tool_call_id=_tool_call_id(tool_name, current_step),
    )
    if config.capture_content.enabled:
        facts.tool_arguments = _json_text(tool_input if tool_input is not None else {})
    return facts


def _end_tool_call(output: Any, tool_call: Invocation, capture: bool) -> None:
    facts = ResultFacts(tool_result=_text(getattr(output, "content", None))) if capture else None
    if getattr(output, "is_error", False) is True:
        facts = facts or ResultFacts()
        exception = getattr(output, "exception", None)
        facts.error_type = (
            semconv.error_type(exception) if isinstance(exception, BaseException) else semconv.ERROR_TYPE_OTHER
        )
        facts.error_message = _text(getattr(output, "content", None))
    tool_call.finish(COMPLETED, None, facts)  # an error output makes it ERROR


def _paused(tool_call: Invocation) -> Callable[[BaseException], bool]:
    def on_error(error: BaseException) -> bool:
        if type(error).__name__ != _WAITING_FOR_EVENT:
            return False
        tool_call.finish(CLOSED_EARLY)  # the step waits for an event and runs again
        return True

    return on_error


def _tool_calls(current_step: Callable[[], Any] | None) -> Callable[[Telemetry], WrapperFunction]:
    def make_wrapper(telemetry: Telemetry) -> WrapperFunction:
        config = telemetry.config
        capture = config.capture_content.enabled

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if not instrumentation_enabled():
                return wrapped(*args, **kwargs)
            tool_call: Invocation | None = None
            try:
                # _call_tool(self, ctx, tool, tool_input)
                tool = _step_argument(args, kwargs, "tool", 1)
                facts = _tool_facts(tool, _step_argument(args, kwargs, "tool_input", 2), config, current_step)
                running = active_invocation()
                members = _members.get(running) if running is not None else None
                member = members.current if members is not None else None
                if member is not None and not member.finished:
                    # An AgentWorkflow's tool call: a child of the member whose turn it is, not of the workflow.
                    token = otel_context.attach(member.step_context())
                    try:
                        tool_call = Invocation(telemetry, facts, tool, _TOOL_REENTRY_KEY)
                    finally:
                        otel_context.detach(token)
                else:
                    tool_call = Invocation(telemetry, facts, tool, _TOOL_REENTRY_KEY)
            except Exception:
                report_failure("starting a llama-index tool span")
            call = wrapped(*args, **kwargs)
            if tool_call is None:
                return call
            traced = tool_call
            return traced_await(call, traced, lambda output: _end_tool_call(output, traced, capture), _paused(traced))

        return wrapper

    return make_wrapper


def _current_step_reader() -> Callable[[], Any] | None:
    try:
        from workflows.runtime.types.results import StepWorkerStateContextVar
    except ImportError:  # moved: tool spans go without call ids
        return None

    def current_step() -> Any:
        return StepWorkerStateContextVar.get(None)

    return current_step


def targets(config: Config) -> Sequence[Target]:
    from llama_index.core.agent.workflow.base_agent import BaseWorkflowAgent

    read_request = make_request_reader(BaseWorkflowAgent)
    handle_result = make_result_handler(config)
    tool_calls = _tool_calls(_current_step_reader())
    base_agent = "llama_index.core.agent.workflow.base_agent"
    agent_workflow = "llama_index.core.agent.workflow.multi_agent_workflow"
    runs: list[Target] = [
        RunTarget(module, f"{owner}.run", read_request, handle_result=handle_result)
        for module, owner in (
            ("workflows.workflow", "Workflow"),
            (base_agent, "BaseWorkflowAgent"),
            (agent_workflow, "AgentWorkflow"),
        )
    ]
    return [
        *runs,
        HookTarget(base_agent, "BaseWorkflowAgent.run_agent_step", _agent_steps),
        HookTarget(agent_workflow, "AgentWorkflow.run_agent_step", _member_turns),
        HookTarget(base_agent, "BaseWorkflowAgent._call_tool", tool_calls),
        HookTarget(agent_workflow, "AgentWorkflow._call_tool", tool_calls),
    ]


def framework_telemetry(config: Config) -> str:
    from llama_index.core.instrumentation import get_dispatcher

    root = get_dispatcher()
    # The root dispatcher starts with a NullSpanHandler and a NullEventHandler, which record nothing.
    spans = [handler for handler in root.span_handlers if type(handler).__name__ != "NullSpanHandler"]
    events = [handler for handler in root.event_handlers if type(handler).__name__ != "NullEventHandler"]
    return (
        f"LlamaIndex's instrumentation dispatcher: {len(spans)} span and {len(events)} event handlers attached "
        "(OpenTelemetry only through one the app attaches, e.g. OpenInference's); left alone: its spans and events "
        "reach its handlers as without us"
    )


ADAPTER = FrameworkAdapter(name, distribution, supported, targets, framework_telemetry)

"""Agno (PyPI `agno`), checked against 3.1.10.

Targets: `Agent.run`, `Agent.arun`, `Team.run`, `Team.arun` (and workflows, below). All four are plain `def`s (agno
agent/agent.py, team/team.py) returning, by `stream=`, a `RunOutput`/`TeamRunOutput`, a sync
generator, a coroutine or an async generator; the core handles each shape. Team members run through
the public `member.run()`/`member.arun()` (team/_default_tools.py), so a member's run is a child span.

`arun(background=True)` returns a coroutine (`_arun_background`, agent/_run.py:1957, team/_run.py:3452)
that stores a PENDING `RunOutput`, starts the run as an asyncio task and returns that same output at
once; the task (`_execute_background`, run/background.py:36) moves it to RUNNING and then COMPLETED,
ERROR or CANCELLED. Its span starts at the call and ends when that task is done: we await the
coroutine with the span current (so the task, created then, inherits it and the run's model and
tool spans are its children), learn the task from `agno.run.background._spawn_background` (patched
to pass through, then to pick out the task it just created by `Task.get_coro()`; agno imports the
function at each call, agent/_run.py:1999), and end the span from the task's done callback with the
status agno left on the output: COMPLETED (and PAUSED) completed; ERROR failed, typed as for other
returned errors; CANCELLED (`cancel_run`, which agno raises inside the run as `RunCancelledException`)
cancelled with that error type; the task cancelled (e.g. at loop shutdown) cancelled with
`CancelledError`. A coroutine nobody awaits starts no task and ends abandoned.
`arun(background=True, stream=True)` is not traced: what it returns (agent/_run.py:2025-2121) is an SSE
transport of a run the task goes on with after the client leaves, and the task is only created at
its first pull, so the core's stream proxy would end the span with the transport, not the run.

Agno returns failures instead of raising them: non-stream runs return `status == ERROR`, streams yield
a `RunErrorEvent` and end normally (agent/_run.py:727-755, 1240-1278). The span is still ERROR:
`error.type` is the error event's `error_type` (agno's `error_type_of`: a slug such as
`input_check_error`, or the exception's class name), or `_OTHER` for a non-stream Agent run, whose
output keeps no error event and no error type. For streams we read the `RunOutput` agno itself holds
for the run: the dispatcher builds it before the generator starts and hands it to the generator as its
`run_response` argument, and agno appends the error event and sets the status on it. The reference is
taken when the stream is returned: from the arguments a hook on the generator function (`_run_stream`,
`_arun_stream` of agents and teams) noted for the run, else from the unstarted generator's locals (a
workflow's; the generator's frame is gone once it finishes); nothing is iterated.

`gen_ai.provider.name` is the run owner's model's `provider` (models/base.py:140; each model class sets
its own, e.g. "OpenAI", "Anthropic", "AwsBedrock", "Google"), through `semconv.provider_name`; for a
team, the team's own (leader's) model. Model strings ("openai:gpt-4o") are resolved to model objects
when the Agent or Team is built (agent/_init.py:435, team/_init.py:811), so they carry their class's
provider too. A model that names no provider but has a name is labelled "{name} ({id})" by agno
(models/base.py:190): that label is not a provider, so it is left unknown (`_OTHER`).

`gen_ai.conversation.id` is the agno session id the run ran under. When the caller gives none agno
makes one and keeps it on the agent for its later runs (agent/_session.py:53-59), so it is agno's
conversation identity, not an id we invent. Agno core creates no spans of its own (its opt-in
`setup_tracing` loads OpenInference), so there is nothing to stand down.

Tool calls: every tool call a run makes goes through `FunctionCall.execute` (models/base.py:2259,
and through `asyncio.to_thread` for a sync tool in an async run, base.py:2609, which carries the
context) or `FunctionCall.aexecute` (base.py:2599/2606), each an `execute_tool {function name}` span
with `gen_ai.tool.call.id` = `FunctionCall.call_id` (the model's id). Both return a
`FunctionExecutionResult` (tools/function.py:2118): agno catches what the tool raises and returns
`status="failure"` with the message as `error` and no exception class, so the span is ERROR with
`error.type` `_OTHER`; what agno lets out of `execute` (`AgentRunException`s such as `StopAgentRun`,
`RunCancelledException`) ends it ERROR with that class. A tool whose result is an iterator (a
generator tool, and agno's own `delegate_task_to_member`, team/_default_tools.py:694) does its work
when agno iterates `FunctionCall.result` after `execute` returned (base.py:2281, 2837, 2984): the
result is handed back behind the core's stream proxy (still a generator to agno's `isinstance`
checks, set where agno set it: on the `FunctionExecutionResult` and the `FunctionCall`), so the span
is current during each pull (a team member's run is the child of the delegation's tool span) and
ends when agno has consumed it; its result is not recorded (agno keeps only the text it builds).

A stream asked for `yield_run_output=True` yields the run's `RunOutput`/`TeamRunOutput` last, after the run
was stored (agent/_run.py:1183, team/_run.py:825). Workflow steps ask for it and stop pulling once they have
it (workflow/step.py:2376, `break`), so such a stream never ends and would be collected later (abandoned):
the span ends when that output is pulled, with the status agno left on it.

Workflows: `Workflow.run`/`arun` (workflow/workflow.py:10577, 10801) are `invoke_workflow {workflow.name}`.
A workflow has no model of its own (its optional `agent=` is an agent of its own, traced as one); its steps
run their agents and teams through the public `run`/`arun` (workflow/step.py:1277, 1628, 1998, 2355), a
nested workflow through its `run`/`arun`, so each is a child span, also for `Parallel` steps, which agno
runs in threads with the context copied (workflow/parallel.py:398). Shapes, by `stream=`: a
`WorkflowRunOutput`, a sync or async generator (proxied; facts from the `workflow_run_response` agno hands
it), or a coroutine. A workflow raises its failures (a step failing with the `fail` policy, a guardrail);
an agent's failure inside is returned to its step as output (the agent's span is ERROR) and by default the
workflow goes on. A returned output with status ERROR or CANCELLED (`cancel_run`) ends the span failed or
cancelled, as for agents. `arun(background=True)` returns the PENDING output at once and runs in a task
agno names `workflow-background-{run_id}` and keeps in `_workflow_background_tasks` (workflow.py:5101), not
through `_spawn_background`: the span ends from that task's done callback with the output's status.
`arun(background=True, stream=True)` is not traced, as for agents.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from types import AsyncGeneratorType, CodeType, CoroutineType, GeneratorType
from typing import TYPE_CHECKING, Any

from .. import semconv
from .._guard import report_failure
from ..config import Config
from ..invocation import (
    ABANDONED,
    CANCELLED,
    COMPLETED,
    FAILED,
    TOOL,
    WORKFLOW,
    AgentInvocation,
    Outcome,
    RequestFacts,
    ResultFacts,
    active_invocation,
)
from ..stream import finish_with_error, trace_coroutine, trace_stream
from ._base import FrameworkAdapter, HookTarget, RunTarget, Target

if TYPE_CHECKING:
    from .._patching import WrapperFunction
    from ..invocation import Telemetry

name = "agno"
distribution = "agno"
supported = ">=3.1,<4"

_ERROR_STATUS = "ERROR"
_CANCELLED_STATUS = "CANCELLED"
_RUN_CANCELLED = "agno.exceptions.RunCancelledException"  # what agno raises inside a cancelled run
_TOOL_FAILURE_STATUS = "failure"  # FunctionExecutionResult.status
_TOOL_REENTRY_KEY = f"{name}:tool"

# A background run's invocation -> the task its run was spawned as (None until it is spawned).
_spawned: weakref.WeakKeyDictionary[AgentInvocation, asyncio.Task[Any] | None] = weakref.WeakKeyDictionary()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _model_id(model: Any) -> str | None:
    if isinstance(model, str):  # "provider:model_id", resolved by agno at initialisation
        return _text(model.partition(":")[2] or model)
    return _text(getattr(model, "id", None))


def _provider(model: Any) -> str | None:
    raw = getattr(model, "provider", None)
    if raw == f"{getattr(model, 'name', None)} ({getattr(model, 'id', None)})":
        return None  # agno's label for a model that names no provider (models/base.py:190)
    return semconv.provider_name(raw)


def _instructions(instructions: Any) -> list[dict[str, Any]] | None:
    if isinstance(instructions, str):
        instructions = [instructions]
    if not isinstance(instructions, (list, tuple)):
        return None  # a callable: resolved by agno inside the run
    parts = [{"type": "text", "content": item} for item in instructions if isinstance(item, str)]
    return parts or None


def read_request(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    session_id = kwargs.get("session_id") or getattr(owner, "session_id", None)
    model = getattr(owner, "model", None)
    facts = RequestFacts(
        agent_name=_text(getattr(owner, "name", None)),
        agent_description=_text(getattr(owner, "description", None)),
        request_model=_model_id(model),
        provider_name=_provider(model),
        conversation_id=_text(session_id),
    )
    if config.capture_content.enabled:
        message = args[0] if args else kwargs.get("input")
        if isinstance(message, str):
            facts.input_messages = [{"role": "user", "parts": [{"type": "text", "content": message}]}]
        facts.system_instructions = _instructions(getattr(owner, "instructions", None))
    return facts


def _error_event(output: Any) -> Any:
    for event in reversed(getattr(output, "events", None) or ()):
        if _text(getattr(event, "error_type", None)):
            return event
    return None


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def facts_from_output(output: Any, capture: bool) -> ResultFacts | None:
    """Facts from a `RunOutput`/`TeamRunOutput`; None for anything else."""
    if output is None or not hasattr(output, "run_id") or not hasattr(output, "status"):
        return None
    facts = ResultFacts(conversation_id=_text(getattr(output, "session_id", None)))
    metrics = getattr(output, "metrics", None)
    if metrics is not None:
        facts.input_tokens = _positive_int(getattr(metrics, "input_tokens", None))
        facts.output_tokens = _positive_int(getattr(metrics, "output_tokens", None))
        facts.cache_read_input_tokens = _positive_int(getattr(metrics, "cache_read_tokens", None))
        facts.cache_creation_input_tokens = _positive_int(getattr(metrics, "cache_write_tokens", None))
    status = getattr(output, "status", None)
    content = getattr(output, "content", None)
    # The member's _value_, not the enum's `value` property (two Python calls on every run's path).
    if getattr(status, "_value_", status) == _ERROR_STATUS:
        event = _error_event(output)
        facts.error_type = _text(getattr(event, "error_type", None)) or semconv.ERROR_TYPE_OTHER
        facts.error_message = _text(getattr(event, "content", None)) or _text(content)
    elif capture and isinstance(content, str):
        facts.output_messages = [{"role": "assistant", "parts": [{"type": "text", "content": content}]}]
    return facts


def _stream_arguments(stream: Any, invocation: AgentInvocation) -> dict[str, Any]:
    """The arguments agno passed to its stream generator: those `_note_stream_arguments` noted for the run
    when agno's dispatcher called the generator function, else the generator's locals (not started yet:
    its locals are its arguments). The locals are the fallback because reading them costs CPython 3.11
    a KeyError made and cleared for each of the function's unbound locals (agno's `_arun_stream` has 39:
    about 33k instructions, a quarter of a raw span, per streamed run)."""
    noted = invocation.noted
    if noted is not None:
        invocation.noted = None  # the run keeps no reference to the arguments past this
        if noted[0] is stream:
            arguments: dict[str, Any] = noted[1]
            return arguments
    return _generator_arguments(stream)


def _generator_arguments(stream: Any) -> dict[str, Any]:
    """The arguments of a generator not started yet: its locals."""
    frame = getattr(stream, "gi_frame", None) or getattr(stream, "ag_frame", None)
    return frame.f_locals if frame is not None else {}


def _note_stream_arguments(telemetry: Telemetry) -> WrapperFunction:
    """Wrap one of agno's stream generator functions (`_run_stream`, `_arun_stream` of agents and teams):
    note the arguments its dispatcher passed, with the generator made, on the run of the agent or team it
    was made for (the dispatcher runs inside our run's call, with its span current), for the result
    handler (`_stream_arguments`). Called for any other reason (agno's background stream task, a
    suppressed run), it notes nothing."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        stream = wrapped(*args, **kwargs)
        try:
            invocation = active_invocation()
            if invocation is not None and args and invocation.owner is args[0] and not invocation.finished:
                invocation.noted = (stream, kwargs)
        except Exception:
            report_failure("noting the agno stream's arguments")
        return stream

    return wrapper


def _held_run_output(arguments: dict[str, Any], argument: str = "run_response") -> Any:
    """The output agno passed to its stream generator as `argument` (`_run_stream(agent, run_response, ...)`,
    a workflow's `_execute_stream(..., workflow_run_response, ...)`)."""
    output = arguments.get(argument)
    return output if hasattr(output, "run_id") and hasattr(output, "status") else None


def _status(output: Any) -> Any:
    status = getattr(output, "status", None)
    return getattr(status, "_value_", status)  # the member's value, not the enum's `value` property


def _finish_with_output(invocation: AgentInvocation, output: Any, capture: bool) -> None:
    """End a run from the status agno left on its output: ERROR failed, CANCELLED cancelled (agno's
    `RunCancelledException`, raised inside the run by `cancel_run`), anything else completed."""
    facts = facts_from_output(output, capture)
    status = _status(output)
    if status == _ERROR_STATUS:
        invocation.finish(FAILED, None, facts)
    elif status == _CANCELLED_STATUS:
        facts = facts or ResultFacts()
        facts.error_type = _RUN_CANCELLED
        facts.error_message = _text(getattr(output, "content", None))
        invocation.finish(CANCELLED, None, facts)
    else:
        invocation.finish(COMPLETED, None, facts)


def _end_at_run_output(invocation: AgentInvocation, held: Any, capture: bool) -> Callable[[Any], None]:
    """A stream asked for `yield_run_output=True` (agno's workflow steps ask for it) yields its run's output
    last, after storing the run (agent/_run.py:1183, team/_run.py:825): the run is over there. The step
    that asked takes it and stops pulling (workflow/step.py:2376, `break`), so the stream never ends and is
    collected later; the span ends when that output is received, with its status."""

    def observe(update: Any) -> None:
        if update is held and not invocation.finished:
            _finish_with_output(invocation, held, capture)

    return observe


def make_result_reader(config: Config) -> Callable[[Any, Outcome], ResultFacts | None]:
    capture = config.capture_content.enabled

    def read_result(value: Any, outcome: Outcome) -> ResultFacts | None:
        return facts_from_output(value, capture)

    return read_result


# -- background runs (see the module docstring) ---------------------------------------------------


def _background_done(invocation: AgentInvocation, output: Any, capture: bool, task: asyncio.Task[Any]) -> None:
    facts = facts_from_output(output, capture)
    if task.cancelled():
        invocation.finish(CANCELLED, asyncio.CancelledError(), facts)
        return
    error = task.exception()
    if error is not None:  # raised from agno's own bookkeeping after the run
        finish_with_error(invocation, error, facts)
        return
    _finish_with_output(invocation, output, capture)


def trace_background(
    coroutine: Coroutine[Any, Any, Any],
    invocation: AgentInvocation,
    capture: bool,
    find_task: Callable[[Any], asyncio.Task[Any] | None] | None = None,
) -> Any:
    """The core's traced coroutine, whose end hands the run over to the task it spawned: the one
    `_spawn_background` noted (agents, teams), or `find_task(output)` (workflows)."""
    _spawned[invocation] = None

    def follow_task(output: Any) -> None:
        task = _spawned.pop(invocation, None)
        if task is None and find_task is not None:
            task = find_task(output)
        if task is None:
            invocation.finish(ABANDONED)  # no task seen: the run's end cannot be observed
        else:
            task.add_done_callback(lambda done: _background_done(invocation, output, capture, done))

    return trace_coroutine(coroutine, invocation, None, follow_task)


def _note_spawned_task(telemetry: Telemetry) -> WrapperFunction:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        value = wrapped(*args, **kwargs)
        try:
            invocation = active_invocation()
            if invocation is not None and invocation in _spawned and _spawned[invocation] is None:
                from agno.run import background

                coroutine = args[0] if args else kwargs.get("coro")
                for task in list(background._background_tasks):
                    if task.get_coro() is coroutine:
                        _spawned[invocation] = task
        except Exception:
            report_failure("finding the agno background task")
        return value

    return wrapper


def _background_codes() -> frozenset[CodeType]:
    from agno.agent import _run as agent_run
    from agno.team import _run as team_run

    return frozenset({agent_run._arun_background.__code__, team_run._arun_background.__code__})


def make_result_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    from ..stream import trace_result

    capture = config.capture_content.enabled
    read_result = make_result_reader(config)
    background_codes = _background_codes()

    def handle_result(result: Any, invocation: AgentInvocation) -> Any:
        # inspect.iscoroutine, isgenerator and isasyncgen inlined: each is a Python call on every run.
        if isinstance(result, CoroutineType) and result.cr_code in background_codes:
            return trace_background(result, invocation, capture)
        if isinstance(result, (GeneratorType, AsyncGeneratorType)):
            arguments = _stream_arguments(result, invocation)
            held = _held_run_output(arguments)
            if held is not None:

                def read_held(_stream: Any, outcome: Outcome) -> ResultFacts | None:
                    return facts_from_output(held, capture)

                # Only a stream asked to yield its output can end there: the others are not watched update by
                # update (a Python call each). A generator without the parameter (another agno) is watched.
                if arguments.get("yield_run_output", True):
                    invocation.observe_update = _end_at_run_output(invocation, held, capture)
                return trace_result(result, invocation, read_held)
        return trace_result(result, invocation, read_result)

    return handle_result


def _not_background_stream(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    if not kwargs.get("background"):
        return True
    stream = kwargs.get("stream")  # agno: call site > owner's `stream` > False (agent/_run_options.py:107)
    return not (stream if stream is not None else getattr(owner, "stream", None))


# -- tool calls (see the module docstring) ------------------------------------------------------------


def _json_text(value: Any) -> str | None:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except Exception:  # a structure json cannot walk (a cycle): no content rather than no span
        return None


def read_tool_request(call: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    # `call` is an agno FunctionCall: its Function, the model's arguments and call id.
    function = getattr(call, "function", None)
    facts = RequestFacts(
        operation=TOOL,
        tool_name=_text(getattr(function, "name", None)),
        tool_type=semconv.TOOL_TYPE_FUNCTION,
        tool_description=_text(getattr(function, "description", None)),
        tool_call_id=_text(getattr(call, "call_id", None)),
    )
    if config.capture_content.enabled:
        arguments = getattr(call, "arguments", None)
        facts.tool_arguments = _json_text(arguments if arguments is not None else {})
    return facts


def _end_tool_call(result: Any, invocation: AgentInvocation, capture: bool) -> None:
    """End the tool span from what `execute`/`aexecute` returned, or hand it to the lazy result."""
    if getattr(result, "status", None) == _TOOL_FAILURE_STATUS:
        failure = ResultFacts(error_type=semconv.ERROR_TYPE_OTHER, error_message=_text(getattr(result, "error", None)))
        invocation.finish(COMPLETED, None, failure)  # a failure returned as a value: ERROR
        return
    produced = getattr(result, "result", None)
    if isinstance(produced, (Iterator, AsyncIterator)):
        # Set where agno set it (FunctionCall.execute does the same with its authorized result). If
        # this raises, the core's guard ends the span abandoned; a proxy of a finished span passes through.
        traced = trace_stream(produced, invocation)
        result.result = traced
        call: Any = invocation.owner  # the FunctionCall
        if getattr(call, "result", None) is produced:
            call.result = traced
        return
    invocation.finish(COMPLETED, None, ResultFacts(tool_result=_json_text(produced)) if capture else None)


def make_tool_result_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def handle_tool_result(result: Any, invocation: AgentInvocation) -> Any:
        if isinstance(result, CoroutineType):  # aexecute: ends when awaited (inspect.iscoroutine, inlined)
            return trace_coroutine(result, invocation, None, lambda value: _end_tool_call(value, invocation, capture))
        _end_tool_call(result, invocation, capture)
        return result

    return handle_tool_result


# -- workflows (see the module docstring) -------------------------------------------------------------

_WORKFLOW_MODULE = "agno.workflow.workflow"


def read_workflow_request(workflow: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    facts = RequestFacts(operation=WORKFLOW, workflow_name=_text(getattr(workflow, "name", None)))
    if config.capture_content.enabled:
        message = args[0] if args else kwargs.get("input")
        if isinstance(message, str):
            facts.input_messages = [{"role": "user", "parts": [{"type": "text", "content": message}]}]
    return facts


def _workflow_background_task(output: Any) -> asyncio.Task[Any] | None:
    """The task `Workflow._arun_background` created for the run of `output` (workflow/workflow.py:5101,
    named after the run id and kept in `_workflow_background_tasks`)."""
    from agno.workflow import workflow as workflow_module

    name = f"workflow-background-{getattr(output, 'run_id', None)}"
    tasks: set[asyncio.Task[Any]] = getattr(workflow_module, "_workflow_background_tasks", set())
    for task in list(tasks):
        if task.get_name() == name:
            return task
    return None


def make_workflow_result_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    from agno.workflow.workflow import Workflow

    from ..stream import trace_result

    capture = config.capture_content.enabled
    background_code = Workflow._arun_background.__code__

    def read_result(value: Any, outcome: Outcome) -> ResultFacts | None:
        return facts_from_output(value, capture)

    def handle_result(result: Any, invocation: AgentInvocation) -> Any:
        if isinstance(result, CoroutineType):  # inspect's checks inlined, as the agent's handler does
            if result.cr_code is background_code:
                return trace_background(result, invocation, capture, _workflow_background_task)
            return trace_coroutine(
                result, invocation, None, lambda output: _finish_with_output(invocation, output, capture)
            )
        if isinstance(result, (GeneratorType, AsyncGeneratorType)):
            held = _held_run_output(_stream_arguments(result, invocation), "workflow_run_response")

            def read_held(_stream: Any, outcome: Outcome) -> ResultFacts | None:
                return facts_from_output(held, capture)

            return trace_result(result, invocation, read_held if held is not None else None)
        if hasattr(result, "run_id") and hasattr(result, "status"):
            _finish_with_output(invocation, result, capture)
            return result
        return trace_result(result, invocation, read_result)

    return handle_result


_RUN_OWNERS: tuple[tuple[str, str], ...] = (("agno.agent.agent", "Agent"), ("agno.team.team", "Team"))


def targets(config: Config) -> Sequence[Target]:
    read_result = make_result_reader(config)
    handle_result = make_result_handler(config)
    runs: list[Target] = [
        RunTarget(
            module,
            f"{owner}.{method}",
            read_request,
            read_result,
            should_trace=_not_background_stream,
            handle_result=handle_result,
        )
        for module, owner in _RUN_OWNERS
        for method in ("run", "arun")
    ]
    handle_tool_result = make_tool_result_handler(config)
    tool_calls: list[Target] = [
        RunTarget(
            "agno.tools.function",
            f"FunctionCall.{method}",
            read_tool_request,
            handle_result=handle_tool_result,
            reentry_key=_TOOL_REENTRY_KEY,
        )
        for method in ("execute", "aexecute")
    ]
    handle_workflow_result = make_workflow_result_handler(config)
    workflows: list[Target] = [
        RunTarget(
            _WORKFLOW_MODULE,
            f"Workflow.{method}",
            read_workflow_request,
            should_trace=_not_background_stream,
            handle_result=handle_workflow_result,
        )
        for method in ("run", "arun")
    ]
    spawn = HookTarget("agno.run.background", "_spawn_background", _note_spawned_task)
    stream_arguments: list[Target] = [
        HookTarget(module, function, _note_stream_arguments)
        for module in ("agno.agent._run", "agno.team._run")
        for function in ("_run_stream", "_arun_stream")
    ]
    return [*runs, spawn, *stream_arguments, *tool_calls, *workflows]


ADAPTER = FrameworkAdapter(name, distribution, supported, targets)

"""smolagents (PyPI `smolagents`), checked against 1.26.0.

Target: `MultiStepAgent.run` (smolagents/agents.py:436), the only `run` in the package;
`ToolCallingAgent` and `CodeAgent` inherit it. A managed agent is called by its parent's tool step
through `MultiStepAgent.__call__`, which calls `run` on the child instance on the same thread inside
the parent's step, so it gets its own span, a child of the parent's.

`run(stream=False)` returns the final answer (or a `RunResult`), which may be any object (a PIL image
is a context manager), so the result is classified by the call, not by its shape: only the generator
of `MultiStepAgent._run_stream` comes back proxied; any other value ends the run.

Facts come from the agent's memory, which the run has already built: the steps after the run's
`TaskStep` carry `token_usage`; `agent.model.model_id` is the request model. The provider comes from
the model's class and its own settings (models.py), never from its client: `OpenAIModel` openai,
`AzureOpenAIModel` azure, `AmazonBedrockModel` aws.bedrock, `LiteLLMModel` the prefix of a
"provider/model" id (LiteLLM's routing; a bare id or a `LiteLLMRouterModel` group: unknown),
`InferenceClientModel` the Hugging Face inference `provider` it was given (unless a `base_url`
overrides it); local models (`TransformersModel`, `VLLMModel`, `MLXModel`) and others: unknown. There is no conversation
id. A run that hits `max_steps` returns the answer of `provide_final_answer()` and stores
`AgentMaxStepsError` on its last step (`RunResult.state == "max_steps_error"`): a failure returned as a
value, so the span ends ERROR with that class. Model errors raise `AgentGenerationError` (original as
`__cause__`): that is what the app sees, so that is `error.type`.

A `CodeAgent`'s code (and so the tools and managed agents it calls) runs in a new thread:
`evaluate_python_code` (local_python_executor.py:1664) wraps it in `timeout(seconds)`, whose wrapper
submits it to a one-worker `ThreadPoolExecutor` (local_python_executor.py:307) that does not carry the
caller's context, so a managed agent called from the code would start a new trace. While one of our
runs is current, we attach the caller's OpenTelemetry context in that worker around the code, in the
same frame. Only the OpenTelemetry context moves: other context variables the code sees are as
without us. `timeout` is looked up in the module at each call, so wrapping the module attribute
covers `LocalPythonExecutor` and `PythonInterpreterTool`. (`ToolCallingAgent` runs parallel tool calls
in `copy_context()`, agents.py:1429: nothing to do there.)

Tool calls (`execute_tool {gen_ai.tool.name}` spans; smolagents has none of its own). Every tool a
run calls passes `Tool.__call__` (tools.py:231) once: `ToolCallingAgent.execute_tool_call`
(agents.py:1486) calls the tool object, and a `CodeAgent`'s code calls the tool objects the local
executor holds (`static_tools`, local_python_executor.py:852), in the timeout thread above, so the tool
span is a child of the agent span there too. `PipelineTool` overrides `__call__` without calling
`super()`, so it is wrapped as well (a subclass layering either is one span: same re-entry key; not
exercised by the tests, its `__call__` needs torch).
`final_answer` is a tool span like any other: the model calls it as a tool, with a call id, through
the same path, and a user's own final-answer tool can fail like any tool (in a `CodeAgent` the
executor calls the tool and then raises its `FinalAnswerException` outside it, so the span ends
completed). A managed agent is called as a tool (`MultiStepAgent.__call__`, agents.py:868, from
`execute_tool_call` or the code): it gets an `execute_tool {agent name}` span, the tool call the model
made, with the managed agent's `invoke_agent` span as its child ("agent used as a tool"). Tool and
managed-agent calls are traced only inside a traced run: the app calling a tool or an agent's
`__call__` directly is not an agent's tool call. A call `execute_tool_call` refuses before calling
the tool (unknown name, arguments that fail `validate_tool_arguments`) executes nothing: no span.
Remote executors (e2b, docker, ...) run tools out of process: no spans.

`gen_ai.tool.call.id`: a `ToolCallingAgent` executes the model's `ToolCall` (its `id` comes from
the model) in the closure `process_single_tool_call` (agents.py:1383), which passes only the name and
arguments on to `execute_tool_call`. `execute_tool_call` is wrapped to read that `ToolCall` from its
caller's frame (the closure's code object, a local named `tool_call` with the same tool name) and
hand its id to the one tool call it makes; a tool called from code has no call id (the `CodeAgent`'s
`python_interpreter` ToolCall ids name the whole code block), and none is made up.

smolagents has no OpenTelemetry tracing of its own, so there is nothing to stand down.
"""

from __future__ import annotations

import contextvars
import functools
import json
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context

from .. import semconv
from .._guard import report_failure
from ..config import Config
from ..invocation import (
    COMPLETED,
    TOOL,
    AgentInvocation,
    Outcome,
    RequestFacts,
    ResultFacts,
    active_invocation,
)
from ..stream import read_facts, trace_stream
from ._base import FrameworkAdapter, HookTarget, RunTarget, Target

if TYPE_CHECKING:
    from smolagents.memory import TaskStep, ToolCall
    from smolagents.utils import AgentMaxStepsError

    from .._patching import WrapperFunction
    from ..invocation import Telemetry

name = "smolagents"
distribution = "smolagents"
supported = ">=1.26,<2"

# The run's request arguments, by position after `self` (agents.py:436).
_TASK_POSITION = 0
_STREAM_METHOD_NAME = "_run_stream"
# Tool and managed-agent calls: a managed agent is called as a tool on the object that also owns its
# run, so the tool target needs a key of its own for the run to be a child span, not a layer.
_TOOL_REENTRY_KEY = f"{name}:tool"
_SANITIZE_FLAG = "sanitize_inputs_outputs"  # Tool.__call__'s own keyword, not a tool argument
# How far up from execute_tool_call's wrapper the model's tool call is looked for: the caller, past
# a subclass's execute_tool_call calling super() and a pure-Python wrapt frame.
_CALLER_FRAMES = 4
# Enum members read off their class cost about 1k instructions each: module globals on the run's path.


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@functools.cache
def _smolagents() -> tuple[types.ModuleType, type[TaskStep], type[ToolCall], type[AgentMaxStepsError]]:
    """smolagents' models module and the classes the readers test for, imported once (not bound at our import:
    smolagents may not be installed). An import statement on a run's path costs about 8k instructions each time,
    the import system's checks on a module already imported; this cached call about 0.3k."""
    import smolagents.models as models
    from smolagents import memory, utils

    return models, memory.TaskStep, memory.ToolCall, utils.AgentMaxStepsError


def _litellm_provider(model: Any) -> str | None:
    """LiteLLM routes a "provider/model" id to that provider; a bare id: unknown."""
    model_id = getattr(model, "model_id", None)
    return semconv.provider_name(model_id.partition("/")[0]) if isinstance(model_id, str) and "/" in model_id else None


def _inference_client_provider(model: Any) -> str | None:
    """The Hugging Face inference provider the model was given, unless a `base_url` overrides it."""
    client_kwargs = getattr(model, "client_kwargs", None)
    if isinstance(client_kwargs, dict) and not client_kwargs.get("base_url"):
        return semconv.provider_name(client_kwargs.get("provider"))
    return None


@functools.lru_cache(maxsize=64)
def _class_provider(model_class: type) -> str | Callable[[Any], str | None] | None:
    """gen_ai.provider.name of a model of this class (see module docstring), or the function that reads it off
    the model where its settings decide. Cached by class: the isinstance tests of six classes cost about 6k
    instructions a run, the cached call under 1k (bounded: an app making model classes on the fly)."""
    models = _smolagents()[0]
    if issubclass(model_class, models.AzureOpenAIModel):  # before OpenAIModel, its base class
        return semconv.provider_name("azure")
    if issubclass(model_class, models.OpenAIModel):
        return semconv.provider_name("openai")
    if issubclass(model_class, models.AmazonBedrockModel):
        return semconv.provider_name("aws.bedrock")
    if issubclass(model_class, models.LiteLLMRouterModel):  # before LiteLLMModel: its model_id is a group name
        return None
    if issubclass(model_class, models.LiteLLMModel):
        return _litellm_provider
    if issubclass(model_class, models.InferenceClientModel):
        return _inference_client_provider
    return None


def read_request(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    # `agent` is a smolagents MultiStepAgent, read through getattr (Any at the adapter boundary).
    model = getattr(agent, "model", None)
    # __class__, not type(): what isinstance reads too (a proxy of a model reports the model's class).
    provider = _class_provider(model.__class__)  # type: ignore[arg-type]  # a class is hashable; mypy says not
    # Fields set after the facts are made, not passed as keywords to the class (about 0.6k instructions each), and
    # the non-empty-string checks written out, not _text calls (about 0.7k each): every run passes here.
    facts = RequestFacts()
    agent_name = getattr(agent, "name", None)
    facts.agent_name = agent_name if isinstance(agent_name, str) and agent_name else None
    description = getattr(agent, "description", None)
    facts.agent_description = description if isinstance(description, str) and description else None
    model_id = getattr(model, "model_id", None)
    facts.request_model = model_id if isinstance(model_id, str) and model_id else None
    facts.provider_name = provider(model) if callable(provider) else provider
    if config.capture_content.enabled:
        task = args[_TASK_POSITION] if len(args) > _TASK_POSITION else kwargs.get("task")
        if isinstance(task, str):
            facts.input_messages = [{"role": "user", "parts": [{"type": "text", "content": task}]}]
        # `agent.system_prompt` re-renders the prompt template on every access; read only the
        # user-supplied instructions.
        instructions = _text(getattr(agent, "instructions", None))
        if instructions:
            facts.system_instructions = [{"type": "text", "content": instructions}]
    return facts


def _facts_from_agent(agent: Any, outcome: Outcome) -> ResultFacts:
    """Usage summed over the memory steps of the agent's latest run (those after its last TaskStep), and the
    failure a run that hit max_steps returned as a value. One pass from the end, no copy of the memory."""
    _, task_step, _, max_steps_error = _smolagents()
    input_tokens: int | None = None
    output_tokens: int | None = None
    last_step: Any = None  # the run's last step, where smolagents stores a max-steps failure
    for step in reversed(getattr(getattr(agent, "memory", None), "steps", None) or ()):
        if isinstance(step, task_step):
            break  # the run's own TaskStep: the steps before it are earlier runs'
        if last_step is None:
            last_step = step
        usage = getattr(step, "token_usage", None)
        if usage is None:
            continue
        count = getattr(usage, "input_tokens", None)
        if isinstance(count, int):
            input_tokens = (input_tokens or 0) + count
        count = getattr(usage, "output_tokens", None)
        if isinstance(count, int):
            output_tokens = (output_tokens or 0) + count
    facts = ResultFacts()
    facts.input_tokens, facts.output_tokens = input_tokens, output_tokens
    if outcome is COMPLETED and last_step is not None:
        error = getattr(last_step, "error", None)
        if isinstance(error, max_steps_error):
            cls = type(error)
            facts.error_type = f"{cls.__module__}.{cls.__qualname__}"
            facts.error_message = str(error) or None
    return facts


def _output_messages(value: Any) -> list[dict[str, Any]]:
    from smolagents.agents import RunResult

    output = value.output if isinstance(value, RunResult) else value
    if output is None:
        return []
    return [{"role": "assistant", "parts": [{"type": "text", "content": str(output)}], "finish_reason": "stop"}]


def _is_run_stream(result: Any) -> bool:
    return isinstance(result, types.GeneratorType) and result.gi_code.co_name == _STREAM_METHOD_NAME


def make_result_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def handle_result(result: Any, invocation: AgentInvocation) -> Any:
        agent = invocation.owner

        def read_stream(stream: Any, outcome: Outcome) -> ResultFacts | None:
            # The generator holds nothing we may read without driving it; the agent's memory does.
            return _facts_from_agent(agent, outcome)

        if _is_run_stream(result):
            return trace_stream(result, invocation, read_stream)

        def read_value(value: Any, outcome: Outcome) -> ResultFacts | None:
            facts = _facts_from_agent(agent, outcome)
            if capture:
                facts.output_messages = _output_messages(value)
            return facts

        invocation.finish(COMPLETED, None, read_facts(read_value, result, COMPLETED))
        return result

    return handle_result


def _in_context(function: Callable[..., Any], context: Context) -> Callable[..., Any]:
    """`function`, run with `context` as the current OpenTelemetry context (attached and detached here)."""

    def run(*args: Any, **kwargs: Any) -> Any:
        token = otel_context.attach(context)
        try:
            return function(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return run


def _carry_context_into_timed_code(telemetry: Telemetry) -> WrapperFunction:
    """Wrap `local_python_executor.timeout(seconds)`: its decorated function runs in a worker thread."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        decorator = wrapped(*args, **kwargs)

        def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
            timed = decorator(function)

            @functools.wraps(function)
            def run_timed(*call_args: Any, **call_kwargs: Any) -> Any:
                # Decided at each call, in the caller's thread: the decorated function may be reused.
                carried: Callable[..., Any] | None = None
                try:
                    if active_invocation() is not None:
                        carried = decorator(_in_context(function, otel_context.get_current()))
                except Exception:
                    report_failure("carrying the agent context into smolagents' code thread")
                return (carried or timed)(*call_args, **call_kwargs)

            return run_timed

        return decorate

    return wrapper


# -- tool calls (see the module docstring) ------------------------------------------------------------


@dataclass
class _ModelToolCall:
    """The model's tool call `execute_tool_call` is executing; its id goes to the one tool it calls."""

    tool_name: str
    call_id: str
    taken: bool = False


_model_tool_call: contextvars.ContextVar[_ModelToolCall | None] = contextvars.ContextVar(
    "otel_agent_instrumentation_smolagents_tool_call", default=None
)


def _json_text(value: Any) -> str | None:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except Exception:  # a structure json cannot walk (a cycle): no content rather than no span
        return None


def _take_call_id(tool_name: str | None) -> str | None:
    noted = _model_tool_call.get()
    if noted is None or noted.taken or noted.tool_name != tool_name:
        return None
    noted.taken = True  # a tool the tool calls in turn is not the model's call
    return noted.call_id


def _in_traced_run(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    return active_invocation() is not None


def _agent_in_traced_run(agent: Any) -> bool:
    """A tool call has a model call id to hand over only inside a run of ours (HookTarget.applies_to)."""
    return active_invocation() is not None


def _tool_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The arguments as the caller passed them: keyword arguments as an object (ToolCallingAgent passes
    the model's arguments so, or as one dict), positional ones (a CodeAgent's code) as an array."""
    named = {key: value for key, value in kwargs.items() if key != _SANITIZE_FLAG}
    if not args:
        return named
    if len(args) == 1 and not named and isinstance(args[0], dict):
        return args[0]
    return list(args) if not named else {"args": list(args), "kwargs": named}


def read_tool_request(tool: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    # Each tool call passes here: written out as read_request is.
    tool_name = getattr(tool, "name", None)
    tool_name = tool_name if isinstance(tool_name, str) and tool_name else None
    description = getattr(tool, "description", None)
    facts = RequestFacts(TOOL)
    facts.tool_name = tool_name
    facts.tool_type = semconv.TOOL_TYPE_FUNCTION
    facts.tool_description = description if isinstance(description, str) and description else None
    facts.tool_call_id = _take_call_id(tool_name)
    if config.capture_content.enabled:
        facts.tool_arguments = _json_text(_tool_arguments(args, kwargs))
    return facts


def read_managed_agent_call(agent: Any, args: tuple[Any, ...], kwargs: dict[str, Any], config: Config) -> RequestFacts:
    agent_name = _text(getattr(agent, "name", None))
    facts = RequestFacts(
        operation=TOOL,
        tool_name=agent_name,
        tool_type=semconv.TOOL_TYPE_FUNCTION,
        tool_description=_text(getattr(agent, "description", None)),
        tool_call_id=_take_call_id(agent_name),
    )
    if config.capture_content.enabled:
        arguments = dict(kwargs)
        if args:
            arguments["task"] = args[_TASK_POSITION]
        facts.tool_arguments = _json_text(arguments)
    return facts


def make_tool_result_handler(config: Config) -> Callable[[Any, AgentInvocation], Any]:
    capture = config.capture_content.enabled

    def handle_tool_result(result: Any, invocation: AgentInvocation) -> Any:
        # Whatever the tool returned is its value (an AgentImage, any object): never proxied.
        facts = ResultFacts(tool_result=_json_text(result)) if capture else None
        invocation.finish(COMPLETED, None, facts)
        return result

    return handle_tool_result


def _single_tool_call_code() -> types.CodeType | None:
    """The code of `process_single_tool_call`, the closure in `ToolCallingAgent.process_tool_calls`."""
    from smolagents.agents import ToolCallingAgent

    for constant in ToolCallingAgent.process_tool_calls.__code__.co_consts:
        if isinstance(constant, types.CodeType) and constant.co_name == "process_single_tool_call":
            return constant
    return None


def _find_model_tool_call(single_call_code: types.CodeType, tool_name: Any) -> _ModelToolCall | None:
    tool_call_class = _smolagents()[2]
    frame: types.FrameType | None = sys._getframe(2)  # past this function and the wrapper: the caller
    for _ in range(_CALLER_FRAMES):
        if frame is None:
            return None
        if frame.f_code is single_call_code:
            tool_call = frame.f_locals.get("tool_call")
            if isinstance(tool_call, tool_call_class) and tool_call.name == tool_name and isinstance(tool_call.id, str):
                return _ModelToolCall(tool_name, tool_call.id)
            return None
        frame = frame.f_back
    return None


def _note_model_tool_call(telemetry: Telemetry) -> WrapperFunction:
    """Wrap `ToolCallingAgent.execute_tool_call`: hand the model's call id to the tool it calls."""
    single_call_code = _single_tool_call_code()

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        noted: _ModelToolCall | None = None
        try:
            # Inside a traced run: the hook's predicate (_agent_in_traced_run) has asked, just before.
            if single_call_code is not None:
                noted = _find_model_tool_call(single_call_code, args[0] if args else kwargs.get("tool_name"))
        except Exception:
            report_failure("reading the smolagents tool call id")
        if noted is None:
            return wrapped(*args, **kwargs)
        token = _model_tool_call.set(noted)
        try:
            return wrapped(*args, **kwargs)
        finally:
            _model_tool_call.reset(token)

    return wrapper


def targets(config: Config) -> Sequence[Target]:
    handle_tool_result = make_tool_result_handler(config)
    tool_calls = [
        RunTarget(
            module,
            attribute,
            read_tool_request,
            should_trace=_in_traced_run,
            handle_result=handle_tool_result,
            reentry_key=_TOOL_REENTRY_KEY,
        )
        for module, attribute in (("smolagents.tools", "Tool.__call__"), ("smolagents.tools", "PipelineTool.__call__"))
    ]
    return [
        RunTarget("smolagents.agents", "MultiStepAgent.run", read_request, handle_result=make_result_handler(config)),
        HookTarget("smolagents.local_python_executor", "timeout", _carry_context_into_timed_code),
        *tool_calls,
        RunTarget(
            "smolagents.agents",
            "MultiStepAgent.__call__",
            read_managed_agent_call,
            should_trace=_in_traced_run,
            handle_result=handle_tool_result,
            reentry_key=_TOOL_REENTRY_KEY,
        ),
        HookTarget(
            "smolagents.agents", "ToolCallingAgent.execute_tool_call", _note_model_tool_call, _agent_in_traced_run
        ),
    ]


ADAPTER = FrameworkAdapter(name, distribution, supported, targets)

"""GenAI semantic-convention names used by this package, and the rules built on them.

The `opentelemetry-semantic-conventions` package marks its GenAI constants deprecated since the
conventions moved to the semantic-conventions-genai repository, so the names live here (values as in
that repository, schema gen-ai-dev/1.42.0-dev). Standard library only.
"""

from __future__ import annotations

# Span and operation.
INVOKE_AGENT = "invoke_agent"
INVOKE_WORKFLOW = "invoke_workflow"
EXECUTE_TOOL = "execute_tool"
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"

# Workflow and tool identity.
GEN_AI_WORKFLOW_NAME = "gen_ai.workflow.name"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
# Opt-in content of a tool call.
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
TOOL_TYPE_FUNCTION = "function"
TOOL_TYPE_EXTENSION = "extension"
TOOL_TYPE_DATASTORE = "datastore"

# Provider: required and sampling-relevant on invoke_agent spans and on the agent metrics.
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
# When no provider is known (a user target, a framework's test model): the conventions' value for
# "none of the well-known values apply", as for other open enums.
PROVIDER_OTHER = "_OTHER"

# Agent identity.
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_AGENT_DESCRIPTION = "gen_ai.agent.description"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"

# Request.
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"

# Response.
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"

# Opt-in content.
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"

# Errors.
ERROR_TYPE = "error.type"
ERROR_TYPE_OTHER = "_OTHER"

# Metrics.
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
TOKEN_TYPE_INPUT = "input"
TOKEN_TYPE_OUTPUT = "output"
METRIC_INVOKE_AGENT_DURATION = "gen_ai.invoke_agent.duration"
METRIC_WORKFLOW_DURATION = "gen_ai.workflow.duration"
METRIC_EXECUTE_TOOL_DURATION = "gen_ai.execute_tool.duration"
METRIC_CLIENT_TOKEN_USAGE = "gen_ai.client.token.usage"
# The conventions define time-to-first-chunk for streaming client operations; we record it for
# streamed agent runs under the same name with gen_ai.operation.name=invoke_agent.
METRIC_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"

DURATION_BUCKETS: tuple[float, ...] = tuple(0.1 * 2**i for i in range(13))  # 0.1 .. 409.6 s
TOKEN_BUCKETS: tuple[int, ...] = tuple(4**i for i in range(14))  # 1 .. 67108864
TIME_TO_FIRST_CHUNK_BUCKETS: tuple[float, ...] = tuple(0.01 * 2**i for i in range(14))  # 0.01 .. 81.92 s
# Tool calls are usually much shorter than agent runs: the client operation buckets.
TOOL_DURATION_BUCKETS: tuple[float, ...] = TIME_TO_FIRST_CHUNK_BUCKETS

# Event emitted for content capture in EVENT_ONLY / SPAN_AND_EVENT modes.
EVENT_OPERATION_DETAILS = "gen_ai.client.inference.operation.details"

# Ours, not the conventions': how a streamed run ended (see README "Outcomes").
OUTCOME = "otel_agent_instrumentation.outcome"


# The conventions' well-known provider values, keyed by the lower-cased names frameworks use for them
# (agno `Model.provider`, pydantic-ai `Model.system`, Agent Framework `OTEL_PROVIDER_NAME`, ...).
_PROVIDERS: dict[str, str] = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "azure.ai.openai": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "azureopenai": "azure.ai.openai",
    "azure.ai.inference": "azure.ai.inference",
    "anthropic": "anthropic",
    "aws.bedrock": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "awsbedrock": "aws.bedrock",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "gcp.gemini": "gcp.gemini",
    "gemini": "gcp.gemini",
    "google-gla": "gcp.gemini",
    "google": "gcp.gen_ai",
    "gcp.gen_ai": "gcp.gen_ai",
    "gcp.vertex_ai": "gcp.vertex_ai",
    "vertex_ai": "gcp.vertex_ai",
    "google-vertex": "gcp.vertex_ai",
    "vertexai": "gcp.vertex_ai",
    "groq": "groq",
    "ibm": "ibm.watsonx.ai",
    "ibm.watsonx.ai": "ibm.watsonx.ai",
    "mistral": "mistral_ai",
    "mistral_ai": "mistral_ai",
    "mistralai": "mistral_ai",
    "perplexity": "perplexity",
    "x_ai": "x_ai",
    "xai": "x_ai",
}


# provider_name's answer for each plain string asked, bounded: every run asks it, with the few names its
# framework reports, and working the answer out costs about 2k instructions against 0.3k to look it up.
_provider_names: dict[str, str | None] = {}


def provider_name(raw: object) -> str | None:
    """The conventions' value for a framework's provider name; other names lower-cased as they are.

    None when `raw` is not a non-empty string (the core then records PROVIDER_OTHER).
    """
    if type(raw) is not str:  # a str subclass is worked out each time: its methods may be its own
        return _normalized_provider(raw) if isinstance(raw, str) else None
    try:
        return _provider_names[raw]
    except KeyError:
        answer = _normalized_provider(raw)
        if len(_provider_names) < 256:
            _provider_names[raw] = answer
        return answer


def _normalized_provider(raw: str) -> str | None:
    key = raw.strip().lower()
    return _PROVIDERS.get(key, key) if key else None


def span_name(subject: str | None, operation: str = INVOKE_AGENT) -> str:
    """`{operation} {subject}` (`invoke_agent {gen_ai.agent.name}`, `execute_tool {gen_ai.tool.name}`,
    `invoke_workflow {gen_ai.workflow.name}`), or the operation alone when its subject has no name."""
    return f"{operation} {subject}" if subject else operation


def error_type(exc: BaseException) -> str:
    """Low-cardinality `error.type`: the qualified class name, builtins bare."""
    cls = type(exc)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"

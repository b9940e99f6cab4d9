"""The frameworks this distribution instruments, as PEP 508 requirements.

`_instruments` is empty on purpose: `opentelemetry-instrument` skips an instrumentor whose
`instruments` extra is not fully installed, and an app normally has one framework, not all. The
package also serves user targets (OTEL_PYTHON_AGENTS_TARGETS) with no framework at all, so the
distribution declares no `instruments`/`instruments-any` extra, and each adapter checks its own
framework's version when `instrument()` runs (see instrumentor.py).
"""

_instruments: tuple[str, ...] = ()

# The ranges the adapters were checked against, for documentation and for callers that want to know
# what can be instrumented; each adapter module holds its own range (tests/test_packaging.py keeps the
# two equal). A release above its range is still instrumented when every target is found (instrumentor.py).
_supported_frameworks: tuple[str, ...] = (
    "agent-framework-core >= 1.23, < 2",
    "autogen-agentchat >= 0.7.5, < 0.8",
    "pydantic-ai-slim >= 2.68, < 3",
    "openai-agents >= 0.24, < 0.25",
    "smolagents >= 1.26, < 2",
    "agno >= 3.1, < 4",
    "crewai >= 1.15, < 2",
    "llama-index-core >= 0.14.25, < 0.15",
    "google-adk >= 2.13, < 3",
    "strands-agents >= 1.61, < 2",
    "langgraph >= 1.2, < 1.3",
)

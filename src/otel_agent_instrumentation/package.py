"""The frameworks this distribution instruments, as PEP 508 requirements.

`_instruments` is empty on purpose: `opentelemetry-instrument` skips an instrumentor whose
`instruments` extra is not fully installed, and an app normally has one framework, not all. The
package also serves user targets (OTEL_PYTHON_AGENTS_TARGETS) with no framework at all, so the
distribution declares no `instruments`/`instruments-any` extra, and each adapter checks its own
framework's version when `instrument()` runs (see instrumentor.py).
"""

_instruments: tuple[str, ...] = ()

# The adapters' supported ranges, for documentation and for `instrumentation_dependencies` callers
# that want to know what can be instrumented; each adapter module holds its own range.
_supported_frameworks: tuple[str, ...] = ("agent-framework-core >= 1.23, < 2",)

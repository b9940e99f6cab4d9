"""Configuration, resolved once at `instrument()`: keyword argument, then environment, then default.

A bad environment value is logged once and replaced by the default; a bad argument type raises
`TypeError` naming the fix, because that is a programming error the caller can see and correct.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("otel_agent_instrumentation")

ENV_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_KEEP_FRAMEWORK_SPANS = "OTEL_PYTHON_AGENTS_KEEP_FRAMEWORK_SPANS"
ENV_TARGETS = "OTEL_PYTHON_AGENTS_TARGETS"
ENV_DISABLED_ADAPTERS = "OTEL_PYTHON_AGENTS_DISABLED_ADAPTERS"


class ContentCapture(enum.Enum):
    """Where message content goes; the values of OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT."""

    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    # Plain attributes of each member, not properties: adapters read `enabled` on every run.
    on_span: bool
    as_event: bool
    enabled: bool

    def __init__(self, value: str) -> None:
        self.on_span = value in ("SPAN_ONLY", "SPAN_AND_EVENT")
        self.as_event = value in ("EVENT_ONLY", "SPAN_AND_EVENT")
        self.enabled = value != "NO_CONTENT"


# One variable, one meaning across a process, as the contrib GenAI instrumentations read it:
# - by default (no GenAI opt-in) they read true/false, and `true` puts message content on their log
#   events, not on spans (opentelemetry-instrumentation-openai-v2 `is_content_enabled`): here `true`
#   is EVENT_ONLY, content on our `gen_ai.client.inference.operation.details` event;
# - with OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental, opentelemetry-util-genai reads only
#   the four mode names and takes anything else, `true` included, as NO_CONTENT with a warning.
# The mode names mean the same in both.
_CAPTURE_ALIASES = {"TRUE": ContentCapture.EVENT_ONLY, "FALSE": ContentCapture.NO_CONTENT}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
ENV_SEMCONV_STABILITY_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
GEN_AI_LATEST_EXPERIMENTAL = "gen_ai_latest_experimental"


def gen_ai_latest_experimental(environ: Mapping[str, str]) -> bool:
    """Whether the process opted in to the latest experimental GenAI conventions."""
    raw = environ.get(ENV_SEMCONV_STABILITY_OPT_IN, "")
    return GEN_AI_LATEST_EXPERIMENTAL in {part.strip().lower() for part in raw.split(",")}


def parse_capture(value: str, experimental: bool = False) -> ContentCapture | None:
    """The capture mode a string names (case-insensitive), or None when it names none."""
    normalized = value.strip().upper()
    if normalized in _CAPTURE_ALIASES:
        return None if experimental else _CAPTURE_ALIASES[normalized]
    try:
        return ContentCapture(normalized)
    except ValueError:
        return None


@dataclass(frozen=True)
class Config:
    """Everything `instrument()` can be told, resolved."""

    capture_content: ContentCapture = ContentCapture.NO_CONTENT
    # Keep the framework's own agent-level span as well as ours (off: one invoke_agent span per run).
    keep_framework_spans: bool = False
    # "module:Qualified.attr" strings for the generic adapter.
    targets: tuple[str, ...] = ()
    # Adapter names not to load.
    disabled_adapters: frozenset[str] = frozenset()


def _env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    logger.warning("%s=%r is not a boolean (true/false); using %s", name, raw, default)
    return default


def _split_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.replace(";", ",").split(",") if part.strip())


def _capture_from(value: object) -> ContentCapture:
    if isinstance(value, ContentCapture):
        return value
    if isinstance(value, bool):  # what `true` means for the environment variable by default
        return _CAPTURE_ALIASES["TRUE" if value else "FALSE"]
    if isinstance(value, str):
        mode = parse_capture(value)
        if mode is not None:
            return mode
    raise TypeError(
        f"capture_content={value!r}: pass a bool, a ContentCapture, or one of "
        "'NO_CONTENT', 'SPAN_ONLY', 'EVENT_ONLY', 'SPAN_AND_EVENT'"
    )


def _strings_from(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return _split_list(value)
    if isinstance(value, Iterable):
        items = tuple(value)  # once: a generator would be used up by the check below
        if all(isinstance(item, str) for item in items):
            return items
    raise TypeError(f"{name}={value!r}: pass a list of strings")


def resolve(kwargs: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    """Build the Config from `instrument()` keyword arguments and the environment."""
    env = os.environ if environ is None else environ

    if kwargs.get("capture_content") is not None:
        capture = _capture_from(kwargs["capture_content"])
    else:
        raw = env.get(ENV_CAPTURE_CONTENT)
        capture = ContentCapture.NO_CONTENT
        if raw is not None:
            experimental = gen_ai_latest_experimental(env)
            parsed = parse_capture(raw, experimental)
            if parsed is None:
                logger.warning(
                    "%s=%r is not one of %s; message content will not be captured",
                    ENV_CAPTURE_CONTENT,
                    raw,
                    "NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT"
                    + (
                        f" (with {ENV_SEMCONV_STABILITY_OPT_IN}={GEN_AI_LATEST_EXPERIMENTAL})"
                        if experimental
                        else ", true, false"
                    ),
                )
            else:
                capture = parsed

    keep = kwargs.get("keep_framework_spans")
    if keep is None:
        keep = _env_bool(env, ENV_KEEP_FRAMEWORK_SPANS, False)
    elif not isinstance(keep, bool):
        raise TypeError(f"keep_framework_spans={keep!r}: pass True or False")

    targets_arg = kwargs.get("targets")
    targets = (
        _strings_from("targets", targets_arg) if targets_arg is not None else _split_list(env.get(ENV_TARGETS, ""))
    )

    disabled_arg = kwargs.get("disabled_adapters")
    disabled = (
        _strings_from("disabled_adapters", disabled_arg)
        if disabled_arg is not None
        else _split_list(env.get(ENV_DISABLED_ADAPTERS, ""))
    )

    return Config(
        capture_content=capture,
        keep_framework_spans=keep,
        targets=targets,
        disabled_adapters=frozenset(disabled),
    )

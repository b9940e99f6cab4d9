"""End to end against a real trace backend: the example app under `opentelemetry-instrument`, exporting
OTLP/HTTP to a local Arize Phoenix, and the spans read back through Phoenix's REST API.

One Phoenix and one app run serve every spec here. Under pytest-xdist the first worker to need them does
the run and the others read its result (an `fcntl` lock in the run's shared temp directory), so the
backend starts once per test session, not once per worker. A backend that cannot start fails every spec
with its log tail; nothing is skipped.

The same run opens the delegating and the failed run's trace pages in headless Chromium (tests/e2e/
trace_view.py); the browser specs read what those pages showed. A browser that cannot start fails the
browser specs with the install command, and only them.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from otel_agent_instrumentation import semconv
from tests.e2e import app
from tests.e2e.phoenix import LOOPBACK, ROOT, PhoenixError, Span, phoenix_python, running_phoenix
from tests.e2e.trace_view import BrowserError, render_traces

# Phoenix starts in 13-40 s on 2 cores, the app takes ~10 s and the browser 13-20 s, all counted in the first
# spec's time.
pytestmark = pytest.mark.timeout(420)

logger = logging.getLogger(__name__)
APP_TIMEOUT = 180.0
AGENT_NAMES = ("geographer", "coordinator", app.SUB_AGENT_NAME, "dropped_geographer", "impatient_geographer")
ROOT_AGENT_NAMES = ("geographer", "coordinator", "dropped_geographer", "impatient_geographer")
# The runs whose trace pages the browser opens (the delegation tree, and a failure: red in Phoenix), with
# the file names scripts/trace-screenshot.sh saves them under in docs/.
BROWSED_AGENTS = {"coordinator": "trace-coordinator.png", "dropped_geographer": "trace-failed.png"}


@dataclass(frozen=True)
class Readback:
    """The spans Phoenix returned for the app's project, or why there are none.

    The reason is raised from the spec itself (pytest.fail), so a backend that cannot start is a failed
    spec with its log tail, not a fixture error or a skip.
    """

    found: list[Span]
    error: str | None = None
    pages: dict[str, dict[str, Any]] | None = None
    pages_error: str | None = None

    @property
    def spans(self) -> list[Span]:
        if self.error is not None:
            pytest.fail(f"end-to-end run through Phoenix failed: {self.error}", pytrace=False)
        return self.found

    def agent_span(self, agent_name: str) -> Span:
        (span,) = [s for s in self.spans if s["name"] == semconv.span_name(agent_name)]
        return span

    def children(self, parent: Span) -> list[Span]:
        return [s for s in self.spans if s["parent_id"] == parent["context"]["span_id"]]

    def trace_page(self, agent_name: str) -> dict[str, Any]:
        """What Phoenix's trace page showed for the agent's run (tests/e2e/trace_view.py's TracePage)."""
        if self.pages is None:
            reason = self.error or self.pages_error
            pytest.fail(f"Phoenix's trace page could not be read in a browser: {reason}", pytrace=False)
        return self.pages[semconv.span_name(agent_name)]


def _run_app(endpoint: str, project: str) -> None:
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    if not instrument.is_file():
        raise PhoenixError(f"{instrument} missing: install the test extra (opentelemetry-distro)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=endpoint,
        # Phoenix takes traces only; the default would post metrics and logs to localhost:4318.
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="otel-agent-e2e",
        # Phoenix files spans under the project this resource attribute names.
        OTEL_RESOURCE_ATTRIBUTES=f"openinference.project.name={project}",
        NO_PROXY=LOOPBACK,
        no_proxy=LOOPBACK,
    )
    completed = subprocess.run(
        [str(instrument), sys.executable, app.__file__],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=APP_TIMEOUT,
    )
    if completed.returncode != 0:
        raise PhoenixError(f"the app exited with {completed.returncode}:\n{completed.stderr[-3000:]}")


def _all_agents_arrived(spans: list[Span]) -> bool:
    names = {span["name"] for span in spans}
    return all(semconv.span_name(agent) in names for agent in AGENT_NAMES)


def _trace_through_phoenix(screenshot_dir: Path | None = None) -> dict[str, Any]:
    """Start Phoenix, run the app against it, read the spans back: {"spans": [...]} or {"error": reason};
    then open the browsed runs' trace pages: "pages" ({span name: TracePage dict}) or "pages_error".
    With `screenshot_dir`, the pages are saved there as PNGs (scripts/trace-screenshot.sh)."""
    project = f"otel-agent-e2e-{uuid.uuid4().hex[:8]}"
    try:
        with running_phoenix(phoenix_python()) as server:
            started = time.monotonic()
            _run_app(server.otlp_traces_endpoint, project)
            ran = time.monotonic()
            spans = server.spans(project, until=_all_agents_arrived)
            read = time.monotonic()
            result: dict[str, Any] = {"spans": spans}
            try:
                pictures = {semconv.span_name(agent): picture for agent, picture in BROWSED_AGENTS.items()}
                result["pages"] = render_traces(server, project, spans, pictures, screenshot_dir)
            except BrowserError as error:
                result["pages_error"] = str(error)
            logger.info(
                "phoenix startup %.1f s, app %.1f s, readback %.1f s, browser %.1f s",
                server.startup_seconds,
                ran - started,
                read - ran,
                time.monotonic() - read,
            )
            return result
    except (PhoenixError, subprocess.TimeoutExpired) as error:
        return {"error": str(error)}


@pytest.fixture(scope="module")
def readback(tmp_path_factory: pytest.TempPathFactory) -> Readback:
    if "PYTEST_XDIST_WORKER" in os.environ:
        # The workers' base temp directories share this parent for one test session.
        shared = tmp_path_factory.getbasetemp().parent
        with (shared / "phoenix-e2e.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            result_path = shared / "phoenix-e2e.json"
            if not result_path.exists():
                result_path.write_text(json.dumps(_trace_through_phoenix()))
            result = json.loads(result_path.read_text())
    else:
        result = _trace_through_phoenix()
    return Readback(result.get("spans", []), result.get("error"), result.get("pages"), result.get("pages_error"))


def test_completed_run_arrives_as_one_root_span_named_invoke_agent_and_the_agent(readback: Readback) -> None:
    assert readback.agent_span("geographer")["parent_id"] is None


def test_completed_run_arrives_with_the_genai_attributes_sent(readback: Readback) -> None:
    # Two model calls (tool request, then answer), each reporting app.INPUT_TOKENS / app.OUTPUT_TOKENS.
    sent = {
        semconv.GEN_AI_OPERATION_NAME: semconv.INVOKE_AGENT,
        semconv.GEN_AI_AGENT_NAME: "geographer",
        semconv.GEN_AI_REQUEST_MODEL: app.MODEL,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 2 * app.INPUT_TOKENS,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 2 * app.OUTPUT_TOKENS,
    }
    attributes = readback.agent_span("geographer")["attributes"]
    # Phoenix adds OpenInference attributes derived from gen_ai.*, so compare only the keys sent.
    assert {key: attributes.get(key) for key in sent} == sent


def test_completed_run_arrives_with_outcome_completed_and_status_unset(readback: Readback) -> None:
    span = readback.agent_span("geographer")
    assert (span["attributes"][semconv.OUTCOME], span["status_code"]) == ("completed", "UNSET")


def test_completed_run_is_listed_by_phoenix_as_an_agent(readback: Readback) -> None:
    # Phoenix derives its span kind from gen_ai.operation.name: this is what its UI shows.
    assert readback.agent_span("geographer")["span_kind"] == "AGENT"


def test_chat_and_tool_spans_arrive_as_children_of_the_agent_span(readback: Readback) -> None:
    agent = readback.agent_span("geographer")
    children = readback.children(agent)
    assert sorted(child["name"] for child in children) == [
        f"chat {app.MODEL}",
        f"chat {app.MODEL}",
        f"execute_tool {app.TOOL_NAME}",
    ]


def test_chat_and_tool_spans_arrive_in_the_agent_span_trace(readback: Readback) -> None:
    agent = readback.agent_span("geographer")
    trace_ids = {child["context"]["trace_id"] for child in readback.children(agent)}
    assert trace_ids == {agent["context"]["trace_id"]}


def test_stream_failing_mid_run_arrives_with_status_error_and_error_type(readback: Readback) -> None:
    span = readback.agent_span("dropped_geographer")
    assert (span["status_code"], span["status_message"], span["attributes"].get(semconv.ERROR_TYPE)) == (
        "ERROR",
        str(app.FAILURE),
        type(app.FAILURE).__qualname__,  # a builtin: the bare class name
    )


def test_stream_failing_mid_run_arrives_with_outcome_failed(readback: Readback) -> None:
    assert readback.agent_span("dropped_geographer")["attributes"][semconv.OUTCOME] == "failed"


def test_stream_closed_early_arrives_with_outcome_closed_early_and_not_error(readback: Readback) -> None:
    span = readback.agent_span("impatient_geographer")
    assert (span["attributes"][semconv.OUTCOME], span["status_code"]) == ("closed_early", "UNSET")


def test_each_run_arrives_as_its_own_trace(readback: Readback) -> None:
    traces = {readback.agent_span(name)["context"]["trace_id"] for name in ROOT_AGENT_NAMES}
    assert len(traces) == len(ROOT_AGENT_NAMES)


def test_delegating_run_arrives_as_the_tree_of_agent_tool_sub_agent_and_chats(readback: Readback) -> None:
    coordinator = readback.agent_span("coordinator")

    def tree(span: Span, depth: int = 0) -> list[str]:
        rows = [f"{'  ' * depth}{span['name']} {span['status_code']}"]
        for child in sorted(readback.children(span), key=lambda s: (s["start_time"], s["name"])):
            rows += tree(child, depth + 1)
        return rows

    assert tree(coordinator) == [
        "invoke_agent coordinator UNSET",
        f"  chat {app.MODEL} UNSET",
        f"  execute_tool {app.SUB_AGENT_NAME} UNSET",
        f"    invoke_agent {app.SUB_AGENT_NAME} UNSET",
        f"      chat {app.MODEL} UNSET",
        f"  chat {app.MODEL} UNSET",
    ]


def test_sub_agent_arrives_with_its_own_agent_attributes_and_outcome(readback: Readback) -> None:
    attributes = readback.agent_span(app.SUB_AGENT_NAME)["attributes"]
    assert (
        attributes[semconv.GEN_AI_OPERATION_NAME],
        attributes[semconv.GEN_AI_AGENT_NAME],
        attributes[semconv.OUTCOME],
    ) == (semconv.INVOKE_AGENT, app.SUB_AGENT_NAME, "completed")


def test_trace_page_of_delegating_run_shows_the_agent_span_by_name_with_status_unset(readback: Readback) -> None:
    page = readback.trace_page("coordinator")
    assert (page["header"], page["status"]) == ("invoke_agent coordinator", "Unset")


def test_trace_page_of_delegating_run_shows_the_tree_of_agent_tool_sub_agent_and_chats(readback: Readback) -> None:
    assert readback.trace_page("coordinator")["tree"] == [
        "invoke_agent coordinator UNSET",
        f"  chat {app.MODEL} UNSET",
        f"  execute_tool {app.SUB_AGENT_NAME} UNSET",
        f"    invoke_agent {app.SUB_AGENT_NAME} UNSET",
        f"      chat {app.MODEL} UNSET",
        f"  chat {app.MODEL} UNSET",
    ]


def test_trace_page_of_delegating_run_shows_outcome_completed(readback: Readback) -> None:
    assert readback.trace_page("coordinator")["attributes"][semconv.OUTCOME] == "completed"


def test_trace_page_of_failed_run_shows_the_agent_span_by_name_with_status_error(readback: Readback) -> None:
    page = readback.trace_page("dropped_geographer")
    assert (page["header"], page["status"]) == ("invoke_agent dropped_geographer", "Error")


def test_trace_page_of_failed_run_shows_its_spans_in_error(readback: Readback) -> None:
    # Phoenix draws ERROR spans in red.
    assert readback.trace_page("dropped_geographer")["tree"] == [
        "invoke_agent dropped_geographer ERROR",
        f"  chat {app.MODEL} ERROR",
    ]


def test_trace_page_of_failed_run_shows_outcome_failed_and_the_error_type(readback: Readback) -> None:
    attributes = readback.trace_page("dropped_geographer")["attributes"]
    assert (attributes[semconv.OUTCOME], attributes[semconv.ERROR_TYPE]) == ("failed", type(app.FAILURE).__qualname__)

"""Runs still open at interpreter exit are ended with outcome `shutdown` and exported, not lost.

Each test runs a small program in a subprocess (this venv's interpreter). The program completes one run
and leaves four open at exit, as applications do: an async stream pulled once and kept in a global
(asyncio.run closes its inner generator behind our back), a coroutine never awaited, a task started and
still pending in a loop nobody closes, and a sync generator half consumed. It then exits normally.

`invocation.end_open_invocations` (registered with atexit by `instrument()`) ends them with outcome
`shutdown` and status UNSET; the SDK TracerProvider's own atexit hook (registered when it is built)
then shuts the BatchSpanProcessor down, which exports them. atexit runs hooks last-in first-out, so
this holds when the provider exists before `instrument()`, which is also what opentelemetry-instrument
does. A provider built after `instrument()` is shut down first and drops the spans ended after it:
`test_provider_created_after_instrument_*` pins that (see /work/scratch/notes/shutdown_core_request.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.concurrency_app import SOAK_TARGETS

ROOT = Path(__file__).resolve().parent.parent
OPEN_AT_EXIT = ["pulled_stream", "pending_coroutine", "pending_task", "half_consumed_generator"]
FRAMEWORK_ADAPTERS = "agent_framework,autogen_agentchat,pydantic_ai,openai_agents,smolagents,agno"

# The application: run by every test; `configure()` is what differs.
APP = textwrap.dedent(
    """
    import asyncio
    import sys

    from tests.concurrency_app import SoakAgent

    configure()


    def agent(name):
        named = SoakAgent()
        named.name = name
        return named


    for _ in agent("completed").stream():
        pass


    async def pull_once():
        stream = agent("pulled_stream").astream()
        await stream.__anext__()
        return stream


    STREAM = asyncio.run(pull_once())
    PENDING = agent("pending_coroutine").arun()
    LOOP = asyncio.new_event_loop()
    TASK = LOOP.create_task(agent("pending_task").arun(block=True))
    LOOP.run_until_complete(asyncio.sleep(0.01))
    GENERATOR = agent("half_consumed_generator").stream()
    next(GENERATOR)
    print("MAIN DONE", flush=True)
    """
)

SDK_SETUP = textwrap.dedent(
    """
    import json

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    from otel_agent_instrumentation import AgentInstrumentor
    from tests.concurrency_app import SOAK_TARGETS


    def one_line(span):
        return json.dumps(
            {
                "name": span.name,
                "outcome": span.attributes.get("otel_agent_instrumentation.outcome"),
                "status": span.status.status_code.name,
            }
        ) + "\\n"


    def make_provider():
        provider = TracerProvider()
        # Exports only when shut down: nothing reaches stdout before the provider's atexit hook.
        exporter = ConsoleSpanExporter(formatter=one_line)
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=600_000))
        trace.set_tracer_provider(provider)


    def instrument():
        AgentInstrumentor().instrument(targets=SOAK_TARGETS, disabled_adapters=FRAMEWORK_ADAPTERS)
    """
)

PROVIDER_FIRST = "def configure():\n    make_provider()\n    instrument()\n"
INSTRUMENT_FIRST = "def configure():\n    instrument()\n    make_provider()\n"


def run_program(
    tmp_path: Path, source: str, command: list[str] | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    program = tmp_path / "app.py"
    program.write_text(source)
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OTEL_PYTHON_AGENTS_DISABLED_ADAPTERS": FRAMEWORK_ADAPTERS,
        **(env or {}),
    }
    completed = subprocess.run(
        [*(command or [sys.executable]), str(program)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert "MAIN DONE" in completed.stdout, completed.stderr
    return completed


def sdk_program(order: str) -> str:
    return f"FRAMEWORK_ADAPTERS = {FRAMEWORK_ADAPTERS!r}\n" + SDK_SETUP + order + APP


def exported_lines(stdout: str) -> dict[str, tuple[str, str]]:
    """{agent name: (outcome, status)} from the one-line exporter, printed after MAIN DONE."""
    _, _, after = stdout.partition("MAIN DONE\n")
    spans = [json.loads(line) for line in after.splitlines() if line.startswith("{")]
    return {span["name"].removeprefix("invoke_agent "): (span["outcome"], span["status"]) for span in spans}


def exported_console_json(stdout: str) -> dict[str, tuple[str, str]]:
    """{agent name: (outcome, status code)} from ConsoleSpanExporter's default (indented JSON)."""
    decoder = json.JSONDecoder()
    _, _, text = stdout.partition("MAIN DONE\n")
    spans: list[dict[str, Any]] = []
    index = 0
    while (start := text.find("{", index)) != -1:
        span, index = decoder.raw_decode(text, start)
        spans.append(span)
    return {
        span["name"].removeprefix("invoke_agent "): (
            span["attributes"].get("otel_agent_instrumentation.outcome"),
            span["status"]["status_code"],
        )
        for span in spans
    }


@pytest.fixture(scope="module")
def provider_first(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    return run_program(tmp_path_factory.mktemp("provider_first"), sdk_program(PROVIDER_FIRST))


@pytest.fixture(scope="module")
def instrument_first(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    return run_program(tmp_path_factory.mktemp("instrument_first"), sdk_program(INSTRUMENT_FIRST))


def test_runs_open_at_exit_are_exported_with_outcome_shutdown(
    provider_first: subprocess.CompletedProcess[str],
) -> None:
    exported = exported_lines(provider_first.stdout)
    assert {name: exported.get(name) for name in OPEN_AT_EXIT} == dict.fromkeys(OPEN_AT_EXIT, ("shutdown", "UNSET"))


def test_completed_run_is_exported_by_the_provider_shutdown_too(
    provider_first: subprocess.CompletedProcess[str],
) -> None:
    assert exported_lines(provider_first.stdout)["completed"] == ("completed", "UNSET")


def test_every_run_is_exported_exactly_once(provider_first: subprocess.CompletedProcess[str]) -> None:
    _, _, after = provider_first.stdout.partition("MAIN DONE\n")
    names = sorted(json.loads(line)["name"] for line in after.splitlines() if line.startswith("{"))
    assert names == sorted(f"invoke_agent {name}" for name in ["completed", *OPEN_AT_EXIT])


def test_exit_logs_no_error_of_ours(provider_first: subprocess.CompletedProcess[str]) -> None:
    # The application's own leftovers warn as they would uninstrumented (never-awaited coroutine,
    # destroyed pending task); nothing from the instrumentation or a context detach.
    assert "otel_agent_instrumentation" not in provider_first.stderr
    assert "Failed to detach context" not in provider_first.stderr


def test_provider_created_after_instrument_still_exports_the_runs_open_at_exit(
    instrument_first: subprocess.CompletedProcess[str],
) -> None:
    """The provider's atexit hook is registered after ours; the first run re-registers ours so that it
    still runs first and the BatchSpanProcessor exports what it ends."""
    exported = exported_lines(instrument_first.stdout)
    assert {name: exported.get(name) for name in OPEN_AT_EXIT} == dict.fromkeys(OPEN_AT_EXIT, ("shutdown", "UNSET"))


def test_opentelemetry_instrument_exports_runs_open_at_exit_with_outcome_shutdown(tmp_path: Path) -> None:
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    completed = run_program(
        tmp_path,
        APP.replace("configure()\n", "", 1),
        command=[
            str(instrument),
            "--traces_exporter",
            "console",
            "--metrics_exporter",
            "none",
            "--logs_exporter",
            "none",
            sys.executable,
        ],
        env={"OTEL_PYTHON_AGENTS_TARGETS": ",".join(SOAK_TARGETS)},
    )
    exported = exported_console_json(completed.stdout)
    assert {name: exported.get(name) for name in OPEN_AT_EXIT} == dict.fromkeys(OPEN_AT_EXIT, ("shutdown", "UNSET"))

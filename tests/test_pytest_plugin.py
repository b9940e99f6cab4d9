"""The pytest plugin for applications (`agent_spans`), run as an application's suite would run it: a test
directory of its own, a subprocess, the plugin found through our `pytest11` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
APP = '''
class Planner:
    """The application's own agent, traced as a user target."""

    def __init__(self, label):
        self.label = label  # not `name`: the span would be named after it
        self.calls = []

    def run(self, task):
        self.calls.append(("run", task))
        if task == "fail":
            raise ValueError("cannot plan " + task)
        return Helper().run(task.upper())


class Helper:
    def run(self, task):
        return "done: " + task
'''

CONFTEST = """
import pytest

@pytest.fixture
def agent_spans_options():
    return {"targets": ["app:Planner.run", "app:Helper.run"]}
"""


# The application's test modules, one per spec below, in the order they run. They all run in ONE pytest
# subprocess (one start-up and one import of the frameworks instead of eight); each spec reads its own
# module's outcomes and failure text from that run's JUnit report. The untouched suite runs first: nothing
# has asked for the fixture in that process yet.
APP_TESTS: dict[str, str] = {
    "test_untouched": """
from otel_agent_instrumentation import AgentInstrumentor

def test_plain(request):
    assert "agent_spans" not in request.fixturenames
    assert not AgentInstrumentor().is_instrumented_by_opentelemetry
""",
    "test_outcome": """
from app import Planner

def test_traced(agent_spans):
    assert Planner("p").run("write") == "done: WRITE"
    span = agent_spans.agent("Planner")
    agent_spans.assert_outcome(span, "completed")
""",
    "test_wrong_outcome": """
import pytest
from app import Planner

def test_traced(agent_spans):
    with pytest.raises(ValueError):
        Planner("p").run("fail")
    agent_spans.assert_outcome(agent_spans.agent("Planner"), "completed")
""",
    "test_tree": """
from app import Planner

def test_tree(agent_spans):
    Planner("p").run("write")
    assert agent_spans.tree() == ["invoke_agent Planner [completed]", "  invoke_agent Helper [completed]"]
    agent_spans.assert_child(agent_spans.agent("Planner"), agent_spans.agent("Helper"))

def test_not_a_child(agent_spans):
    Planner("p").run("write")
    agent_spans.assert_child(agent_spans.agent("Helper"), agent_spans.agent("Planner"))
""",
    "test_transparent": """
from app import Planner

def test_same(agent_spans):
    def scenario():
        planner = Planner("p")
        return planner.run("write"), planner.calls
    assert agent_spans.assert_transparent(scenario) == ("done: WRITE", [("run", "write")])
    assert len(agent_spans.named("invoke_agent", "Planner")) == 1  # the instrumented run only

def test_same_exception(agent_spans):
    agent_spans.assert_transparent(lambda: Planner("p").run("fail"))

def test_a_difference_fails(agent_spans):
    seen = []
    def scenario():
        seen.append(agent_spans.instrumentor.is_instrumented_by_opentelemetry)
        return seen[-1]
    agent_spans.assert_transparent(scenario)
""",
    "test_metrics": """
from app import Planner

def test_duration(agent_spans):
    Planner("p").run("write")
    points = agent_spans.metric_points("gen_ai.invoke_agent.duration")
    assert sorted(dict(p.attributes)["gen_ai.agent.name"] for p in points) == ["Helper", "Planner"]
""",
    "test_reverted": """
from otel_agent_instrumentation import AgentInstrumentor
from app import Planner

def test_first(agent_spans):
    assert AgentInstrumentor().is_instrumented_by_opentelemetry

def test_after():
    assert not AgentInstrumentor().is_instrumented_by_opentelemetry
    assert type(Planner.__dict__["run"]).__name__ == "function"
""",
    # A real framework agent (Agent Framework, offline, from this repository's drivers): its run has messages.
    "test_content": """
import asyncio
import pytest
from tests.frameworks.agent_framework_driver import Script, make_agent

def run_agent():
    return asyncio.run(make_agent(Script(), []).run("hello")).text

def test_default(agent_spans):
    run_agent()
    agent_spans.assert_no_content()

@pytest.mark.parametrize("agent_spans_options", [{"capture_content": "SPAN_ONLY"}])
def test_opted_in(agent_spans):
    run_agent()
    agent_spans.agent("scripted")
    agent_spans.assert_no_content()
""",
}


@dataclass
class ModuleResult:
    """One application test module's part of the run."""

    outcomes: dict[str, int]  # outcome -> count: passed, failed, error, skipped
    failures: pytest.LineMatcher  # its failed tests' failure text

    def assert_outcomes(self, **expected: int) -> None:
        assert self.outcomes == expected, f"{self.outcomes} != {expected}; failures:\n{self.failures.str()}"


@pytest.fixture(scope="module")
def app_suite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModuleResult]:
    """The application's suite run once, as pytester would: its own directory, a subprocess, no PYTEST_ADDOPTS,
    its own HOME; the plugin is found through our `pytest11` entry point."""
    directory = tmp_path_factory.mktemp("app")
    (directory / "app.py").write_text(APP)
    (directory / "conftest.py").write_text(CONFTEST)
    for module, source in APP_TESTS.items():
        (directory / f"{module}.py").write_text(source)
    environment = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    # The app's directory (as pytester's), and this repository for the content spec's driver.
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(directory), str(REPOSITORY), os.environ.get("PYTHONPATH")])
    )
    environment["HOME"] = str(directory)
    report = directory / "report.xml"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--basetemp={directory / 'basetemp'}",
            f"--junitxml={report}",
            *(f"{module}.py" for module in APP_TESTS),  # in this order
        ],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.exists(), completed.stdout + completed.stderr
    results: dict[str, ModuleResult] = {}
    for module in APP_TESTS:
        cases = [case for case in ElementTree.parse(report).iter("testcase") if case.get("classname") == module]
        outcomes: Counter[str] = Counter()
        texts: list[str] = []
        for case in cases:
            problems = [child for child in case if child.tag in ("failure", "error", "skipped")]
            outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(
                problems[0].tag if problems else "", "passed"
            )
            outcomes[outcome] += 1
            texts += [f"{child.get('message', '')}\n{child.text or ''}" for child in problems]
        results[module] = ModuleResult(dict(outcomes), pytest.LineMatcher("\n".join(texts).splitlines()))
    return results


def test_agent_spans_finds_the_apps_agent_span_and_its_outcome(app_suite: dict[str, ModuleResult]) -> None:
    app_suite["test_outcome"].assert_outcomes(passed=1)


def test_a_wrong_outcome_fails_the_apps_test_naming_both(app_suite: dict[str, ModuleResult]) -> None:
    result = app_suite["test_wrong_outcome"]
    result.assert_outcomes(failed=1)
    result.failures.fnmatch_lines(["*Planner: outcome 'failed', expected 'completed'*"])


def test_the_tree_and_parent_child_assertion(app_suite: dict[str, ModuleResult]) -> None:
    result = app_suite["test_tree"]
    result.assert_outcomes(passed=1, failed=1)
    result.failures.fnmatch_lines(["*invoke_agent Planner is not a child of invoke_agent Helper*"])


def test_no_content_is_captured_by_default_and_capture_is_an_option(app_suite: dict[str, ModuleResult]) -> None:
    result = app_suite["test_content"]
    result.assert_outcomes(passed=1, failed=1)
    result.failures.fnmatch_lines(["*content captured: [[]('invoke_agent scripted', 'gen_ai.input.messages')*"])


def test_assert_transparent_compares_the_bare_and_instrumented_runs(app_suite: dict[str, ModuleResult]) -> None:
    result = app_suite["test_transparent"]
    result.assert_outcomes(passed=2, failed=1)
    result.failures.fnmatch_lines(["*instrumented run observed ('returned', True), bare ('returned', False)*"])


def test_metrics_are_read_from_the_fixtures_reader(app_suite: dict[str, ModuleResult]) -> None:
    app_suite["test_metrics"].assert_outcomes(passed=1)


def test_instrumentation_is_reverted_after_each_test(app_suite: dict[str, ModuleResult]) -> None:
    app_suite["test_reverted"].assert_outcomes(passed=2)


def test_a_suite_that_does_not_ask_for_the_fixture_is_untouched(app_suite: dict[str, ModuleResult]) -> None:
    app_suite["test_untouched"].assert_outcomes(passed=1)

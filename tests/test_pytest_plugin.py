"""The pytest plugin for applications (`agent_spans`), run by pytester as an application's suite would run it:
a test directory of its own, a subprocess, the plugin found through our `pytest11` entry point."""

from __future__ import annotations

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


def run_suite(pytester: pytest.Pytester, tests: str) -> pytest.RunResult:
    pytester.makepyfile(app=APP, conftest=CONFTEST, test_app=tests)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")


def test_agent_spans_finds_the_apps_agent_span_and_its_outcome(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
from app import Planner

def test_traced(agent_spans):
    assert Planner("p").run("write") == "done: WRITE"
    span = agent_spans.agent("Planner")
    agent_spans.assert_outcome(span, "completed")
""",
    )
    result.assert_outcomes(passed=1)


def test_a_wrong_outcome_fails_the_apps_test_naming_both(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
import pytest
from app import Planner

def test_traced(agent_spans):
    with pytest.raises(ValueError):
        Planner("p").run("fail")
    agent_spans.assert_outcome(agent_spans.agent("Planner"), "completed")
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Planner: outcome 'failed', expected 'completed'*"])


def test_the_tree_and_parent_child_assertion(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
from app import Planner

def test_tree(agent_spans):
    Planner("p").run("write")
    assert agent_spans.tree() == ["invoke_agent Planner [completed]", "  invoke_agent Helper [completed]"]
    agent_spans.assert_child(agent_spans.agent("Planner"), agent_spans.agent("Helper"))

def test_not_a_child(agent_spans):
    Planner("p").run("write")
    agent_spans.assert_child(agent_spans.agent("Helper"), agent_spans.agent("Planner"))
""",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*invoke_agent Planner is not a child of invoke_agent Helper*"])


def test_no_content_is_captured_by_default_and_capture_is_an_option(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real framework agent (Agent Framework, offline, from this repository's drivers): its run has messages.
    monkeypatch.setenv("PYTHONPATH", str(REPOSITORY))
    result = run_suite(
        pytester,
        """
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
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*content captured: [[]('invoke_agent scripted', 'gen_ai.input.messages')*"])


def test_assert_transparent_compares_the_bare_and_instrumented_runs(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
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
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*instrumented run observed ('returned', True), bare ('returned', False)*"])


def test_metrics_are_read_from_the_fixtures_reader(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
from app import Planner

def test_duration(agent_spans):
    Planner("p").run("write")
    points = agent_spans.metric_points("gen_ai.invoke_agent.duration")
    assert sorted(dict(p.attributes)["gen_ai.agent.name"] for p in points) == ["Helper", "Planner"]
""",
    )
    result.assert_outcomes(passed=1)


def test_instrumentation_is_reverted_after_each_test(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
from otel_agent_instrumentation import AgentInstrumentor
from app import Planner

def test_first(agent_spans):
    assert AgentInstrumentor().is_instrumented_by_opentelemetry

def test_after():
    assert not AgentInstrumentor().is_instrumented_by_opentelemetry
    assert type(Planner.__dict__["run"]).__name__ == "function"
""",
    )
    result.assert_outcomes(passed=2)


def test_a_suite_that_does_not_ask_for_the_fixture_is_untouched(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
from otel_agent_instrumentation import AgentInstrumentor

def test_plain(request):
    assert "agent_spans" not in request.fixturenames
    assert not AgentInstrumentor().is_instrumented_by_opentelemetry
""",
    )
    result.assert_outcomes(passed=1)

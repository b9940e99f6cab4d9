"""scripts/framework-suites.sh can fail: its pytest plugin records what each test did and whether the run
was instrumented, and its comparison turns an unlisted outcome difference into a failure.

The frameworks' suites themselves run from the script (their venvs are too heavy for this suite); here the
plugin runs on a small generated suite with a user target as the agent, bare and instrumented.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SUITES_FOLDER = Path(__file__).resolve().parents[1] / "scripts" / "framework_suites"
SOURCE_FOLDER = Path(__file__).resolve().parents[1] / "src"

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="the runner needs tomllib (Python 3.11+)")


def _runner() -> ModuleType:
    # Loaded by path: scripts/ is not a package, and the runner is a script run by Python 3.11+.
    spec = importlib.util.spec_from_file_location("framework_suites_run", SUITES_FOLDER / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _document(**outcomes: str) -> dict[str, Any]:
    return {
        "tests": {f"tests/test_x.py::{name}": {"outcome": outcome, "text": ""} for name, outcome in outcomes.items()}
    }


def test_an_unlisted_difference_is_new() -> None:
    runner = _runner()
    comparison = runner.compare(_document(a="passed", b="passed"), _document(a="passed", b="failed"), {})
    assert (comparison.matched, comparison.new, comparison.stale) == ([], ["tests/test_x.py::b"], [])


def test_a_listed_difference_with_its_outcomes_is_expected() -> None:
    runner = _runner()
    expected = {"tests/test_x.py::b": runner.Expected("tests/test_x.py::b", "passed", "failed", "by design")}
    comparison = runner.compare(_document(b="passed"), _document(b="failed"), expected)
    assert (comparison.matched, comparison.new, comparison.stale) == (["tests/test_x.py::b"], [], [])


def test_a_listed_difference_with_other_outcomes_is_new() -> None:
    runner = _runner()
    expected = {"tests/test_x.py::b": runner.Expected("tests/test_x.py::b", "passed", "failed", "by design")}
    comparison = runner.compare(_document(b="passed"), _document(b="error"), expected)
    assert (comparison.matched, comparison.new) == ([], ["tests/test_x.py::b"])


def test_a_test_missing_from_one_run_is_a_difference() -> None:
    runner = _runner()
    comparison = runner.compare(_document(a="passed", b="passed"), _document(a="passed"), {})
    assert comparison.new == ["tests/test_x.py::b"]


def test_a_listed_difference_that_ran_alike_both_ways_is_stale() -> None:
    runner = _runner()
    expected = {
        "tests/test_x.py::b": runner.Expected("tests/test_x.py::b", "passed", "failed", "being fixed"),
        "tests/test_x.py::not_run": runner.Expected("tests/test_x.py::not_run", "passed", "failed", "outside a subset"),
    }
    comparison = runner.compare(_document(b="passed"), _document(b="passed"), expected)
    assert comparison.stale == ["tests/test_x.py::b"]


def test_a_difference_holds_unless_its_rerun_runs_alike_both_ways() -> None:
    runner = _runner()
    test_ids = ["tests/test_x.py::same", "tests/test_x.py::again", "tests/test_x.py::gone"]
    bare_rerun = _document(same="passed", again="passed")
    instrumented_rerun = _document(same="passed", again="failed")
    confirmed, not_reproduced = runner.settle(test_ids, bare_rerun, instrumented_rerun)
    assert (confirmed, not_reproduced) == (
        ["tests/test_x.py::again", "tests/test_x.py::gone"],
        ["tests/test_x.py::same"],
    )


SAMPLE_AGENT = """
def run_agent(question):
    return "answer to " + question
"""

SAMPLE_TESTS = """
import pytest

import sample_agent


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")


def test_passes():
    assert sample_agent.run_agent("q") == "answer to q"


def test_fails():
    assert sample_agent.run_agent("q") == "something else"


def test_skips():
    pytest.skip("not today")


def test_errors_in_setup(broken):
    pass


@pytest.mark.xfail(reason="known", strict=True)
def test_xfails():
    assert False
"""

EXPECTED_OUTCOMES = {
    "test_sample.py::test_passes": "passed",
    "test_sample.py::test_fails": "failed",
    "test_sample.py::test_skips": "skipped",
    "test_sample.py::test_errors_in_setup": "error",
    "test_sample.py::test_xfails": "skipped",
}


@pytest.fixture(scope="module")
def bare_sample_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run_sample_suite(tmp_path_factory.mktemp("bare"), instrumented=False, workers=0)


# Every built-in adapter, as pyproject registers them (a framework installed here would otherwise be patched too).
BUILT_IN_ADAPTERS = sorted(
    tomllib.loads((SOURCE_FOLDER.parent / "pyproject.toml").read_text())["project"]["entry-points"][
        "otel_agent_instrumentation.adapters"
    ]
)


def _run_sample_suite(tmp_path: Path, *, instrumented: bool, workers: int) -> dict[str, Any]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "sample_agent.py").write_text(SAMPLE_AGENT)
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(SAMPLE_TESTS))
    results = tmp_path / "results.json"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    environment.update(
        PYTHONPATH=os.pathsep.join([str(SUITES_FOLDER), str(SOURCE_FOLDER), str(tmp_path)]),
        OTEL_AGENT_SUITE_RESULTS=str(results),
        # The agent is a user target; the frameworks' adapters stay off (their imports cost seconds).
        OTEL_PYTHON_AGENTS_TARGETS="sample_agent:run_agent",
        OTEL_PYTHON_AGENTS_DISABLED_ADAPTERS=",".join(BUILT_IN_ADAPTERS),
    )
    if instrumented:
        environment["OTEL_AGENT_SUITE_INSTRUMENT"] = "1"
    command = [sys.executable, "-m", "pytest", "-p", "otel_agent_suite_plugin", "-p", "no:cacheprovider", "-q"]
    if workers:
        command += ["-p", "xdist", "-n", str(workers)]
    completed = subprocess.run(
        [*command, "test_sample.py"], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr  # 1: some tests failed, as written
    document: dict[str, Any] = json.loads(results.read_text())
    return document


def test_plugin_records_each_outcome_and_no_instrumentation_when_bare(bare_sample_run: dict[str, Any]) -> None:
    outcomes = {test_id: entry["outcome"] for test_id, entry in bare_sample_run["tests"].items()}
    assert (outcomes, bare_sample_run["patched"], bare_sample_run["spans"]) == (EXPECTED_OUTCOMES, [], {})


def test_plugin_keeps_the_failure_text(bare_sample_run: dict[str, Any]) -> None:
    assert "something else" in bare_sample_run["tests"]["test_sample.py::test_fails"]["text"]


def test_plugin_instruments_the_session_and_counts_its_agent_spans(tmp_path: Path) -> None:
    document = _run_sample_suite(tmp_path, instrumented=True, workers=0)
    outcomes = {test_id: entry["outcome"] for test_id, entry in document["tests"].items()}
    assert (outcomes, document["patched"], document["spans"], document["duration_points"]) == (
        EXPECTED_OUTCOMES,
        ["sample_agent.run_agent"],
        {"completed": 2},
        2,
    )


def test_plugin_gathers_the_xdist_workers_span_counts(tmp_path: Path) -> None:
    document = _run_sample_suite(tmp_path, instrumented=True, workers=2)
    outcomes = {test_id: entry["outcome"] for test_id, entry in document["tests"].items()}
    assert (outcomes, document["instrumented_processes"], document["spans"]) == (EXPECTED_OUTCOMES, 2, {"completed": 2})


@pytest.mark.parametrize(
    ("requirement", "version"),
    [("openai-agents==0.24.0", "0.24.0"), ("pydantic-ai-slim[openai]==2.68.0", "2.68.0")],
)
def test_pinned_version_reads_a_pin_with_or_without_extras(requirement: str, version: str) -> None:
    assert _runner().pinned_version(requirement) == version

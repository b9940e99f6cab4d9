"""The frameworks' own test suites as a transparency check: each suite runs bare and instrumented.

For each framework whose released source distribution on PyPI ships its tests, at the version pinned in
pyproject's `test` extra: a venv of its own (.venv-suites/<framework>) with the framework, its test
requirements (<framework>/requirements.in, held to <framework>/constraints.txt) and this package
installed editable; the sdist is downloaded with pip (nothing is fetched from git) and unpacked twice; the
suite runs once bare and once with `AgentInstrumentor().instrument()` active for the whole session
(otel_agent_suite_plugin.py); per-test outcomes are compared. A difference that is not listed in
expected_differences.toml is rerun alone in both modes; if it holds, the check fails with the test id and
its failure text. Run through scripts/framework-suites.sh (stdlib only, Python 3.11+).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
STATE = REPO / ".venv-suites"
PLUGIN = "otel_agent_suite_plugin"
EXPECTED_FILE = HERE / "expected_differences.toml"
OUTCOMES = ("passed", "failed", "skipped", "error")
# Per-test limit: a hung test fails alone instead of stalling the run (pytest-timeout, signal method).
TEST_TIMEOUT_SECONDS = 300
# A whole pass that outlives this is killed (with its workers) and the check fails.
PASS_TIMEOUT_SECONDS = {"full": 2 * 3600, "ci": 15 * 60}
# The machine has 2 cores shared with other developers: never more than 2 workers, one suite at a time.
WORKERS = 2


@dataclass(frozen=True)
class Pass:
    """One pytest invocation of a suite; a suite's outcomes are the union of its passes'."""

    name: str
    args: tuple[str, ...]
    workers: int = WORKERS
    # Only the test files containing this literal (openai-agents keeps its `serial` tests out of xdist
    # and runs those files alone afterwards, as its Makefile does).
    files_containing: str | None = None


@dataclass(frozen=True)
class Suite:
    name: str  # the distribution pinned in pyproject's `test` extra
    passes: tuple[Pass, ...]
    ci_passes: tuple[Pass, ...]  # the subset `--ci` runs; empty: not in the CI subset
    companions: tuple[str, ...] = ()  # other distributions whose `test` extra pin goes with it
    module_prefix: str = ""  # a patched method's module starts with this: the adapter is on


SUITES: tuple[Suite, ...] = (
    Suite(
        name="openai-agents",
        module_prefix="agents.",
        passes=(
            # test_docker_removal_worker.py replaces os.lstat in the test process with a stub that returns a
            # SimpleNamespace without st_size; pytest's own output capture then fails inside the worker,
            # which ends the xdist session (bare as well). It is left out; every other file runs.
            Pass("parallel", ("-m", "not serial", "--ignore=tests/sandbox/test_docker_removal_worker.py", "tests")),
            Pass("serial", ("-m", "serial"), workers=0, files_containing="pytest.mark.serial"),
        ),
        # The runner, streaming and cancellation tests (AgentRunner.run, run_sync, run_streamed): 464 tests,
        # about 500 agent runs of every ending; they need only the core package (ci-requirements.in).
        ci_passes=(
            Pass(
                "ci",
                (
                    "-m",
                    "not serial",
                    "tests/test_agent_runner.py",
                    "tests/test_agent_runner_streamed.py",
                    "tests/test_agent_runner_sync.py",
                    "tests/test_cancel_streaming.py",
                ),
            ),
        ),
    ),
    Suite(
        name="smolagents",
        module_prefix="smolagents.",
        passes=(Pass("all", ("tests",)),),
        # Not in CI: its agent runs are few (about 50 spans in the whole suite) and its venv is heavy.
        ci_passes=(),
    ),
    Suite(
        name="autogen-agentchat",
        module_prefix="autogen_agentchat.",
        companions=("autogen-ext",),
        passes=(Pass("all", ("tests",)),),
        # The whole suite (agents, teams, streams, cancellation, autogen-core's own agent span stood down)
        # less the two declarative group-chat cases that build an OpenAI client and need OPENAI_API_KEY.
        ci_passes=(
            Pass("ci", ("--deselect", "tests/test_group_chat.py::test_declarative_groupchats_with_config", "tests")),
        ),
    ),
)

# Frameworks whose sdist ships no tests (checked at these versions): skipped, never fetched from git.
NO_TESTS_IN_SDIST: dict[str, str] = {
    "agent-framework-core": "1.23.0",
    "pydantic-ai-slim": "2.68.0",
    "agno": "3.1.10",
}


def log(message: str) -> None:
    print(message, flush=True)  # the script's output is its report


# --- pins, venvs, sources -------------------------------------------------------------------------


def pinned_requirements() -> dict[str, str]:
    """Distribution name -> requirement string, from pyproject's `test` extra (the one source of pins)."""
    with open(REPO / "pyproject.toml", "rb") as file:
        requirements = tomllib.load(file)["project"]["optional-dependencies"]["test"]
    pins: dict[str, str] = {}
    for requirement in requirements:
        name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
        pins[name.lower()] = requirement
    return pins


def pinned_version(requirement: str) -> str:
    # name[extras]==version: pyproject pins some frameworks with extras (pydantic-ai-slim[openai]).
    match = re.fullmatch(r"[A-Za-z0-9_.\-]+(?:\[[^\]]*\])?==([^,; ]+)", requirement.strip())
    if not match:
        raise SystemExit(f"{requirement!r} in pyproject's test extra is not an exact pin (name[extras]==version)")
    return match.group(1)


def venv_folder(suite: Suite, ci: bool) -> Path:
    # CI's subset has a slimmer venv of its own (ci-requirements.in) where the suite names one.
    slim = ci and (HERE / suite.name / "ci-requirements.in").exists()
    return STATE / (f"{suite.name}-ci" if slim else suite.name)


def run_quiet(command: list[str], **kwargs: Any) -> None:
    completed = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-5000:] + completed.stderr[-5000:])
        raise SystemExit(f"command failed ({completed.returncode}): {' '.join(command)}")


def ensure_state_dir() -> None:
    STATE.mkdir(exist_ok=True)
    # Everything under .venv-suites is made here; keep it out of git without touching .gitignore.
    (STATE / ".gitignore").write_text("*\n")


def ensure_venv(suite: Suite, pins: dict[str, str], venv: Path, *, relock: bool) -> Path:
    """The venv's python, (re)installed when the pins, its requirements or this package's metadata change."""
    python = venv / "bin" / "python"
    folder = HERE / suite.name
    requirements = folder / ("ci-requirements.in" if venv.name.endswith("-ci") else "requirements.in")
    constraints = folder / "constraints.txt"
    install = [
        pins[suite.name],
        *(pins[name] for name in suite.companions),
        pins["opentelemetry-sdk"],
        "-r",
        str(requirements),
        "-e",
        str(REPO),
    ]
    if not relock and constraints.exists():
        install += ["-c", str(constraints)]
    inputs = (REPO / "pyproject.toml", requirements, *_existing(constraints))
    stamp_text = "\n".join([*install, *(path.read_text() for path in inputs)])
    stamp = venv / ".installed"
    if relock and venv.exists():
        shutil.rmtree(venv)
    if python.exists() and stamp.exists() and stamp.read_text() == stamp_text:
        return python
    started = time.monotonic()
    uv = find_uv()
    if not python.exists():
        run_quiet([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    log(f"{suite.name}: installing {pins[suite.name]} and {requirements.name} into {venv.relative_to(REPO)}")
    # pip too: the sdist is downloaded and --relock freezes the venv with it.
    run_quiet([uv, "pip", "install", "--quiet", "--python", str(python), *install, "pip"])
    stamp.write_text(stamp_text)
    log(f"{suite.name}: venv ready in {time.monotonic() - started:.0f}s")
    if relock:
        write_constraints(suite, pins, python, constraints)
    return python


def find_uv() -> str:
    """The uv the repository's set-up scripts install with ($UV, or scripts/find-uv.sh's venv)."""
    return (
        os.environ.get("UV")
        or subprocess.run(
            ["bash", str(REPO / "scripts" / "find-uv.sh")], capture_output=True, text=True, check=True
        ).stdout.strip()
    )


def _existing(path: Path) -> list[Path]:
    return [path] if path.exists() else []


def write_constraints(suite: Suite, pins: dict[str, str], python: Path, constraints: Path) -> None:
    """Freezes the venv (less the framework pins, which pyproject owns, and this package)."""
    frozen = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    owned = {_normalize(name) for name in (suite.name, *suite.companions, "otel-agent-instrumentation")}
    kept = [line for line in frozen if line and _normalize(re.split(r"[=@ ]", line, maxsplit=1)[0]) not in owned]
    header = (
        f"# pip freeze of .venv-suites/{suite.name} built from requirements.in with {pins[suite.name]};\n"
        "# regenerate with: bash scripts/framework-suites.sh --relock --only " + suite.name + "\n"
    )
    constraints.write_text(header + "\n".join(kept) + "\n")
    log(f"{suite.name}: wrote {constraints.relative_to(REPO)} ({len(kept)} pins)")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def ensure_sdist(suite: Suite, python: Path, version: str) -> Path:
    """The framework's source distribution from PyPI (cached in .venv-suites/sdists)."""
    folder = STATE / "sdists"
    folder.mkdir(exist_ok=True)
    found = _find_sdist(folder, suite.name, version)
    if found is None:
        run_quiet(
            [
                str(python),
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{suite.name}=={version}",
                "-d",
                str(folder),
            ]
        )
        found = _find_sdist(folder, suite.name, version)
    if found is None:
        raise SystemExit(f"{suite.name}: no sdist for {version} in {folder}")
    return found


def _find_sdist(folder: Path, name: str, version: str) -> Path | None:
    wanted = f"{_normalize(name)}-{version}.tar.gz"
    for path in folder.glob("*.tar.gz"):
        if _normalize(path.name[: -len(f"-{version}.tar.gz")]) + f"-{version}.tar.gz" == wanted:
            return path
    return None


def unpack(sdist: Path, destination: Path, suite: Suite) -> None:
    """A fresh copy of the sdist (without its top folder), with the suite's shim files laid over it."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    with tarfile.open(sdist) as archive:
        members = []
        for member in archive.getmembers():
            parts = member.name.split("/", 1)
            if len(parts) == 2 and parts[1]:
                member.name = parts[1]
                members.append(member)
        archive.extractall(destination, members=members, filter="data")
    shim = HERE / suite.name / "shim"
    if not (destination / "tests").is_dir():
        raise SystemExit(f"{suite.name}: {sdist.name} has no tests/ folder")
    if shim.is_dir():
        for source in sorted(shim.rglob("*")):
            target = destination / source.relative_to(shim)
            if source.is_dir():
                target.mkdir(exist_ok=True)
            elif target.exists():
                # The sdist now ships this file itself: the shim is no longer needed for it.
                log(f"{suite.name}: the sdist has {target.relative_to(destination)}; shim copy not used")
            else:
                shutil.copyfile(source, target)


# --- running ------------------------------------------------------------------------------------------


def suite_environment(tree: Path, instrumented: bool, results: Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        # Both modes see the same settings: none of ours, no OTEL_* configuration, no caller's path.
        if not key.startswith(("OTEL_", "PYTHONPATH", "PYTEST_ADDOPTS"))
    }
    # The framework is imported from the sdist's own src/ (the wheel of the same release stays installed
    # for its metadata and dependencies): tests that locate the package by their own path
    # (openai-agents' traceback-redaction tests look for frames under ../src/agents) find it there.
    path = [str(HERE), *([str(tree / "src")] if (tree / "src").is_dir() else [])]
    environment["PYTHONPATH"] = os.pathsep.join(path)
    environment["OTEL_AGENT_SUITE_RESULTS"] = str(results)
    if instrumented:
        environment["OTEL_AGENT_SUITE_INSTRUMENT"] = "1"
    return environment


def run_pass(
    suite: Suite,
    python: Path,
    tree: Path,
    spec: Pass,
    mode: str,
    out: Path,
    test_ids: list[str] | None = None,
) -> dict[str, Any]:
    """One pytest run; returns the plugin's results document."""
    results = out / f"{mode}-{spec.name}.json"
    log_file = out / f"{mode}-{spec.name}.log"
    results.unlink(missing_ok=True)
    if test_ids is not None:
        selection = test_ids
    elif spec.files_containing:
        selection = [*spec.args, *_files_containing(tree, spec.files_containing)]
    else:
        selection = list(spec.args)
    command = [
        str(python),
        "-m",
        "pytest",
        "-p",
        PLUGIN,
        "-p",
        "no:cacheprovider",
        f"--timeout={TEST_TIMEOUT_SECONDS}",
        # Python's own tracebacks: pytest's long format re-parses test sources with ast, which on CPython
        # 3.11.7 can raise "AST constructor recursion depth mismatch" inside pytest (an INTERNALERROR that
        # ends the whole xdist session) when formatting a deep async failure.
        "--tb=native",
        "-q",
    ]
    if spec.workers and test_ids is None:
        command += ["-p", "xdist", "-n", str(spec.workers)]
    command += selection
    environment = suite_environment(tree, mode == "instrumented", results)
    started = time.monotonic()
    limit = PASS_TIMEOUT_SECONDS["ci" if spec.name == "ci" else "full"]
    with open(log_file, "w", encoding="utf-8") as output:
        output.write(" ".join(command) + "\n")
        output.flush()
        # A session of its own: on timeout the xdist workers and anything the tests started go too.
        process = subprocess.Popen(
            command, cwd=tree, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise SystemExit(f"{suite.name} {mode} {spec.name}: still running after {limit}s; killed") from None
    elapsed = time.monotonic() - started
    if not results.exists():
        raise SystemExit(f"{suite.name} {mode} {spec.name}: pytest exited {returncode} without results; see {log_file}")
    document: dict[str, Any] = json.loads(results.read_text())
    document["seconds"] = elapsed
    # 0 all passed, 1 some failed: both are results. Anything else (interrupted, internal or usage
    # error, nothing collected) means the pass did not run as designed.
    if returncode not in (0, 1):
        raise SystemExit(f"{suite.name} {mode} {spec.name}: pytest exited {returncode}; see {log_file}")
    return document


def _files_containing(tree: Path, literal: str) -> list[str]:
    return sorted(
        str(path.relative_to(tree))
        for path in (tree / "tests").rglob("*.py")
        if literal in path.read_text(errors="replace")
    )


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "tests": {},
        "patched": set(),
        "spans": Counter(),
        "duration_points": 0,
        "seconds": 0.0,
        "instrumented_processes": 0,
        "spans_without_outcome": [],
        "logged_failures": 0,
        "logged_failure_samples": [],
    }
    for document in documents:
        merged["tests"].update(document["tests"])
        merged["patched"].update(document["patched"])
        merged["spans"].update(document["spans"])
        merged["duration_points"] += document["duration_points"]
        merged["seconds"] += document["seconds"]
        merged["instrumented_processes"] += document["instrumented_processes"]
        merged["spans_without_outcome"] += document["spans_without_outcome"]
        merged["logged_failures"] += document["logged_failures"]
        merged["logged_failure_samples"] += document["logged_failure_samples"]
    merged["patched"] = sorted(merged["patched"])
    merged["spans"] = dict(merged["spans"])
    return merged


# --- comparing ------------------------------------------------------------------------------------------


@dataclass
class Expected:
    test: str
    bare: str
    instrumented: str
    reason: str


def load_expected(framework: str) -> dict[str, Expected]:
    with open(EXPECTED_FILE, "rb") as file:
        entries = tomllib.load(file).get("difference", [])
    expected: dict[str, Expected] = {}
    for entry in entries:
        if entry["framework"] != framework:
            continue
        for key in ("bare", "instrumented"):
            if entry[key] not in (*OUTCOMES, "absent"):
                raise SystemExit(f"{EXPECTED_FILE.name}: {entry['test']}: {key} = {entry[key]!r} is not an outcome")
        expected[entry["test"]] = Expected(entry["test"], entry["bare"], entry["instrumented"], entry["reason"])
    return expected


def outcome_of(document: dict[str, Any], test_id: str) -> str:
    entry = document["tests"].get(test_id)
    return entry["outcome"] if entry else "absent"


def text_of(document: dict[str, Any], test_id: str) -> str:
    entry = document["tests"].get(test_id)
    return entry["text"] if entry else ""


def differences(bare: dict[str, Any], instrumented: dict[str, Any]) -> list[str]:
    test_ids = sorted(set(bare["tests"]) | set(instrumented["tests"]))
    return [test_id for test_id in test_ids if outcome_of(bare, test_id) != outcome_of(instrumented, test_id)]


@dataclass
class Comparison:
    matched: list[str]  # differences the expected list names with these very outcomes
    new: list[str]  # differences it does not name, or names with other outcomes
    stale: list[str]  # listed differences whose test ran both ways with one outcome


def compare(bare: dict[str, Any], instrumented: dict[str, Any], expected: dict[str, Expected]) -> Comparison:
    found = differences(bare, instrumented)

    def listed(test_id: str) -> bool:
        entry = expected.get(test_id)
        observed = (outcome_of(bare, test_id), outcome_of(instrumented, test_id))
        return entry is not None and (entry.bare, entry.instrumented) == observed

    matched = [test_id for test_id in found if listed(test_id)]
    new = [test_id for test_id in found if not listed(test_id)]
    ran_both = set(bare["tests"]) & set(instrumented["tests"])
    stale = [test_id for test_id in expected if test_id not in found and test_id in ran_both]
    return Comparison(matched, new, stale)


def settle(
    test_ids: list[str], bare_rerun: dict[str, Any], instrumented_rerun: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """(confirmed, not reproduced): a difference holds unless its rerun ran both ways with one outcome."""
    confirmed: list[str] = []
    not_reproduced: list[str] = []
    for test_id in test_ids:
        again = (outcome_of(bare_rerun, test_id), outcome_of(instrumented_rerun, test_id))
        if again[0] == again[1] and again[0] != "absent":
            not_reproduced.append(test_id)
        else:
            confirmed.append(test_id)
    return confirmed, not_reproduced


def counts(document: dict[str, Any]) -> str:
    tally = Counter(entry["outcome"] for entry in document["tests"].values())
    return "/".join(f"{tally[outcome]} {outcome}" for outcome in OUTCOMES)


def show_difference(test_id: str, bare: dict[str, Any], instrumented: dict[str, Any], label: str) -> None:
    log(f"  {label}: {test_id}: bare {outcome_of(bare, test_id)}, instrumented {outcome_of(instrumented, test_id)}")
    for mode, document in (("bare", bare), ("instrumented", instrumented)):
        text = without_runner_frames(text_of(document, test_id)).strip()
        if text:
            log(f"    --- {mode} ---")
            log("\n".join("    " + line for line in text.splitlines()[-40:]))


def without_runner_frames(text: str) -> str:
    """A native traceback less pytest's and pluggy's own frames: what is left is the test and the code."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        if line.lstrip().startswith("File "):
            skipping = any(part in line for part in ("/_pytest/", "/pluggy/"))
        elif not line.startswith(" "):
            skipping = False  # the exception line, or text that is not a traceback
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def set_up(suite: Suite, pins: dict[str, str], ci: bool) -> None:
    """The suite's venv and sdist only (scripts/test.sh installs them while other tests run)."""
    python = ensure_venv(suite, pins, venv_folder(suite, ci), relock=False)
    ensure_sdist(suite, python, pinned_version(pins[suite.name]))


def check_suite(suite: Suite, pins: dict[str, str], ci: bool, relock: bool) -> bool:
    """Runs one suite both ways; prints its summary line; True when it holds."""
    version = pinned_version(pins[suite.name])
    started = time.monotonic()
    venv = venv_folder(suite, ci)
    python = ensure_venv(suite, pins, venv, relock=relock)
    sdist = ensure_sdist(suite, python, version)
    out = STATE / "results" / venv.name
    out.mkdir(parents=True, exist_ok=True)
    passes = suite.ci_passes if ci else suite.passes
    documents: dict[str, dict[str, Any]] = {}
    trees: dict[str, Path] = {}
    for mode in ("bare", "instrumented"):
        trees[mode] = STATE / "work" / venv.name / mode
        unpack(sdist, trees[mode], suite)
        documents[mode] = merge([run_pass(suite, python, trees[mode], each, mode, out) for each in passes])
        (out / f"{mode}.json").write_text(json.dumps(documents[mode], indent=1, sort_keys=True))
        log(f"{suite.name}: {mode} run {documents[mode]['seconds']:.0f}s, {counts(documents[mode])}")
    bare, instrumented = documents["bare"], documents["instrumented"]

    problems: list[str] = []
    # A check that cannot fail: the instrumented run must have been instrumented, the bare one not.
    ours = [name for name in instrumented["patched"] if name.startswith(suite.module_prefix)]
    if not ours:
        problems.append(
            f"the instrumented run patched no {suite.module_prefix}* method (patched: {instrumented['patched']})"
        )
    if not sum(instrumented["spans"].values()):
        problems.append("the instrumented run ended none of our spans")
    if bare["instrumented_processes"] or bare["patched"]:
        problems.append("the bare run was instrumented")
    unclean = sorted(t for t, entry in bare["tests"].items() if entry["outcome"] in ("failed", "error"))
    if ci and unclean:
        # CI's subset is chosen to pass bare: a failure there means its venv or sdist broke, and the
        # comparison would silently cover less.
        problems.append(f"CI's subset does not pass bare ({len(unclean)}: {', '.join(unclean[:5])})")

    expected = load_expected(suite.name)
    comparison = compare(bare, instrumented, expected)
    matched, stale = comparison.matched, comparison.stale
    confirmed: list[str] = []
    not_reproduced: list[str] = []
    if comparison.new:
        reruns = rerun(suite, python, trees, out, comparison.new)
        if reruns is None:
            confirmed = comparison.new
        else:
            confirmed, not_reproduced = settle(comparison.new, *reruns)

    for test_id in matched:
        entry = expected[test_id]
        log(f"  expected: {test_id}: bare {entry.bare}, instrumented {entry.instrumented} ({entry.reason})")
    for test_id in confirmed:
        show_difference(test_id, bare, instrumented, "NEW DIFFERENCE")
    for test_id in not_reproduced:
        show_difference(test_id, bare, instrumented, "difference not reproduced when rerun alone (flaky; not counted)")
    for test_id in stale:
        problems.append(
            f"expected difference not seen: {test_id} ({outcome_of(bare, test_id)} both ways); "
            f"remove it from {EXPECTED_FILE.name}"
        )
    for problem in problems:
        log(f"  PROBLEM: {problem}")

    # Not transparency differences, but our code failing while the suite ran (the app was unaffected).
    if instrumented["logged_failures"] or instrumented["spans_without_outcome"]:
        log(
            f"  our code logged {instrumented['logged_failures']} failures (first at each site per process); "
            f"{instrumented['spans'].get('none', 0)} of our spans ended without an outcome"
        )
        for sample in instrumented["logged_failure_samples"][:5]:
            log(
                f"    {sample['test']}: {sample['message']}\n      " + sample["error"].strip().replace("\n", "\n      ")
            )
        for sample in instrumented["spans_without_outcome"][:5]:
            log(f"    span {sample['span']!r} without outcome in {sample['test']}")
    total = len(set(bare["tests"]) | set(instrumented["tests"]))
    spans = ", ".join(f"{outcome} {count}" for outcome, count in sorted(instrumented["spans"].items()))
    log(
        f"  instrumented: {sum(instrumented['spans'].values())} spans of ours (agent and tool, by outcome: {spans}), "
        f"{instrumented['duration_points']} invoke_agent duration points, patched {len(ours)} {suite.name} methods; "
        f"{time.monotonic() - started:.0f}s with set-up; results in {out.relative_to(REPO)}"
    )
    log(
        f"{suite.name}: {total} tests, bare {_brief(bare)}, instrumented {_brief(instrumented)}, "
        f"expected differences {len(matched)}, new differences {len(confirmed)}"
        + (f" (+{len(not_reproduced)} not reproduced)" if not_reproduced else "")
    )
    return not confirmed and not problems


def _brief(document: dict[str, Any]) -> str:
    tally = Counter(entry["outcome"] for entry in document["tests"].values())
    text = f"{tally['passed']} passed/{tally['failed']} failed/{tally['skipped']} skipped"
    return text + (f"/{tally['error']} error" if tally["error"] else "")


def rerun(
    suite: Suite, python: Path, trees: dict[str, Path], out: Path, test_ids: list[str]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The differing tests again, alone (one process, no xdist), bare and instrumented; None if it failed."""
    log(f"{suite.name}: rerunning {len(test_ids)} differing tests alone, bare and instrumented")
    spec = Pass("rerun", (), workers=0)
    documents = []
    for mode in ("bare", "instrumented"):
        try:
            documents.append(run_pass(suite, python, trees[mode], spec, mode, out, test_ids=_rerunnable(test_ids)))
        except SystemExit as error:
            log(f"  the {mode} rerun did not complete ({error}); every difference counts")
            return None
    return documents[0], documents[1]


def _rerunnable(test_ids: list[str]) -> list[str]:
    # A collection error's id is its file (or the session): rerunning the file reproduces it.
    return sorted({test_id if test_id != "<session>" else "tests" for test_id in test_ids})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ci", action="store_true", help="the subset that fits CI's time budget")
    parser.add_argument("--only", default="", help="comma-separated frameworks (default: every one with tests)")
    parser.add_argument(
        "--relock", action="store_true", help="rebuild the venvs unconstrained and rewrite constraints.txt"
    )
    parser.add_argument("--setup-only", action="store_true", help="install the venvs and fetch the sdists; run nothing")
    arguments = parser.parse_args()
    if arguments.relock and arguments.ci:
        parser.error("--relock rebuilds the full venvs; run it without --ci")
    if arguments.relock and arguments.setup_only:
        parser.error("--relock runs the suites to check the new lock; run it without --setup-only")
    pins = pinned_requirements()
    selected = [s for s in SUITES if not arguments.only or s.name in arguments.only.split(",")]
    unknown = set(filter(None, arguments.only.split(","))) - {s.name for s in SUITES}
    if unknown:
        raise SystemExit(f"unknown frameworks {sorted(unknown)}; known: {[s.name for s in SUITES]}")
    if arguments.ci:
        selected = [s for s in selected if s.ci_passes]
    ensure_state_dir()
    if arguments.setup_only:
        for suite in selected:
            set_up(suite, pins, arguments.ci)
        return 0
    for name, checked in NO_TESTS_IN_SDIST.items():
        pinned = pinned_version(pins[name])
        note = "" if pinned == checked else f" (checked at {checked}; pinned now {pinned}: look again)"
        log(f"{name}: skipped, its sdist ships no tests{note}")
    results: dict[str, bool] = {}
    for suite in selected:
        try:
            results[suite.name] = check_suite(suite, pins, arguments.ci, arguments.relock)
        except SystemExit as error:  # this suite could not run as designed; the others still do
            log(f"{suite.name}: did not run: {error}")
            results[suite.name] = False
    failed = [name for name, held in results.items() if not held]
    log(
        f"framework suites: {len(results)} run, {len(failed)} with new differences or problems"
        + (f" ({', '.join(failed)})" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

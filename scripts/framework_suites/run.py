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
import subprocess
import sys
import tarfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
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
    extra_env: dict[str, str] = field(default_factory=dict)


SUITES: tuple[Suite, ...] = (
    Suite(
        name="openai-agents",
        module_prefix="agents.",
        passes=(
            Pass("parallel", ("-m", "not serial", "tests")),
            Pass("serial", ("-m", "serial"), workers=0, files_containing="pytest.mark.serial"),
        ),
        # The runner, streaming and cancellation tests: every path through AgentRunner.run/run_streamed.
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
        ci_passes=(Pass("ci", ("tests",)),),
    ),
    Suite(
        name="autogen-agentchat",
        module_prefix="autogen_agentchat.",
        companions=("autogen-ext",),
        passes=(Pass("all", ("tests",)),),
        ci_passes=(),
    ),
)

# Frameworks whose sdist ships no tests (checked at these versions): skipped, never fetched from git.
NO_TESTS_IN_SDIST: dict[str, str] = {
    "agent-framework-core": "1.23.0",
    "pydantic-ai-slim": "2.68.0",
    "agno": "3.1.10",
}


def log(message: str) -> None:
    print(message, flush=True)  # noqa: T201  # the script's output is its report


# --- pins, venvs, sources -------------------------------------------------------------------------


def test_extra() -> dict[str, str]:
    """Distribution name -> requirement string, from pyproject's `test` extra (the one source of pins)."""
    with open(REPO / "pyproject.toml", "rb") as file:
        requirements = tomllib.load(file)["project"]["optional-dependencies"]["test"]
    pins: dict[str, str] = {}
    for requirement in requirements:
        name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]
        pins[name.lower()] = requirement
    return pins


def pinned_version(requirement: str) -> str:
    match = re.fullmatch(r"[A-Za-z0-9_.\-]+==([^,; ]+)", requirement.strip())
    if not match:
        raise SystemExit(f"{requirement!r} in pyproject's test extra is not an exact pin (name==version)")
    return match.group(1)


def venv_python(suite: Suite) -> Path:
    return STATE / suite.name / "bin" / "python"


def run_quiet(command: list[str], **kwargs: Any) -> None:
    completed = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-5000:] + completed.stderr[-5000:])
        raise SystemExit(f"command failed ({completed.returncode}): {' '.join(command)}")


def ensure_state_dir() -> None:
    STATE.mkdir(exist_ok=True)
    # Everything under .venv-suites is made here; keep it out of git without touching .gitignore.
    (STATE / ".gitignore").write_text("*\n")


def ensure_venv(suite: Suite, pins: dict[str, str], *, relock: bool) -> None:
    """The suite's venv, (re)installed when the pins, its requirements or this package's metadata change."""
    python = venv_python(suite)
    folder = HERE / suite.name
    constraints = folder / "constraints.txt"
    install = [
        pins[suite.name],
        *(pins[name] for name in suite.companions),
        pins["opentelemetry-sdk"],
        "-r",
        str(folder / "requirements.in"),
        "-e",
        str(REPO),
    ]
    if not relock and constraints.exists():
        install += ["-c", str(constraints)]
    stamp_text = "\n".join([*install, *(p.read_text() for p in (REPO / "pyproject.toml", *_existing(constraints)))])
    stamp = STATE / suite.name / ".installed"
    if relock and python.exists():
        shutil.rmtree(STATE / suite.name)
    if python.exists() and stamp.exists() and stamp.read_text() == stamp_text:
        return
    started = time.monotonic()
    if not python.exists():
        run_quiet([sys.executable, "-m", "venv", str(STATE / suite.name)])
        run_quiet([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    log(f"{suite.name}: installing {pins[suite.name]} and its test requirements into {python.parent.parent}")
    run_quiet([str(python), "-m", "pip", "install", "--quiet", *install])
    stamp.write_text(stamp_text)
    log(f"{suite.name}: venv ready in {time.monotonic() - started:.0f}s")
    if relock:
        write_constraints(suite, pins, python, constraints)


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


def ensure_sdist(suite: Suite, version: str) -> Path:
    """The framework's source distribution from PyPI (cached in .venv-suites/sdists)."""
    folder = STATE / "sdists"
    folder.mkdir(exist_ok=True)
    found = _find_sdist(folder, suite.name, version)
    if found is None:
        run_quiet(
            [
                str(venv_python(suite)),
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


def suite_environment(instrumented: bool, results: Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        # Both modes see the same settings: none of ours, no OTEL_* configuration, no caller's path.
        if not key.startswith(("OTEL_", "PYTHONPATH", "PYTEST_ADDOPTS"))
    }
    environment["PYTHONPATH"] = str(HERE)
    environment["OTEL_AGENT_SUITE_RESULTS"] = str(results)
    if instrumented:
        environment["OTEL_AGENT_SUITE_INSTRUMENT"] = "1"
    return environment


def run_pass(
    suite: Suite, tree: Path, spec: Pass, mode: str, out: Path, test_ids: list[str] | None = None
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
        str(venv_python(suite)),
        "-m",
        "pytest",
        "-p",
        PLUGIN,
        "-p",
        "no:cacheprovider",
        f"--timeout={TEST_TIMEOUT_SECONDS}",
        "-q",
    ]
    if spec.workers and test_ids is None:
        command += ["-p", "xdist", "-n", str(spec.workers)]
    command += selection
    environment = suite_environment(mode == "instrumented", results)
    environment.update(suite.extra_env)
    started = time.monotonic()
    with open(log_file, "w", encoding="utf-8") as output:
        output.write(" ".join(command) + "\n")
        output.flush()
        completed = subprocess.run(
            command, cwd=tree, env=environment, stdout=output, stderr=subprocess.STDOUT, check=False
        )
    elapsed = time.monotonic() - started
    if not results.exists():
        raise SystemExit(
            f"{suite.name} {mode} {spec.name}: pytest exited {completed.returncode} without results; see {log_file}"
        )
    document: dict[str, Any] = json.loads(results.read_text())
    document["seconds"] = elapsed
    # 0 all passed, 1 some failed: both are results. Anything else (interrupted, internal or usage
    # error, nothing collected) means the pass did not run as designed.
    if completed.returncode not in (0, 1):
        raise SystemExit(f"{suite.name} {mode} {spec.name}: pytest exited {completed.returncode}; see {log_file}")
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
    }
    for document in documents:
        merged["tests"].update(document["tests"])
        merged["patched"].update(document["patched"])
        merged["spans"].update(document["spans"])
        merged["duration_points"] += document["duration_points"]
        merged["seconds"] += document["seconds"]
        merged["instrumented_processes"] += document["instrumented_processes"]
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
        text = text_of(document, test_id).strip()
        if text:
            log(f"    --- {mode} ---")
            log("\n".join("    " + line for line in text.splitlines()[-40:]))


def check_suite(suite: Suite, pins: dict[str, str], ci: bool, relock: bool) -> bool:
    """Runs one suite both ways; prints its summary line; True when it holds."""
    version = pinned_version(pins[suite.name])
    started = time.monotonic()
    ensure_venv(suite, pins, relock=relock)
    sdist = ensure_sdist(suite, version)
    out = STATE / "results" / suite.name
    out.mkdir(parents=True, exist_ok=True)
    passes = suite.ci_passes if ci else suite.passes
    documents: dict[str, dict[str, Any]] = {}
    trees: dict[str, Path] = {}
    for mode in ("bare", "instrumented"):
        trees[mode] = STATE / "work" / suite.name / mode
        unpack(sdist, trees[mode], suite)
        documents[mode] = merge([run_pass(suite, trees[mode], each, mode, out) for each in passes])
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
        problems.append("the instrumented run ended no agent span")
    if bare["instrumented_processes"] or bare["patched"]:
        problems.append("the bare run was instrumented")

    expected = load_expected(suite.name)
    comparison = compare(bare, instrumented, expected)
    matched, stale = comparison.matched, comparison.stale
    confirmed: list[str] = []
    not_reproduced: list[str] = []
    if comparison.new:
        reruns = rerun(suite, trees, out, comparison.new)
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

    total = len(set(bare["tests"]) | set(instrumented["tests"]))
    spans = ", ".join(f"{outcome} {count}" for outcome, count in sorted(instrumented["spans"].items()))
    log(
        f"  instrumented: {sum(instrumented['spans'].values())} agent spans ({spans}), "
        f"{instrumented['duration_points']} duration points, patched {len(ours)} {suite.name} methods; "
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
    suite: Suite, trees: dict[str, Path], out: Path, test_ids: list[str]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The differing tests again, alone (one process, no xdist), bare and instrumented; None if it failed."""
    log(f"{suite.name}: rerunning {len(test_ids)} differing tests alone, bare and instrumented")
    spec = Pass("rerun", (), workers=0)
    documents = []
    for mode in ("bare", "instrumented"):
        try:
            documents.append(run_pass(suite, trees[mode], spec, mode, out, test_ids=_rerunnable(test_ids)))
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
    arguments = parser.parse_args()
    pins = test_extra()
    selected = [s for s in SUITES if not arguments.only or s.name in arguments.only.split(",")]
    unknown = set(filter(None, arguments.only.split(","))) - {s.name for s in SUITES}
    if unknown:
        raise SystemExit(f"unknown frameworks {sorted(unknown)}; known: {[s.name for s in SUITES]}")
    if arguments.ci:
        selected = [s for s in selected if s.ci_passes]
    ensure_state_dir()
    for name, checked in NO_TESTS_IN_SDIST.items():
        pinned = pinned_version(pins[name])
        note = "" if pinned == checked else f" (checked at {checked}; pinned now {pinned}: look again)"
        log(f"{name}: skipped, its sdist ships no tests{note}")
    results = {suite.name: check_suite(suite, pins, arguments.ci, arguments.relock) for suite in selected}
    failed = [name for name, held in results.items() if not held]
    log(
        f"framework suites: {len(results)} run, {len(failed)} with new differences or problems"
        + (f" ({', '.join(failed)})" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

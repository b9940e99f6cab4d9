"""The release workflow (.github/workflows/release.yml), which cannot run here, and scripts/check-release.py.

The workflow must test before it publishes, publish exactly what it tested, get its PyPI credential by
trusted publishing only in the publishing job, and run the commands the README gives for a release.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
ON_A_VERSION_TAG = "startsWith(github.ref, 'refs/tags/v')"


def _workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _job(name: str) -> dict[str, Any]:
    job = _workflow()["jobs"][name]
    assert isinstance(job, dict)
    return job


def _steps(job: str) -> list[dict[str, Any]]:
    return list(_job(job)["steps"])


def _uses(job: str, action: str) -> dict[str, Any]:
    (step,) = [s for s in _steps(job) if str(s.get("uses", "")).startswith(f"{action}@")]
    return step


def _script_commands() -> list[str]:
    """`bash scripts/...` and `python scripts/...` commands of the run steps, as their first two words."""
    commands = []
    for job in _workflow()["jobs"]:
        for step in _steps(job):
            for line in str(step.get("run", "")).splitlines():
                words = shlex.split(line)
                if len(words) >= 2 and words[0] in ("bash", "python") and words[1].startswith("scripts/"):
                    commands.append(" ".join(words[:2]))
    return commands


def _readme_code() -> str:
    """The README's code: its fenced blocks and its indented blocks."""
    text = (ROOT / "README.md").read_text()
    fenced = re.findall(r"^```\w*\n(.*?)^```$", text, re.M | re.S)
    indented = re.findall(r"^(?: {4}.*\n)+", text, re.M)
    return "\n".join(fenced + indented)


def test_the_workflow_parses_into_a_test_job_and_a_publish_job() -> None:
    assert set(_workflow()["jobs"]) == {"test", "publish"}


def test_it_runs_on_version_tags_and_by_hand() -> None:
    triggers = _workflow().get("on", _workflow().get(True))  # YAML 1.1 reads the key `on` as True
    assert triggers == {"push": {"tags": ["v*"]}, "workflow_dispatch": None}


def test_only_the_publish_job_can_mint_an_id_token() -> None:
    assert _workflow()["permissions"] == {"contents": "read"}
    assert (_job("publish")["permissions"], "permissions" in _job("test")) == ({"id-token": "write"}, False)


def test_publish_runs_only_for_a_version_tag_after_the_tests_passed() -> None:
    assert (_job("publish")["needs"], _job("publish")["if"]) == ("test", ON_A_VERSION_TAG)


def test_publish_uses_trusted_publishing_with_no_token() -> None:
    publish = _uses("publish", "pypa/gh-action-pypi-publish")
    assert "with" not in publish
    assert _job("publish")["environment"]["name"] == "pypi"


def test_publish_uploads_the_artefacts_the_test_job_tested() -> None:
    uploaded, downloaded = (
        _uses("test", "actions/upload-artifact")["with"],
        _uses("publish", "actions/download-artifact"),
    )
    assert (uploaded["name"], uploaded["path"]) == (downloaded["with"]["name"], "dist/")
    assert downloaded["with"]["path"] == "dist/"
    # Uploaded after the suite, whose floors step built dist/ and tested the wheel installed from it.
    runs = [str(step.get("run", "")) for step in _steps("test")]
    uploads = [i for i, step in enumerate(_steps("test")) if "upload-artifact" in str(step.get("uses", ""))]
    assert runs.index("bash scripts/test.sh") < uploads[0]


def test_the_test_job_runs_the_ci_command() -> None:
    ci_commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("bash ")]
    assert ci_commands == ["bash scripts/test.sh"]
    assert ci_commands[0] in [step.get("run") for step in _steps("test")]


def test_the_release_checks_run_only_for_a_version_tag() -> None:
    checks = [step for step in _steps("test") if "scripts/check-release.py" in str(step.get("run", ""))]
    assert [step.get("if") for step in checks] == [ON_A_VERSION_TAG, ON_A_VERSION_TAG]


def test_every_script_the_workflow_runs_is_a_command_the_readme_gives() -> None:
    commands = _script_commands()
    assert set(commands) == {"bash scripts/test.sh", "python scripts/check-release.py"}
    assert [command for command in commands if command not in _readme_code()] == []


def test_the_workflow_python_is_the_python_floor_the_suite_runs_on() -> None:
    with (ROOT / "pyproject.toml").open("rb") as file:
        requires_python = tomllib.load(file)["project"]["requires-python"]
    floor = requires_python.removeprefix(">=")
    assert _uses("test", "actions/setup-python")["with"]["python-version"] == floor
    # scripts/find-python.sh takes $PYTHON before the newest python3.x on PATH.
    assert _job("test")["env"]["PYTHON"] == f"python{floor}"


# scripts/check-release.py


@pytest.fixture
def release_tree(tmp_path: Path) -> Path:
    """The files check-release.py reads, copied, with 0.1.0 dated in the changelog and the Source URL kept."""
    for name in ("pyproject.toml", "src/otel_agent_instrumentation/version.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-12-24\n\nFirst.\n")
    (tmp_path / "src/otel_agent_instrumentation/version.py").write_text('__version__ = "0.1.0"\n')
    return tmp_path


def _repository() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        source = str(tomllib.load(file)["project"]["urls"]["Source"])
    return source.removeprefix("https://github.com/")


def _check_release(tree: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check-release.py"), *arguments],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_release_passes_when_tag_version_changelog_and_source_agree(release_tree: Path) -> None:
    assert _check_release(release_tree, "v0.1.0", _repository()).returncode == 0


def test_check_release_refuses_a_tag_that_is_not_the_version(release_tree: Path) -> None:
    completed = _check_release(release_tree, "v0.1.1", _repository())
    assert (completed.returncode, completed.stderr.splitlines()) == (
        1,
        ["tag v0.1.1 is not v0.1.0, the version in src/otel_agent_instrumentation/version.py"],
    )


def test_check_release_refuses_a_version_the_changelog_has_not_dated(release_tree: Path) -> None:
    (release_tree / "CHANGELOG.md").write_text("## [Unreleased]\n\n## [0.1.0] - not yet published\n")
    completed = _check_release(release_tree, "v0.1.0", _repository())
    assert (completed.returncode, completed.stderr.splitlines()) == (
        1,
        ["CHANGELOG.md has no dated section '## [0.1.0] - YYYY-MM-DD'"],
    )


def test_check_release_refuses_another_repository_than_the_source_url(release_tree: Path) -> None:
    completed = _check_release(release_tree, "v0.1.0", "someone/fork")
    assert completed.returncode == 1
    assert completed.stderr.endswith("is not https://github.com/someone/fork\n")


def _dist_with(tree: Path, *names: str) -> None:
    dist = tree / "dist"
    dist.mkdir()
    for name in names:
        (dist / name).touch()


THIS_VERSIONS_FILES = ("otel_agent_instrumentation-0.1.0.tar.gz", "otel_agent_instrumentation-0.1.0-py3-none-any.whl")


def test_check_release_passes_a_dist_folder_with_exactly_this_versions_files(release_tree: Path) -> None:
    _dist_with(release_tree, *THIS_VERSIONS_FILES)
    assert _check_release(release_tree, "v0.1.0", _repository(), "dist").returncode == 0


def test_check_release_refuses_a_dist_folder_with_another_versions_file_too(release_tree: Path) -> None:
    _dist_with(release_tree, *THIS_VERSIONS_FILES, "otel_agent_instrumentation-0.0.9-py3-none-any.whl")
    completed = _check_release(release_tree, "v0.1.0", _repository(), "dist")
    assert (completed.returncode, "otel_agent_instrumentation-0.0.9-py3-none-any.whl" in completed.stderr) == (1, True)

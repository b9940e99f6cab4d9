"""Checks that a release tag, the package and its changelog agree, before anything is published.

    python scripts/check-release.py TAG REPOSITORY [DIST]

- TAG is `v` + the version in src/otel_agent_instrumentation/version.py (e.g. v0.1.0);
- CHANGELOG.md has a dated section for that version, `## [0.1.0] - 2026-12-06`;
- pyproject.toml's Source URL is https://github.com/REPOSITORY (the repository PyPI's trusted publisher
  trusts; the release workflow passes the one it runs in);
- with DIST: that folder holds exactly this version's sdist and wheel, nothing else to upload.
Run from the repository root (the release workflow does); prints every disagreement and exits 1 if any.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path


def version() -> str:
    tree = ast.parse(Path("src/otel_agent_instrumentation/version.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            return str(node.value.value)
    sys.exit("src/otel_agent_instrumentation/version.py assigns no version")


def problems(tag: str, repository: str, dist: Path | None) -> list[str]:
    found = []
    released = version()
    if tag != f"v{released}":
        found.append(f"tag {tag} is not v{released}, the version in src/otel_agent_instrumentation/version.py")
    if not re.search(
        rf"^## \[{re.escape(released)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", Path("CHANGELOG.md").read_text(), re.M
    ):
        found.append(f"CHANGELOG.md has no dated section '## [{released}] - YYYY-MM-DD'")
    with Path("pyproject.toml").open("rb") as file:
        source = tomllib.load(file)["project"]["urls"]["Source"]
    if source != f"https://github.com/{repository}":
        found.append(f"pyproject.toml's Source URL {source} is not https://github.com/{repository}")
    if dist is not None:
        expected = {
            f"otel_agent_instrumentation-{released}.tar.gz",
            f"otel_agent_instrumentation-{released}-py3-none-any.whl",
        }
        present = {path.name for path in dist.iterdir()} if dist.is_dir() else set()
        if present != expected:
            found.append(f"{dist} holds {sorted(present)}, not {sorted(expected)}")
    return found


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    found = problems(sys.argv[1], sys.argv[2], Path(sys.argv[3]) if len(sys.argv) == 4 else None)
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        sys.exit(1)
    print(f"release {sys.argv[1]} from {sys.argv[2]}: tag, version, changelog and Source URL agree")

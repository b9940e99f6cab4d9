"""The last line of scripts/test.sh: every step's exit status and the pytest counts over all environments.

Usage: summarize-tests.py REPORT_DIR NAME=STATUS...  (REPORT_DIR holds NAME.xml JUnit reports, where a step
wrote one). Exits 1 if any step's status is not 0.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path


def counts(report: Path) -> Counter[str]:
    tally: Counter[str] = Counter()
    for suite in ElementTree.parse(report).getroot().iter("testsuite"):
        tests = int(suite.get("tests", 0))
        failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        tally.update(passed=tests - failed - skipped, failed=failed, skipped=skipped)
    return tally


def main() -> int:
    reports = Path(sys.argv[1])
    total: Counter[str] = Counter()
    parts = []
    failed_steps = []
    for argument in sys.argv[2:]:
        name, _, status = argument.partition("=")
        if status != "0":
            failed_steps.append(f"{name} (exit {status})")
        report = reports / f"{name}.xml"
        if report.exists():
            tally = counts(report)
            total.update(tally)
            parts.append(f"{name} {tally['passed']}/{tally['failed']}/{tally['skipped']}")
        else:
            parts.append(f"{name} {'ok' if status == '0' else 'FAILED'}")
    verdict = "FAILED: " + ", ".join(failed_steps) if failed_steps else "all steps passed"
    print(
        f"test.sh: {verdict}; {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped"
        f" over all environments (passed/failed/skipped: {'; '.join(parts)})"
    )
    return 1 if failed_steps else 0


if __name__ == "__main__":
    sys.exit(main())

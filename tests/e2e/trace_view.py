"""Phoenix's trace view in a real headless browser: Debian's `chromium` driven by Playwright (pyproject extra
`browser`) through `executable_path`; Playwright's own browser download is never used.

`render_traces` opens each agent run's trace page, waits until the span details show the agent span, opens
its Attributes tab and reads back what the page shows (the span tree, the status badge, the attributes),
optionally saving a PNG of the trace panel. The end-to-end spec reads these pages from the shared Phoenix
run (tests/e2e/test_phoenix.py); `scripts/trace-screenshot.sh` runs this module to refresh docs/*.png:

    python -m tests.e2e.trace_view docs
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otel_agent_instrumentation import semconv
from tests.e2e.phoenix import PhoenixServer, Span, _get

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
"""Debian's package; env CHROMIUM_PATH overrides."""
INSTALL_CHROMIUM = "apt-get install -y --no-install-recommends chromium"
INSTALL_PLAYWRIGHT = "pip install -e '.[browser]'"
# Phoenix's bundle takes 5-18 s to render the first trace on a loaded 2-core machine.
RENDER_TIMEOUT_MS = 60_000

# Phoenix 20.26.1's markup (phoenix/server/static/assets/index-*.js): the trace tree is nested ul/li, each
# span a `.span-node-wrap` whose edge carries `data-status-code`; the selected span's header is
# `.span-header__name` beside its status badge.
_TREE_ROWS = """tree => Array.from(tree.querySelectorAll('.span-node-wrap')).map(node => {
  let depth = 0;
  for (let e = node.parentElement; e && e !== tree; e = e.parentElement) if (e.tagName === 'LI') depth++;
  const status = node.querySelector('[data-status-code]');
  return {depth, name: node.querySelector('.span-node__heading').innerText,
          status: status ? status.getAttribute('data-status-code') : null};
})"""
# A client-side navigation: React Router follows pushState + popstate without reloading the app.
_ROUTE_TO = "url => { history.pushState({}, '', url); dispatchEvent(new PopStateEvent('popstate', {state: {}})); }"
_TABLE_ROWS = """panel => Array.from(panel.querySelectorAll('tbody tr')).map(
  row => Array.from(row.querySelectorAll('td')).map(cell => cell.innerText))"""


class BrowserError(RuntimeError):
    """The browser could not be started or the page did not show what was waited for."""


@dataclass(frozen=True)
class TracePage:
    """What Phoenix's trace page showed for one agent run."""

    url: str
    header: str
    """The selected span's name in the details header."""
    status: str
    """The status badge beside it: Unset, OK or Error."""
    tree: list[str]
    """The span tree panel, one row per span: two spaces per level, name, status code."""
    attributes: dict[str, str]
    """The selected span's Attributes tab as displayed (values are the shown text)."""
    screenshot: str | None = None


def chromium_path() -> Path:
    """Debian's Chromium (env CHROMIUM_PATH overrides), after checking Playwright can drive it: one error
    naming every install step missing."""
    path = Path(os.environ.get("CHROMIUM_PATH", CHROMIUM))
    missing = []
    if not os.access(path, os.X_OK):
        missing.append(f"no Chromium at {path}: install Debian's package with `{INSTALL_CHROMIUM}`")
    if importlib.util.find_spec("playwright") is None:
        missing.append(f"Playwright is not installed: `{INSTALL_PLAYWRIGHT}` (never `playwright install`)")
    if missing:
        raise BrowserError("; ".join(missing))
    return path


def project_id(server: PhoenixServer, project: str) -> str:
    """The GraphQL id of the project named `project` (the UI's /projects/<id> route), from the REST API."""
    cursor: str | None = None
    while True:
        query = urllib.parse.urlencode([("limit", "100")] + ([("cursor", cursor)] if cursor else []))
        status, body = _get(f"{server.base_url}/v1/projects?{query}")
        if status != 200:
            raise BrowserError(f"GET /v1/projects: HTTP {status} {body[:300]!r}")
        page = json.loads(body)
        for found in page["data"]:
            if found["name"] == project:
                return str(found["id"])
        cursor = page.get("next_cursor")
        if not cursor:
            raise BrowserError(f"project {project!r} not listed by Phoenix")


def trace_url(server: PhoenixServer, project_gid: str, span: Span) -> str:
    """The trace page with `span` selected: Phoenix routes /projects/:projectId/traces/:traceId with the OTel
    trace id (hex) and takes the span's GraphQL id in `selectedSpanNodeId`."""
    query = urllib.parse.urlencode({"selectedSpanNodeId": span["id"]})
    return f"{server.base_url}/projects/{project_gid}/traces/{span['context']['trace_id']}?{query}"


@contextlib.contextmanager
def headless_chromium() -> Iterator[Browser]:
    executable = chromium_path()
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(executable), headless=True)
        except Error as error:
            raise BrowserError(f"{executable} did not start under Playwright: {error}") from error
        try:
            yield browser
        finally:
            browser.close()


def render_trace(page: Page, url: str, span: Span, screenshot: Path | None = None) -> TracePage:
    """Show the trace page at `url` in `page`, wait for the agent `span` in the span details, open its
    Attributes tab and read the page.

    The first trace loads the app (5-18 s for Phoenix's bundle on a loaded 2-core machine); later ones are
    routed in the loaded app through the history API, as its own links do (~1 s)."""
    from playwright.sync_api import Error

    name = str(span["name"])
    try:
        if page.url == "about:blank":
            page.goto(url)
        else:
            page.evaluate(_ROUTE_TO, url)
        header = page.locator(".span-header__name").filter(has_text=name)
        header.wait_for()
        page.get_by_role("tab", name="Attributes").click()
        attributes_panel = page.get_by_role("tabpanel", name="Attributes")
        # The table is this span's once it shows its agent's name (not the previous trace's).
        agent = str(span["attributes"][semconv.GEN_AI_AGENT_NAME])
        agent_row = re.compile(rf"^\s*{re.escape(semconv.GEN_AI_AGENT_NAME)}\s*{re.escape(agent)}\s*$")
        attributes_panel.get_by_role("row").filter(has_text=agent_row).wait_for()
        rows = attributes_panel.evaluate(_TABLE_ROWS)
        tree = page.locator("ul[data-testid=trace-tree]").evaluate(_TREE_ROWS)
        status = header.evaluate("name => name.nextElementSibling ? name.nextElementSibling.innerText : ''")
        if screenshot is not None:
            page.get_by_role("dialog").screenshot(path=str(screenshot))
        return TracePage(
            url=url,
            header=header.inner_text(),
            status=str(status),
            tree=[f"{'  ' * row['depth']}{row['name']} {row['status']}" for row in tree],
            attributes={str(row[0]): str(row[1]) for row in rows if len(row) == 2},
            screenshot=str(screenshot) if screenshot is not None else None,
        )
    except Error as error:
        raise BrowserError(f"trace page {url} for {name!r}: {error}") from error


def render_traces(
    server: PhoenixServer,
    project: str,
    spans: Sequence[Span],
    pictures: Mapping[str, str],
    screenshot_dir: Path | None = None,
) -> dict[str, dict[str, Any]]:
    """The trace page of each root agent span named in `pictures` (as a TracePage dict, JSON-ready), keyed by
    span name; with `screenshot_dir`, each saved there under the file name `pictures` gives it."""
    project_gid = project_id(server, project)
    pages: dict[str, dict[str, Any]] = {}
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(RENDER_TIMEOUT_MS)
        for name, picture in pictures.items():
            (span,) = [s for s in spans if s["name"] == name]
            target = screenshot_dir / picture if screenshot_dir is not None else None
            pages[name] = asdict(render_trace(page, trace_url(server, project_gid, span), span, target))
    return pages


def main(argv: Sequence[str]) -> int:
    """Start Phoenix, run the demo app against it, save the coordinator's and the failed run's trace pages."""
    from tests.e2e import test_phoenix  # the shared end-to-end run; imported here, it imports this module

    out = Path(argv[0] if argv else "docs")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = test_phoenix._trace_through_phoenix(screenshot_dir=out)
    error = result.get("error") or result.get("pages_error")
    if error:
        sys.stderr.write(f"{error}\n")
        return 1
    for page in result["pages"].values():
        sys.stdout.write(f"{page['screenshot']}: {page['header']} ({page['status']}), {page['url']}\n")
    sys.stdout.write(f"phoenix, app and browser: {time.monotonic() - started:.1f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

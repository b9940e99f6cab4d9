"""A throw-away Arize Phoenix trace backend on 127.0.0.1, for the end-to-end test. Standard library only.

Phoenix runs from its own venv (`scripts/setup-phoenix.sh` makes `.venv-phoenix`; env `PHOENIX_PYTHON`
overrides): installed next to the suite, arize-phoenix 20.26.1 brings a pytest plugin (`phoenix`, ~10 s on
every pytest start) and openinference's `openai` instrumentor, which `opentelemetry-instrument` would load.

Startup is import-bound: ~13 s on an idle 2-core machine, ~40 s on a loaded one, hence the long default
timeout. Every failure raises `PhoenixError` with the server's log tail; nothing is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
LOOPBACK = "127.0.0.1,localhost,::1"

Span = dict[str, Any]
"""One span as `GET /v1/projects/{project}/spans` returns it: `name`, `context.trace_id`/`span_id` (hex),
`parent_id` (hex or None), `status_code` (OK/ERROR/UNSET), `status_message`, `attributes` (flat dotted
keys, values keep their JSON types), `events`, `start_time`/`end_time`. `span_kind` is Phoenix's
OpenInference kind (AGENT, LLM, TOOL, ...), not the OTel SpanKind, which Phoenix does not keep."""

# Loopback only: an HTTP(S)_PROXY in the environment must not see these requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class PhoenixError(RuntimeError):
    """Phoenix could not be started, died, or did not return the spans in time."""


def phoenix_python() -> Path:
    """The interpreter that has arize-phoenix: env PHOENIX_PYTHON, else `.venv-phoenix/bin/python`."""
    configured = os.environ.get("PHOENIX_PYTHON")
    python = Path(configured) if configured else ROOT / ".venv-phoenix" / "bin" / "python"
    if not python.is_file():
        source = "PHOENIX_PYTHON" if configured else "the default"
        raise PhoenixError(f"no Phoenix interpreter at {python} ({source}): run scripts/setup-phoenix.sh")
    return python


def free_port() -> int:
    """A port free on 127.0.0.1 and on [::]: Phoenix 20.26.1 binds gRPC to `[::]:PORT` whatever PHOENIX_HOST
    says (`phoenix/server/grpc_server.py`). Another process may still take it before Phoenix does."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if socket.has_ipv6:
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe6:
                    probe6.bind(("::", port))
            except OSError:
                continue
        return port
    raise PhoenixError("no free port on 127.0.0.1")


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def _server_env(working_dir: Path, http_port: int, grpc_port: int) -> dict[str, str]:
    # Inherited PHOENIX_* (e.g. PHOENIX_SQL_DATABASE_URL) and OTEL_* must not reach the server.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PHOENIX_", "OTEL_"))}
    env.update(
        PHOENIX_WORKING_DIR=str(working_dir),
        PHOENIX_HOST=HOST,
        PHOENIX_PORT=str(http_port),
        PHOENIX_GRPC_PORT=str(grpc_port),
        # With these three the server makes no outbound connection (checked with strace).
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
        PHOENIX_DISABLE_AGENT_ASSISTANT="true",
        # Otherwise ~1500 lines of SQL echo on a fresh database bury the log tail.
        PHOENIX_LOG_MIGRATIONS="false",
        PYTHONUNBUFFERED="1",
        NO_PROXY=LOOPBACK,
        no_proxy=LOOPBACK,
    )
    return env


@dataclass
class PhoenixServer:
    """A running Phoenix; `running_phoenix()` makes one."""

    base_url: str
    log_path: Path
    process: subprocess.Popen[bytes]
    startup_seconds: float = 0.0

    @property
    def otlp_traces_endpoint(self) -> str:
        """For OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, which is used verbatim: the path is part of it."""
        return f"{self.base_url}/v1/traces"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            return f"<no log: {error}>"
        return "\n".join(text.splitlines()[-lines:])

    def _failure(self, message: str) -> PhoenixError:
        return PhoenixError(f"{message}\n--- Phoenix log tail ---\n{self.log_tail()}")

    def _read_spans(self, project: str) -> tuple[int, str, list[Span]]:
        """All pages of the project's spans: (HTTP status, body if not 200, spans)."""
        spans: list[Span] = []
        cursor: str | None = None
        while True:
            query = [("limit", "1000")] + ([("cursor", cursor)] if cursor else [])
            path = f"/v1/projects/{urllib.parse.quote(project, safe='')}/spans?{urllib.parse.urlencode(query)}"
            status, body = _get(self.base_url + path)
            if status != 200:
                return status, body.decode("utf-8", "replace")[:500], []
            page = json.loads(body)
            spans.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return status, "", spans

    def spans(
        self, project: str, until: Callable[[list[Span]], bool], *, timeout: float = 30.0, settle: float = 0.5
    ) -> list[Span]:
        """The project's spans once `until(spans)` holds and the count has not changed for `settle` seconds.

        Ingestion is asynchronous, and the project answers 404 until its first span is stored, so this polls.
        """
        deadline = time.monotonic() + timeout
        count, stable_since = -1, 0.0
        while True:
            if self.process.poll() is not None:
                raise self._failure(f"Phoenix exited with {self.process.returncode} while spans were read")
            status, body, spans = self._read_spans(project)
            now = time.monotonic()
            if until(spans):
                if len(spans) != count:
                    count, stable_since = len(spans), now
                elif now - stable_since >= settle:
                    return spans
            elif now >= deadline:
                names = sorted(span["name"] for span in spans)
                raise self._failure(
                    f"spans of project {project!r} incomplete after {timeout:.0f} s: HTTP {status} {body!r}, "
                    f"got {names}"
                )
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (a graceful stop, exit -15), SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def running_phoenix(python: Path, startup_timeout: float = STARTUP_TIMEOUT) -> Iterator[PhoenixServer]:
    """Phoenix with fresh SQLite storage in a temporary directory, healthy on 127.0.0.1; stopped and
    removed on exit."""
    working_dir = Path(tempfile.mkdtemp(prefix="phoenix-e2e-"))
    http_port = free_port()
    grpc_port = free_port()
    while grpc_port == http_port:
        grpc_port = free_port()
    log_path = working_dir / "phoenix.log"
    started = time.monotonic()
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(python), "-m", "phoenix.server.main", "serve"],
                env=_server_env(working_dir, http_port, grpc_port),
                cwd=working_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: stopped by pid in teardown, untouched by a Ctrl-C meant for pytest.
                start_new_session=True,
            )
        server = PhoenixServer(f"http://{HOST}:{http_port}", log_path, process)
        try:
            _wait_healthy(server, started, startup_timeout)
            server.startup_seconds = time.monotonic() - started
            yield server
        finally:
            _stop(process)
    finally:
        shutil.rmtree(working_dir, ignore_errors=True)


def _wait_healthy(server: PhoenixServer, started: float, timeout: float) -> None:
    deadline = started + timeout
    last = "no answer"
    while True:
        if server.process.poll() is not None:
            raise server._failure(f"Phoenix exited with {server.process.returncode} before it was healthy")
        try:
            status, body = _get(server.base_url + "/healthz", timeout=2.0)
        except OSError as error:  # URLError is an OSError: refused until the server listens
            last = repr(error)
        else:
            if status == 200:
                return
            last = f"HTTP {status} {body[:200]!r}"
        if time.monotonic() >= deadline:
            raise server._failure(f"Phoenix not healthy at {server.base_url}/healthz in {timeout:.0f} s (last: {last})")
        time.sleep(0.2)

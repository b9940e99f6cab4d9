"""CrewAI kept offline and to itself, for every test that imports crewai (import this module first).

CrewAI sends anonymous usage telemetry to a hosted collector unless told not to (crewai_core/telemetry.py:
`OTEL_SDK_DISABLED`, `CREWAI_DISABLE_TELEMETRY`, `CREWAI_DISABLE_TRACKING`), may upload a run's trace to its
platform (`CREWAI_TRACING_ENABLED`), checks PyPI for newer versions (`CREWAI_DISABLE_VERSION_CHECK`) and keeps
its storage under the user's data directories. `OTEL_SDK_DISABLED` is not set here: it would also turn off
the SDK provider the tests read spans from.

`NETWORK` records every connection attempt and name lookup beyond loopback made in this process (and
refuses it); `assert_offline()` fails the test that made one.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from typing import Any

_HOME = tempfile.mkdtemp(prefix="crewai-home-")
os.environ.update(
    {
        "CREWAI_DISABLE_TELEMETRY": "true",
        "CREWAI_DISABLE_TRACKING": "true",
        "CREWAI_DISABLE_VERSION_CHECK": "true",
        "CREWAI_TRACING_ENABLED": "false",
        "CREWAI_STORAGE_DIR": os.path.join(_HOME, "storage"),
        "HOME": _HOME,
        "XDG_DATA_HOME": os.path.join(_HOME, ".local", "share"),
        "XDG_CONFIG_HOME": os.path.join(_HOME, ".config"),
        "XDG_CACHE_HOME": os.path.join(_HOME, ".cache"),
    }
)

NETWORK: list[str] = []  # what was attempted beyond loopback, in order


def _loopback(host: Any) -> bool:
    if host is None or host in ("localhost", ""):
        return True
    if isinstance(host, bytes):
        host = host.decode()
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _refuse(what: str) -> OSError:
    NETWORK.append(what)
    return ConnectionRefusedError(f"tests are offline: {what}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        raise _refuse(f"connect {address!r}")
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        raise _refuse(f"connect {address!r}")
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _loopback(host):
        raise _refuse(f"resolve {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]
socket.getaddrinfo = _guarded_getaddrinfo


def assert_offline() -> None:
    """Fail if anything in this process tried to reach beyond loopback since the last check."""
    attempted = list(NETWORK)
    NETWORK.clear()
    assert attempted == [], f"network beyond loopback: {attempted}"


def _import_crewai() -> None:
    # crewai 1.15.30's import makes importlib warn ("Cannot set an attribute on 'crewai.rag' for child
    # module 'embeddings'"), which the suite's `filterwarnings = error` would turn into a collection error.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportWarning)
        import crewai  # noqa: F401


_import_crewai()

"""Serving the metrics: the API's ``/metrics`` answer, and a worker's port of its own.

One process keeps its metrics in memory. Several API processes (``orderly serve --workers N``)
keep them in files under ``PROMETHEUS_MULTIPROC_DIR``, which ``orderly serve`` sets to a fresh
directory before it starts uvicorn; whichever process answers a scrape reads and adds up every
process's files, so each scrape sees the whole server. The variable must be set before
``prometheus_client`` is first imported, which is why the command line sets it, not the app.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A live gauge's file names the process writing it: gauge_livesum_1234.db
_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def multiprocess_dir() -> Path | None:
    """The directory the processes share their metrics in, or None (one process)."""
    found = os.environ.get(MULTIPROC_DIR_ENV)
    return Path(found) if found else None


def fresh_multiprocess_dir(given: str | None) -> str:
    """The directory for a new run of several API processes: ``given`` (the operator's,
    emptied of a previous run's files) or a new temporary one."""
    if not given:
        return tempfile.mkdtemp(prefix="orderly-metrics-")
    path = Path(given)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
    return str(path)


def forget_dead_processes() -> None:
    """Drop the live gauges of API processes that are gone (a worker process restarted by the
    server): their connections in use would otherwise be counted for ever."""
    directory = multiprocess_dir()
    if directory is None:
        return
    for file in directory.glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.fullmatch(file.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _registry() -> Collector:
    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, str(directory))  # type: ignore[no-untyped-call]
    return registry


def render(accept: str | None) -> tuple[bytes, str]:
    """The metrics in the text format the scraper asked for, and that format's media type."""
    encoder, media_type = choose_encoder(accept or "")
    return encoder(_registry()), media_type


def start_metrics_server(port: int, host: str = "0.0.0.0") -> tuple[int, Callable[[], None]]:  # noqa: S104
    """Serve ``/metrics`` on ``host:port`` from a thread of its own (port 0 picks a free one):
    the port it listens on, and how to stop it."""
    server, thread = start_http_server(port, host, registry=_registry())

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return int(server.server_port), stop

"""Orderly's long-running processes, started by path rather than by import.

The CLI never imports the HTTP or worker adapters: the API runs as ``uvicorn`` given the app
factory's import path and the worker as ``arq`` given its settings' path. ``orderly serve`` and
``orderly worker`` exec these command lines; ``orderly dev`` runs them as supervised children,
each line they write labelled with the process it came from (:class:`Child`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

from orderly_db.log import UVICORN_LOG_CONFIG

LABEL_WIDTH = 6  # "worker", the longest label: the lines' texts start in one column
_OUTPUT = threading.Lock()  # one line at a time, whole, whichever process it comes from

API_FACTORY = "orderly_http.app:create_app"


def api_argv(
    host: str,
    port: int,
    *,
    production: bool,
    workers: int | None = None,
    log_level: str = "info",
) -> list[str]:
    """The uvicorn command line serving the API. The app writes its own access log, and reads
    ``X-Forwarded-For`` itself, from ``TRUSTED_PROXIES`` only: uvicorn's own reading (which
    believes any local peer) is off. uvicorn's own lines are rendered as Orderly's are
    (``LOG_FORMAT``), from the first one on."""
    argv = [sys.executable, "-m", "uvicorn", API_FACTORY, "--factory"]
    argv += ["--host", host, "--port", str(port), "--no-access-log", "--log-level", log_level]
    argv += ["--no-proxy-headers", "--log-config", str(UVICORN_LOG_CONFIG)]
    argv += ["--ws", "none"]  # the API serves no WebSocket: their modules are not even imported
    if production:
        argv += ["--loop", "uvloop", "--http", "httptools"]
    else:  # bounded, so that `orderly dev` stops promptly even with a client still connected
        argv += ["--timeout-graceful-shutdown", "5"]
    if workers is not None:
        argv += ["--workers", str(workers)]
    return argv


def worker_argv() -> list[str]:
    """The command line running the background worker (arq's, outlasting Redis outages)."""
    return [sys.executable, "-m", "orderly_worker"]


def exec_process(argv: Sequence[str]) -> None:
    """Replace this process with ``argv``, so that signals reach the server directly."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], list(argv))  # noqa: S606 (a fixed command line, no shell)


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child if its supervisor dies unannounced
    (a SIGKILLed ``orderly dev`` must not leave its API and worker running)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, called after
    parent = os.getpid()

    def hook() -> None:
        prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the supervisor died before the hook ran
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def label(name: str) -> str:
    """What starts each line written by the process ``name``: ``api    | ``."""
    return f"{name:<{LABEL_WIDTH}} | "


def say(name: str, text: str) -> None:
    """Write ``text`` to stderr, each line labelled with ``name``."""
    lines = "".join(f"{label(name)}{line}\n" for line in text.splitlines() or [""])
    with _OUTPUT:
        sys.stderr.write(lines)
        sys.stderr.flush()


@dataclass
class Child:
    """A supervised child process, alone in its own process group: a Ctrl-C in the terminal
    reaches only the supervisor, which then stops the group (worker processes included).

    Its output (stdout and stderr) is read line by line and written to the supervisor's
    stderr behind its ``label``; ``ready`` is set when a line holds ``ready_when``."""

    name: str
    process: subprocess.Popen[bytes]
    label: str
    ready_when: str | None = None
    exit_code: int | None = field(default=None)
    ready: threading.Event = field(default_factory=threading.Event)
    _relay: threading.Thread | None = field(default=None, repr=False)

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        label: str | None = None,
        ready_when: str | None = None,
    ) -> Child:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=_parent_death_signal(),  # noqa: PLW1509 (calls only prctl, resolved before)
        )
        child = cls(name, process, label or name, ready_when)
        assert process.stdout is not None  # noqa: S101 (PIPE above)
        child._relay = threading.Thread(
            target=child._relay_output, args=(process.stdout,), name=f"output of {name}",
            daemon=True,
        )  # fmt: skip
        child._relay.start()
        return child

    def _relay_output(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if self.ready_when is not None and self.ready_when in line:
                    self.ready.set()
                say(self.label, line)

    def drain(self, timeout: float = 2.0) -> None:
        """Wait until the last lines of an exited process are written."""
        if self._relay is not None:
            self._relay.join(timeout)

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> bool:
        self.exit_code = self.process.poll()
        return self.exit_code is not None

    def signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


def stop_children(children: Sequence[Child], grace: float) -> None:
    """SIGTERM every child's group, wait up to ``grace`` seconds, then SIGKILL what is left."""
    for child in children:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(max(0.0, deadline - time.monotonic()))
    for child in children:
        child.signal_group(signal.SIGKILL)  # also catches grandchildren whose leader is gone
        child.process.wait()
        child.exited()
        child.drain()


def first_exited(children: Sequence[Child]) -> Child | None:
    return next((child for child in children if child.exited()), None)


def answers_health(url: str) -> bool:
    """True when ``GET url`` answers 200. Proxies from the environment are bypassed: the API
    runs on this machine."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1.0) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False

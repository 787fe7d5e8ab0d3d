"""Orderly's long-running processes, started by path rather than by import.

The CLI never imports the HTTP or worker adapters: the API runs as ``uvicorn`` given the app
factory's import path and the worker as ``arq`` given its settings' path. ``orderly serve`` and
``orderly worker`` exec these command lines; ``orderly dev`` runs them as supervised children.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

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
    believes any local peer) is off."""
    argv = [sys.executable, "-m", "uvicorn", API_FACTORY, "--factory"]
    argv += ["--host", host, "--port", str(port), "--no-access-log", "--log-level", log_level]
    argv += ["--no-proxy-headers"]
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


@dataclass
class Child:
    """A supervised child process, alone in its own process group: a Ctrl-C in the terminal
    reaches only the supervisor, which then stops the group (worker processes included)."""

    name: str
    process: subprocess.Popen[bytes]
    exit_code: int | None = field(default=None)

    @classmethod
    def start(cls, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Child:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            process_group=0,
            preexec_fn=_parent_death_signal(),  # noqa: PLW1509 (no threads run at this point)
        )
        return cls(name, process)

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

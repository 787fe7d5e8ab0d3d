"""Compiling what ``orderly dev`` runs, once, while it starts.

Nothing is compiled when the virtual environment is installed (``compile-bytecode = false``
in the workspace's ``pyproject.toml``: that would be every module of the whole development
toolset, thousands never imported by Orderly). Instead, the first ``orderly dev`` compiles the
modules its three processes import, and only those: a helper process imports them, writing
their bytecode, while this process (itself still importing) goes on to start PostgreSQL and
Redis; the API and the worker are started once it is done, from compiled modules. Later starts
find the bytecode and skip the helper.

The bytecode is written whatever ``PYTHONDONTWRITEBYTECODE`` says: without it every start
would compile the same modules again, in three processes at once.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

# The modules the CLI, the API (as uvicorn loads it in development) and the worker import.
STACK_MODULES = (
    "orderly_cli.main",
    "orderly_cli.devstack",
    "orderly_http.app",
    "orderly_worker.process",
    "orderly_worker.settings",
    "uvicorn.main",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
)
_warm_up: subprocess.Popen[bytes] | None = None
_started_at = 0.0


def start_compiling() -> bool:
    """Start the helper that compiles :data:`STACK_MODULES` (and all they import) unless
    they are compiled already; whether it was started."""
    global _warm_up, _started_at  # noqa: PLW0603 (one helper per process)
    if _warm_up is not None or all(_compiled(name) for name in STACK_MODULES):
        return False
    _started_at = time.monotonic()
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    _warm_up = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-c", f"import {', '.join(STACK_MODULES)}"],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return True


def wait_until_compiled(timeout: float = 60.0) -> float | None:
    """Return once the helper is done (at once if none runs), with how long it ran. Should
    it fail, the processes compile what they import themselves, and say what went wrong."""
    global _warm_up  # noqa: PLW0603
    if _warm_up is None:
        return None
    try:
        _warm_up.wait(timeout)
    except subprocess.TimeoutExpired:
        _warm_up.kill()
        _warm_up.wait()
    _warm_up = None
    return time.monotonic() - _started_at


def _compiled(module: str) -> bool:
    """Whether ``module`` has bytecode at least as new as its source, found without
    importing anything."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.origin is None:
        return False
    base = Path(spec.origin).parent
    source = base.joinpath(*rest).with_suffix(".py") if rest else Path(spec.origin)
    if not source.exists():
        source = base.joinpath(*rest, "__init__.py")
    try:
        cached = Path(importlib.util.cache_from_source(str(source)))
        return cached.stat().st_mtime >= source.stat().st_mtime
    except (OSError, NotImplementedError, ValueError):
        return False

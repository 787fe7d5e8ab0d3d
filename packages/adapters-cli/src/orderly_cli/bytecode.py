"""Compiling what ``orderly dev`` runs, once, while it starts.

Nothing is compiled when the virtual environment is installed (``compile-bytecode = false``
in the workspace's ``pyproject.toml``: that would be every module of the whole development
toolset, thousands never imported by Orderly). Instead, the first ``orderly dev`` compiles the
modules it runs, and only those: a helper process imports them, writing their bytecode, while
this process (importing only what starts the servers, see :mod:`orderly_cli.launcher`) starts
PostgreSQL and Redis. The helper imports the migrations' modules first
(:data:`MIGRATION_MODULES`) and says so, so that the database is migrated while it goes on
with the API's and the worker's (:data:`STACK_MODULES`); those two are started once it is
done, from compiled modules. Later starts find the bytecode and skip the helper.

The bytecode is written whatever ``PYTHONDONTWRITEBYTECODE`` says: without it every start
would compile the same modules again, in three processes at once.
"""

from __future__ import annotations

import importlib.util
import os
import select
import subprocess
import sys
import time
from pathlib import Path

# What `orderly dev` imports to migrate the database.
MIGRATION_MODULES = ("orderly_db.migrate",)
# What the API (as uvicorn loads it in development) and the worker import.
STACK_MODULES = (
    "orderly_http.app",
    "orderly_worker.process",
    "orderly_worker.settings",
    "uvicorn.main",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.auto",
    "uvicorn.lifespan.on",
)
_MIGRATIONS_COMPILED = b"migrations compiled\n"
_warm_up: subprocess.Popen[bytes] | None = None
_started_at = 0.0


def start_compiling() -> bool:
    """Start the helper that compiles :data:`MIGRATION_MODULES`, then :data:`STACK_MODULES`
    (and all they import) unless they are compiled already; whether it was started."""
    global _warm_up, _started_at  # noqa: PLW0603 (one helper per process)
    modules = (*MIGRATION_MODULES, *STACK_MODULES)
    if _warm_up is not None or all(_compiled(name) for name in modules):
        return False
    _started_at = time.monotonic()
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    script = (
        f"import sys\nimport {', '.join(MIGRATION_MODULES)}\n"
        f"sys.stdout.buffer.write({_MIGRATIONS_COMPILED!r})\nsys.stdout.flush()\n"
        f"import {', '.join(STACK_MODULES)}\n"
    )
    _warm_up = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-c", script],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    return True


def wait_until_migrations_compiled(timeout: float = 60.0) -> None:
    """Return once the helper has compiled :data:`MIGRATION_MODULES` (at once if none runs,
    or if it stopped or failed: this process then compiles what it imports itself)."""
    if _warm_up is None or _warm_up.stdout is None:
        return
    ready, _, _ = select.select([_warm_up.stdout], [], [], timeout)
    if ready:
        _warm_up.stdout.readline()  # the helper's line, or nothing once it ended


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
    if _warm_up.stdout is not None:
        _warm_up.stdout.close()
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

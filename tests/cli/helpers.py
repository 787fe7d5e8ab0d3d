"""Helpers shared by the CLI tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from typer.testing import Result


def ok_json(result: Result, exit_code: int = 0) -> Any:
    """What the command printed, as JSON, once it ended with ``exit_code``."""
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def in_thread[T](make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a loop of its own, away from the session's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()

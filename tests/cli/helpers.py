"""Helpers shared by the CLI tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import redis
from typer.testing import Result


def ok_json(result: Result, exit_code: int = 0) -> Any:
    """What the command printed, as JSON, once it ended with ``exit_code``."""
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def in_thread[T](make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a loop of its own, away from the session's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def queued_ids(client: redis.Redis) -> set[str]:
    """The ids of the jobs waiting in arq's queue."""
    return {job_id.decode() for job_id in cast("list[bytes]", client.zrange("arq:queue", 0, -1))}


def queued_job(client: redis.Redis, job_id: str) -> dict[str, Any] | None:
    """The job as arq stored it under its key, decoded from Orderly's JSON wire format."""
    raw = cast("bytes | None", client.get(f"arq:job:{job_id}"))
    return None if raw is None else cast("dict[str, Any]", json.loads(raw))

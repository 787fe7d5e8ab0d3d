"""The embedded Redis keeps the queue across a restart, even an abrupt one (item 19)."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus

from orderly_cli.embedded import EmbeddedRedis, start_redis
from orderly_db.job_queue import ArqJobQueue
from tests.cli.processes import wait_gone

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="orderly-redis-faults-"))
    yield path
    EmbeddedRedis(path, 0, None).stop()


def test_the_embedded_redis_saves_snapshots_and_an_append_only_file(redis_dir: Path) -> None:
    server = start_redis(redis_dir)
    with redis.Redis.from_url(server.url) as client:
        assert client.config_get("save") == {"save": "3600 1 300 100 60 10000"}
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}


async def _queue_two_jobs(url: str) -> None:
    queue = ArqJobQueue.from_url(url)
    try:
        assert await queue.enqueue("deliver_webhook", {"request_id": "r-1"}, "job-now")
        later = datetime.now(UTC) + timedelta(hours=1)
        assert await queue.enqueue(
            "deliver_webhook", {"request_id": "r-2"}, "job-later", defer_until=later
        )
    finally:
        await queue.close()


async def _statuses(url: str) -> dict[str, JobStatus]:
    """What the queue says of each job."""
    client = ArqRedis.from_url(url)
    try:
        return {name: await Job(name, client).status() for name in ("job-now", "job-later")}
    finally:
        await client.aclose()


@pytest.mark.parametrize("how", ["stopped", "killed"])
async def test_queued_and_deferred_jobs_survive_a_redis_restart(redis_dir: Path, how: str) -> None:
    server = start_redis(redis_dir)
    await _queue_two_jobs(server.url)
    assert set((await _statuses(server.url)).values()) <= {JobStatus.queued, JobStatus.deferred}

    if how == "stopped":
        server.stop()  # SIGTERM: Redis writes what it holds and exits
    else:
        await asyncio.sleep(1.5)  # the append-only file is flushed every second
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        assert not wait_gone([server.pid], timeout=5)
    again = start_redis(redis_dir, port=server.port)

    statuses = await _statuses(again.url)
    assert statuses == {"job-now": JobStatus.queued, "job-later": JobStatus.deferred}

"""A real arq worker, run in this process against the real Redis and PostgreSQL.

Worker tests use their own Redis database number, emptied before each test, so queued jobs,
results and dead letters never leak between tests or into other suites. The worker reads its
settings from the environment exactly as in production; the tests set the variables.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
import structlog
from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import LogCapture

from orderly_core.jobs import payloads as jobs
from tests.worker.helpers import RETRY_BASE_S, WORKER_REDIS_DB


@pytest.fixture(scope="session")
def worker_redis_url(redis_url: str) -> str:
    return urlsplit(redis_url)._replace(path=f"/{WORKER_REDIS_DB}").geturl()


@pytest.fixture
def worker_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    worker_redis_url: str,
    clean_engine: AsyncEngine,
) -> dict[str, str]:
    """The worker's environment (empty tables, short backoff); no `.env` file is in reach."""
    monkeypatch.chdir(tmp_path)
    variables = {
        "DATABASE_URL": database_url,
        "REDIS_URL": worker_redis_url,
        "WORKER_RETRY_BASE_S": str(RETRY_BASE_S),
        "WORKER_RETRY_MAX_S": str(RETRY_BASE_S * 4),
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


@pytest_asyncio.fixture(loop_scope="session")
async def redis(worker_redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(worker_redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def queue(redis: Redis, worker_redis_url: str) -> AsyncIterator[ArqRedis]:
    """The queue as whoever enqueues jobs sees it: JSON both ways, as the worker expects."""
    pool = await create_pool(
        RedisSettings.from_dsn(worker_redis_url),
        job_serializer=jobs.serialize,
        job_deserializer=jobs.deserialize,
    )
    yield pool
    await pool.aclose()


@pytest.fixture(autouse=True)
def job_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every structlog event, with the context variables bound while it was logged.

    Used by every worker test, so that no logging set up by an earlier test (one writing to
    a stream that has since been closed, say) can decide how a job ends."""
    capture = LogCapture()
    previous = structlog.get_config()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, capture],
        # Every level: an API run by an earlier test leaves INFO's filter behind.
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )
    yield capture.entries
    structlog.configure(**previous)


@pytest.fixture
def webhook_env(worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A receiver on 127.0.0.1 over plain http, and retries after 0.2 s instead of minutes."""
    extra = {
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
        "WEBHOOK_RETRY_SCHEDULE_S": "0.2,0.2",
        "WORKER_RELAY_POLL_S": "0.5",
    }
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    return worker_env | extra

"""An Orderly API running its real lifespan over the test database, driven through httpx.

Every API under test signs users in as ``accounts.py`` makes them (Argon2id as cheap as the
test fixtures', a fixed signing key) and starts with no failed sign-in counted. The tests that
queue jobs and run the worker on them use ``queue_client``, whose queue is a Redis database of
their own, emptied before each test.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.unit_of_work import Dependencies
from orderly_http.app import create_app
from orderly_http.settings import HttpSettings
from tests.http.accounts import auth_settings, forget_login_failures
from tests.http.helpers import serving

QUEUE_DB = 7  # the Redis database of the tests that queue jobs through the API


@pytest.fixture
def http_settings(database_url: str, redis_url: str, clean_engine: AsyncEngine) -> HttpSettings:
    """Settings of an API over the migrated test database, emptied for this test."""
    forget_login_failures(redis_url)
    return auth_settings(database_url, redis_url)


@pytest.fixture
def app(http_settings: HttpSettings) -> FastAPI:
    return create_app(http_settings)


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as client:
        yield client


@pytest.fixture
def queue_url(redis_url: str) -> str:
    """The Redis database that holds the queue of ``queue_client``'s API."""
    return urlsplit(redis_url)._replace(path=f"/{QUEUE_DB}").geturl()


@pytest.fixture
def worker_env(database_url: str, queue_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a worker run by the test: the test database and that queue."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", queue_url)


@pytest_asyncio.fixture(loop_scope="session")
async def queue_client(
    database_url: str, queue_url: str, pg_deps: Dependencies
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an API whose Redis is ``queue_url``, emptied first, over empty tables."""
    async with Redis.from_url(queue_url) as redis:
        await redis.flushdb()
    async with serving(create_app(auth_settings(database_url, queue_url))) as client:
        yield client


@pytest.fixture
def closed_port() -> int:
    """A local TCP port with nothing listening on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port

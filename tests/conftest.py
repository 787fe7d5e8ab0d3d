"""Session-wide servers for the whole test suite.

Servers start lazily (only when a test asks for them), once per session, from plain sync
fixtures: no event loop is needed to start a process. `DATABASE_URL` / `REDIS_URL` point the
suite at servers you run yourself; otherwise embedded ones live under `<repo>/.orderly/` (git
ignored) and are stopped at session end. Migrations are applied by a separate fixture.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
import redis
from sqlalchemy.engine import make_url

from orderly_cli.embedded import EmbeddedPostgres, create_database, start_postgres, start_redis

pytest_plugins = ["tests.db_fixtures"]

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = REPO_ROOT / ".orderly"
TEST_DATABASE = "orderly_test"


@pytest.fixture(scope="session")
def embedded_postgres() -> Iterator[EmbeddedPostgres | None]:
    """The embedded server, or None when `DATABASE_URL` names an external one."""
    if os.environ.get("DATABASE_URL"):
        yield None
        return
    server = start_postgres(STATE_DIR / "test-pg")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server_url(embedded_postgres: EmbeddedPostgres | None) -> str:
    """SQLAlchemy URL of the server's maintenance database."""
    if embedded_postgres is not None:
        return embedded_postgres.url()
    return os.environ["DATABASE_URL"]


@pytest.fixture(scope="session")
def database_url(embedded_postgres: EmbeddedPostgres | None, postgres_server_url: str) -> str:
    """A fresh `orderly_test` database (dropped first if it exists), as a +asyncpg URL."""
    if embedded_postgres is not None:
        create_database(embedded_postgres, TEST_DATABASE, drop_existing=True)
        return embedded_postgres.url(TEST_DATABASE)
    server = make_url(postgres_server_url).set(drivername="postgresql+asyncpg")
    if server.database == TEST_DATABASE:  # cannot drop the database we are connected to
        server = server.set(database="postgres")
    _recreate_database(server.set(drivername="postgresql").render_as_string(hide_password=False))
    test_url = server.set(database=TEST_DATABASE)
    return test_url.render_as_string(hide_password=False)


def _recreate_database(dsn: str) -> None:
    """Drop and create the test database on an external server with asyncpg, in a thread:
    `asyncio.run` there cannot disturb the event loop pytest-asyncio keeps for the session."""

    async def recreate() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
        finally:
            await conn.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, recreate()).result()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """`REDIS_URL`, or an embedded Redis emptied at session start: its RDB would otherwise
    bring back arq jobs and keys from the previous run."""
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    server = start_redis(STATE_DIR / "test-redis")
    with redis.Redis.from_url(server.url) as client:
        client.flushall()
    yield server.url
    server.stop()

"""Session-wide servers for the whole test suite.

Servers start lazily (only when a test asks for them), once per session, from plain sync
fixtures: no event loop is needed to start a process. `DATABASE_URL` / `REDIS_URL` point the
suite at servers you run yourself; otherwise embedded ones start in a temporary directory of
this session's own (so that two sessions never share a server) and are stopped and removed at
session end. Migrations are applied by a separate fixture. `--no-servers` runs only the tests
that need no server (the core's use cases on the in-memory fakes) and starts none.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from orderly_cli.embedded import EmbeddedPostgres, create_database, start_postgres, start_redis

pytest_plugins = ["tests.db_fixtures", "tests.payments_fixtures", "tests.http.stripe_shop"]

TEST_DATABASE = "orderly_test"
NO_SERVERS = "--no-servers"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        NO_SERVERS,
        action="store_true",
        help="run only the tests that need neither PostgreSQL nor Redis (the core on its fakes)",
    )


def _needs_servers(item: pytest.Item) -> bool:
    """Every server fixture starts from `servers_dir`; the core's `deps` reaches PostgreSQL
    through its "postgres" parameter."""
    callspec = getattr(item, "callspec", None)
    on_postgres = callspec is not None and callspec.params.get("deps") == "postgres"
    return on_postgres or "servers_dir" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With `--no-servers`, the tests that need a server are deselected."""
    if not config.getoption(NO_SERVERS):
        return
    deselected = [item for item in items if _needs_servers(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not _needs_servers(item)]


@pytest.fixture(scope="session")
def servers_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Where this session's embedded servers keep their data; removed at the end."""
    if request.config.getoption(NO_SERVERS):
        pytest.fail(f"this test needs a server, and the session runs {NO_SERVERS}")
    path = Path(tempfile.mkdtemp(prefix="orderly-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_postgres(servers_dir: Path) -> Iterator[EmbeddedPostgres | None]:
    """The embedded server, or None when `DATABASE_URL` names an external one."""
    if os.environ.get("DATABASE_URL"):
        yield None
        return
    server = start_postgres(servers_dir / "pg")
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
def redis_url(servers_dir: Path) -> Iterator[str]:
    """`REDIS_URL`, or an embedded Redis of this session's own."""
    external = os.environ.get("REDIS_URL")
    if external:
        yield external
        return
    server = start_redis(servers_dir / "redis")
    yield server.url
    server.stop()

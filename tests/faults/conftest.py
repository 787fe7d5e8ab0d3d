"""Servers of the fault tests' own, to restart, stop and kill without disturbing other tests.

The PostgreSQL server lives under a directory of its own (not pytest's ``tmp_path``, whose
0700 base would keep out the ``embedded_postgres`` system user that runs it when the tests
run as root), and is stopped by its directory at the end, whatever a test did to it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_cli.embedded import EmbeddedPostgres, create_database, start_postgres
from orderly_db.engine import create_engine
from orderly_db.migrate import upgrade
from orderly_db.settings import InfraSettings
from tests.db_fixtures import truncate_all

FAULTS_DATABASE = "orderly_faults"


@pytest.fixture(scope="session")
def fault_postgres() -> Iterator[EmbeddedPostgres]:
    """An embedded PostgreSQL for the fault tests alone."""
    path = Path(tempfile.mkdtemp(prefix="orderly-faults-"))
    server = start_postgres(path / "pg")
    create_database(server, FAULTS_DATABASE)
    yield server
    EmbeddedPostgres(server.data_dir, server.socket_dir, server.port).stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fault_database_url(fault_postgres: EmbeddedPostgres) -> str:
    """The fault tests' database, on a running server (a test may have left it stopped)."""
    start_postgres(fault_postgres.data_dir)
    return fault_postgres.url(FAULTS_DATABASE)


@pytest_asyncio.fixture(loop_scope="session")
async def fault_engine(fault_database_url: str, redis_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the fault tests' database, migrated and emptied."""
    settings = InfraSettings(database_url=fault_database_url, redis_url=redis_url)
    engine = create_engine(settings, application_name="orderly-fault-tests")
    await upgrade(engine)
    await truncate_all(engine)
    yield engine
    await engine.dispose()

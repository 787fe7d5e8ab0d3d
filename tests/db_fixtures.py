"""A migrated test database, cleaned before each test that uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.unit_of_work import Dependencies
from orderly_db.engine import create_engine
from orderly_db.migrate import upgrade
from orderly_db.passwords import Argon2Passwords
from orderly_db.settings import InfraSettings
from orderly_db.tables import metadata
from orderly_db.unit_of_work import sql_dependencies


@pytest.fixture(scope="session")
def infra_settings(database_url: str, redis_url: str) -> InfraSettings:
    return InfraSettings(database_url=database_url, redis_url=redis_url)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine(infra_settings: InfraSettings) -> AsyncIterator[AsyncEngine]:
    """One engine for the session, on a database migrated to the newest revision."""
    engine = create_engine(infra_settings, application_name="orderly-tests")
    await upgrade(engine)
    yield engine
    await engine.dispose()


async def truncate_all(engine: AsyncEngine) -> None:
    names = ", ".join(table.name for table in metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest_asyncio.fixture(loop_scope="session")
async def clean_engine(engine: AsyncEngine) -> AsyncEngine:
    """The session engine over empty tables."""
    await truncate_all(engine)
    return engine


# Argon2id at its cheapest: the tests check behaviour, not the cost of hashing.
FAST_PASSWORDS = Argon2Passwords(time_cost=1, memory_cost_kib=8192)


@pytest.fixture
def pg_deps(clean_engine: AsyncEngine) -> Dependencies:
    return sql_dependencies(clean_engine, passwords=FAST_PASSWORDS)

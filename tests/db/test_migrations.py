"""Every migration goes up, down and up again, and the result matches the query metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orderly_db.migrate import current, downgrade, upgrade
from orderly_db.tables import metadata

SCRATCH = "orderly_migrations_test"


@pytest_asyncio.fixture(loop_scope="session")
async def scratch_engine(postgres_server_url: str) -> AsyncIterator[AsyncEngine]:
    """An empty database of its own, so that downgrades do not disturb other tests."""
    server = create_async_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    async with server.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{SCRATCH}"'))
    url = make_url(postgres_server_url).set(database=SCRATCH)
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()
    async with server.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
    await server.dispose()


def _revisions_oldest_first() -> list[str]:
    config = Config()
    config.set_main_option("script_location", "orderly_db:migrations")
    script = ScriptDirectory.from_config(config)
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("select tablename from pg_tables where schemaname = 'public'")
        )
        return {row[0] for row in rows} - {"alembic_version"}


async def test_every_migration_goes_up_down_and_up_again(scratch_engine: AsyncEngine) -> None:
    revisions = _revisions_oldest_first()
    assert revisions, "there is at least one migration"
    for revision in revisions:
        await upgrade(scratch_engine, revision)
        assert await current(scratch_engine) == revision
        after_upgrade = await _tables(scratch_engine)
        await downgrade(scratch_engine, "-1")
        await upgrade(scratch_engine, revision)
        assert await _tables(scratch_engine) == after_upgrade

    await downgrade(scratch_engine, "base")
    assert await current(scratch_engine) is None
    assert await _tables(scratch_engine) == set()


async def test_migrated_schema_matches_the_query_metadata(scratch_engine: AsyncEngine) -> None:
    await upgrade(scratch_engine)

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with scratch_engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_check_constraints_have_the_names_and_conditions_of_the_query_metadata(
    scratch_engine: AsyncEngine,
) -> None:
    """Alembic's comparison leaves check constraints out; errors name them, so their names
    (and that each exists) are compared here."""
    await upgrade(scratch_engine)
    expected = {
        (table.name, str(constraint.name))
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    async with scratch_engine.connect() as connection:
        rows = await connection.execute(
            text(
                "select conrelid::regclass::text, conname from pg_constraint "
                "where contype = 'c' and connamespace = 'public'::regnamespace "
                "and conrelid <> 0"
            )
        )
        found = {(row[0], row[1]) for row in rows}
    assert found == expected

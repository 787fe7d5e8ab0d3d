"""Migration 0010 rewrites stored email domains outside ASCII to their IDNA form, so that
their accounts still sign in under the new comparison, and leaves every other email alone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orderly_core.accounts.model import normalise_email
from orderly_db.migrate import downgrade, upgrade

SCRATCH = "orderly_email_migration_test"
STORED = ("ann@example.com", "josé@bücher.de", "bob@xn--bcher-kva.de", "bob@bücher.de")


@pytest_asyncio.fixture(loop_scope="session")
async def scratch_engine(postgres_server_url: str) -> AsyncIterator[AsyncEngine]:
    server = create_async_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    async with server.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{SCRATCH}"'))
    engine = create_async_engine(make_url(postgres_server_url).set(database=SCRATCH))
    yield engine
    await engine.dispose()
    async with server.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
    await server.dispose()


async def _emails(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(text("select email from users"))).scalars())


async def test_domains_outside_ascii_are_rewritten_unless_the_result_is_taken(
    scratch_engine: AsyncEngine,
) -> None:
    await upgrade(scratch_engine, "0009")
    async with scratch_engine.begin() as connection:
        for email in STORED:
            await connection.execute(
                text(
                    "insert into users (id, email, display_name, password_hash, role, active,"
                    " created_at, updated_at) values (:id, :email, 'x', 'h', 'customer', true,"
                    " now(), now())"
                ),
                {"id": uuid.uuid4(), "email": email},
            )

    await upgrade(scratch_engine, "0010")
    migrated = await _emails(scratch_engine)
    await downgrade(scratch_engine, "0009")
    restored = await _emails(scratch_engine)

    assert sorted(migrated) == sorted(
        ["ann@example.com", "josé@xn--bcher-kva.de", "bob@xn--bcher-kva.de", "bob@bücher.de"]
    )
    assert normalise_email("josé@bücher.de") in migrated
    assert "bob@bücher.de" in restored
    assert "josé@bücher.de" in restored

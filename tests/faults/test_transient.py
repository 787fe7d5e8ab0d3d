"""Connection-level faults are transient wherever they come from: a statement, or the
``BEGIN``, ``COMMIT`` and ``ROLLBACK`` of the unit of work's transaction (item 17)."""

from __future__ import annotations

import asyncpg
import pytest
from asyncpg.exceptions import DataError, InternalClientError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.unit_of_work import Dependencies
from orderly_db.faults import is_transient
from tests.core.helpers import make_product, stored

pytestmark = pytest.mark.postgres

_TERMINATE_IDLE_IN_TRANSACTION = text(
    "select count(pg_terminate_backend(pid)) from pg_stat_activity "
    "where datname = current_database() and state = 'idle in transaction'"
)


def test_the_drivers_connection_level_faults_are_transient() -> None:
    state = InternalClientError("cannot switch to state 15; another operation (2) is in progress")
    closed = asyncpg.InterfaceError("connection is closed")
    assert is_transient(state)
    assert is_transient(closed)
    # as SQLAlchemy's asyncpg dialect raises them: its own error, from the driver's
    wrapped = InterfaceError("COMMIT", None, Exception("InterfaceError: closed"))
    wrapped.__cause__ = closed
    assert is_transient(wrapped)
    assert is_transient(DBAPIError("BEGIN", None, state))


def test_bad_data_reported_by_the_driver_is_not_transient() -> None:
    assert not is_transient(DataError("invalid input for query argument $1"))
    assert not is_transient(DBAPIError("SELECT", None, DataError("invalid input")))


async def test_a_commit_on_a_lost_connection_is_a_transient_fault(
    pg_deps: Dependencies, clean_engine: AsyncEngine
) -> None:
    await make_product(pg_deps)

    async def commit_across_the_loss() -> None:
        async with pg_deps.unit_of_work() as uow:
            await uow.products.get("MUG-1")  # the transaction is open, the backend idle in it
            async with clean_engine.connect() as admin:
                assert await admin.scalar(_TERMINATE_IDLE_IN_TRANSACTION) == 1
            await uow.commit()

    with pytest.raises(DBAPIError) as raised:
        await commit_across_the_loss()

    assert is_transient(raised.value)
    assert await stored(pg_deps, "MUG-1") is not None  # the pool hands out a live connection


async def test_a_rollback_on_a_lost_connection_is_a_transient_fault(
    pg_deps: Dependencies, clean_engine: AsyncEngine
) -> None:
    await make_product(pg_deps)

    async def roll_back_across_the_loss() -> None:
        async with pg_deps.unit_of_work() as uow:
            await uow.products.get("MUG-1")
            async with clean_engine.connect() as admin:
                assert await admin.scalar(_TERMINATE_IDLE_IN_TRANSACTION) == 1
            await uow.rollback()

    with pytest.raises(DBAPIError) as raised:
        await roll_back_across_the_loss()

    assert is_transient(raised.value)
    assert await stored(pg_deps, "MUG-1") is not None

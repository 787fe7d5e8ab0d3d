"""One PostgreSQL transaction per use case."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orderly_core.ports import Dependencies, RandomIds, SystemClock
from orderly_db.catalogue import SqlProducts


class SqlUnitOfWork:
    """Checks a connection out of the pool and begins a transaction on entry.

    Leaving the block rolls back anything not committed, on success, on failure and on
    exceptions alike, then returns the connection to the pool. Repositories share the
    connection and never commit.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._products: SqlProducts | None = None

    @property
    def products(self) -> SqlProducts:
        if self._products is None:
            raise RuntimeError("the unit of work is used outside its 'async with' block")
        return self._products

    async def __aenter__(self) -> Self:
        self._connection = await self._engine.connect()
        await self._connection.begin()
        self._products = SqlProducts(self._connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection, self._products = self._connection, None, None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                await connection.rollback()
        finally:
            await connection.close()

    async def commit(self) -> None:
        await self._live().commit()

    async def rollback(self) -> None:
        await self._live().rollback()

    def _live(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("the unit of work is used outside its 'async with' block")
        return self._connection


def sql_dependencies(engine: AsyncEngine) -> Dependencies:
    """The core's dependencies backed by PostgreSQL, the system clock and random ids."""
    return Dependencies(
        unit_of_work=lambda: SqlUnitOfWork(engine),
        clock=SystemClock(),
        ids=RandomIds(),
    )

"""Hot statements: written with SQLAlchemy Core, compiled once, run on the asyncpg connection.

The statements every order and every catalogue read runs (a product by SKU, the product
locks, the order, the ledger, audit and outbox rows, the idempotency record) skip SQLAlchemy's
per-execution machinery: its statement cache lookup, parameter processing, cursor adaptation
and result wrapping cost 0.5-1 ms of CPU per statement, several times what asyncpg needs for
the same round trip. Each is built here from the same table metadata as every other query,
compiled to PostgreSQL's ``$n`` form at import, and executed with the driver connection of
the unit of work (see :class:`orderly_db.unit_of_work.SqlUnitOfWork`), where asyncpg
prepares it once per connection and reuses it. Results come back as ``asyncpg.Record``,
read by column name like a mapping.

Values go to asyncpg as they are, except JSONB: SQLAlchemy registers a JSONB codec on each
connection that takes JSON text (:func:`json_text`) and returns decoded values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from asyncpg import Connection, InterfaceError, PostgresConnectionError, PostgresError, Record
from asyncpg.exceptions import DataError, IntegrityConstraintViolationError, InternalClientError
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import DataError as SqlDataError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

type DriverConnection = Connection[Record]
"""The asyncpg connection under a unit of work's SQLAlchemy connection."""

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


class Columns(Protocol):
    """A result row read by column name: an ``asyncpg.Record`` or SQLAlchemy's
    ``Row._mapping``."""

    def __getitem__(self, name: str, /) -> Any: ...


def json_text(value: Any) -> str:
    """A JSONB parameter as the connection's codec takes it."""
    return orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL text and the names of its ``$1..$n`` parameters, in order."""

    sql: str
    names: tuple[str, ...]
    constants: Mapping[str, Any]

    @classmethod
    def compiled(cls, statement: ClauseElement) -> Statement:
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)  # noqa: S101 - what compile() gives for SQL
        names = tuple(compiled.positiontup or ())
        constants = {name: value for name, value in compiled.params.items() if value is not None}
        return cls(str(compiled), names, constants)

    @classmethod
    def raw(cls, sql: str, names: Sequence[str]) -> Statement:
        """A statement written in SQL, with ``$1..$n`` named by ``names`` in order: for what
        SQLAlchemy Core cannot say as plainly (``unnest`` of arrays, data-modifying CTEs)."""
        return cls(" ".join(sql.split()), tuple(names), {})

    def _arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] if name in values else self.constants[name] for name in self.names]

    async def execute(self, driver: DriverConnection, values: Mapping[str, Any]) -> str:
        """Run it; PostgreSQL's status line (``UPDATE 1``)."""
        with self._errors(driver):
            return await driver.execute(self.sql, *self._arguments(values))

    async def fetch(self, driver: DriverConnection, values: Mapping[str, Any]) -> list[Record]:
        with self._errors(driver):
            return await driver.fetch(self.sql, *self._arguments(values))

    async def fetch_one(self, driver: DriverConnection, values: Mapping[str, Any]) -> Record | None:
        with self._errors(driver):
            return await driver.fetchrow(self.sql, *self._arguments(values))

    async def fetch_value(self, driver: DriverConnection, values: Mapping[str, Any]) -> Any:
        with self._errors(driver):
            return await driver.fetchval(self.sql, *self._arguments(values))

    async def execute_many(
        self, driver: DriverConnection, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Run it once per row, pipelined in one round trip."""
        with self._errors(driver):
            await driver.executemany(self.sql, [self._arguments(row) for row in rows])

    @contextmanager
    def _errors(self, driver: DriverConnection) -> Iterator[None]:
        with translated(driver, self.sql):
            yield


@contextmanager
def translated(driver: DriverConnection, what: str) -> Iterator[None]:
    """Driver errors raised as SQLAlchemy raises them for every other statement, so that
    callers meet one family of exceptions: ``IntegrityError`` for a violated constraint,
    a ``DBAPIError`` marked ``connection_invalidated`` for a lost connection (see
    :mod:`orderly_db.errors` and :mod:`orderly_db.faults`). Every call the unit of work makes
    on the driver goes through it: its statements, and the ``BEGIN``, ``COMMIT`` and
    ``ROLLBACK`` of its transaction (``what`` names the call). Like the engine's, they never
    carry the statement's parameters."""
    try:
        yield
    except (PostgresError, InterfaceError, InternalClientError, OSError) as error:
        lost = isinstance(error, PostgresConnectionError | OSError) or driver.is_closed()
        kind = next(
            (wrapper for driver_error, wrapper in _WRAPPERS if isinstance(error, driver_error)),
            OperationalError if lost else DBAPIError,
        )
        raise kind(what, None, error, hide_parameters=True, connection_invalidated=lost) from error


_WRAPPERS: tuple[tuple[type[Exception], type[DBAPIError]], ...] = (
    (IntegrityConstraintViolationError, IntegrityError),
    (DataError, SqlDataError),
)


def updated_rows(status: str) -> int:
    """The row count of an ``INSERT``/``UPDATE``/``DELETE`` status line."""
    return int(status.rpartition(" ")[2] or 0)

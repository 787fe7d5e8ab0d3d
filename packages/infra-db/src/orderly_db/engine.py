"""The process's one SQLAlchemy engine, configured for production."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from sqlalchemy import event, make_url
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine.interfaces import AdaptedConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from orderly_db.settings import InfraSettings

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


def create_engine(settings: InfraSettings, *, application_name: str = "orderly") -> AsyncEngine:
    """An asyncpg engine with a sized pool, liveness checks and a statement timeout.

    Its errors never quote a statement's parameters (``hide_parameters``): a failing write of
    an account would otherwise carry the password hash into the logged traceback.

    Its connections are in autocommit mode: SQLAlchemy never begins a transaction on them.
    Every use case's transaction is begun and ended on the asyncpg connection by its unit of
    work (:class:`orderly_db.unit_of_work.SqlUnitOfWork`); switching the level on every
    checkout instead would cost two calls into the driver per unit of work. Anything else
    that needs a transaction (migrations, tests) takes its connection from
    :func:`transaction`: ``engine.begin()`` would run each statement on its own.

    The liveness check costs no round trip: asyncpg reads every pooled connection's socket
    while it waits in the pool, so a connection the server closed (a restart, a terminated
    backend, an idle timeout) is already marked closed when it is checked out, and the pool
    replaces it with a new one (:func:`_replace_closed`). SQLAlchemy's ``pool_pre_ping``
    would instead send three statements on every checkout (``BEGIN``, an empty query,
    ``ROLLBACK``), a third of the round trips of a catalogue read. A connection that breaks
    while in use fails its statement as a transient fault and is discarded (see
    :class:`orderly_db.unit_of_work.SqlUnitOfWork`).

    JSON and JSONB values are read by orjson (:func:`_json_loads`), several times faster than
    the standard library: an order's address, a page's worth of them.
    """
    server_settings = {
        "statement_timeout": str(settings.db_statement_timeout_ms),
        "application_name": application_name,
    }
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        pool_recycle=1800,
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,
        json_deserializer=_json_loads,
        async_creator=_connector(settings.database_url, server_settings),
    )
    event.listen(engine.sync_engine, "checkout", _replace_closed)
    return engine


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a ``READ COMMITTED`` transaction, committed when the block ends
    normally and rolled back otherwise: for work outside a unit of work."""
    async with engine.connect() as connection:
        _ = await connection.execution_options(isolation_level="READ COMMITTED")
        async with connection.begin():
            yield connection


def _connector(
    database_url: str, server_settings: dict[str, str]
) -> Callable[[], Awaitable[asyncpg.Connection]]:
    """The pool's way to open a connection: ``asyncpg.connect`` with the URL's parameters (as
    SQLAlchemy reads them) and ``server_settings``, started only when awaited.

    A unit of work takes a connection waiting in the pool without a greenlet
    (:func:`orderly_db.unit_of_work.checked_out`); should the pool have to open one after all
    (a connection recycled or replaced), SQLAlchemy refuses before awaiting and drops the
    awaitable. A coroutine dropped unawaited would warn ("coroutine 'connect' was never
    awaited"); this awaitable creates none until it is awaited.
    """
    arguments, parameters = _DIALECT.create_connect_args(make_url(database_url))  # type: ignore[no-untyped-call]
    parameters["server_settings"] = server_settings

    def connect() -> Awaitable[asyncpg.Connection]:
        return _Deferred(lambda: asyncpg.connect(*arguments, **parameters))

    return connect


class _Deferred[T]:
    """An awaitable that calls ``start`` for the coroutine to await only when awaited."""

    __slots__ = ("_start",)

    def __init__(self, start: Callable[[], Coroutine[Any, Any, T]]) -> None:
        self._start = start

    def __await__(self) -> Generator[Any, None, T]:
        return self._start().__await__()


def _json_loads(text: str | bytes) -> Any:
    """A stored JSON value; what orjson does not read (an integer beyond 64 bits) is read by
    the standard library, as before."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _replace_closed(dbapi_connection: AdaptedConnection, _record: Any, _proxy: Any) -> None:
    """A pool ``checkout`` hook: a connection already closed is discarded and replaced (the
    pool retries the checkout when a hook raises ``DisconnectionError``)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")

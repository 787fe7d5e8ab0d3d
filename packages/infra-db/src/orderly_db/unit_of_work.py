"""One PostgreSQL transaction per use case."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import timedelta
from types import TracebackType
from typing import Self

from asyncpg.transaction import Transaction
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool

from orderly_core.accounts.ports import PasswordHasher
from orderly_core.accounts.sessions import claims_actor
from orderly_core.platform.ports import RandomIds, SystemClock
from orderly_core.shared.context import Actor, Claims
from orderly_core.unit_of_work import Dependencies
from orderly_db.accounts import SqlRefreshTokens, SqlUsers
from orderly_db.catalogue import SqlProducts
from orderly_db.customers import SqlCustomers
from orderly_db.idempotency import SqlIdempotencyRecords
from orderly_db.jobs import SqlJobRecords
from orderly_db.mail import SqlAccountTokens, SqlMail
from orderly_db.orders import SqlOrders
from orderly_db.outbox import SqlOutbox
from orderly_db.passwords import Argon2Passwords
from orderly_db.payments import SqlPayments, SqlProviderEvents, SqlRefunds
from orderly_db.records import SqlAuditLog, SqlStockLedger
from orderly_db.returns import SqlReturns
from orderly_db.sales import SqlSales
from orderly_db.settings import InfraSettings
from orderly_db.shipments import SqlShipments
from orderly_db.shipping import SqlShippingRates
from orderly_db.statements import DriverConnection, translated
from orderly_db.webhooks import SqlDeliveries, SqlEndpoints
from orderly_telemetry import metrics

_Repositories = tuple[
    SqlProducts,
    SqlUsers,
    SqlRefreshTokens,
    SqlStockLedger,
    SqlAuditLog,
    SqlOrders,
    SqlIdempotencyRecords,
    SqlOutbox,
    SqlEndpoints,
    SqlDeliveries,
    SqlJobRecords,
    SqlSales,
    SqlPayments,
    SqlRefunds,
    SqlProviderEvents,
]


class SqlUnitOfWork:
    """Checks a connection out of the pool and begins a transaction on entry.

    The transaction is the asyncpg connection's own: repositories run their hot statements
    on that driver connection (see :mod:`orderly_db.statements`) and the rest through
    SQLAlchemy, whose connections are in autocommit mode (see
    :func:`orderly_db.engine.create_engine`) so that it never begins or ends a transaction of
    its own; both run inside this one. ``commit`` or ``rollback`` ends the
    unit of work. Leaving the block rolls back anything not committed, on success, on failure
    and on exceptions alike, then returns the connection to the pool (or discards it when
    beginning or ending the transaction failed: the connection is then broken). Every call on
    the driver, ``BEGIN``, ``COMMIT`` and ``ROLLBACK`` included, raises its errors as
    SQLAlchemy's (:func:`orderly_db.statements.translated`), so a connection lost at any point
    is one transient fault (:mod:`orderly_db.faults`). Repositories never commit.
    """

    def __init__(self, engine: AsyncEngine, turns: Turns | None = None) -> None:
        self._engine = engine
        self._turns = turns
        self._connection: AsyncConnection | None = None
        self._transaction: Transaction | None = None
        self._driver: DriverConnection | None = None
        self._broken = False
        self._repositories: _Repositories | None = None

    @property
    def products(self) -> SqlProducts:
        return self._open()[0]

    @property
    def users(self) -> SqlUsers:
        return self._open()[1]

    @property
    def refresh_tokens(self) -> SqlRefreshTokens:
        return self._open()[2]

    @property
    def orders(self) -> SqlOrders:
        return self._open()[5]

    @property
    def stock_ledger(self) -> SqlStockLedger:
        return self._open()[3]

    @property
    def audit(self) -> SqlAuditLog:
        return self._open()[4]

    @property
    def idempotency(self) -> SqlIdempotencyRecords:
        return self._open()[6]

    @property
    def outbox(self) -> SqlOutbox:
        return self._open()[7]

    @property
    def endpoints(self) -> SqlEndpoints:
        return self._open()[8]

    @property
    def deliveries(self) -> SqlDeliveries:
        return self._open()[9]

    @property
    def jobs(self) -> SqlJobRecords:
        return self._open()[10]

    @property
    def sales(self) -> SqlSales:
        return self._open()[11]

    @property
    def shipping_rates(self) -> SqlShippingRates:
        self._open()
        assert self._connection is not None  # noqa: S101 - open while its repositories are
        assert self._driver is not None  # noqa: S101 - open while its repositories are
        return SqlShippingRates(self._connection, self._driver)

    @property
    def payments(self) -> SqlPayments:
        return self._open()[12]

    @property
    def refunds(self) -> SqlRefunds:
        return self._open()[13]

    @property
    def provider_events(self) -> SqlProviderEvents:
        return self._open()[14]

    @property
    def returns(self) -> SqlReturns:
        self._open()
        assert self._connection is not None  # noqa: S101 - open while its repositories are
        return SqlReturns(self._connection)

    @property
    def shipments(self) -> SqlShipments:
        self._open()
        assert self._connection is not None  # noqa: S101 - open while its repositories are
        return SqlShipments(self._connection)

    @property
    def mail(self) -> SqlMail:
        self._open()
        assert self._connection is not None  # noqa: S101 - open while its repositories are
        assert self._driver is not None  # noqa: S101 - open while its repositories are
        return SqlMail(self._connection, self._driver)

    @property
    def account_tokens(self) -> SqlAccountTokens:
        self._open()
        assert self._connection is not None  # noqa: S101 - open while its repositories are
        return SqlAccountTokens(self._connection)

    @property
    def customers(self) -> SqlCustomers:
        self._open()
        assert self._connection is not None  # noqa: S101 - open while its repositories are
        return SqlCustomers(self._connection, self.users.emails)

    def _open(self) -> _Repositories:
        if self._repositories is None:
            raise RuntimeError("the unit of work is used outside its 'async with' block")
        if self._transaction is None:
            raise RuntimeError("the unit of work is used after its commit or rollback")
        return self._repositories

    async def __aenter__(self) -> Self:
        if self._turns is not None:
            await self._turns.take()
        try:
            connection = await checked_out(self._engine)
        except BaseException:
            self._release_turn()
            raise
        try:
            pooled = connection.sync_connection.connection  # type: ignore[union-attr]
            driver: DriverConnection = pooled.driver_connection  # type: ignore[assignment]
            transaction = driver.transaction()
            with translated(driver, "BEGIN"):
                await transaction.start()
        except BaseException:
            try:
                with contextlib.suppress(Exception):
                    await connection.invalidate()  # broken, or in a transaction left open
                await connection.close()
            finally:
                self._release_turn()
            raise
        self._connection, self._transaction, self._driver = connection, transaction, driver
        self._repositories = (
            SqlProducts(connection, driver),
            SqlUsers(connection, driver),
            SqlRefreshTokens(connection),
            SqlStockLedger(connection, driver),
            SqlAuditLog(connection, driver),
            SqlOrders(connection, driver),
            SqlIdempotencyRecords(connection, driver),
            SqlOutbox(connection, driver),
            SqlEndpoints(connection, driver),
            SqlDeliveries(connection, driver),
            SqlJobRecords(connection, driver),
            SqlSales(connection),
            SqlPayments(connection),
            SqlRefunds(connection),
            SqlProviderEvents(connection),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection, self._repositories = self._connection, None, None
        if connection is None:
            return
        try:
            await self._end(commit=False)
        except BaseException:
            if exc is None:
                raise
        finally:
            if self._broken:  # the connection is in an unknown state: discard it
                with contextlib.suppress(Exception):
                    await connection.invalidate()
            try:
                await checked_in(connection, broken=self._broken)
            finally:
                self._release_turn()

    def _release_turn(self) -> None:
        if self._turns is not None:
            self._turns.give_back()

    async def claims_actor(self, claims: Claims) -> Actor | None:
        return await claims_actor(self.users, claims)

    async def commit(self) -> None:
        outbox = None
        if self._repositories is not None and self._transaction is not None:
            outbox = self._repositories[7]
        await self._end(commit=True)
        if outbox is not None and outbox.added:  # counted once, by the commit that ends it
            metrics.events_committed(outbox.added)

    async def rollback(self) -> None:
        await self._end(commit=False)

    async def _end(self, *, commit: bool) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is None or self._driver is None:
            return
        try:
            with translated(self._driver, "COMMIT" if commit else "ROLLBACK"):
                if commit:
                    await transaction.commit()
                else:
                    await transaction.rollback()
        except BaseException:
            self._broken = True
            raise


async def checked_out(engine: AsyncEngine) -> AsyncConnection:
    """A connection from the engine's pool, taken at once when the pool has one ready.

    ``AsyncConnection.start()`` runs the pool's checkout in a new greenlet, which copies the
    request's whole stack to the heap and back: two allocations of over 128 KiB per unit of
    work, each mapped and unmapped by the kernel, about 60 us of a catalogue read's CPU. A
    connection waiting in the pool needs no I/O to be taken, so it is taken directly. When
    the pool must connect, reconnect or wait (a first checkout, a connection recycled or
    replaced, the pool exhausted), SQLAlchemy refuses I/O outside a greenlet
    (``MissingGreenlet``) before doing any, returning what it held to the pool, and the
    checkout runs in a greenlet as usual.
    """
    try:
        return AsyncConnection(engine, engine.sync_engine.connect())
    except MissingGreenlet:
        return await AsyncConnection(engine).start()


async def checked_in(connection: AsyncConnection, *, broken: bool) -> None:
    """Return ``connection`` to its pool, without a greenlet when that needs no I/O: the
    connection is sound (the reset on return is then a no-op: its transaction was the
    driver's, already ended) and the pool has room to keep it. Otherwise (a broken
    connection, an overflow connection the pool closes) as usual."""
    pool = connection.sync_engine.pool
    if broken or not isinstance(pool, QueuePool) or pool.checkedin() >= pool.size():
        await connection.close()
    else:
        connection.sync_connection.close()  # type: ignore[union-attr]


class Turns:
    """Connections handed out in the order they were asked for.

    SQLAlchemy's pool lets a unit of work that asks just as a connection comes back take it
    ahead of those already waiting; under load some requests then waited for seconds while
    others went through. ``asyncio.Semaphore`` is first come, first served, so with as many
    turns as the pool has connections nobody waits in the pool, only here, in line. Waiting
    longer than the pool's timeout fails as the pool would (``sqlalchemy.exc.TimeoutError``,
    a transient fault). The turns taken and those waited for are the pool's metrics
    (``orderly_db_pool_connections_in_use`` and ``orderly_db_pool_waiting``).
    """

    def __init__(self, connections: int, wait_s: float) -> None:
        self._free = asyncio.Semaphore(connections)
        self._wait_s = wait_s

    async def take(self) -> None:
        if self._free.locked():
            metrics.DB_POOL_WAITING.inc()
            try:
                async with asyncio.timeout(self._wait_s):
                    await self._free.acquire()
            except TimeoutError:
                raise PoolTimeout(
                    f"no database connection free within {self._wait_s:g} s"
                ) from None
            finally:
                metrics.DB_POOL_WAITING.dec()
        else:
            await self._free.acquire()  # a turn is free: taken at once, no waiting counted
        metrics.DB_POOL_IN_USE.inc()

    def give_back(self) -> None:
        metrics.DB_POOL_IN_USE.dec()
        self._free.release()


def sql_dependencies(
    engine: AsyncEngine,
    *,
    passwords: PasswordHasher | None = None,
    connections: int | None = None,
) -> Dependencies:
    """The core's dependencies backed by PostgreSQL, the system clock, random ids and
    Argon2id (default parameters unless ``passwords`` is given). Units of work take their
    connections in turn (:class:`Turns`): at most ``connections`` at once, by default the
    size of the engine's pool."""
    pool = engine.pool
    if connections is None and isinstance(pool, QueuePool):
        connections = pool.size()
    wait_s = pool.timeout() if isinstance(pool, QueuePool) else 30.0
    turns = Turns(connections, wait_s) if connections else None
    return Dependencies(
        unit_of_work=lambda: SqlUnitOfWork(engine, turns),
        clock=SystemClock(),
        ids=RandomIds(),
        passwords=passwords or Argon2Passwords(),
    )


def dependencies_from_settings(engine: AsyncEngine, settings: InfraSettings) -> Dependencies:
    """The PostgreSQL-backed dependencies with every tunable taken from settings."""
    return replace(
        sql_dependencies(
            engine,
            passwords=Argon2Passwords.from_settings(settings),
            connections=settings.db_pool_size + settings.db_max_overflow,
        ),
        refresh_token_ttl=timedelta(days=settings.refresh_token_ttl_days),
        order_ttl=timedelta(minutes=settings.order_ttl_minutes),
        max_open_unpaid_orders=settings.max_open_unpaid_orders,
        idempotency_ttl=timedelta(hours=settings.idempotency_key_ttl_hours),
        job_record_ttl=timedelta(days=settings.job_record_retention_days),
        webhooks=settings.webhook_policy(),
        mail=settings.mail_policy(),
        return_window=timedelta(days=settings.return_window_days),
    )

"""The ports every use case may need: a unit of work, a clock and an id source.

Each is a ``typing.Protocol``; PostgreSQL and in-memory implementations live outside the
use cases (``orderly_db`` and ``orderly_core.testing``), and an adapter's composition root
chooses which to pass in :class:`Dependencies`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from orderly_core.accounts.ports import PasswordHasher, RefreshTokenStore, UserRepository
from orderly_core.audit import AuditLog
from orderly_core.catalogue.ledger import StockLedger
from orderly_core.catalogue.ports import ProductRepository
from orderly_core.events import Outbox
from orderly_core.idempotency import IdempotencyRecords
from orderly_core.job_records import JobRecords
from orderly_core.orders.ports import OrderRepository
from orderly_core.sales.model import SalesRepository
from orderly_core.webhooks.policy import WebhookPolicy
from orderly_core.webhooks.ports import DeliveryRepository, EndpointRepository


class UnitOfWork(Protocol):
    """One database transaction, opened on entry.

    Leaving the block without :meth:`commit` rolls back, whether by return or by exception.
    Repositories hang off the unit of work and never commit on their own.
    """

    @property
    def products(self) -> ProductRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenStore: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def stock_ledger(self) -> StockLedger: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def idempotency(self) -> IdempotencyRecords: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def endpoints(self) -> EndpointRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def jobs(self) -> JobRecords: ...

    @property
    def sales(self) -> SalesRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> uuid.UUID: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    def new_id(self) -> uuid.UUID:
        return uuid.uuid4()


@dataclass(frozen=True, slots=True)
class Dependencies:
    """Everything a use case may reach outside itself, assembled once per process."""

    unit_of_work: Callable[[], UnitOfWork]
    clock: Clock
    ids: IdGenerator
    passwords: PasswordHasher
    refresh_token_ttl: timedelta = timedelta(days=30)
    order_ttl: timedelta = timedelta(minutes=30)  # how long an unpaid order holds its stock
    idempotency_ttl: timedelta = timedelta(hours=24)  # how long a key's outcome is kept
    job_record_ttl: timedelta = timedelta(days=30)  # how long a succeeded job's record is kept
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)

"""The in-memory unit of work: every context's fake repositories over one committed store,
and :func:`in_memory_dependencies`, the fakes' :class:`~orderly_core.unit_of_work.Dependencies`.

A unit of work works on a copy of the store's tables and publishes the copy on commit, so a
rollback, a failure or a dry run leaves the store as it was."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Self

from orderly_core.accounts.model import RefreshToken, User
from orderly_core.catalogue.ledger import StockMovement
from orderly_core.catalogue.model import Product
from orderly_core.jobs.model import JobRecord
from orderly_core.orders.model import Order
from orderly_core.payments.model import Payment, Refund
from orderly_core.platform.audit import AuditEntry
from orderly_core.platform.idempotency import KeyScope, StoredOutcome
from orderly_core.platform.outbox import Event
from orderly_core.returns.model import Return
from orderly_core.sales.model import SalesSummary
from orderly_core.shipments.model import Shipment
from orderly_core.shipping.model import ShippingRate
from orderly_core.testing.accounts import FakePasswords, InMemoryRefreshTokens, InMemoryUsers
from orderly_core.testing.catalogue import InMemoryLedger, InMemoryProducts
from orderly_core.testing.customers import InMemoryCustomers
from orderly_core.testing.jobs import InMemoryJobRecords
from orderly_core.testing.orders import InMemoryOrders
from orderly_core.testing.payments import (
    InMemoryPayments,
    InMemoryProviderEvents,
    InMemoryRefunds,
)
from orderly_core.testing.platform import (
    FixedClock,
    InMemoryAudit,
    InMemoryIdempotency,
    InMemoryOutbox,
    SequentialIds,
)
from orderly_core.testing.returns import InMemoryReturns
from orderly_core.testing.sales import InMemorySales
from orderly_core.testing.shipments import InMemoryShipments
from orderly_core.testing.shipping import InMemoryShippingRates
from orderly_core.testing.webhooks import InMemoryDeliveries, InMemoryEndpoints
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.model import Attempt, Delivery, Endpoint


@dataclass
class InMemoryStore:
    """The committed state that every fake unit of work starts from."""

    products: dict[str, Product] = field(default_factory=dict)
    users: dict[uuid.UUID, User] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    movements: list[StockMovement] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    orders: dict[uuid.UUID, Order] = field(default_factory=dict)
    idempotency: dict[KeyScope, StoredOutcome] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    dispatched: set[uuid.UUID] = field(default_factory=set)
    done: set[uuid.UUID] = field(default_factory=set)
    endpoints: dict[uuid.UUID, Endpoint] = field(default_factory=dict)
    deliveries: dict[uuid.UUID, Delivery] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    sales: dict[date, SalesSummary] = field(default_factory=dict)
    shipping_rates: dict[str, ShippingRate] = field(default_factory=dict)
    payments: dict[uuid.UUID, Payment] = field(default_factory=dict)
    refunds: dict[uuid.UUID, Refund] = field(default_factory=dict)
    provider_events: dict[tuple[str, str], tuple[str, str, datetime]] = field(default_factory=dict)
    returns: dict[uuid.UUID, Return] = field(default_factory=dict)
    shipments: dict[uuid.UUID, Shipment] = field(default_factory=dict)
    commits: int = 0
    held_keys: set[KeyScope] = field(default_factory=set)  # claimed by an open unit of work

    def copy_tables(self) -> InMemoryStore:
        return InMemoryStore(
            dict(self.products),
            dict(self.users),
            dict(self.refresh_tokens),
            list(self.movements),
            list(self.audit),
            dict(self.orders),
            dict(self.idempotency),
            list(self.events),
            set(self.dispatched),
            set(self.done),
            dict(self.endpoints),
            dict(self.deliveries),
            list(self.attempts),
            dict(self.jobs),
            dict(self.sales),
            shipping_rates=dict(self.shipping_rates),
            payments=dict(self.payments),
            refunds=dict(self.refunds),
            provider_events=dict(self.provider_events),
            returns=dict(self.returns),
            shipments=dict(self.shipments),
        )


class InMemoryUnitOfWork:
    """Works on a copy of the store; :meth:`commit` publishes the copy, anything else drops it."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._held: set[KeyScope] = set()
        self._begin()

    def _begin(self) -> None:
        self._release_keys()
        self._working = self._store.copy_tables()
        self.products = InMemoryProducts(self._working.products)
        self.users = InMemoryUsers(self._working.users)
        self.customers = InMemoryCustomers(self.users)
        self.refresh_tokens = InMemoryRefreshTokens(self._working.refresh_tokens)
        self.stock_ledger = InMemoryLedger(self._working.movements)
        self.audit = InMemoryAudit(self._working.audit)
        self.orders = InMemoryOrders(self._working.orders)
        self.outbox = InMemoryOutbox(
            self._working.events, self._working.dispatched, self._working.done
        )
        self.endpoints = InMemoryEndpoints(self._working.endpoints)
        self.deliveries = InMemoryDeliveries(
            self._working.deliveries, self._working.attempts, self.outbox
        )
        self.jobs = InMemoryJobRecords(self._working.jobs)
        self.sales = InMemorySales(self._working.orders, self._working.sales)
        self.shipping_rates = InMemoryShippingRates(self._working.shipping_rates)
        self.payments = InMemoryPayments(self._working.payments, self._working.orders)
        self.refunds = InMemoryRefunds(self._working.refunds)
        self.provider_events = InMemoryProviderEvents(self._working.provider_events)
        self.returns = InMemoryReturns(self._working.returns)
        self.shipments = InMemoryShipments(self._working.shipments)
        self.idempotency = InMemoryIdempotency(
            self._working.idempotency, self._held, self._store.held_keys
        )

    def _release_keys(self) -> None:
        self._store.held_keys.difference_update(self._held)
        self._held.clear()

    async def __aenter__(self) -> Self:
        self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()

    async def commit(self) -> None:
        self._store.products = dict(self._working.products)
        self._store.users = dict(self._working.users)
        self._store.refresh_tokens = dict(self._working.refresh_tokens)
        self._store.movements = list(self._working.movements)
        self._store.audit = list(self._working.audit)
        self._store.orders = dict(self._working.orders)
        self._store.idempotency = dict(self._working.idempotency)
        self._store.events = list(self._working.events)
        self._store.dispatched = set(self._working.dispatched)
        self._store.done = set(self._working.done)
        self._store.endpoints = dict(self._working.endpoints)
        self._store.deliveries = dict(self._working.deliveries)
        self._store.attempts = list(self._working.attempts)
        self._store.jobs = dict(self._working.jobs)
        self._store.sales = dict(self._working.sales)
        self._store.shipping_rates = dict(self._working.shipping_rates)
        self._store.payments = dict(self._working.payments)
        self._store.refunds = dict(self._working.refunds)
        self._store.provider_events = dict(self._working.provider_events)
        self._store.returns = dict(self._working.returns)
        self._store.shipments = dict(self._working.shipments)
        self._store.commits += 1
        self._release_keys()

    async def rollback(self) -> None:
        self._begin()


def in_memory_dependencies(
    store: InMemoryStore | None = None,
    clock: FixedClock | None = None,
    passwords: FakePasswords | None = None,
) -> Dependencies:
    shared = store if store is not None else InMemoryStore()
    return Dependencies(
        unit_of_work=lambda: InMemoryUnitOfWork(shared),
        clock=clock or FixedClock(),
        ids=SequentialIds(),
        passwords=passwords or FakePasswords(),
    )

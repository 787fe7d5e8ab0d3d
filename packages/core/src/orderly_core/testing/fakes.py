"""Fakes that behave like the PostgreSQL implementations, as far as use cases can tell."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Self

from returns.result import Failure, Result, Success

from orderly_core.accounts.errors import EmailTaken
from orderly_core.accounts.model import RefreshToken, User
from orderly_core.catalogue.errors import DuplicateSku
from orderly_core.catalogue.ledger import StockMovement
from orderly_core.catalogue.model import Product
from orderly_core.jobs.model import JobRecord, JobStatus, JobSummary
from orderly_core.orders.model import Order, OrderQuery, OrderStatus
from orderly_core.platform.audit import AuditEntry, AuditQuery
from orderly_core.platform.idempotency import KeyScope, StoredOutcome
from orderly_core.platform.outbox import Event, EventType
from orderly_core.sales.model import DayTally, Revenue, SalesSummary, SkuSales
from orderly_core.shared.authorization import holds_admin_rights
from orderly_core.shared.context import Role
from orderly_core.testing.customers import InMemoryCustomers
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.model import Attempt, Delivery, DeliveryState, Endpoint
from orderly_core.webhooks.ports import SendOutcome


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
        )


class InMemoryProducts:
    def __init__(self, rows: dict[str, Product]) -> None:
        self._rows = rows

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:  # noqa: ARG002
        return self._rows.get(sku)

    async def get_many(
        self,
        skus: Sequence[str],
        *,
        for_update: bool = False,  # noqa: ARG002
    ) -> dict[str, Product]:
        return {sku: self._rows[sku] for sku in sorted(set(skus)) if sku in self._rows}

    async def add(self, product: Product) -> Result[None, DuplicateSku]:
        if product.sku in self._rows:
            return Failure(DuplicateSku(product.sku))
        self._rows[product.sku] = product
        return Success(None)

    async def save(self, product: Product) -> None:
        if product.sku not in self._rows:
            raise LookupError(f"save() of a product never added: {product.sku}")
        self._rows[product.sku] = product

    async def list(
        self, *, after: str | None, limit: int, active: bool | None, search: str | None
    ) -> list[Product]:
        needle = (search or "").lower()
        found = [
            p
            for sku, p in sorted(self._rows.items())
            if (after is None or sku > after)
            and (active is None or p.active is active)
            and (needle in p.name.lower() or needle in sku.lower())
        ]
        return found[:limit]


class InMemoryUsers:
    def __init__(self, rows: dict[uuid.UUID, User]) -> None:
        self._rows = rows

    async def get(self, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:  # noqa: ARG002
        return self._rows.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        return next((u for u in self._rows.values() if u.email == email), None)

    async def add(self, user: User) -> Result[None, EmailTaken]:
        if await self.get_by_email(user.email):
            return Failure(EmailTaken(user.email))
        self._rows[user.id] = user
        return Success(None)

    async def save(self, user: User) -> Result[None, EmailTaken]:
        if user.id not in self._rows:
            raise LookupError(f"save() of a user never added: {user.id}")
        clash = await self.get_by_email(user.email)
        if clash is not None and clash.id != user.id:
            return Failure(EmailTaken(user.email))
        self._rows[user.id] = user
        return Success(None)

    async def list(
        self,
        *,
        after: str | None,
        limit: int,
        role: Role | None,
        active: bool | None,
        email_prefix: str | None,
    ) -> list[User]:
        found = [
            u
            for u in sorted(self._rows.values(), key=lambda u: u.email)
            if (after is None or u.email > after)
            and (role is None or u.role is role)
            and (active is None or u.active is active)
            and u.email.startswith(email_prefix or "")
        ]
        return found[:limit]

    async def lock_active_admins(self) -> tuple[uuid.UUID, ...]:
        return tuple(u.id for u in self._rows.values() if holds_admin_rights(u.role, u.active))


class InMemoryRefreshTokens:
    def __init__(self, rows: dict[str, RefreshToken]) -> None:
        self._rows = rows

    async def add(self, token: RefreshToken) -> None:
        self._rows[token.token_hash] = token

    async def get(self, token_hash: str, *, for_update: bool = False) -> RefreshToken | None:  # noqa: ARG002
        return self._rows.get(token_hash)

    async def mark_rotated(self, token_hash: str, at: datetime) -> None:
        self._rows[token_hash] = replace(self._rows[token_hash], rotated_at=at)

    async def revoke_family(self, family_id: uuid.UUID, at: datetime) -> None:
        self._revoke(lambda t: t.family_id == family_id, at)

    async def revoke_user(self, user_id: uuid.UUID, at: datetime) -> None:
        self._revoke(lambda t: t.user_id == user_id, at)

    def _revoke(self, which: Callable[[RefreshToken], bool], at: datetime) -> None:
        for key, token in list(self._rows.items()):
            if which(token) and token.revoked_at is None:
                self._rows[key] = replace(token, revoked_at=at)


class InMemoryLedger:
    def __init__(self, rows: list[StockMovement]) -> None:
        self._rows = rows

    async def append(self, movement: StockMovement) -> None:
        self._rows.append(movement)

    async def history(
        self, sku: str, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[StockMovement]:
        newest_first = sorted(
            (m for m in self._rows if m.sku == sku), key=lambda m: (m.at, m.id), reverse=True
        )
        return [m for m in newest_first if after is None or (m.at, m.id) < after][:limit]

    async def totals(self) -> dict[str, tuple[int, int]]:
        sums: dict[str, tuple[int, int]] = {}
        for m in self._rows:
            on_hand, reserved = sums.get(m.sku, (0, 0))
            sums[m.sku] = (on_hand + m.on_hand_delta, reserved + m.reserved_delta)
        return sums


class InMemoryAudit:
    def __init__(self, rows: list[AuditEntry]) -> None:
        self._rows = rows

    async def append(self, entry: AuditEntry) -> None:
        self._rows.append(entry)

    async def list(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: AuditQuery
    ) -> list[AuditEntry]:
        newest_first = sorted(self._rows, key=lambda e: (e.at, e.id), reverse=True)
        return [
            e
            for e in newest_first
            if (after is None or (e.at, e.id) < after)
            and query.target_type in (None, e.target_type)
            and query.target_id in (None, e.target_id)
            and query.actor_id in (None, e.actor_id)
            and query.operation in (None, e.operation)
            and (query.since is None or e.at >= query.since)
            and (query.until is None or e.at < query.until)
        ][:limit]


class InMemoryOrders:
    def __init__(self, rows: dict[uuid.UUID, Order]) -> None:
        self._rows = rows

    async def add(self, order: Order) -> None:
        self._rows[order.id] = order

    async def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:  # noqa: ARG002
        return self._rows.get(order_id)

    async def save(self, order: Order) -> None:
        self._rows[order.id] = order

    async def list(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: OrderQuery
    ) -> list[Order]:
        newest_first = sorted(self._rows.values(), key=lambda o: (o.placed_at, o.id), reverse=True)
        return [
            o
            for o in newest_first
            if (after is None or (o.placed_at, o.id) < after)
            and query.status in (None, o.status)
            and query.customer_id in (None, o.customer_id)
            and (query.since is None or o.placed_at >= query.since)
            and (query.until is None or o.placed_at < query.until)
        ][:limit]

    async def due_for_expiry(self, now: datetime, limit: int) -> tuple[uuid.UUID, ...]:
        due = sorted(
            (
                o
                for o in self._rows.values()
                if o.status is OrderStatus.PLACED and o.expires_at <= now
            ),
            key=lambda o: o.expires_at,
        )
        return tuple(o.id for o in due[:limit])


class InMemoryOutbox:
    """Events in the order they were added; ``dispatched`` holds the ids handed on, ``done``
    those whose every delivery has ended."""

    def __init__(self, rows: list[Event], dispatched: set[uuid.UUID], done: set[uuid.UUID]) -> None:
        self._rows = rows
        self._dispatched = dispatched
        self._done = done

    async def add(self, event: Event) -> None:
        self._rows.append(event)

    async def claim(self, limit: int) -> list[Event]:
        return [event for event in self._rows if event.id not in self._dispatched][:limit]

    async def mark_dispatched(self, event_ids: Sequence[uuid.UUID], at: datetime) -> None:  # noqa: ARG002
        self._dispatched.update(event_ids)

    async def mark_done(self, event_ids: Sequence[uuid.UUID], at: datetime) -> None:  # noqa: ARG002
        self._dispatched.update(event_ids)
        self._done.update(event_ids)

    async def get(self, event_id: uuid.UUID) -> Event | None:
        return next((event for event in self._rows if event.id == event_id), None)

    async def between(
        self, types: Sequence[EventType], since: datetime, until: datetime, limit: int
    ) -> list[Event]:
        found = [e for e in self._rows if e.type in types and since <= e.created_at < until]
        return found[:limit]


class InMemoryEndpoints:
    def __init__(self, rows: dict[uuid.UUID, Endpoint]) -> None:
        self._rows = rows

    async def add(self, endpoint: Endpoint) -> None:
        self._rows[endpoint.id] = endpoint

    async def get(self, endpoint_id: uuid.UUID, *, for_update: bool = False) -> Endpoint | None:  # noqa: ARG002
        return self._rows.get(endpoint_id)

    async def save(self, endpoint: Endpoint) -> None:
        self._rows[endpoint.id] = endpoint

    async def remove(self, endpoint_id: uuid.UUID) -> None:
        self._rows.pop(endpoint_id, None)

    async def all(self) -> list[Endpoint]:
        return sorted(self._rows.values(), key=lambda e: (e.created_at, e.id))


class InMemoryDeliveries:
    def __init__(self, rows: dict[uuid.UUID, Delivery], attempts: list[Attempt]) -> None:
        self._rows = rows
        self._attempts = attempts

    async def add(self, delivery: Delivery) -> bool:
        if delivery.id in self._rows:
            return False
        self._rows[delivery.id] = delivery
        return True

    async def get(self, delivery_id: uuid.UUID, *, for_update: bool = False) -> Delivery | None:  # noqa: ARG002
        return self._rows.get(delivery_id)

    async def save(self, delivery: Delivery) -> None:
        self._rows[delivery.id] = delivery

    async def add_attempt(self, attempt: Attempt) -> None:
        self._attempts.append(attempt)

    async def attempts(self, delivery_id: uuid.UUID) -> list[Attempt]:
        return [a for a in self._attempts if a.delivery_id == delivery_id]

    async def of_endpoint(
        self, endpoint_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Delivery]:
        found = sorted(
            (d for d in self._rows.values() if d.endpoint_id == endpoint_id),
            key=lambda d: (d.created_at, d.id),
            reverse=True,
        )
        if after is not None:
            found = [d for d in found if (d.created_at, d.id) < after]
        return found[:limit]

    async def pending_for_event(self, event_id: uuid.UUID) -> int:
        return sum(
            1
            for d in self._rows.values()
            if d.event_id == event_id and d.state is DeliveryState.PENDING
        )

    async def mark_queued(self, delivery_ids: Sequence[uuid.UUID], at: datetime) -> None:
        for delivery_id in delivery_ids:
            found = self._rows.get(delivery_id)
            if found is not None and found.state is DeliveryState.PENDING:
                self._rows[delivery_id] = replace(found, queued_at=at)

    async def unqueued(self, now: datetime, limit: int) -> list[Delivery]:
        found = sorted(
            (
                d
                for d in self._rows.values()
                if d.state is DeliveryState.PENDING
                and d.queued_at is None
                and (d.next_attempt_at or d.created_at) <= now
            ),
            key=lambda d: (d.created_at, d.id),
        )
        return found[:limit]

    async def overdue(self, before: datetime, limit: int) -> list[Delivery]:
        found = sorted(
            (
                d
                for d in self._rows.values()
                if d.state is DeliveryState.PENDING
                and d.next_attempt_at is not None
                and d.next_attempt_at < before
            ),
            key=lambda d: (d.next_attempt_at or d.created_at, d.id),
        )
        return found[:limit]


class InMemoryJobRecords:
    def __init__(self, rows: dict[str, JobRecord]) -> None:
        self._rows = rows

    async def purge_succeeded(self, before: datetime, limit: int) -> int:
        old = [
            r.id
            for r in self._rows.values()
            if r.status is JobStatus.SUCCEEDED and r.finished_at and r.finished_at < before
        ][:limit]
        for job_id in old:
            del self._rows[job_id]
        return len(old)

    async def add(self, record: JobRecord) -> bool:
        if record.id in self._rows:
            return False
        self._rows[record.id] = record
        return True

    async def get(self, job_id: str, *, for_update: bool = False) -> JobRecord | None:  # noqa: ARG002
        return self._rows.get(job_id)

    async def save(self, record: JobRecord) -> None:
        stored = self._rows.get(record.id)
        if stored is None:
            raise LookupError(f"save() of a job never added: {record.id}")
        self._rows[record.id] = replace(
            record,
            name=stored.name,
            payload=stored.payload,
            request_id=stored.request_id,
            retry_of=stored.retry_of,
            created_at=stored.created_at,
        )

    async def list(
        self,
        *,
        after: tuple[datetime, str] | None,
        limit: int,
        status: JobStatus | None,
        name: str | None,
    ) -> list[JobSummary]:
        newest_first = sorted(self._rows.values(), key=lambda j: (j.created_at, j.id), reverse=True)
        return [
            j.summary()
            for j in newest_first
            if (after is None or (j.created_at, j.id) < after)
            and status in (None, j.status)
            and name in (None, j.name)
        ][:limit]


class InMemoryIdempotency:
    """Keys are held like PostgreSQL's transaction-level advisory locks: ``held`` are this
    unit of work's, ``held_anywhere`` every open unit of work's."""

    def __init__(
        self,
        rows: dict[KeyScope, StoredOutcome],
        held: set[KeyScope],
        held_anywhere: set[KeyScope],
    ) -> None:
        self._rows = rows
        self._held = held
        self._held_anywhere = held_anywhere

    async def claim(self, scope: KeyScope) -> bool:
        if scope in self._held:
            return True
        if scope in self._held_anywhere:
            return False
        self._held_anywhere.add(scope)
        self._held.add(scope)
        return True

    async def find(self, scope: KeyScope, now: datetime) -> StoredOutcome | None:
        stored = self._rows.get(scope)
        return stored if stored is not None and stored.expires_at > now else None

    async def store(self, scope: KeyScope, outcome: StoredOutcome) -> None:
        self._rows[scope] = outcome

    async def purge(self, now: datetime, limit: int) -> int:
        expired = [scope for scope, kept in self._rows.items() if kept.expires_at <= now]
        for scope in expired[:limit]:
            del self._rows[scope]
        return len(expired[:limit])


_PAID = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


class InMemorySales:
    def __init__(self, orders: dict[uuid.UUID, Order], rows: dict[date, SalesSummary]) -> None:
        self._orders = orders
        self._rows = rows

    async def tally(self, start: datetime, end: datetime, top: int) -> DayTally:
        sold = [
            o for o in self._orders.values() if o.status in _PAID and start <= o.placed_at < end
        ]
        revenue: dict[str, int] = {}
        units: dict[str, int] = {}
        for order in sold:
            revenue[order.total.currency] = (
                revenue.get(order.total.currency, 0) + order.total.amount
            )
            for line in order.lines:
                units[line.sku] = units.get(line.sku, 0) + line.quantity
        ranked = sorted(units.items(), key=lambda item: (-item[1], item[0]))[:top]
        return DayTally(
            len(sold),
            tuple(Revenue(c, a) for c, a in sorted(revenue.items())),
            tuple(SkuSales(sku, n) for sku, n in ranked),
        )

    async def save(self, summary: SalesSummary) -> None:
        self._rows[summary.day] = summary

    async def between(self, first: date, last: date) -> list[SalesSummary]:
        return [self._rows[day] for day in sorted(self._rows) if first <= day <= last]


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
        self.refresh_tokens = InMemoryRefreshTokens(self._working.refresh_tokens)
        self.stock_ledger = InMemoryLedger(self._working.movements)
        self.audit = InMemoryAudit(self._working.audit)
        self.orders = InMemoryOrders(self._working.orders)
        self.outbox = InMemoryOutbox(
            self._working.events, self._working.dispatched, self._working.done
        )
        self.endpoints = InMemoryEndpoints(self._working.endpoints)
        self.deliveries = InMemoryDeliveries(self._working.deliveries, self._working.attempts)
        self.jobs = InMemoryJobRecords(self._working.jobs)
        self.sales = InMemorySales(self._working.orders, self._working.sales)
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
        self._store.commits += 1
        self._release_keys()

    async def rollback(self) -> None:
        self._begin()

    @property
    def customers(self) -> InMemoryCustomers:
        return InMemoryCustomers(self.users)


class FakePasswords:
    """A transparent stand-in for Argon2: fast, and it tells which parameters made a hash."""

    def __init__(self, parameters: str = "v1") -> None:
        self.parameters = parameters
        self.dummy_checks = 0

    async def hash(self, password: str) -> str:
        return f"fake${self.parameters}${hashlib.sha256(password.encode()).hexdigest()}"

    async def verify(self, password_hash: str, password: str) -> bool:
        return password_hash.split("$", 2)[2] == hashlib.sha256(password.encode()).hexdigest()

    def needs_rehash(self, password_hash: str) -> bool:
        return password_hash.split("$", 2)[1] != self.parameters

    async def verify_dummy(self, password: str) -> None:  # noqa: ARG002
        self.dummy_checks += 1


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2030, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class SequentialIds:
    def __init__(self) -> None:
        self._next = 0

    def new_id(self) -> uuid.UUID:
        self._next += 1
        return uuid.UUID(int=self._next)


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


@dataclass(frozen=True, slots=True)
class QueuedJob:
    name: str
    payload: Mapping[str, object]
    job_id: str
    defer_until: datetime | None


class InMemoryJobQueue:
    """A job queue that keeps what it is given; ``down`` makes it fail like Redis away."""

    def __init__(self) -> None:
        self.jobs: list[QueuedJob] = []
        self.down = False

    async def enqueue(
        self,
        name: str,
        payload: Mapping[str, object],
        job_id: str,
        *,
        defer_until: datetime | None = None,
    ) -> bool:
        if self.down:
            raise ConnectionError("the queue is unreachable")
        if any(job.job_id == job_id for job in self.jobs):
            return False
        self.jobs.append(QueuedJob(name, dict(payload), job_id, defer_until))
        return True


@dataclass
class ScriptedSender:
    """A webhook receiver's answers, in order (then 200 for ever), and what it was sent."""

    statuses: list[int | None] = field(default_factory=list)
    sent: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendOutcome:
        self.sent.append((url, body, dict(headers)))
        status = self.statuses.pop(0) if self.statuses else 200
        if status is None:
            return SendOutcome(None, 5, "connection refused")
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return SendOutcome(status, 5, error)

"""The outbox of domain events: what happened, told to the outside world only once it is committed.

A use case appends its events to the outbox of its own unit of work, so an event exists if
and only if the change it describes was committed: a failure, an exception or a dry run
rolls the events back with everything else. Orderly's worker later delivers them (signed
webhooks); nothing here knows how.

Every event names its subject (``order:<id>``, ``product:<sku>``) and a ``sequence`` that
increases with each event of that subject (an order's events carry the order's version), so
a receiver can put one order's events in order whatever order they arrive in.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from orderly_core.platform.ports import Services
from orderly_core.shared.context import Context


class EventType(enum.StrEnum):
    ORDER_PLACED = "order.placed"
    ORDER_PAID = "order.paid"
    ORDER_PARTIALLY_SHIPPED = "order.partially_shipped"  # some units shipped, some to ship
    ORDER_SHIPPED = "order.shipped"
    ORDER_DELIVERED = "order.delivered"
    ORDER_CANCELLED = "order.cancelled"  # its data carries the reason ("expired", ...)
    ORDER_UPDATED = "order.updated"  # its contact email or shipping address changed
    STOCK_LOW = "stock.low"  # a product's available stock fell below its threshold
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    # A payment succeeded for an order no longer awaiting one: it is refunded automatically.
    PAYMENT_ORPHANED = "payment.orphaned"
    # The provider reported an amount or currency other than the payment's: for staff to check.
    PAYMENT_MISMATCH = "payment.mismatch"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    SHIPMENT_CREATED = "shipment.created"  # with its carrier, tracking and lines
    SHIPMENT_DELIVERED = "shipment.delivered"
    RETURN_REQUESTED = "return.requested"
    RETURN_APPROVED = "return.approved"
    RETURN_REJECTED = "return.rejected"
    RETURN_RECEIVED = "return.received"  # its data carries the refunds it gave rise to


@dataclass(frozen=True, slots=True)
class Event:
    id: uuid.UUID
    type: EventType
    subject: str
    sequence: int
    data: Mapping[str, Any]  # JSON-ready: strings, numbers, booleans, null, lists, objects
    request_id: str  # of the request that caused it
    created_at: datetime
    # Where the event sits in a distributed trace (a W3C traceparent), when the adapters trace:
    # stamped and read by them only, so that its delivery continues the request's trace.
    trace_context: str | None = None


class Outbox(Protocol):
    """Where a unit of work's events wait until they are delivered."""

    async def add(self, event: Event) -> None: ...

    async def claim(self, limit: int) -> list[Event]:
        """Up to ``limit`` events not yet dispatched, oldest first, held by this transaction;
        events another transaction holds are skipped, not waited for."""
        ...

    async def mark_dispatched(self, event_ids: Sequence[uuid.UUID], at: datetime) -> None: ...

    async def mark_done(self, event_ids: Sequence[uuid.UUID], at: datetime) -> None:
        """Every delivery of these events has ended (delivered or dead), or there was none."""
        ...

    async def get(self, event_id: uuid.UUID) -> Event | None: ...

    async def get_many(self, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Event]:
        """Those of these events that exist, by id."""
        ...

    async def between(
        self, types: Sequence[EventType], since: datetime, until: datetime, limit: int
    ) -> list[Event]:
        """Events of these types created in [since, until), oldest first, whatever their
        state: what a receiver that lost data asks to be sent again."""
        ...


def json_ready(value: Any) -> Any:
    """``value`` with its datetimes as RFC 3339 UTC strings and its tuples as lists."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return value


def new_event(
    event_id: uuid.UUID,
    ctx: Context,
    now: datetime,
    event_type: EventType,
    *,
    subject: str,
    sequence: int,
    data: Mapping[str, Any],
) -> Event:
    return Event(
        id=event_id,
        type=event_type,
        subject=subject,
        sequence=sequence,
        data=json_ready(data),
        request_id=ctx.request_id,
        created_at=now,
    )


class HasOutbox(Protocol):
    """A unit of work with an outbox."""

    @property
    def outbox(self) -> Outbox: ...


async def publish(
    deps: Services[object],
    uow: HasOutbox,
    ctx: Context,
    event_type: EventType,
    *,
    subject: str,
    sequence: int,
    data: Mapping[str, Any],
) -> None:
    """Append the event to the outbox, in the transaction of the change it tells of."""
    event = new_event(
        deps.ids.new_id(),
        ctx,
        deps.clock.now(),
        event_type,
        subject=subject,
        sequence=sequence,
        data=data,
    )
    await uow.outbox.add(event)

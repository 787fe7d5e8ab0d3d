"""Orders and their lifecycle, as frozen values.

``placed -> paid -> shipped -> delivered``; ``cancelled`` from placed or paid (an unpaid order
past ``expires_at`` is cancelled with reason ``expired``). Nothing leaves delivered or
cancelled.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orderly_core.shared.money import Money
from orderly_core.shared.paging import PageQuery

MAX_LINES = 100
MAX_QUANTITY = 1000


class OrderStatus(enum.StrEnum):
    PLACED = "placed"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


def may_move(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: Money  # captured at placement

    @property
    def subtotal(self) -> int:
        return self.unit_price.amount * self.quantity


@dataclass(frozen=True, slots=True)
class Order:
    id: uuid.UUID
    customer_id: str
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    total: Money
    placed_at: datetime
    updated_at: datetime
    expires_at: datetime  # an unpaid order is cancelled after this
    version: int
    cancel_reason: str | None = None


@dataclass(frozen=True, slots=True)
class LineAvailability:
    sku: str
    requested: int
    available: int  # what was available before this order


@dataclass(frozen=True, slots=True)
class Placement:
    """A placed order, and how much of each line's product was available to it."""

    order: Order
    availability: tuple[LineAvailability, ...]


@dataclass(frozen=True, slots=True)
class OrderQuery(PageQuery):
    status: OrderStatus | None = None
    customer_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def order_view(order: Order) -> dict[str, Any]:
    """The public representation of an order."""
    return {
        "id": str(order.id),
        "status": order.status.value,
        "customer_id": order.customer_id,
        "lines": [
            {
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": line.unit_price.amount,
                "currency": line.unit_price.currency,
            }
            for line in order.lines
        ],
        "total": order.total.amount,
        "currency": order.total.currency,
        "expires_at": order.expires_at.astimezone(UTC),
        "cancel_reason": order.cancel_reason,
        "version": order.version,
        "created_at": order.placed_at.astimezone(UTC),
        "updated_at": order.updated_at.astimezone(UTC),
    }

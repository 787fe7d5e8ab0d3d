"""Orders and their lifecycle, as frozen values.

``placed -> paid -> (partially_shipped ->) shipped -> delivered``; ``cancelled`` from placed or
paid (an unpaid order past ``expires_at`` is cancelled with reason ``expired``). A paid or
partially shipped order whose remaining units are all cancelled becomes shipped (or delivered)
when some of it shipped, cancelled when none did. Nothing leaves delivered or cancelled. Each
line counts what became of its units: shipped, delivered, returned and cancelled.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orderly_core.orders.address import Address, address_view
from orderly_core.shared.money import Money
from orderly_core.shared.paging import PageQuery

MAX_LINES = 100
MAX_QUANTITY = 1000
EMAIL_MAX = 254  # an order's contact email, as accounts keep emails


class OrderStatus(enum.StrEnum):
    PLACED = "placed"
    PAID = "paid"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset(
        {OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.CANCELLED}
    ),
    OrderStatus.PARTIALLY_SHIPPED: frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


def may_move(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One product of an order. Its units are conserved: ``shipped + cancelled + unshipped =
    quantity``, ``delivered <= shipped``, ``returned <= delivered``."""

    sku: str
    quantity: int
    unit_price: Money  # captured at placement
    shipped: int = 0
    delivered: int = 0
    returned: int = 0
    cancelled: int = 0  # of the units not shipped, those no longer to ship

    @property
    def subtotal(self) -> int:
        return self.unit_price.amount * self.quantity

    @property
    def unshipped(self) -> int:
        """The units still to ship."""
        return self.quantity - self.shipped - self.cancelled


@dataclass(frozen=True, slots=True)
class Order:
    """An order: 1-100 lines in one currency, the shipping price captured with them, and
    where it goes. ``total = subtotal + shipping``, in minor units of the order's currency."""

    id: uuid.UUID
    customer_id: str
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    placed_at: datetime
    updated_at: datetime
    expires_at: datetime  # an unpaid order is cancelled after this
    version: int
    cancel_reason: str | None = None
    email: str | None = None  # whom the shop writes to about this order
    shipping_address: Address | None = None
    shipping_method: str | None = None  # the code of the shipping rate it was placed with
    shipping_price: int = 0  # minor units of the order's currency, captured at placement
    delivered_at: datetime | None = None  # when its last units were delivered

    @property
    def currency(self) -> str:
        return self.lines[0].unit_price.currency

    @property
    def subtotal(self) -> Money:
        """The sum of the lines."""
        return Money(sum(line.subtotal for line in self.lines), self.currency)

    @property
    def shipping(self) -> Money:
        """What the order pays to ship (zero when it was placed without a shipping rate)."""
        return Money(self.shipping_price, self.currency)

    @property
    def total(self) -> Money:
        return Money(self.subtotal.amount + self.shipping_price, self.currency)


@dataclass(frozen=True, slots=True)
class ShippingOption:
    """A way an order may ship, with what it would pay (after any free-shipping threshold)."""

    code: str
    name: str
    price: Money


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
    # The shipping rates that serve the order's address in its currency: the quote.
    shipping_methods: tuple[ShippingOption, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderQuery(PageQuery):
    status: OrderStatus | None = None
    customer_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def order_view(order: Order) -> dict[str, Any]:
    """The public representation of an order."""
    subtotal = sum(line.unit_price.amount * line.quantity for line in order.lines)
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
                "shipped": line.shipped,
                "delivered": line.delivered,
                "returned": line.returned,
                "cancelled": line.cancelled,
            }
            for line in order.lines
        ],
        "subtotal": subtotal,
        "shipping": order.shipping_price,
        "total": subtotal + order.shipping_price,
        "currency": order.currency,
        "email": order.email,
        "shipping_address": address_view(order.shipping_address),
        "shipping_method": order.shipping_method,
        "expires_at": order.expires_at.astimezone(UTC),
        "cancel_reason": order.cancel_reason,
        "delivered_at": None if order.delivered_at is None else order.delivered_at.astimezone(UTC),
        "version": order.version,
        "created_at": order.placed_at.astimezone(UTC),
        "updated_at": order.updated_at.astimezone(UTC),
    }

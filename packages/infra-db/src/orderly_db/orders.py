"""The orders' repository: an order row and its lines."""

from __future__ import annotations

import builtins
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.orders.address import Address, address_view
from orderly_core.orders.model import Order, OrderLine, OrderQuery, OrderStatus
from orderly_core.shared.money import Money
from orderly_db.keyset import newest_first
from orderly_db.statements import DriverConnection, Statement, json_text
from orderly_db.tables import order_lines, orders


def _to_address(stored: dict[str, Any] | None) -> Address | None:
    if stored is None:
        return None
    return Address(
        name=stored["name"],
        line1=stored["line1"],
        city=stored["city"],
        country=stored["country"],
        line2=stored.get("line2", ""),
        postal_code=stored.get("postal_code", ""),
        region=stored.get("region", ""),
        phone=stored.get("phone"),
    )


def _to_order(row: Row[Any], lines: list[OrderLine]) -> Order:
    return Order(
        id=row.id,
        customer_id=row.customer_id,
        status=OrderStatus(row.status),
        lines=tuple(lines),
        placed_at=row.placed_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        version=row.version,
        cancel_reason=row.cancel_reason,
        email=row.email,
        shipping_address=_to_address(row.shipping_address),
        shipping_method=row.shipping_method,
        shipping_price=row.shipping,
        delivered_at=row.delivered_at,
    )


def _address_json(address: Address | None) -> str | None:
    """The address as the JSONB column's codec takes it; SQL NULL when there is none."""
    return None if address is None else json_text(address_view(address))


_ADD = Statement.compiled(insert(orders).values({c.name: bindparam(c.name) for c in orders.c}))
# Placements for one customer take turns: a transaction-level advisory lock on a 64-bit hash
# of the customer's id, in a namespace of its own (idempotency keys hash their scope).
_LOCK_CUSTOMER = Statement.compiled(
    select(
        func.pg_advisory_xact_lock(
            func.hashtextextended("order-placement:" + bindparam("customer_id"), 0)
        )
    )
)
_OPEN_UNPAID = Statement.compiled(
    select(func.count())
    .select_from(orders)
    .where(
        orders.c.customer_id == bindparam("customer_id"),
        orders.c.status == OrderStatus.PLACED.value,
        orders.c.expires_at > bindparam("now"),
    )
)
_ADD_LINE = Statement.compiled(
    insert(order_lines).values({c.name: bindparam(c.name) for c in order_lines.c})
)

_SAVE_LINE_COUNTS = Statement.compiled(
    update(order_lines)
    .where(
        order_lines.c.order_id == bindparam("order_id"),
        order_lines.c.line_no == bindparam("line_no"),
    )
    .values(
        shipped=bindparam("shipped"),
        delivered=bindparam("delivered"),
        returned=bindparam("returned"),
        cancelled=bindparam("cancelled"),
    )
)


class SqlOrders:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver

    async def add(self, order: Order) -> None:
        values = {
            "id": order.id,
            "customer_id": order.customer_id,
            "status": order.status.value,
            "total": order.total.amount,
            "currency": order.currency,
            "placed_at": order.placed_at,
            "updated_at": order.updated_at,
            "expires_at": order.expires_at,
            "version": order.version,
            "cancel_reason": order.cancel_reason,
            "email": order.email,
            "shipping_address": _address_json(order.shipping_address),
            "shipping_method": order.shipping_method,
            "shipping": order.shipping_price,
            "delivered_at": order.delivered_at,
        }
        await _ADD.execute(self._driver, values)
        lines = [
            {
                "order_id": order.id,
                "line_no": number,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": line.unit_price.amount,
                "currency": line.unit_price.currency,
                "shipped": line.shipped,
                "delivered": line.delivered,
                "returned": line.returned,
                "cancelled": line.cancelled,
            }
            for number, line in enumerate(order.lines, start=1)
        ]
        await _ADD_LINE.execute_many(self._driver, lines)

    async def save_lines(self, order: Order) -> None:
        """Write what became of each line's units (shipped, delivered, returned, cancelled)."""
        counts = [
            {
                "order_id": order.id,
                "line_no": number,
                "shipped": line.shipped,
                "delivered": line.delivered,
                "returned": line.returned,
                "cancelled": line.cancelled,
            }
            for number, line in enumerate(order.lines, start=1)
        ]
        await _SAVE_LINE_COUNTS.execute_many(self._driver, counts)

    async def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
        query = select(orders).where(orders.c.id == order_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).one_or_none()
        if row is None:
            return None
        return _to_order(row, (await self._lines([order_id]))[order_id])

    async def save(self, order: Order) -> None:
        address = order.shipping_address
        await self._db.execute(
            update(orders)
            .where(orders.c.id == order.id)
            .values(
                status=order.status.value,
                updated_at=order.updated_at,
                version=order.version,
                cancel_reason=order.cancel_reason,
                email=order.email,
                shipping_address=null() if address is None else address_view(address),
                delivered_at=order.delivered_at,
            )
        )

    async def lock_customer(self, customer_id: str) -> None:
        await _LOCK_CUSTOMER.fetch_value(self._driver, {"customer_id": customer_id})

    async def open_unpaid(self, customer_id: str, now: datetime) -> int:
        values = {"customer_id": customer_id, "now": now}
        count: int = await _OPEN_UNPAID.fetch_value(self._driver, values)
        return count

    async def list(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: OrderQuery
    ) -> list[Order]:
        statement = newest_first(
            select(orders), orders.c.placed_at, orders.c.id, after=after, limit=limit
        )
        if query.status is not None:
            statement = statement.where(orders.c.status == query.status.value)
        if query.customer_id is not None:
            statement = statement.where(orders.c.customer_id == query.customer_id)
        if query.since is not None:
            statement = statement.where(orders.c.placed_at >= query.since)
        if query.until is not None:
            statement = statement.where(orders.c.placed_at < query.until)
        rows = (await self._db.execute(statement)).all()
        lines = await self._lines([row.id for row in rows])
        return [_to_order(row, lines[row.id]) for row in rows]

    async def due_for_expiry(self, now: datetime, limit: int) -> tuple[uuid.UUID, ...]:
        statement = (
            select(orders.c.id)
            .where(orders.c.status == OrderStatus.PLACED.value, orders.c.expires_at <= now)
            .order_by(orders.c.expires_at)
            .limit(limit)
        )
        return tuple(row.id for row in (await self._db.execute(statement)).all())

    async def with_email(self, order_ids: Sequence[uuid.UUID]) -> builtins.list[Order]:
        """Those of these orders that have a contact email, in two statements whatever their
        number (the relay mails a batch of events' orders at once)."""
        if not order_ids:
            return []
        query = select(orders).where(orders.c.id.in_(order_ids), orders.c.email.is_not(None))
        rows = (await self._db.execute(query)).all()
        lines = await self._lines([row.id for row in rows])
        return [_to_order(row, lines[row.id]) for row in rows]

    async def _lines(
        self, order_ids: Sequence[uuid.UUID]
    ) -> defaultdict[uuid.UUID, builtins.list[OrderLine]]:
        found: defaultdict[uuid.UUID, builtins.list[OrderLine]] = defaultdict(builtins.list)
        if not order_ids:
            return found
        statement = (
            select(order_lines)
            .where(order_lines.c.order_id.in_(order_ids))
            .order_by(order_lines.c.order_id, order_lines.c.line_no)
        )
        for row in (await self._db.execute(statement)).all():
            found[row.order_id].append(
                OrderLine(
                    row.sku,
                    row.quantity,
                    Money(row.unit_price, row.currency),
                    shipped=row.shipped,
                    delivered=row.delivered,
                    returned=row.returned,
                    cancelled=row.cancelled,
                )
            )
        return found

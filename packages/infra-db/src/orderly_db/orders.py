"""The orders' repository: an order row and its lines."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, Uuid, bindparam, func, insert, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.orders.address import Address, address_view
from orderly_core.orders.model import Order, OrderLine, OrderQuery, OrderStatus
from orderly_core.shared.money import Money
from orderly_db.keyset import compiled_newest_first
from orderly_db.statements import Columns, DriverConnection, Statement, json_text
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


_STATUSES = {status.value: status for status in OrderStatus}


def _to_order(row: Columns, lines: list[OrderLine]) -> Order:
    return Order(
        id=row["id"],
        customer_id=row["customer_id"],
        status=_STATUSES[row["status"]],
        lines=tuple(lines),
        placed_at=row["placed_at"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
        version=row["version"],
        cancel_reason=row["cancel_reason"],
        email=row["email"],
        shipping_address=_to_address(row["shipping_address"]),
        shipping_method=row["shipping_method"],
        shipping_price=row["shipping"],
        delivered_at=row["delivered_at"],
    )


def _to_line(row: Columns) -> OrderLine:
    return OrderLine(
        row["line_sku"],
        row["line_quantity"],
        Money(row["line_unit_price"], row["line_currency"]),
        shipped=row["line_shipped"],
        delivered=row["line_delivered"],
        returned=row["line_returned"],
        cancelled=row["line_cancelled"],
    )


def _to_orders(rows: Sequence[Columns]) -> list[Order]:
    """The orders of rows that each carry an order and one of its lines (the order's lines
    in turn, each order's rows together)."""
    found: list[Order] = []
    order: Columns | None = None
    lines: list[OrderLine] = []
    for row in rows:
        if order is None or row["id"] != order["id"]:
            if order is not None:
                found.append(_to_order(order, lines))
            order, lines = row, []
        if row["line_no"] is not None:
            lines.append(_to_line(row))
    if order is not None:
        found.append(_to_order(order, lines))
    return found


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

# An order comes with its lines in one statement: one row per line, the order's columns on
# each, the line's prefixed with ``line_``.
_LINE_COLUMNS = [
    column.label(f"line_{column.name}") if column.name != "line_no" else column
    for column in order_lines.c
    if column.name != "order_id"
]
_BY_ID = (
    select(orders, *_LINE_COLUMNS)
    .select_from(orders.outerjoin(order_lines, order_lines.c.order_id == orders.c.id))
    .where(orders.c.id == bindparam("id"))
    .order_by(order_lines.c.line_no)
)
_GET = Statement.compiled(_BY_ID)
_WITH_EMAIL = Statement.compiled(
    select(orders, *_LINE_COLUMNS)
    .select_from(orders.outerjoin(order_lines, order_lines.c.order_id == orders.c.id))
    .where(
        orders.c.id == func.any(bindparam("ids", type_=ARRAY(Uuid))),
        orders.c.email.is_not(None),
    )
    .order_by(orders.c.id, order_lines.c.line_no)
)
# A locked read takes the order's lock first, then reads its lines in a statement of its own:
# a statement that waited for the lock sees the order as its holder left it, but the rows it
# joined to it as they were when it began.
_LOCK = Statement.compiled(select(orders).where(orders.c.id == bindparam("id")).with_for_update())
_LINES = Statement.compiled(
    select(*_LINE_COLUMNS)
    .where(order_lines.c.order_id == bindparam("id"))
    .order_by(order_lines.c.line_no)
)


@cache
def _page(*, after: bool, status: bool, customer: bool, since: bool, until: bool) -> Statement:
    """The page query of one combination of filters, compiled on first use: a page of
    orders, newest first, with their lines."""
    query = select(orders)
    if status:
        query = query.where(orders.c.status == bindparam("status"))
    if customer:
        query = query.where(orders.c.customer_id == bindparam("customer_id"))
    page = compiled_newest_first(
        query, orders.c.placed_at, orders.c.id, after=after, since=since, until=until
    ).cte("page")
    return Statement.compiled(
        select(page, *_LINE_COLUMNS)
        .select_from(page.outerjoin(order_lines, order_lines.c.order_id == page.c.id))
        .order_by(page.c.placed_at.desc(), page.c.id.desc(), order_lines.c.line_no)
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
        if not for_update:
            found = _to_orders(await _GET.fetch(self._driver, {"id": order_id}))
            return found[0] if found else None
        row = await _LOCK.fetch_one(self._driver, {"id": order_id})
        if row is None:
            return None
        lines = await _LINES.fetch(self._driver, {"id": order_id})
        return _to_order(row, [_to_line(line) for line in lines])

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
        statement = _page(
            after=after is not None,
            status=query.status is not None,
            customer=query.customer_id is not None,
            since=query.since is not None,
            until=query.until is not None,
        )
        values = {
            "limit": limit,
            "status": None if query.status is None else query.status.value,
            "customer_id": query.customer_id,
            "since": query.since,
            "until": query.until,
            "after_at": None if after is None else after[0],
            "after_id": None if after is None else after[1],
        }
        return _to_orders(await statement.fetch(self._driver, values))

    async def due_for_expiry(self, now: datetime, limit: int) -> tuple[uuid.UUID, ...]:
        statement = (
            select(orders.c.id)
            .where(orders.c.status == OrderStatus.PLACED.value, orders.c.expires_at <= now)
            .order_by(orders.c.expires_at)
            .limit(limit)
        )
        return tuple(row.id for row in (await self._db.execute(statement)).all())

    async def with_email(self, order_ids: Sequence[uuid.UUID]) -> builtins.list[Order]:
        """Those of these orders that have a contact email, in one statement whatever their
        number (the relay mails a batch of events' orders at once)."""
        if not order_ids:
            return []
        rows = await _WITH_EMAIL.fetch(self._driver, {"ids": list(order_ids)})
        return _to_orders(rows)

"""The in-memory fake of the orders' repository."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from orderly_core.orders.model import Order, OrderQuery, OrderStatus


class InMemoryOrders:
    def __init__(self, rows: dict[uuid.UUID, Order]) -> None:
        self._rows = rows

    async def add(self, order: Order) -> None:
        self._rows[order.id] = order

    async def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:  # noqa: ARG002
        return self._rows.get(order_id)

    async def save(self, order: Order) -> None:
        """As PostgreSQL's: the order's own fields; its lines stay as they were saved."""
        self._rows[order.id] = replace(order, lines=self._rows[order.id].lines)

    async def save_lines(self, order: Order) -> None:
        """As PostgreSQL's: each line's counts, nothing else of the order."""
        kept = self._rows[order.id]
        lines = tuple(
            replace(
                old,
                shipped=new.shipped,
                delivered=new.delivered,
                returned=new.returned,
                cancelled=new.cancelled,
            )
            for old, new in zip(kept.lines, order.lines, strict=True)
        )
        self._rows[order.id] = replace(kept, lines=lines)

    async def lock_customer(self, customer_id: str) -> None:
        """Nothing to do: one in-memory unit of work commits its copy at a time."""

    async def open_unpaid(self, customer_id: str, now: datetime) -> int:
        return sum(
            1
            for o in self._rows.values()
            if o.customer_id == customer_id
            and o.status is OrderStatus.PLACED
            and o.expires_at > now
        )

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

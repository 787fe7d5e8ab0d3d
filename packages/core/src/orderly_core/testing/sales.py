"""The in-memory fake of the sales summaries' repository."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from orderly_core.orders.model import Order, OrderStatus
from orderly_core.sales.model import DayTally, Revenue, SalesSummary, SkuSales

_PAID = (
    OrderStatus.PAID,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
)


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

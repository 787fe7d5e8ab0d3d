"""The daily sales summaries in PostgreSQL: tallied from the orders, kept per day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.sales.model import DayTally, Revenue, SalesSummary, SkuSales
from orderly_db.tables import order_lines, orders, sales_summaries

_PAID = ("paid", "partially_shipped", "shipped", "delivered")


def _to_summary(row: Row[Any]) -> SalesSummary:
    tally = DayTally(
        orders=row.orders,
        revenue=tuple(Revenue(r["currency"], r["amount"]) for r in row.revenue),
        top_skus=tuple(SkuSales(s["sku"], s["units"]) for s in row.top_skus),
    )
    return SalesSummary(row.day, tally, row.computed_at)


class SqlSales:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def tally(self, start: datetime, end: datetime, top: int) -> DayTally:
        sold = (
            orders.c.status.in_(_PAID),
            orders.c.placed_at >= start,
            orders.c.placed_at < end,
        )
        by_currency = (
            select(orders.c.currency, func.count(), func.sum(orders.c.total))
            .where(*sold)
            .group_by(orders.c.currency)
            .order_by(orders.c.currency)
        )
        units = func.sum(order_lines.c.quantity)
        by_sku = (
            select(order_lines.c.sku, units)
            .join(orders, orders.c.id == order_lines.c.order_id)
            .where(*sold)
            .group_by(order_lines.c.sku)
            .order_by(units.desc(), order_lines.c.sku)
            .limit(top)
        )
        currencies = (await self._db.execute(by_currency)).all()
        skus = (await self._db.execute(by_sku)).all()
        return DayTally(
            orders=sum(count for _, count, _ in currencies),
            revenue=tuple(Revenue(currency, int(amount)) for currency, _, amount in currencies),
            top_skus=tuple(SkuSales(sku, int(n)) for sku, n in skus),
        )

    async def save(self, summary: SalesSummary) -> None:
        values = {
            "day": summary.day,
            "orders": summary.tally.orders,
            "revenue": [
                {"currency": r.currency, "amount": r.amount} for r in summary.tally.revenue
            ],
            "top_skus": [{"sku": s.sku, "units": s.units} for s in summary.tally.top_skus],
            "computed_at": summary.computed_at,
        }
        statement = insert(sales_summaries).values(values)
        await self._db.execute(
            statement.on_conflict_do_update(
                index_elements=[sales_summaries.c.day],
                set_={name: statement.excluded[name] for name in values if name != "day"},
            )
        )

    async def between(self, first: date, last: date) -> list[SalesSummary]:
        table = sales_summaries
        query = select(table).where(table.c.day >= first, table.c.day <= last).order_by(table.c.day)
        return [_to_summary(row) for row in await self._db.execute(query)]

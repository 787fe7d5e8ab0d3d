"""The daily sales summary, as frozen values, and what it needs from storage.

A day's summary counts the orders placed that day (UTC) that have been paid (paid, shipped or
delivered when the summary is made): their number, the revenue per currency, and the SKUs
sold most, by units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

TOP_SKUS = 10


@dataclass(frozen=True, slots=True)
class Revenue:
    currency: str
    amount: int  # minor units


@dataclass(frozen=True, slots=True)
class SkuSales:
    sku: str
    units: int


@dataclass(frozen=True, slots=True)
class DayTally:
    orders: int
    revenue: tuple[Revenue, ...]  # by currency code
    top_skus: tuple[SkuSales, ...]  # most units first, then by SKU


@dataclass(frozen=True, slots=True)
class SalesSummary:
    day: date
    tally: DayTally
    computed_at: datetime


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC day as [start, end)."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def summary_view(summary: SalesSummary) -> dict[str, Any]:
    """The public representation of a day's summary."""
    return {
        "day": summary.day.isoformat(),
        "orders": summary.tally.orders,
        "revenue": [{"currency": r.currency, "amount": r.amount} for r in summary.tally.revenue],
        "top_skus": [{"sku": s.sku, "units": s.units} for s in summary.tally.top_skus],
        "computed_at": summary.computed_at.astimezone(UTC),
    }

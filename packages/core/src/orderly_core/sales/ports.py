"""What the daily sales summaries need from storage."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from orderly_core.platform.ports import Services, Transactional
from orderly_core.sales.model import DayTally, SalesSummary


class SalesRepository(Protocol):
    async def tally(self, start: datetime, end: datetime, top: int) -> DayTally:
        """The paid orders placed in [start, end): count, revenue per currency, top SKUs."""
        ...

    async def save(self, summary: SalesSummary) -> None:
        """Keep ``summary``, replacing any earlier one of its day."""
        ...

    async def between(self, first: date, last: date) -> list[SalesSummary]:
        """The stored summaries of [first, last], oldest first."""
        ...


class SalesUnit(Transactional, Protocol):
    @property
    def sales(self) -> SalesRepository: ...


type SalesServices = Services[SalesUnit]

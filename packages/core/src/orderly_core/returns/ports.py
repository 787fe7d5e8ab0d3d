"""What returns need from storage, and the services they use."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from orderly_core.payments.ports import PaymentProvider, PaymentsUnit
from orderly_core.platform.ports import Services
from orderly_core.returns.model import Return, ReturnQuery


class ReturnRepository(Protocol):
    async def add(self, ret: Return) -> None:
        """Add a return with its lines."""
        ...

    async def get(self, return_id: uuid.UUID, *, for_update: bool = False) -> Return | None:
        """The return and its lines; ``for_update`` locks its row."""
        ...

    async def of_order(self, order_id: uuid.UUID) -> list[Return]:
        """The order's returns, oldest first."""
        ...

    async def save(self, ret: Return) -> None:
        """Write the status, note, shipping refund flag, timestamps and version of a locked
        return, and what became of each of its lines (restocked, written off)."""
        ...

    async def list(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: ReturnQuery
    ) -> list[Return]:
        """Returns of every order, newest first, after the (created_at, id) position
        ``after``, in ``query.status`` when it names one."""
        ...


class ReturnsUnit(PaymentsUnit, Protocol):
    """Returns refund through payments and put stock back, so their unit of work holds the
    payments', orders' and catalogue's repositories too."""

    @property
    def returns(self) -> ReturnRepository: ...


class ReturnsServices(Services[ReturnsUnit], Protocol):
    """What the returns' use cases reach: the payments' services (with units of work that
    hold the returns too) and the return window."""

    @property
    def order_ttl(self) -> timedelta: ...

    @property
    def payment_provider(self) -> PaymentProvider: ...

    @property
    def return_window(self) -> timedelta:
        """How long after an order's delivery its units may be returned."""
        ...

"""What orders need from storage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from orderly_core.orders.model import Order, OrderQuery


class OrderRepository(Protocol):
    async def add(self, order: Order) -> None: ...

    async def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None: ...

    async def save(self, order: Order) -> None:
        """Write the status, timestamps, version and cancel reason of a locked order."""
        ...

    async def list(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: OrderQuery
    ) -> list[Order]:
        """Orders newest first, after the (placed_at, id) position ``after``."""
        ...

    async def due_for_expiry(self, now: datetime, limit: int) -> tuple[uuid.UUID, ...]:
        """Unpaid (placed) orders whose ``expires_at`` has passed, oldest first."""
        ...

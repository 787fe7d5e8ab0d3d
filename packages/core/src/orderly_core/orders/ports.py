"""What orders need from storage, and the services they use."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from orderly_core.catalogue.ports import CatalogueUnit
from orderly_core.orders.model import Order, OrderQuery
from orderly_core.platform.ports import Services


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


class CustomerDirectory(Protocol):
    """The customers orders may be placed for, as the accounts keep them."""

    async def active_customer(self, ref: str) -> str | None:
        """The id of the active customer account ``ref`` names, by its id or by its email
        (compared as accounts compare emails); ``None`` when ``ref`` names no account, or
        one that is deactivated or is not a customer's (staff, admins)."""
        ...


class OrdersUnit(CatalogueUnit, Protocol):
    """Orders move stock, so their unit of work holds the catalogue's repositories too."""

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def customers(self) -> CustomerDirectory: ...


class OrdersServices(Services[OrdersUnit], Protocol):
    @property
    def order_ttl(self) -> timedelta:
        """How long an unpaid order holds its stock."""
        ...

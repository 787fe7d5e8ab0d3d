"""What orders need from storage, and the services they use."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from orderly_core.catalogue.ports import CatalogueUnit
from orderly_core.mail.model import MailPolicy
from orderly_core.orders.model import Order, OrderQuery
from orderly_core.platform.ports import Services
from orderly_core.shipping.ports import ShippingUnit


class OrderRepository(Protocol):
    async def add(self, order: Order) -> None: ...

    async def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None: ...

    async def save(self, order: Order) -> None:
        """Write the status, timestamps (``delivered_at`` too), version, cancel reason, contact
        email and shipping address of a locked order (not its lines: see :meth:`save_lines`)."""
        ...

    async def save_lines(self, order: Order) -> None:
        """Write what became of each line of a locked order: its shipped, delivered, returned
        and cancelled units."""
        ...

    async def lock_customer(self, customer_id: str) -> None:
        """Hold the customer's placement lock until this transaction ends: placements for one
        customer take turns, so that counting their open orders and adding one is atomic."""
        ...

    async def open_unpaid(self, customer_id: str, now: datetime) -> int:
        """How many of the customer's orders are placed (unpaid) and not yet expired."""
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

    async def email_of(self, customer_id: str) -> str | None:
        """The email of the account ``customer_id`` names, if there is one."""
        ...

    async def email_verified(self, customer_id: str) -> bool:
        """Whether the account ``customer_id`` names has verified its email."""
        ...

    def normalised_email(self, raw: str) -> str | None:
        """``raw`` written as accounts write an email address (one form per mailbox, no
        look-alikes), or ``None`` when it is not one."""
        ...


class OrdersUnit(CatalogueUnit, ShippingUnit, Protocol):
    """Orders move stock and are priced for shipping, so their unit of work holds the
    catalogue's and shipping's repositories too."""

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def customers(self) -> CustomerDirectory: ...


class OrdersServices(Services[OrdersUnit], Protocol):
    @property
    def order_ttl(self) -> timedelta:
        """How long an unpaid order holds its stock."""
        ...

    @property
    def max_open_unpaid_orders(self) -> int:
        """How many unpaid orders one customer may hold at once."""
        ...

    @property
    def mail(self) -> MailPolicy:
        """Whether customers whose email is unverified may place orders."""
        ...

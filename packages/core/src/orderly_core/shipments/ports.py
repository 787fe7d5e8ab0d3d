"""What shipments need from storage, and the services they use."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Protocol

from orderly_core.payments.ports import PaymentProvider, PaymentsUnit
from orderly_core.platform.ports import Services
from orderly_core.shipments.model import Shipment


class ShipmentRepository(Protocol):
    async def add(self, shipment: Shipment) -> None:
        """Add a shipment and its lines."""
        ...

    async def get(self, shipment_id: uuid.UUID, *, for_update: bool = False) -> Shipment | None: ...

    async def of_order(self, order_id: uuid.UUID) -> list[Shipment]:
        """The order's shipments, oldest first."""
        ...

    async def save(self, shipment: Shipment) -> None:
        """Write the status, timestamps and version of a locked shipment (never its lines)."""
        ...


class ShipmentsUnit(PaymentsUnit, Protocol):
    """Shipments move orders, their stock and (cancelling what remains) their money, so their
    unit of work holds the payments' repositories too."""

    @property
    def shipments(self) -> ShipmentRepository: ...


class ShipmentsServices(Services[ShipmentsUnit], Protocol):
    @property
    def order_ttl(self) -> timedelta: ...

    @property
    def max_open_unpaid_orders(self) -> int: ...

    @property
    def payment_provider(self) -> PaymentProvider: ...

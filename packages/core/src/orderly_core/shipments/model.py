"""Shipments: the parcels an order's units leave in, with their tracking, as frozen values.

``shipped -> delivered``; nothing leaves delivered. A shipment carries some of the units its
order had left to ship (any subset of them); its order follows its shipments.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CARRIER_MAX = 64
TRACKING_NUMBER_MAX = 128
TRACKING_URL_MAX = 2048
# What the ship shortcut records when it is given no carrier or tracking number.
UNSPECIFIED = "unspecified"


class ShipmentStatus(enum.StrEnum):
    SHIPPED = "shipped"
    DELIVERED = "delivered"


@dataclass(frozen=True, slots=True)
class ShipmentLine:
    """How many units of one of its order's products a shipment (or a cancellation) takes."""

    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Tracking:
    """Who carries a shipment and how its customer follows it."""

    carrier: str
    tracking_number: str
    tracking_url: str | None = None


@dataclass(frozen=True, slots=True)
class Shipment:
    id: uuid.UUID
    order_id: uuid.UUID
    lines: tuple[ShipmentLine, ...]  # one per SKU, in SKU order
    carrier: str
    tracking_number: str
    tracking_url: str | None
    status: ShipmentStatus
    created_by: str  # "<kind>:<id>" of who shipped it
    created_at: datetime  # when it was shipped
    updated_at: datetime
    version: int
    delivered_at: datetime | None = None

    @property
    def units(self) -> dict[str, int]:
        return {line.sku: line.quantity for line in self.lines}


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def shipment_view(shipment: Shipment) -> dict[str, Any]:
    """The public representation of a shipment."""
    return {
        "id": str(shipment.id),
        "order_id": str(shipment.order_id),
        "status": shipment.status.value,
        "lines": [{"sku": line.sku, "quantity": line.quantity} for line in shipment.lines],
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
        "created_by": shipment.created_by,
        "created_at": _utc(shipment.created_at),
        "delivered_at": _utc(shipment.delivered_at),
        "updated_at": _utc(shipment.updated_at),
        "version": shipment.version,
    }

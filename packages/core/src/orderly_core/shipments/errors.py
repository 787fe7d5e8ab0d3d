"""The shipments' domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class ShipmentNotFound:
    shipment_id: str
    code: ClassVar[str] = "shipment_not_found"

    @property
    def detail(self) -> str:
        return f"No shipment is known as '{self.shipment_id}'."


@dataclass(frozen=True, slots=True)
class RemainingLine:
    sku: str
    asked: int
    remaining: int  # the line's units still to ship


@dataclass(frozen=True, slots=True)
class ExceedsRemaining:
    """Lines asking to ship or cancel more units than their order has left to ship: every
    such line is listed."""

    order_id: str
    lines: tuple[RemainingLine, ...]
    code: ClassVar[str] = "exceeds_remaining"

    @property
    def detail(self) -> str:
        over = ", ".join(
            f"{line.sku} ({line.asked} asked, {line.remaining} remaining)" for line in self.lines
        )
        return f"Order {self.order_id} has fewer units left to ship: {over}."


@dataclass(frozen=True, slots=True)
class OrderNotFulfillable:
    """Only a paid or partially shipped order ships, or has its remainder cancelled."""

    order_id: str
    status: str
    code: ClassVar[str] = "order_not_fulfillable"

    @property
    def detail(self) -> str:
        return (
            f"Order {self.order_id} is {self.status}: only a paid or partially shipped order "
            "ships or has what remains of it cancelled."
        )


@dataclass(frozen=True, slots=True)
class ShipmentAlreadyDelivered:
    shipment_id: str
    code: ClassVar[str] = "shipment_already_delivered"

    @property
    def detail(self) -> str:
        return f"Shipment {self.shipment_id} is already delivered."

"""The JSON shapes of shipments and cancellations (see :mod:`orderly_http.schemas` for the
conventions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from orderly_core.orders.steps import CANCELLED_REASON
from orderly_core.payments.views import refund_view
from orderly_core.shipments.model import Shipment, ShipmentLine, Tracking, shipment_view
from orderly_core.shipments.steps import Cancellation, RemainderCancellation
from orderly_core.shipments.use_cases import NewShipment
from orderly_http import limits
from orderly_http.order_schemas import OrderResource
from orderly_http.payment_schemas import RefundResource
from orderly_http.schemas import RequestBody, WholeNumber


class ShipmentLineResource(BaseModel):
    model_config = ConfigDict(title="ShipmentLine")

    sku: str = Field(examples=["MUG-1"])
    quantity: int = Field(examples=[2])


class ShipmentResource(BaseModel):
    """A parcel some of an order's units left in, with how its customer follows it."""

    model_config = ConfigDict(title="Shipment")

    id: str
    order_id: str
    status: str = Field(description="shipped or delivered", examples=["shipped"])
    lines: list[ShipmentLineResource]
    carrier: str = Field(examples=["DHL"])
    tracking_number: str = Field(examples=["JD014600006281230704"])
    tracking_url: str | None = Field(
        description="Where the customer follows it, if the shop gave one",
        examples=["https://www.dhl.com/track?id=JD014600006281230704"],
    )
    created_by: str = Field(description="Who shipped it: `<kind>:<id>`")
    created_at: datetime = Field(description="When it was shipped")
    delivered_at: datetime | None = Field(description="When it was delivered, if it was")
    updated_at: datetime
    version: int = Field(description="Increases with every change; the ETag carries it")

    @staticmethod
    def document(shipment: Shipment) -> dict[str, Any]:
        return shipment_view(shipment)


class ShipmentListResource(BaseModel):
    """An order's shipments, oldest first."""

    model_config = ConfigDict(title="ShipmentList")

    items: list[ShipmentResource]

    @staticmethod
    def document(shipments: tuple[Shipment, ...]) -> dict[str, Any]:
        return {"items": [shipment_view(shipment) for shipment in shipments]}


class ShipmentLineBody(RequestBody):
    model_config = ConfigDict(title="NewShipmentLine")

    sku: str = Field(examples=["MUG-1"], json_schema_extra=limits.SKU)
    quantity: WholeNumber = Field(
        description="1-1000, at most what remains to ship of the line",
        examples=[2],
        json_schema_extra=limits.QUANTITY,
    )


def _lines(body: list[ShipmentLineBody]) -> tuple[ShipmentLine, ...]:
    return tuple(ShipmentLine(line.sku, line.quantity) for line in body)


class TrackingBody(RequestBody):
    """Who carries a shipment, and how its customer follows it."""

    model_config = ConfigDict(title="Tracking")

    carrier: str = Field(examples=["DHL"], json_schema_extra=limits.CARRIER)
    tracking_number: str = Field(
        examples=["JD014600006281230704"], json_schema_extra=limits.TRACKING_NUMBER
    )
    tracking_url: str | SkipJsonSchema[None] = Field(
        default=None,
        description="An absolute http(s) URL, without credentials",
        examples=["https://www.dhl.com/track?id=JD014600006281230704"],
        json_schema_extra=limits.TRACKING_URL,
    )

    def tracking(self) -> Tracking:
        return Tracking(self.carrier, self.tracking_number, self.tracking_url)


class NewShipmentBody(TrackingBody):
    """Units of an order to ship now (any subset of what remains of each line: each SKU
    once), and their tracking."""

    model_config = ConfigDict(title="NewShipment")

    lines: list[ShipmentLineBody] = Field(json_schema_extra=limits.LINES)

    def to_domain(self, order_id: str, expected_version: int | None) -> NewShipment:
        return NewShipment(order_id, _lines(self.lines), self.tracking(), expected_version)


class RemainderCancellationBody(RequestBody):
    """What no longer ships: some of the units remaining (each SKU once), or, without
    `lines`, every one."""

    model_config = ConfigDict(title="RemainderCancellation")

    lines: list[ShipmentLineBody] | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=limits.LINES
    )
    reason: str = Field(
        default=CANCELLED_REASON,
        description="Why (at most 255 characters)",
        examples=["out of production"],
        json_schema_extra=limits.CANCEL_REASON,
    )

    def to_domain(self, order_id: str, expected_version: int | None) -> RemainderCancellation:
        lines = None if self.lines is None else _lines(self.lines)
        return RemainderCancellation(order_id, lines, self.reason, expected_version)


class CancellationResource(BaseModel):
    """An order once (some of) what remained of it was cancelled, and the refunds of what
    the cancelled units cost, as the provider left them."""

    model_config = ConfigDict(title="CancelledRemainder")

    order: OrderResource
    refunds: list[RefundResource]

    @staticmethod
    def document(cancellation: Cancellation) -> dict[str, Any]:
        return {
            "order": OrderResource.document(cancellation.order),
            "refunds": [refund_view(refund) for refund in cancellation.refunds],
        }

"""The JSON shapes of orders (see :mod:`orderly_http.schemas` for the conventions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orderly_core.orders.model import Order, Placement, order_view
from orderly_core.orders.placement import LineRequest, NewOrder
from orderly_core.shared.paging import Page
from orderly_http import limits
from orderly_http.schemas import RequestBody, WholeNumber

_NEXT_CURSOR = "Pass as `cursor` to get the next page; null on the last page"


class OrderLineResource(BaseModel):
    model_config = ConfigDict(title="OrderLine")

    sku: str = Field(examples=["MUG-1"])
    quantity: int = Field(examples=[2])
    unit_price: int = Field(
        description="Price of one unit when the order was placed, in minor units",
        examples=[1250],
    )
    currency: str = Field(examples=["EUR"])


class OrderResource(BaseModel):
    """An order: its lines with the prices of the moment it was placed, and its status."""

    model_config = ConfigDict(title="Order")

    id: str
    status: str = Field(
        description="placed, paid, shipped, delivered or cancelled", examples=["placed"]
    )
    customer_id: str
    lines: list[OrderLineResource]
    total: int = Field(description="Sum of the lines, in minor units", examples=[2500])
    currency: str = Field(description="ISO 4217 code; one currency per order", examples=["EUR"])
    expires_at: datetime = Field(
        description="An order still unpaid at this time is cancelled (reason `expired`)"
    )
    cancel_reason: str | None = Field(description="Why the order was cancelled, if it was")
    version: int = Field(description="Increases with every change; the ETag carries it")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, order: Order) -> OrderResource:
        view: dict[str, Any] = order_view(order)
        lines = [OrderLineResource.model_construct(**line) for line in view.pop("lines")]
        return cls.model_construct(lines=lines, **view)

    @staticmethod
    def document(order: Order) -> dict[str, Any]:
        """The resource as plain values, for :func:`~orderly_http.schemas.document_response`."""
        return order_view(order)


class LineAvailabilityResource(BaseModel):
    model_config = ConfigDict(title="LineAvailability")

    sku: str
    requested: int
    available: int = Field(description="Units available before this order")


class OrderPreviewResource(OrderResource):
    """A dry run of a placement: the order that would be placed, priced, and the stock
    available to each line. Nothing is stored."""

    model_config = ConfigDict(title="OrderPreview")

    availability: list[LineAvailabilityResource]

    @classmethod
    def from_placement(cls, placement: Placement) -> OrderPreviewResource:
        order = OrderResource.from_domain(placement.order)
        availability = [
            LineAvailabilityResource.model_construct(
                sku=line.sku, requested=line.requested, available=line.available
            )
            for line in placement.availability
        ]
        return cls.model_construct(**dict(order), availability=availability)


class OrderPageResource(BaseModel):
    """One page of orders, newest first."""

    model_config = ConfigDict(title="OrderPage")

    items: list[OrderResource]
    next_cursor: str | None = Field(description=_NEXT_CURSOR)

    @classmethod
    def from_domain(cls, page: Page[Order]) -> OrderPageResource:
        items = [OrderResource.from_domain(order) for order in page.items]
        return cls.model_construct(items=items, next_cursor=page.next_cursor)

    @staticmethod
    def document(page: Page[Order]) -> dict[str, Any]:
        """The resource as plain values, for :func:`~orderly_http.schemas.document_response`."""
        return {
            "items": [OrderResource.document(order) for order in page.items],
            "next_cursor": page.next_cursor,
        }


class OrderLineBody(RequestBody):
    model_config = ConfigDict(title="NewOrderLine")

    sku: str = Field(examples=["MUG-1"], json_schema_extra=limits.SKU)
    quantity: WholeNumber = Field(
        description="1-1000", examples=[2], json_schema_extra=limits.QUANTITY
    )


class NewOrderBody(RequestBody):
    """An order for the signed-in customer: 1-100 lines, each SKU once."""

    model_config = ConfigDict(title="NewOrder")

    lines: list[OrderLineBody] = Field(json_schema_extra=limits.LINES)

    def to_domain(self) -> NewOrder:
        return NewOrder(tuple(LineRequest(line.sku, line.quantity) for line in self.lines))


class CancelBody(RequestBody):
    model_config = ConfigDict(title="Cancellation")

    reason: str = Field(
        default="cancelled",
        description="Why (at most 255 characters)",
        examples=["changed mind"],
        json_schema_extra=limits.CANCEL_REASON,
    )

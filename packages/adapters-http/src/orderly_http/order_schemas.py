"""The JSON shapes of orders (see :mod:`orderly_http.schemas` for the conventions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from orderly_core.orders.address import Address
from orderly_core.orders.details import OrderDetailsChange
from orderly_core.orders.model import Order, Placement, order_view
from orderly_core.orders.placement import LineRequest, NewOrder
from orderly_core.shared.paging import Page
from orderly_http import limits
from orderly_http.schemas import ChangesBody, RequestBody, WholeNumber

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
    shipped: int = Field(description="Units shipped", examples=[2])
    delivered: int = Field(description="Units delivered (at most those shipped)", examples=[0])
    returned: int = Field(description="Units returned (at most those delivered)", examples=[0])
    cancelled: int = Field(
        description="Units no longer to ship; `quantity - shipped - cancelled` remain to ship",
        examples=[0],
    )


class AddressResource(BaseModel):
    """A postal address."""

    model_config = ConfigDict(title="Address")

    name: str = Field(examples=["Ann Example"])
    line1: str = Field(examples=["Hauptstr. 1"])
    line2: str = Field(description="Empty when there is none")
    postal_code: str = Field(description="Empty when there is none", examples=["10115"])
    city: str = Field(examples=["Berlin"])
    region: str = Field(description="Empty when there is none")
    country: str = Field(description="ISO 3166-1 alpha-2 code", examples=["DE"])
    phone: str | None = Field(description="For the carrier; null when none was given")


class OrderResource(BaseModel):
    """An order: its lines with the prices of the moment it was placed, its shipping, and its
    status."""

    model_config = ConfigDict(title="Order")

    id: str
    status: str = Field(
        description="placed, paid, partially_shipped, shipped, delivered or cancelled",
        examples=["placed"],
    )
    customer_id: str
    lines: list[OrderLineResource]
    subtotal: int = Field(description="Sum of the lines, in minor units", examples=[2500])
    shipping: int = Field(
        description="The shipping price captured at placement, in minor units (0: none)",
        examples=[490],
    )
    total: int = Field(description="subtotal + shipping, in minor units", examples=[2990])
    currency: str = Field(description="ISO 4217 code; one currency per order", examples=["EUR"])
    email: str | None = Field(description="Whom the shop writes to about this order")
    shipping_address: AddressResource | None = Field(description="Where the order ships")
    shipping_method: str | None = Field(
        description="The code of the shipping rate it ships at; null in a shop without rates",
        examples=["std-eur"],
    )
    expires_at: datetime = Field(
        description="An order still unpaid at this time is cancelled (reason `expired`)"
    )
    cancel_reason: str | None = Field(description="Why the order was cancelled, if it was")
    delivered_at: datetime | None = Field(
        description="When its last delivery so far was made (null before any): returns of "
        "its delivered units count their window from it"
    )
    version: int = Field(description="Increases with every change; the ETag carries it")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, order: Order) -> OrderResource:
        view: dict[str, Any] = order_view(order)
        lines = [OrderLineResource.model_construct(**line) for line in view.pop("lines")]
        address = view.pop("shipping_address")
        shipping_address = None if address is None else AddressResource.model_construct(**address)
        return cls.model_construct(lines=lines, shipping_address=shipping_address, **view)

    @staticmethod
    def document(order: Order) -> dict[str, Any]:
        """The resource as plain values, for :func:`~orderly_http.schemas.document_response`."""
        return order_view(order)


class LineAvailabilityResource(BaseModel):
    model_config = ConfigDict(title="LineAvailability")

    sku: str
    requested: int
    available: int = Field(description="Units available before this order")


class ShippingMethodResource(BaseModel):
    model_config = ConfigDict(title="ShippingMethod")

    code: str = Field(examples=["std-eur"])
    name: str = Field(examples=["Standard"])
    price: int = Field(
        description="What this order would pay to ship so, in minor units of its currency "
        "(0 once its subtotal reaches the rate's `free_above`)",
        examples=[490],
    )
    currency: str = Field(examples=["EUR"])


class OrderPreviewResource(OrderResource):
    """A dry run of a placement, the quote: the order that would be placed, priced, the
    stock available to each line, and the shipping methods available for its address (every
    active rate of its currency when it names none). Nothing is stored."""

    model_config = ConfigDict(title="OrderPreview")

    availability: list[LineAvailabilityResource]
    shipping_methods: list[ShippingMethodResource]

    @classmethod
    def from_placement(cls, placement: Placement) -> OrderPreviewResource:
        order = OrderResource.from_domain(placement.order)
        availability = [
            LineAvailabilityResource.model_construct(
                sku=line.sku, requested=line.requested, available=line.available
            )
            for line in placement.availability
        ]
        methods = [
            ShippingMethodResource.model_construct(
                code=option.code,
                name=option.name,
                price=option.price.amount,
                currency=option.price.currency,
            )
            for option in placement.shipping_methods
        ]
        return cls.model_construct(
            **dict(order), availability=availability, shipping_methods=methods
        )


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


class _WithoutNulls(RequestBody):
    """A body whose optional fields are left out when not given: ``null`` is refused."""

    @field_validator("*", mode="before")
    @classmethod
    def _left_out_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("leave the field out when there is none; null is not a value")
        return value


class AddressBody(_WithoutNulls):
    """A postal address: `name`, `line1`, `city` and `country` are required."""

    model_config = ConfigDict(title="NewAddress")

    name: str = Field(description="Who receives it", json_schema_extra=limits.ADDRESS_NAME)
    line1: str = Field(examples=["Hauptstr. 1"], json_schema_extra=limits.ADDRESS_LINE1)
    line2: str = Field(default="", json_schema_extra=limits.ADDRESS_LINE2)
    postal_code: str = Field(default="", examples=["10115"], json_schema_extra=limits.POSTAL_CODE)
    city: str = Field(examples=["Berlin"], json_schema_extra=limits.CITY)
    region: str = Field(default="", json_schema_extra=limits.REGION)
    country: str = Field(
        description="ISO 3166-1 alpha-2 code", examples=["DE"], json_schema_extra=limits.COUNTRY
    )
    phone: str | SkipJsonSchema[None] = Field(
        default=None, description="For the carrier", json_schema_extra=limits.PHONE
    )

    def to_domain(self) -> Address:
        return Address(
            name=self.name,
            line1=self.line1,
            city=self.city,
            country=self.country,
            line2=self.line2,
            postal_code=self.postal_code,
            region=self.region,
            phone=self.phone,
        )


class NewOrderBody(_WithoutNulls):
    """An order for the signed-in customer: 1-100 lines, each SKU once; where it ships and
    how (both required once the shop has shipping rates); a contact email (the account's
    unless given)."""

    model_config = ConfigDict(title="NewOrder")

    lines: list[OrderLineBody] = Field(json_schema_extra=limits.LINES)
    email: str | SkipJsonSchema[None] = Field(
        default=None,
        description="Whom the shop writes to about this order; the account's email if left out",
        json_schema_extra=limits.EMAIL,
    )
    shipping_address: AddressBody | SkipJsonSchema[None] = None
    shipping_method: str | SkipJsonSchema[None] = Field(
        default=None,
        description="The code of an active shipping rate in the order's currency that serves "
        "the address's country",
        examples=["std-eur"],
        json_schema_extra=limits.RATE_CODE,
    )

    def to_domain(self) -> NewOrder:
        address = self.shipping_address
        return NewOrder(
            tuple(LineRequest(line.sku, line.quantity) for line in self.lines),
            email=self.email,
            shipping_address=None if address is None else address.to_domain(),
            shipping_method=self.shipping_method,
        )


class OrderDetailsBody(ChangesBody):
    """The details to change: the contact email, the shipping address (given whole), or
    both."""

    model_config = ConfigDict(title="OrderDetailsChanges", json_schema_extra={"minProperties": 1})

    email: str | SkipJsonSchema[None] = Field(default=None, json_schema_extra=limits.EMAIL)
    shipping_address: AddressBody | SkipJsonSchema[None] = None

    def to_domain(self, order_id: str, expected_version: int | None) -> OrderDetailsChange:
        address = self.shipping_address
        return OrderDetailsChange(
            order_id,
            expected_version,
            email=self.email,
            shipping_address=None if address is None else address.to_domain(),
        )


class CancelBody(RequestBody):
    model_config = ConfigDict(title="Cancellation")

    reason: str = Field(
        default="cancelled",
        description="Why (at most 255 characters)",
        examples=["changed mind"],
        json_schema_extra=limits.CANCEL_REASON,
    )

"""The JSON shapes of returns (see :mod:`orderly_http.schemas` for the conventions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict
from pydantic.json_schema import SkipJsonSchema

from orderly_core.payments.views import refund_view
from orderly_core.returns.model import Disposition, Return, return_view
from orderly_core.returns.requests import ReturnLineRequest, ReturnRequest
from orderly_core.returns.steps import (
    ReceivedLine,
    ReturnDecision,
    ReturnReceipt,
    ReturnReceived,
)
from orderly_core.shared.paging import Page
from orderly_http import limits
from orderly_http.payment_schemas import RefundResource
from orderly_http.schemas import RequestBody, WholeNumber

_NEXT_CURSOR = "Pass as `cursor` to get the next page; null on the last page"


class ReturnLineResource(BaseModel):
    model_config = ConfigDict(title="ReturnLine")

    sku: str = Field(examples=["MUG-1"])
    quantity: int = Field(description="Units asked to return", examples=[1])
    reason: str = Field(examples=["too small"])
    restocked: int = Field(description="Units received and put back on the shelf")
    written_off: int = Field(description="Units received and written off")


class ReturnResource(BaseModel):
    """Delivered units of an order sent back: requested, then approved or rejected by staff,
    then received (each unit restocked or written off) and refunded."""

    model_config = ConfigDict(title="Return")

    id: str
    order_id: str
    status: str = Field(
        description="requested, approved, rejected or received", examples=["requested"]
    )
    lines: list[ReturnLineResource]
    note: str | None = Field(description="The staff's note on their decision, if any")
    refund_shipping: bool = Field(description="Whether its refund gave back the shipping")
    requested_by: str = Field(description="Who asked: `user:<id>`, `operator:<name>`...")
    version: int = Field(description="Increases with every change")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def document(ret: Return) -> dict[str, Any]:
        return return_view(ret)


class ReceivedReturnResource(ReturnResource):
    """A received return, with the refunds it gave rise to as the provider left them."""

    model_config = ConfigDict(title="ReceivedReturn")

    refunds: list[RefundResource]

    @staticmethod
    def received(received: ReturnReceived) -> dict[str, Any]:
        return return_view(received.ret) | {
            "refunds": [refund_view(refund) for refund in received.refunds]
        }


class ReturnListResource(BaseModel):
    """An order's returns, oldest first."""

    model_config = ConfigDict(title="ReturnList")

    items: list[ReturnResource]

    @staticmethod
    def document(found: tuple[Return, ...]) -> dict[str, Any]:
        return {"items": [return_view(ret) for ret in found]}


class ReturnPageResource(BaseModel):
    """One page of returns, newest first."""

    model_config = ConfigDict(title="ReturnPage")

    items: list[ReturnResource]
    next_cursor: str | None = Field(description=_NEXT_CURSOR)

    @staticmethod
    def document(page: Page[Return]) -> dict[str, Any]:
        return {
            "items": [return_view(ret) for ret in page.items],
            "next_cursor": page.next_cursor,
        }


class ReturnLineBody(RequestBody):
    model_config = ConfigDict(title="NewReturnLine")

    sku: str = Field(examples=["MUG-1"], json_schema_extra=limits.SKU)
    quantity: WholeNumber = Field(
        description="1-1000: at most the units delivered, not yet returned or asked for",
        examples=[1],
        json_schema_extra=limits.QUANTITY,
    )
    reason: str = Field(
        description="Why (1-255 characters)",
        examples=["too small"],
        json_schema_extra=limits.RETURN_REASON,
    )


class NewReturnBody(RequestBody):
    model_config = ConfigDict(title="NewReturn")

    lines: list[ReturnLineBody] = Field(description="Each SKU once", json_schema_extra=limits.LINES)

    def to_domain(self, order_id: str) -> ReturnRequest:
        lines = tuple(
            ReturnLineRequest(line.sku, line.quantity, line.reason) for line in self.lines
        )
        return ReturnRequest(order_id, lines)


class ReturnDecisionBody(RequestBody):
    model_config = ConfigDict(title="ReturnDecision")

    note: str | SkipJsonSchema[None] = Field(
        default=None,
        description="Why, for the customer and the records (at most 1000 characters)",
        examples=["unworn, tags on"],
        json_schema_extra=limits.RETURN_NOTE,
    )

    def to_domain(self, return_id: str, expected_version: int | None) -> ReturnDecision:
        return ReturnDecision(return_id, self.note, expected_version)


class ReceivedLineBody(RequestBody):
    model_config = ConfigDict(title="ReceivedReturnLine")

    sku: str = Field(examples=["MUG-1"], json_schema_extra=limits.SKU)
    quantity: WholeNumber = Field(
        description="1-1000", examples=[1], json_schema_extra=limits.QUANTITY
    )
    disposition: Annotated[Disposition, Strict(strict=False)] = Field(
        description="`restock` (back on the shelf) or `write_off` (recorded, not stocked)",
        examples=["restock"],
    )


class ReceiptBody(RequestBody):
    model_config = ConfigDict(title="ReturnReceipt")

    lines: list[ReceivedLineBody] = Field(
        description="Per SKU, one line per disposition; together at most the units the "
        "return names",
        json_schema_extra=limits.RECEIPT_LINES,
    )
    refund_shipping: bool = Field(
        default=False,
        description="Refund the order's shipping too (once per order)",
    )

    def to_domain(self, return_id: str, expected_version: int | None) -> ReturnReceipt:
        lines = tuple(
            ReceivedLine(line.sku, line.quantity, line.disposition) for line in self.lines
        )
        return ReturnReceipt(return_id, lines, self.refund_shipping, expected_version)

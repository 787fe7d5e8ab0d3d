"""The API's JSON shapes. Pydantic lives here and nowhere deeper.

Responses are built once from the domain values with ``model_construct`` (the core has
already validated them) and serialised by pydantic-core straight to bytes: no second
validation pass through FastAPI's ``response_model``, which stays only to document them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from orderly_core.catalogue.model import Product, ProductPage, product_view


class ProductResource(BaseModel):
    """A product of the catalogue with its stock levels."""

    model_config = ConfigDict(title="Product")

    sku: str = Field(
        description="Unique, upper-case: 1-64 characters of A-Z, 0-9, '-', '_', '.'",
        examples=["MUG-1"],
    )
    name: str = Field(examples=["Blue mug"])
    description: str
    unit_price: int = Field(
        description="Price in minor units of the currency: 1250 is 12.50 EUR", examples=[1250]
    )
    currency: str = Field(description="ISO 4217 code", examples=["EUR"])
    active: bool = Field(description="False once the product is archived (out of sale)")
    on_hand: int = Field(description="Units in stock")
    reserved: int = Field(description="Units held for open orders")
    available: int = Field(description="on_hand - reserved: units that can still be ordered")
    version: int = Field(description="Increases with every change; the ETag carries it")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, product: Product) -> ProductResource:
        return cls.model_construct(**product_view(product))


class ProductPageResource(BaseModel):
    """One page of products in SKU order."""

    model_config = ConfigDict(title="ProductPage")

    items: list[ProductResource]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )

    @classmethod
    def from_domain(cls, page: ProductPage) -> ProductPageResource:
        items = [ProductResource.from_domain(product) for product in page.items]
        return cls.model_construct(items=items, next_cursor=page.next_cursor)


class ProblemField(BaseModel):
    field: str = Field(examples=["limit"])
    message: str = Field(examples=["Input should be less than or equal to 200"])


class Problem(BaseModel):
    """An RFC 9457 problem document; further members depend on the ``code``."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="/problems/<code> for Orderly's own problems, about:blank for generic ones",
        examples=["/problems/product_not_found"],
    )
    title: str = Field(examples=["Product not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No product has SKU 'MUG-9'."])
    code: str = Field(description="Stable machine-readable code", examples=["product_not_found"])
    request_id: str = Field(description="The X-Request-ID of the request")
    errors: list[ProblemField] | None = Field(
        default=None, description="With code invalid_input: every invalid field"
    )


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, Literal["ok", "down"]] = Field(examples=[{"postgres": "ok", "redis": "ok"}])


def json_response(
    model: BaseModel, *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        model.__pydantic_serializer__.to_json(model),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )

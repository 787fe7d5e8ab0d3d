"""The JSON shapes of shipping rates (see :mod:`orderly_http.schemas` for the conventions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from orderly_core.shared.paging import Page
from orderly_core.shipping.model import ShippingRate, rate_view
from orderly_core.shipping.use_cases import NewShippingRate, ShippingRateChanges
from orderly_http import limits
from orderly_http.schemas import ChangesBody, RequestBody, WholeNumber

_COUNTRIES = "ISO 3166-1 alpha-2 codes of the countries served, each once; empty: every country"
_FREE_ABOVE = "The subtotal (minor units) from which shipping at this rate is free"


class ShippingRateResource(BaseModel):
    """A way the shop ships its orders, and what it costs."""

    model_config = ConfigDict(title="ShippingRate")

    code: str = Field(description="Unique, lower-case", examples=["std-eur"])
    name: str = Field(examples=["Standard"])
    countries: list[str] = Field(description=_COUNTRIES, examples=[["DE", "FR"]])
    price: int = Field(description="In minor units of the currency", examples=[490])
    currency: str = Field(description="ISO 4217 code: orders in it may ship so", examples=["EUR"])
    free_above: int | None = Field(description=f"{_FREE_ABOVE}; null: never free")
    active: bool = Field(description="False once the rate is retired")
    version: int = Field(description="Increases with every change; the ETag carries it")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def document(rate: ShippingRate) -> dict[str, Any]:
        """The resource as plain values, for :func:`~orderly_http.schemas.document_response`."""
        return rate_view(rate)


class ShippingRatePageResource(BaseModel):
    """One page of shipping rates in code order."""

    model_config = ConfigDict(title="ShippingRatePage")

    items: list[ShippingRateResource]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )

    @staticmethod
    def document(page: Page[ShippingRate]) -> dict[str, Any]:
        return {
            "items": [rate_view(rate) for rate in page.items],
            "next_cursor": page.next_cursor,
        }


_CODE_DESCRIPTION = (
    "1-32 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit; any case "
    "(kept lower-case); unique"
)


class NewShippingRateBody(RequestBody):
    """A shipping rate. One currency per rate: a shop selling in two defines one for each."""

    model_config = ConfigDict(title="NewShippingRate")

    code: str = Field(
        description=_CODE_DESCRIPTION, examples=["std-eur"], json_schema_extra=limits.RATE_CODE
    )
    name: str = Field(examples=["Standard"], json_schema_extra=limits.RATE_NAME)
    countries: list[str] = Field(
        default=[],
        description=_COUNTRIES,
        examples=[["DE", "FR"]],
        json_schema_extra=limits.COUNTRY_LIST | {"items": limits.COUNTRY},
    )
    price: WholeNumber = Field(
        description="In minor units of the currency",
        examples=[490],
        json_schema_extra=limits.MINOR_UNITS,
    )
    currency: str = Field(
        description="ISO 4217 code", examples=["EUR"], json_schema_extra=limits.CURRENCY
    )
    free_above: WholeNumber | SkipJsonSchema[None] = Field(
        default=None,
        description=f"{_FREE_ABOVE}; leave out: never free",
        examples=[5000],
        json_schema_extra=limits.MINOR_UNITS,
    )
    active: bool = Field(default=True, description="False to create it retired")

    @field_validator("free_above", mode="before")
    @classmethod
    def _left_out_not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("leave the field out when the rate is never free; null is not a value")
        return value

    def to_domain(self) -> NewShippingRate:
        return NewShippingRate(
            code=self.code,
            name=self.name,
            price=self.price,
            currency=self.currency,
            countries=tuple(self.countries),
            free_above=self.free_above,
            active=self.active,
        )


class ShippingRateChangesBody(ChangesBody):
    """The fields to change; the others stay as they are. A new currency needs a new price;
    `"free_above": 0` makes the rate always free, and `clear_free_above: true` never."""

    model_config = ConfigDict(
        title="ShippingRateChanges",
        json_schema_extra={
            "minProperties": 1,
            "dependentRequired": {"currency": ["price"]},
            "not": {"required": ["free_above", "clear_free_above"]},
        },
    )

    name: str | SkipJsonSchema[None] = Field(default=None, json_schema_extra=limits.RATE_NAME)
    countries: list[str] | SkipJsonSchema[None] = Field(
        default=None,
        description=_COUNTRIES,
        json_schema_extra=limits.COUNTRY_LIST | {"items": limits.COUNTRY},
    )
    price: WholeNumber | SkipJsonSchema[None] = Field(
        default=None,
        description="In minor units of the currency",
        json_schema_extra=limits.MINOR_UNITS,
    )
    currency: str | SkipJsonSchema[None] = Field(
        default=None, description="ISO 4217 code", json_schema_extra=limits.CURRENCY
    )
    free_above: WholeNumber | SkipJsonSchema[None] = Field(
        default=None, description=_FREE_ABOVE, json_schema_extra=limits.MINOR_UNITS
    )
    clear_free_above: bool | SkipJsonSchema[None] = Field(
        default=None,
        description="true: the rate is never free (not with `free_above`)",
        json_schema_extra={"const": True},
    )
    active: bool | SkipJsonSchema[None] = Field(
        default=None, description="False retires the rate, true puts it back"
    )

    def to_domain(self, code: str, expected_version: int | None) -> ShippingRateChanges:
        return ShippingRateChanges(
            code=code,
            expected_version=expected_version,
            name=self.name,
            countries=None if self.countries is None else tuple(self.countries),
            price=self.price,
            currency=self.currency,
            free_above=self.free_above,
            clear_free_above=bool(self.clear_free_above),
            active=self.active,
        )

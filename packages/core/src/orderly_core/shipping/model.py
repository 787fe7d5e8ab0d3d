"""Shipping rates, as frozen values.

A rate is a way the shop ships an order (``std-eur``: "Standard"), the countries it serves
(none: everywhere), its price in one currency, and the subtotal from which it is free. A shop
selling in two currencies defines a rate for each (``std-eur``, ``std-usd``): an order is
offered the active rates of its own currency that serve its address's country.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from orderly_core.shared.money import Money
from orderly_core.shared.paging import PageQuery

RATE_CODE_MAX = 32
_CODE = re.compile(rf"[a-z0-9][a-z0-9_.\-]{{0,{RATE_CODE_MAX - 1}}}")
# What a client may send as a code (any case; stored lower-cased), as a JSON Schema pattern.
RATE_CODE_INPUT_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.\-]{{0,{RATE_CODE_MAX - 1}}}$"
RATE_CODE_RULE = (
    f"must be 1-{RATE_CODE_MAX} characters of a-z, 0-9, '_', '.' or '-', "
    "starting with a letter or a digit"
)
RATE_NAME_MAX = 100


def normalise_rate_code(raw: str) -> str | None:
    """Rate codes are case-insensitive: stored and compared lower-cased. ``None`` if
    malformed (ASCII only: a Kelvin sign does not become ``k``)."""
    code = raw.strip()
    return code.lower() if code.isascii() and _CODE.fullmatch(code.lower()) else None


@dataclass(frozen=True, slots=True)
class ShippingRate:
    code: str
    name: str
    countries: tuple[str, ...]  # ISO 3166-1 alpha-2, sorted; empty: every country
    price: Money
    free_above: int | None  # minor units of the price's currency; None: never free
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime

    def serves(self, country: str | None, currency: str) -> bool:
        """Whether an order in ``currency`` to ``country`` may ship at this rate (no
        country: an order without an address, which any rate of its currency serves)."""
        reaches = not self.countries or country is None or country in self.countries
        return self.active and self.price.currency == currency and reaches

    def price_for(self, subtotal: int) -> Money:
        """What an order of ``subtotal`` (minor units) pays to ship at this rate."""
        free = self.free_above is not None and subtotal >= self.free_above
        return Money(0, self.price.currency) if free else self.price

    def bumped(self, now: datetime) -> ShippingRate:
        """This rate as a new version: every change to a rate goes through here."""
        return replace(self, version=self.version + 1, updated_at=now)


@dataclass(frozen=True, slots=True)
class ShippingRateQuery(PageQuery):
    active: bool | None = None


def rate_view(rate: ShippingRate) -> dict[str, Any]:
    """The public representation of a shipping rate; amounts in minor units."""
    return {
        "code": rate.code,
        "name": rate.name,
        "countries": list(rate.countries),
        "price": rate.price.amount,
        "currency": rate.price.currency,
        "free_above": rate.free_above,
        "active": rate.active,
        "version": rate.version,
        "created_at": rate.created_at.astimezone(UTC),
        "updated_at": rate.updated_at.astimezone(UTC),
    }

"""Products and their stock, as frozen values."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from orderly_core.shared.money import Money
from orderly_core.shared.paging import PageQuery

SKU_CHARACTERS = r"A-Z0-9_.\-"
SKU_MAX = 64
SKU_PATTERN = re.compile(rf"[{SKU_CHARACTERS}]{{1,{SKU_MAX}}}")
# What a client may send as a SKU (any case; stored upper-cased), as a JSON Schema pattern.
SKU_INPUT_PATTERN = rf"^[a-z{SKU_CHARACTERS}]{{1,{SKU_MAX}}}$"
NAME_MAX = 200
DESCRIPTION_MAX = 5000
ON_HAND_MAX = 10**9
MAX_PER_ORDER_MAX = 1000  # a product's own limit is 1-1000 units per order (none: 1000)


def normalise_sku(raw: str) -> str | None:
    """SKUs are case-insensitive: stored and compared upper-cased. ``None`` if malformed
    (only ASCII letters count: a dotless i does not become ``I``)."""
    sku = raw.strip()
    return sku.upper() if sku.isascii() and SKU_PATTERN.fullmatch(sku.upper()) else None


SKU_RULE = "must be 1-64 characters of A-Z, 0-9, '-', '_' or '.'"


@dataclass(frozen=True, slots=True)
class Stock:
    """``available = on_hand - reserved``; neither level is ever negative."""

    on_hand: int
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    description: str
    price: Money
    active: bool
    stock: Stock
    version: int
    created_at: datetime
    updated_at: datetime
    low_stock_threshold: int = 0  # stock.low when available falls below it; 0: never
    max_per_order: int | None = None  # most units one order may hold; None: no own limit

    def bumped(self, now: datetime) -> Product:
        """This product as a new version: every change to a product goes through here."""
        return replace(self, version=self.version + 1, updated_at=now)


@dataclass(frozen=True, slots=True)
class ProductQuery(PageQuery):
    active: bool | None = None
    search: str | None = None


def fell_below_threshold(product: Product, available_before: int) -> bool:
    """Whether a movement that left ``product`` as it is took its available stock from at
    least its low-stock threshold to below it (each fall is told once, not every movement
    while it stays low)."""
    threshold = product.low_stock_threshold
    return threshold > 0 and available_before >= threshold > product.stock.available


def product_view(product: Product) -> dict[str, Any]:
    """The public representation of a product, field for field, for every adapter.

    Prices are minor units; times are aware UTC datetimes, for each adapter to render in
    RFC 3339.
    """
    return {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "unit_price": product.price.amount,
        "currency": product.price.currency,
        "active": product.active,
        "on_hand": product.stock.on_hand,
        "reserved": product.stock.reserved,
        "available": product.stock.available,
        "low_stock_threshold": product.low_stock_threshold,
        "max_per_order": product.max_per_order,
        "version": product.version,
        "created_at": product.created_at.astimezone(UTC),
        "updated_at": product.updated_at.astimezone(UTC),
    }

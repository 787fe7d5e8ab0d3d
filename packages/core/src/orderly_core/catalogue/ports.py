"""What the catalogue needs from storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from returns.result import Result

from orderly_core.catalogue.errors import DuplicateSku
from orderly_core.catalogue.model import Product


class ProductRepository(Protocol):
    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:
        """The product with this (normalised) SKU; ``for_update`` locks its row."""
        ...

    async def get_many(
        self, skus: Sequence[str], *, for_update: bool = False
    ) -> dict[str, Product]:
        """Products by SKU; with ``for_update`` rows are locked in SKU order (no deadlocks)."""
        ...

    async def add(self, product: Product) -> Result[None, DuplicateSku]: ...

    async def save(self, product: Product) -> None:
        """Write every mutable field of a product whose row the caller has locked."""
        ...

    async def list(
        self, *, after: str | None, limit: int, active: bool | None, search: str | None
    ) -> list[Product]:
        """Up to ``limit`` products ordered by SKU, starting after ``after``."""
        ...

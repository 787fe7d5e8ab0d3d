"""What the catalogue needs from storage: its products, its stock ledger, and a unit of work
that holds them with the platform's records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from returns.result import Result

from orderly_core.catalogue.errors import DuplicateSku
from orderly_core.catalogue.ledger import StockMovement
from orderly_core.catalogue.model import Product
from orderly_core.platform.ports import Services
from orderly_core.platform.unit import PlatformUnit


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


class StockLedger(Protocol):
    async def append(self, movement: StockMovement) -> None: ...

    async def history(
        self, sku: str, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[StockMovement]:
        """A product's movements, newest first, after the (at, id) position ``after``."""
        ...

    async def totals(self) -> dict[str, tuple[int, int]]:
        """Per SKU, the sums of (on-hand, reserved) deltas of every movement."""
        ...


class CatalogueUnit(PlatformUnit, Protocol):
    @property
    def products(self) -> ProductRepository: ...

    @property
    def stock_ledger(self) -> StockLedger: ...


type CatalogueServices = Services[CatalogueUnit]

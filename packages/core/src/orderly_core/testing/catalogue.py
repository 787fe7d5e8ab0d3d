"""In-memory fakes of the catalogue's repositories: products and the stock ledger."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from returns.result import Failure, Result, Success

from orderly_core.catalogue.errors import DuplicateSku
from orderly_core.catalogue.ledger import StockMovement
from orderly_core.catalogue.model import Product


class InMemoryProducts:
    def __init__(self, rows: dict[str, Product]) -> None:
        self._rows = rows

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:  # noqa: ARG002
        return self._rows.get(sku)

    async def get_many(
        self,
        skus: Sequence[str],
        *,
        for_update: bool = False,  # noqa: ARG002
    ) -> dict[str, Product]:
        return {sku: self._rows[sku] for sku in sorted(set(skus)) if sku in self._rows}

    async def add(self, product: Product) -> Result[None, DuplicateSku]:
        if product.sku in self._rows:
            return Failure(DuplicateSku(product.sku))
        self._rows[product.sku] = product
        return Success(None)

    async def save(self, product: Product) -> None:
        if product.sku not in self._rows:
            raise LookupError(f"save() of a product never added: {product.sku}")
        self._rows[product.sku] = product

    async def list(
        self, *, after: str | None, limit: int, active: bool | None, search: str | None
    ) -> list[Product]:
        needle = (search or "").lower()
        found = [
            p
            for sku, p in sorted(self._rows.items())
            if (after is None or sku > after)
            and (active is None or p.active is active)
            and (needle in p.name.lower() or needle in sku.lower())
        ]
        return found[:limit]


class InMemoryLedger:
    def __init__(self, rows: list[StockMovement]) -> None:
        self._rows = rows

    async def append(self, movement: StockMovement) -> None:
        self._rows.append(movement)

    async def history(
        self, sku: str, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[StockMovement]:
        newest_first = sorted(
            (m for m in self._rows if m.sku == sku), key=lambda m: (m.at, m.id), reverse=True
        )
        return [m for m in newest_first if after is None or (m.at, m.id) < after][:limit]

    async def totals(self) -> dict[str, tuple[int, int]]:
        sums: dict[str, tuple[int, int]] = {}
        for m in self._rows:
            on_hand, reserved = sums.get(m.sku, (0, 0))
            sums[m.sku] = (on_hand + m.on_hand_delta, reserved + m.reserved_delta)
        return sums

"""Fakes that behave like the PostgreSQL implementations, as far as use cases can tell."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from returns.result import Failure, Result, Success

from orderly_core.catalogue.errors import DuplicateSku
from orderly_core.catalogue.model import Product
from orderly_core.ports import Dependencies


@dataclass
class InMemoryStore:
    """The committed state that every fake unit of work starts from."""

    products: dict[str, Product] = field(default_factory=dict)
    commits: int = 0


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


class InMemoryUnitOfWork:
    """Works on a copy of the store; :meth:`commit` publishes the copy, anything else drops it."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._rows: dict[str, Product] = {}
        self.products = InMemoryProducts(self._rows)

    async def __aenter__(self) -> Self:
        self._rows = dict(self._store.products)
        self.products = InMemoryProducts(self._rows)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()

    async def commit(self) -> None:
        self._store.products = dict(self._rows)
        self._store.commits += 1

    async def rollback(self) -> None:
        self._rows = dict(self._store.products)
        self.products = InMemoryProducts(self._rows)


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2030, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class SequentialIds:
    def __init__(self) -> None:
        self._next = 0

    def new_id(self) -> uuid.UUID:
        self._next += 1
        return uuid.UUID(int=self._next)


def in_memory_dependencies(
    store: InMemoryStore | None = None, clock: FixedClock | None = None
) -> Dependencies:
    shared = store if store is not None else InMemoryStore()
    return Dependencies(
        unit_of_work=lambda: InMemoryUnitOfWork(shared),
        clock=clock or FixedClock(),
        ids=SequentialIds(),
    )

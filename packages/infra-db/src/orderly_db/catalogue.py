"""The catalogue's repository: products and their stock levels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from returns.result import Failure, Result, Success
from sqlalchemy import Row, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.catalogue.errors import DuplicateSku
from orderly_core.catalogue.model import Product, Stock
from orderly_core.money import Money
from orderly_db.errors import SKU_TAKEN, violates
from orderly_db.tables import products


def _to_product(row: Row[Any]) -> Product:
    return Product(
        sku=row.sku,
        name=row.name,
        description=row.description,
        price=Money(row.unit_price, row.currency),
        active=row.active,
        stock=Stock(on_hand=row.on_hand, reserved=row.reserved),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        low_stock_threshold=row.low_stock_threshold,
    )


def _to_row(product: Product) -> dict[str, object]:
    return {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "unit_price": product.price.amount,
        "currency": product.price.currency,
        "active": product.active,
        "on_hand": product.stock.on_hand,
        "reserved": product.stock.reserved,
        "version": product.version,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
        "low_stock_threshold": product.low_stock_threshold,
    }


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlProducts:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:
        query = select(products).where(products.c.sku == sku)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).one_or_none()
        return _to_product(row) if row else None

    async def get_many(
        self, skus: Sequence[str], *, for_update: bool = False
    ) -> dict[str, Product]:
        if not skus:
            return {}
        # Locks are taken in SKU order so that two writers never wait on each other in a cycle.
        query = select(products).where(products.c.sku.in_(sorted(set(skus)))).order_by("sku")
        if for_update:
            query = query.with_for_update()
        rows = (await self._db.execute(query)).all()
        return {row.sku: _to_product(row) for row in rows}

    async def add(self, product: Product) -> Result[None, DuplicateSku]:
        try:
            await self._db.execute(insert(products).values(_to_row(product)))
        except IntegrityError as error:
            if violates(error, SKU_TAKEN):
                return Failure(DuplicateSku(product.sku))
            raise
        return Success(None)

    async def save(self, product: Product) -> None:
        values = _to_row(product)
        del values["sku"], values["created_at"]
        result = await self._db.execute(
            update(products).where(products.c.sku == product.sku).values(values)
        )
        if result.rowcount != 1:
            raise LookupError(f"save() of a product that does not exist: {product.sku}")

    async def list(
        self, *, after: str | None, limit: int, active: bool | None, search: str | None
    ) -> list[Product]:
        conditions = []
        if after is not None:
            conditions.append(products.c.sku > after)
        if active is not None:
            conditions.append(products.c.active.is_(active))
        if search:
            pattern = f"%{_escape_like(search)}%"
            conditions.append(
                or_(
                    products.c.name.ilike(pattern, escape="\\"),
                    products.c.sku.ilike(pattern, escape="\\"),
                )
            )
        query = select(products).where(*conditions).order_by("sku").limit(limit)
        return [_to_product(row) for row in (await self._db.execute(query)).all()]

"""The catalogue's repository: products and their stock levels."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from returns.result import Failure, Result, Success
from sqlalchemy import ARRAY, String, any_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.catalogue.errors import DuplicateSku
from orderly_core.catalogue.model import Product, Stock
from orderly_core.shared.money import Money
from orderly_db.errors import SKU_TAKEN, violates
from orderly_db.statements import Columns, DriverConnection, Statement, updated_rows
from orderly_db.tables import products


def _to_product(row: Columns) -> Product:
    return Product(
        sku=row["sku"],
        name=row["name"],
        description=row["description"],
        price=Money(row["unit_price"], row["currency"]),
        active=row["active"],
        stock=Stock(on_hand=row["on_hand"], reserved=row["reserved"]),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        low_stock_threshold=row["low_stock_threshold"],
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
        "max_per_order": None,  # the checkout's column, which products do not carry yet
    }


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_BY_SKU = select(products).where(products.c.sku == bindparam("sku"))
_GET = Statement.compiled(_BY_SKU)
_GET_FOR_UPDATE = Statement.compiled(_BY_SKU.with_for_update())
# Locks are taken in SKU order so that two writers never wait on each other in a cycle.
_MANY = (
    select(products)
    .where(products.c.sku == any_(bindparam("skus", type_=ARRAY(String))))
    .order_by(products.c.sku)
)
_GET_MANY = Statement.compiled(_MANY)
_GET_MANY_FOR_UPDATE = Statement.compiled(_MANY.with_for_update())
_SAVE = Statement.compiled(
    update(products)
    .where(products.c.sku == bindparam("key_sku"))
    .values({
        column.name: bindparam(column.name)
        for column in products.c
        if column.name not in ("sku", "created_at")
    })
)  # fmt: skip


@cache
def _page(*, after: bool, active: bool, search: bool) -> Statement:
    """The page query of one combination of filters, compiled on first use."""
    query = select(products).order_by(products.c.sku).limit(bindparam("limit"))
    if after:
        query = query.where(products.c.sku > bindparam("after"))
    if active:
        query = query.where(products.c.active == bindparam("active"))
    if search:
        pattern = bindparam("pattern", type_=String)
        query = query.where(
            or_(
                products.c.name.ilike(pattern, escape="\\"),
                products.c.sku.ilike(pattern, escape="\\"),
            )
        )
    return Statement.compiled(query)


class SqlProducts:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:
        statement = _GET_FOR_UPDATE if for_update else _GET
        row = await statement.fetch_one(self._driver, {"sku": sku})
        return _to_product(row) if row else None

    async def get_many(
        self, skus: Sequence[str], *, for_update: bool = False
    ) -> dict[str, Product]:
        if not skus:
            return {}
        statement = _GET_MANY_FOR_UPDATE if for_update else _GET_MANY
        rows = await statement.fetch(self._driver, {"skus": sorted(set(skus))})
        return {row["sku"]: _to_product(row) for row in rows}

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
        values["key_sku"] = values.pop("sku")
        if updated_rows(await _SAVE.execute(self._driver, values)) != 1:
            raise LookupError(f"save() of a product that does not exist: {product.sku}")

    async def list(
        self, *, after: str | None, limit: int, active: bool | None, search: str | None
    ) -> list[Product]:
        statement = _page(after=after is not None, active=active is not None, search=bool(search))
        values = {
            "limit": limit,
            "after": after,
            "active": active,
            "pattern": f"%{_escape_like(search)}%" if search else None,
        }
        return [_to_product(row) for row in await statement.fetch(self._driver, values)]

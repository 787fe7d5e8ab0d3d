"""Shipping's repository: the shop's shipping rates."""

from __future__ import annotations

from returns.result import Failure, Result, Success
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.shared.money import Money
from orderly_core.shipping.errors import DuplicateShippingRate
from orderly_core.shipping.model import ShippingRate
from orderly_db.errors import SHIPPING_RATE_TAKEN, violates
from orderly_db.statements import Columns, DriverConnection, Statement
from orderly_db.tables import shipping_rates


def _to_rate(row: Columns) -> ShippingRate:
    return ShippingRate(
        code=row["code"],
        name=row["name"],
        countries=tuple(row["countries"]),
        price=Money(row["price"], row["currency"]),
        free_above=row["free_above"],
        active=row["active"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _to_row(rate: ShippingRate) -> dict[str, object]:
    return {
        "code": rate.code,
        "name": rate.name,
        "countries": list(rate.countries),
        "price": rate.price.amount,
        "currency": rate.price.currency,
        "free_above": rate.free_above,
        "active": rate.active,
        "version": rate.version,
        "created_at": rate.created_at,
        "updated_at": rate.updated_at,
    }


class SqlShippingRates:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver

    async def get(self, code: str, *, for_update: bool = False) -> ShippingRate | None:
        query = select(shipping_rates).where(shipping_rates.c.code == code)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).one_or_none()
        return None if row is None else _to_rate(row._mapping)

    async def add(self, rate: ShippingRate) -> Result[None, DuplicateShippingRate]:
        try:
            await self._db.execute(insert(shipping_rates).values(_to_row(rate)))
        except IntegrityError as error:
            if violates(error, SHIPPING_RATE_TAKEN):
                return Failure(DuplicateShippingRate(rate.code))
            raise
        return Success(None)

    async def save(self, rate: ShippingRate) -> None:
        values = _to_row(rate)
        del values["code"], values["created_at"]
        statement = update(shipping_rates).where(shipping_rates.c.code == rate.code).values(values)
        if (await self._db.execute(statement)).rowcount != 1:
            raise LookupError(f"save() of a shipping rate that does not exist: {rate.code}")

    async def list(
        self, *, after: str | None, limit: int, active: bool | None
    ) -> list[ShippingRate]:
        query = select(shipping_rates).order_by(shipping_rates.c.code).limit(limit)
        if after is not None:
            query = query.where(shipping_rates.c.code > after)
        if active is not None:
            query = query.where(shipping_rates.c.active.is_(active))
        return [_to_rate(row._mapping) for row in (await self._db.execute(query)).all()]

    async def active_rates(self) -> tuple[ShippingRate, ...]:
        return tuple(_to_rate(row) for row in await _ACTIVE.fetch(self._driver, {}))


# Every placement reads them: compiled once, run on the driver.
_ACTIVE = Statement.compiled(
    select(shipping_rates).where(shipping_rates.c.active.is_(True)).order_by(shipping_rates.c.code)
)

"""The in-memory fake of shipping's repository."""

from __future__ import annotations

from returns.result import Failure, Result, Success

from orderly_core.shipping.errors import DuplicateShippingRate
from orderly_core.shipping.model import ShippingRate


class InMemoryShippingRates:
    def __init__(self, rows: dict[str, ShippingRate]) -> None:
        self._rows = rows

    async def get(self, code: str, *, for_update: bool = False) -> ShippingRate | None:  # noqa: ARG002
        return self._rows.get(code)

    async def add(self, rate: ShippingRate) -> Result[None, DuplicateShippingRate]:
        if rate.code in self._rows:
            return Failure(DuplicateShippingRate(rate.code))
        self._rows[rate.code] = rate
        return Success(None)

    async def save(self, rate: ShippingRate) -> None:
        if rate.code not in self._rows:
            raise LookupError(f"save() of a shipping rate never added: {rate.code}")
        self._rows[rate.code] = rate

    async def list(
        self, *, after: str | None, limit: int, active: bool | None
    ) -> list[ShippingRate]:
        return [
            rate
            for code, rate in sorted(self._rows.items())
            if (after is None or code > after) and active in (None, rate.active)
        ][:limit]

    async def active_rates(self) -> tuple[ShippingRate, ...]:
        return tuple(rate for _, rate in sorted(self._rows.items()) if rate.active)

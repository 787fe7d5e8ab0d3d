"""What shipping needs from storage: its rates, in a unit of work with the platform's
records."""

from __future__ import annotations

from typing import Protocol

from returns.result import Result

from orderly_core.platform.ports import Services
from orderly_core.platform.unit import PlatformUnit
from orderly_core.shipping.errors import DuplicateShippingRate
from orderly_core.shipping.model import ShippingRate


class ShippingRateRepository(Protocol):
    async def get(self, code: str, *, for_update: bool = False) -> ShippingRate | None:
        """The rate with this (normalised) code; ``for_update`` locks its row."""
        ...

    async def add(self, rate: ShippingRate) -> Result[None, DuplicateShippingRate]: ...

    async def save(self, rate: ShippingRate) -> None:
        """Write every mutable field of a rate whose row the caller has locked."""
        ...

    async def list(
        self, *, after: str | None, limit: int, active: bool | None
    ) -> list[ShippingRate]:
        """Up to ``limit`` rates ordered by code, starting after ``after``."""
        ...

    async def active_rates(self) -> tuple[ShippingRate, ...]:
        """Every active rate, ordered by code (a shop has a handful)."""
        ...


class ShippingUnit(PlatformUnit, Protocol):
    @property
    def shipping_rates(self) -> ShippingRateRepository: ...


type ShippingServices = Services[ShippingUnit]

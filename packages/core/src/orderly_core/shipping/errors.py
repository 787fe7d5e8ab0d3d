"""Shipping's domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class ShippingRateNotFound:
    rate_code: str
    code: ClassVar[str] = "shipping_rate_not_found"

    @property
    def detail(self) -> str:
        return f"No shipping rate has the code '{self.rate_code}'."


@dataclass(frozen=True, slots=True)
class DuplicateShippingRate:
    rate_code: str
    code: ClassVar[str] = "duplicate_shipping_rate"

    @property
    def detail(self) -> str:
        return f"A shipping rate with the code '{self.rate_code}' already exists."

"""Field rules of the catalogue, shared by single writes and CSV imports."""

from __future__ import annotations

from orderly_core.catalogue.model import (
    DESCRIPTION_MAX,
    MAX_PER_ORDER_MAX,
    NAME_MAX,
    ON_HAND_MAX,
    SKU_RULE,
    normalise_sku,
)
from orderly_core.shared.money import MAX_MINOR_UNITS, MoneyError, normalise_currency
from orderly_core.shared.validation import FieldErrors


class Fields(FieldErrors):
    """The catalogue's field rules, each collecting its error instead of stopping."""

    def sku(self, raw: str, field: str = "sku") -> str:
        if not self.text(field, raw):
            return raw
        sku = normalise_sku(raw)
        if sku is None:
            self.fail(field, SKU_RULE)
            return raw
        return sku

    def name(self, raw: str) -> str:
        name = raw.strip()
        if self.text("name", raw) and not 1 <= len(name) <= NAME_MAX:
            self.fail("name", f"must be 1-{NAME_MAX} characters")
        return name

    def description(self, raw: str) -> str:
        description = raw.strip()
        if self.text("description", raw, multiline=True) and len(description) > DESCRIPTION_MAX:
            self.fail("description", f"must be at most {DESCRIPTION_MAX} characters")
        return description

    def currency(self, raw: str) -> str:
        if not self.text("currency", raw):
            return raw
        try:
            return normalise_currency(raw)
        except MoneyError as error:
            self.fail("currency", str(error))
            return raw

    def unit_price(self, amount: int, field: str = "unit_price") -> int:
        if not 0 <= amount <= MAX_MINOR_UNITS:
            self.fail(field, f"must be between 0 and {MAX_MINOR_UNITS} minor units")
        return amount

    def on_hand(self, amount: int) -> int:
        if not 0 <= amount <= ON_HAND_MAX:
            self.fail("on_hand", f"must be between 0 and {ON_HAND_MAX}")
        return amount

    def threshold(self, units: int) -> int:
        if not 0 <= units <= ON_HAND_MAX:
            self.fail("low_stock_threshold", f"must be between 0 and {ON_HAND_MAX} (0: none)")
        return units

    def max_per_order(self, units: int) -> int | None:
        """A product's most units per order, 1-1000; 0 means no limit of its own."""
        if not 0 <= units <= MAX_PER_ORDER_MAX:
            self.fail("max_per_order", f"must be between 1 and {MAX_PER_ORDER_MAX} (0: no limit)")
        return units or None

    def reason(self, raw: str) -> str:
        reason = raw.strip()
        if self.text("reason", raw, multiline=True) and not 1 <= len(reason) <= 500:
            self.fail("reason", "is required (1-500 characters)")
        return reason

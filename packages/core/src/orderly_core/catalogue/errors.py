"""The catalogue's domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from orderly_core.shared.errors import FieldError


@dataclass(frozen=True, slots=True)
class ProductNotFound:
    sku: str
    code: ClassVar[str] = "product_not_found"

    @property
    def detail(self) -> str:
        return f"No product has SKU '{self.sku}'."


@dataclass(frozen=True, slots=True)
class DuplicateSku:
    sku: str
    code: ClassVar[str] = "duplicate_sku"

    @property
    def detail(self) -> str:
        return f"A product with SKU '{self.sku}' already exists."


@dataclass(frozen=True, slots=True)
class StockBelowReserved:
    """On-hand stock may never drop below what open orders have reserved."""

    sku: str
    on_hand: int
    reserved: int
    requested_on_hand: int
    code: ClassVar[str] = "stock_below_reserved"

    @property
    def detail(self) -> str:
        return (
            f"Product '{self.sku}' would have {self.requested_on_hand} on hand but "
            f"{self.reserved} are reserved (on hand now: {self.on_hand})."
        )


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    sku: str
    errors: tuple[FieldError, ...]

    def describe(self) -> str:
        reasons = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        return f"line {self.line} ({self.sku or 'no sku'}): {reasons}"


@dataclass(frozen=True, slots=True)
class ImportRejected:
    """One bad row rejects the whole import; every bad row is listed."""

    rows: tuple[RowError, ...]
    code: ClassVar[str] = "import_rejected"

    @property
    def detail(self) -> str:
        return f"The import was rejected: {len(self.rows)} invalid row(s): " + " | ".join(
            row.describe() for row in self.rows
        )

"""The orders' domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class OrderNotFound:
    order_id: str
    code: ClassVar[str] = "order_not_found"

    @property
    def detail(self) -> str:
        return f"No order is known as '{self.order_id}'."


@dataclass(frozen=True, slots=True)
class CustomerNotFound:
    """The customer an order is placed for, named by an operator or by Orderly, is no active
    customer account: invalid input for the field that named it."""

    customer: str  # as it was given: an id or an email
    field: str = "customer_id"
    code: ClassVar[str] = "customer_not_found"

    @property
    def detail(self) -> str:
        return f"'{self.customer}' is neither the id nor the email of an active customer account."


@dataclass(frozen=True, slots=True)
class ShortLine:
    sku: str
    requested: int
    available: int


@dataclass(frozen=True, slots=True)
class OutOfStock:
    """Placement reserves all lines or none: every line that cannot be reserved is listed."""

    lines: tuple[ShortLine, ...]
    code: ClassVar[str] = "out_of_stock"

    @property
    def detail(self) -> str:
        short = ", ".join(
            f"{s.sku} ({s.requested} asked, {s.available} available)" for s in self.lines
        )
        return f"Not enough stock: {short}."


@dataclass(frozen=True, slots=True)
class ProductsUnavailable:
    """Lines naming products that do not exist or are archived."""

    skus: tuple[str, ...]
    code: ClassVar[str] = "products_unavailable"

    @property
    def detail(self) -> str:
        return f"These products cannot be ordered: {', '.join(self.skus)}."


@dataclass(frozen=True, slots=True)
class MixedCurrencies:
    currencies: tuple[str, ...]
    code: ClassVar[str] = "mixed_currencies"

    @property
    def detail(self) -> str:
        return f"An order is in one currency; these lines are in {', '.join(self.currencies)}."


@dataclass(frozen=True, slots=True)
class IllegalTransition:
    order_id: str
    current: str
    wanted: str
    code: ClassVar[str] = "illegal_transition"

    @property
    def detail(self) -> str:
        return f"Order {self.order_id} is {self.current}: it cannot become {self.wanted}."

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
class EmailNotVerified:
    """The shop lets only customers whose email is verified place orders
    (``UNVERIFIED_CUSTOMERS_MAY_ORDER=false``), and the caller's is not."""

    code: ClassVar[str] = "email_not_verified"

    @property
    def detail(self) -> str:
        return (
            "Verify your email address first: follow the link Orderly mailed you, or ask for "
            "a new one with POST /api/v1/users/me/email-verification."
        )


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


@dataclass(frozen=True, slots=True)
class ShippingMethodUnavailable:
    """The shipping method named is no active rate of the shop that serves the order's
    country in its currency (or the shop has no rates, and takes no method)."""

    method: str
    country: str | None
    currency: str
    field: str = "shipping_method"
    code: ClassVar[str] = "shipping_method_unavailable"

    @property
    def detail(self) -> str:
        where = f" to {self.country}" if self.country else ""
        return (
            f"'{self.method}' is not a shipping method available for an order in "
            f"{self.currency}{where}."
        )


@dataclass(frozen=True, slots=True)
class TooManyOpenOrders:
    """A customer holds at most ``limit`` unpaid orders (each reserves stock until it is
    paid or expires)."""

    customer_id: str
    limit: int
    code: ClassVar[str] = "too_many_open_orders"

    @property
    def detail(self) -> str:
        return (
            f"This customer already has {self.limit} unpaid order(s), the most allowed: pay "
            "or cancel one first."
        )


@dataclass(frozen=True, slots=True)
class OverLimitLine:
    sku: str
    requested: int
    max_per_order: int


@dataclass(frozen=True, slots=True)
class MaxPerOrderExceeded:
    """Lines asking for more units of a product than one order may hold of it."""

    lines: tuple[OverLimitLine, ...]
    code: ClassVar[str] = "max_per_order_exceeded"

    @property
    def detail(self) -> str:
        over = ", ".join(
            f"{line.sku} ({line.requested} asked, at most {line.max_per_order} per order)"
            for line in self.lines
        )
        return f"Too many units in one order: {over}."


@dataclass(frozen=True, slots=True)
class OrderNotChangeable:
    """An order's address and email may change only until it ships."""

    order_id: str
    status: str
    code: ClassVar[str] = "order_not_changeable"

    @property
    def detail(self) -> str:
        return (
            f"Order {self.order_id} is {self.status}: its address and email can change only "
            "while it is placed or paid."
        )

"""The returns' domain errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class ReturnNotFound:
    return_id: str
    code: ClassVar[str] = "return_not_found"

    @property
    def detail(self) -> str:
        return f"No return is known as '{self.return_id}'."


@dataclass(frozen=True, slots=True)
class NothingDelivered:
    """Only delivered units may be returned, from the day the order's last units arrived."""

    order_id: str
    code: ClassVar[str] = "nothing_delivered"

    @property
    def detail(self) -> str:
        return f"Order {self.order_id} has not been delivered: there is nothing to return yet."


@dataclass(frozen=True, slots=True)
class ReturnWindowClosed:
    order_id: str
    closed_at: datetime  # the end of the return window
    code: ClassVar[str] = "return_window_closed"

    @property
    def detail(self) -> str:
        closed = self.closed_at.astimezone(UTC).isoformat()
        return f"Order {self.order_id} could be returned until {closed}."


@dataclass(frozen=True, slots=True)
class OverLine:
    sku: str
    requested: int
    allowed: int  # what may still be returned (or received) of it


@dataclass(frozen=True, slots=True)
class ReturnExceedsDelivered:
    """Lines asking to return more units than were delivered and not yet returned or asked
    for by an open return (a SKU the order does not hold: none)."""

    lines: tuple[OverLine, ...]
    code: ClassVar[str] = "return_exceeds_delivered"

    @property
    def detail(self) -> str:
        over = ", ".join(
            f"{o.sku} ({o.requested} asked, {o.allowed} returnable)" for o in self.lines
        )
        return f"More units than may be returned: {over}."


@dataclass(frozen=True, slots=True)
class ReceiptExceedsReturn:
    """A receipt records, per SKU, at most the units the return asked for (a SKU it does
    not name: none)."""

    lines: tuple[OverLine, ...]
    code: ClassVar[str] = "receipt_exceeds_return"

    @property
    def detail(self) -> str:
        over = ", ".join(
            f"{o.sku} ({o.requested} received, {o.allowed} returned)" for o in self.lines
        )
        return f"More units received than the return names: {over}."


@dataclass(frozen=True, slots=True)
class IllegalReturnTransition:
    return_id: str
    current: str
    wanted: str
    code: ClassVar[str] = "illegal_return_transition"

    @property
    def detail(self) -> str:
        return f"Return {self.return_id} is {self.current}: it cannot become {self.wanted}."

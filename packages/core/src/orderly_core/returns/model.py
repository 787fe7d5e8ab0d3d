"""Returns and their lifecycle, as frozen values.

``requested -> approved | rejected``; ``approved -> received``. Nothing leaves rejected or
received. A return names delivered units of one order, a reason for each line; receiving it
records, per line, how many units went back on the shelf (``restocked``) and how many were
written off.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orderly_core.shared.paging import PageQuery

REASON_MAX = 255  # a line's reason, as PostgreSQL keeps it
NOTE_MAX = 1000  # the staff's note on a decision
MAX_RECEIPT_LINES = 200  # a return's lines, each received as restock and as write-off


class ReturnStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    RECEIVED = "received"


TRANSITIONS: dict[ReturnStatus, frozenset[ReturnStatus]] = {
    ReturnStatus.REQUESTED: frozenset({ReturnStatus.APPROVED, ReturnStatus.REJECTED}),
    ReturnStatus.APPROVED: frozenset({ReturnStatus.RECEIVED}),
    ReturnStatus.REJECTED: frozenset(),
    ReturnStatus.RECEIVED: frozenset(),
}

# A return in one of these statuses still claims its units: they cannot be asked for again.
OPEN_STATUSES = frozenset({ReturnStatus.REQUESTED, ReturnStatus.APPROVED})


class Disposition(enum.StrEnum):
    RESTOCK = "restock"  # back on the shelf: on hand again
    WRITE_OFF = "write_off"  # damaged or unsellable: recorded, not stocked


@dataclass(frozen=True, slots=True)
class ReturnLine:
    """Units of one product of the order sent back, and what became of them once received
    (``restocked + written_off <= quantity``)."""

    sku: str
    quantity: int
    reason: str
    restocked: int = 0
    written_off: int = 0

    @property
    def received(self) -> int:
        return self.restocked + self.written_off


@dataclass(frozen=True, slots=True)
class Return:
    id: uuid.UUID
    order_id: uuid.UUID
    status: ReturnStatus
    lines: tuple[ReturnLine, ...]
    requested_by: str  # "<kind>:<id>" of who asked
    created_at: datetime
    updated_at: datetime
    version: int
    note: str | None = None  # the staff's note on their decision
    refund_shipping: bool = False  # whether its refund gave back the order's shipping

    def line(self, sku: str) -> ReturnLine | None:
        return next((line for line in self.lines if line.sku == sku), None)


@dataclass(frozen=True, slots=True)
class ReturnQuery(PageQuery):
    """A page of every order's returns (staff), newest first."""

    status: ReturnStatus | None = None


def return_view(ret: Return) -> dict[str, Any]:
    """The public representation of a return."""
    return {
        "id": str(ret.id),
        "order_id": str(ret.order_id),
        "status": ret.status.value,
        "lines": [
            {
                "sku": line.sku,
                "quantity": line.quantity,
                "reason": line.reason,
                "restocked": line.restocked,
                "written_off": line.written_off,
            }
            for line in ret.lines
        ],
        "note": ret.note,
        "refund_shipping": ret.refund_shipping,
        "requested_by": ret.requested_by,
        "version": ret.version,
        "created_at": ret.created_at.astimezone(UTC),
        "updated_at": ret.updated_at.astimezone(UTC),
    }

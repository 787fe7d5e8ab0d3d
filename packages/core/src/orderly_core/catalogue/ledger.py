"""The stock ledger: every movement of stock, appended in the transaction that moved it.

A movement holds deltas of on-hand and reserved stock, so a product's levels always equal the
sum of its movements; ``orderly stock verify`` recomputes them from here.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime


class MovementKind(enum.StrEnum):
    OPENING = "opening"  # the stock a product was created with
    ADJUSTMENT = "adjustment"  # counted, delivered, broken: a person's correction
    IMPORT = "import"  # set by a CSV import
    RESERVATION = "reservation"  # held for an order
    RELEASE = "release"  # an order's hold given back
    SHIPMENT = "shipment"  # left the warehouse with an order
    RESTOCK = "restock"  # came back with a return, on the shelf again
    # Came back with a return, unsellable: no stock changes, the note counts the units.
    WRITE_OFF = "write_off"


@dataclass(frozen=True, slots=True)
class StockMovement:
    id: uuid.UUID
    sku: str
    at: datetime
    kind: MovementKind
    on_hand_delta: int
    reserved_delta: int
    note: str  # the reason given, or what caused it
    reference: str | None  # an order id, an import job id...
    actor_id: str
    request_id: str

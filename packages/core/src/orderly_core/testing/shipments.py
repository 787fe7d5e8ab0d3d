"""An in-memory fake of the shipments' repository."""

from __future__ import annotations

import uuid
from dataclasses import replace

from orderly_core.shipments.model import Shipment


class InMemoryShipments:
    def __init__(self, rows: dict[uuid.UUID, Shipment]) -> None:
        self._rows = rows

    async def add(self, shipment: Shipment) -> None:
        self._rows[shipment.id] = shipment

    async def get(self, shipment_id: uuid.UUID, *, for_update: bool = False) -> Shipment | None:  # noqa: ARG002
        return self._rows.get(shipment_id)

    async def of_order(self, order_id: uuid.UUID) -> list[Shipment]:
        mine = (s for s in self._rows.values() if s.order_id == order_id)
        return sorted(mine, key=lambda s: (s.created_at, s.id))

    async def save(self, shipment: Shipment) -> None:
        self._rows[shipment.id] = replace(shipment, lines=self._rows[shipment.id].lines)

"""The shipments' repository: a shipment row and its lines."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.shipments.model import Shipment, ShipmentLine, ShipmentStatus
from orderly_db.tables import shipment_lines, shipments


def _to_shipment(row: Row[Any], lines: list[ShipmentLine]) -> Shipment:
    return Shipment(
        id=row.id,
        order_id=row.order_id,
        lines=tuple(lines),
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        tracking_url=row.tracking_url,
        status=ShipmentStatus(row.status),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        delivered_at=row.delivered_at,
    )


class SqlShipments:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, shipment: Shipment) -> None:
        await self._db.execute(
            insert(shipments).values(
                id=shipment.id,
                order_id=shipment.order_id,
                status=shipment.status.value,
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
                tracking_url=shipment.tracking_url,
                created_by=shipment.created_by,
                created_at=shipment.created_at,
                delivered_at=shipment.delivered_at,
                updated_at=shipment.updated_at,
                version=shipment.version,
            )
        )
        await self._db.execute(
            insert(shipment_lines),
            [
                {"shipment_id": shipment.id, "sku": line.sku, "quantity": line.quantity}
                for line in shipment.lines
            ],
        )

    async def get(self, shipment_id: uuid.UUID, *, for_update: bool = False) -> Shipment | None:
        query = select(shipments).where(shipments.c.id == shipment_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).one_or_none()
        if row is None:
            return None
        return _to_shipment(row, (await self._lines([shipment_id]))[shipment_id])

    async def of_order(self, order_id: uuid.UUID) -> list[Shipment]:
        query = (
            select(shipments)
            .where(shipments.c.order_id == order_id)
            .order_by(shipments.c.created_at, shipments.c.id)
        )
        rows = (await self._db.execute(query)).all()
        lines = await self._lines([row.id for row in rows])
        return [_to_shipment(row, lines[row.id]) for row in rows]

    async def save(self, shipment: Shipment) -> None:
        await self._db.execute(
            update(shipments)
            .where(shipments.c.id == shipment.id)
            .values(
                status=shipment.status.value,
                delivered_at=shipment.delivered_at,
                updated_at=shipment.updated_at,
                version=shipment.version,
            )
        )

    async def _lines(self, ids: Sequence[uuid.UUID]) -> defaultdict[uuid.UUID, list[ShipmentLine]]:
        found: defaultdict[uuid.UUID, list[ShipmentLine]] = defaultdict(list)
        if not ids:
            return found
        query = (
            select(shipment_lines)
            .where(shipment_lines.c.shipment_id.in_(ids))
            .order_by(shipment_lines.c.shipment_id, shipment_lines.c.sku)
        )
        for row in (await self._db.execute(query)).all():
            found[row.shipment_id].append(ShipmentLine(row.sku, row.quantity))
        return found

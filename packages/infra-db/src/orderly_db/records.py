"""The append-only records: the stock ledger and the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.catalogue.ledger import MovementKind, StockMovement
from orderly_core.platform.audit import AuditEntry, AuditQuery
from orderly_db.keyset import compiled_newest_first, newest_first
from orderly_db.statements import Columns, DriverConnection, Statement, json_text
from orderly_db.tables import audit_entries, stock_movements


def _to_movement(row: Row[Any]) -> StockMovement:
    return StockMovement(
        id=row.id,
        sku=row.sku,
        at=row.at,
        kind=MovementKind(row.kind),
        on_hand_delta=row.on_hand_delta,
        reserved_delta=row.reserved_delta,
        note=row.note,
        reference=row.reference,
        actor_id=row.actor_id,
        request_id=row.request_id,
    )


_APPEND_MOVEMENT = Statement.compiled(
    insert(stock_movements).values({c.name: bindparam(c.name) for c in stock_movements.c})
)
_APPEND_ENTRY = Statement.compiled(
    insert(audit_entries).values({c.name: bindparam(c.name) for c in audit_entries.c})
)


class SqlStockLedger:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver

    async def append(self, movement: StockMovement) -> None:
        values = {
            "id": movement.id,
            "sku": movement.sku,
            "at": movement.at,
            "kind": movement.kind.value,
            "on_hand_delta": movement.on_hand_delta,
            "reserved_delta": movement.reserved_delta,
            "note": movement.note,
            "reference": movement.reference,
            "actor_id": movement.actor_id,
            "request_id": movement.request_id,
        }
        await _APPEND_MOVEMENT.execute(self._driver, values)

    async def history(
        self, sku: str, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[StockMovement]:
        table = stock_movements
        query = newest_first(
            select(table).where(table.c.sku == sku),
            table.c.at,
            table.c.id,
            after=after,
            limit=limit,
        )
        return [_to_movement(row) for row in (await self._db.execute(query)).all()]

    async def totals(self) -> dict[str, tuple[int, int]]:
        table = stock_movements
        query = select(
            table.c.sku, func.sum(table.c.on_hand_delta), func.sum(table.c.reserved_delta)
        ).group_by(table.c.sku)
        return {
            sku: (int(on_hand), int(reserved))
            for sku, on_hand, reserved in (await self._db.execute(query)).all()
        }


def _to_entry(row: Columns) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor_kind=row["actor_kind"],
        actor_id=row["actor_id"],
        actor_role=row["actor_role"],
        operation=row["operation"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        request_id=row["request_id"],
        idempotency_key=row["idempotency_key"],
        mode=row["mode"],
        changes=row["changes"],
    )


_AUDIT_FILTERS = ("target_type", "target_id", "actor_id", "operation")


@cache
def _audit_page(*, after: bool, filters: tuple[str, ...], since: bool, until: bool) -> Statement:
    """The audit page query of one combination of filters (each named in ``filters`` an
    equality on its column), compiled on first use: newest first, by (``at``, ``id``)."""
    table = audit_entries
    query = select(table)
    for name in filters:
        query = query.where(table.c[name] == bindparam(name))
    return Statement.compiled(
        compiled_newest_first(query, table.c.at, table.c.id, after=after, since=since, until=until)
    )


class SqlAuditLog:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver

    async def append(self, entry: AuditEntry) -> None:
        values = {
            "id": entry.id,
            "at": entry.at,
            "actor_kind": entry.actor_kind,
            "actor_id": entry.actor_id,
            "actor_role": entry.actor_role,
            "operation": entry.operation,
            "target_type": entry.target_type,
            "target_id": entry.target_id,
            "request_id": entry.request_id,
            "idempotency_key": entry.idempotency_key,
            "mode": entry.mode,
            "changes": json_text(dict(entry.changes)),
        }
        await _APPEND_ENTRY.execute(self._driver, values)

    async def list(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: AuditQuery
    ) -> list[AuditEntry]:
        """A page of entries, newest first: one statement per combination of filters,
        compiled once and run on the driver (SQLAlchemy's execution, compiled per request and
        run in a greenlet, cost more than the page's statement)."""
        values: dict[str, Any] = {"limit": limit, "since": query.since, "until": query.until}
        filters = tuple(name for name in _AUDIT_FILTERS if getattr(query, name) is not None)
        values |= {name: getattr(query, name) for name in filters}
        if after is not None:
            values["after_at"], values["after_id"] = after
        statement = _audit_page(
            after=after is not None,
            filters=filters,
            since=query.since is not None,
            until=query.until is not None,
        )
        return [_to_entry(row) for row in await statement.fetch(self._driver, values)]

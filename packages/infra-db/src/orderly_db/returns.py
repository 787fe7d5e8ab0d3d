"""The returns' repository: returns and their lines."""

from __future__ import annotations

import builtins
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.returns.model import Return, ReturnLine, ReturnQuery, ReturnStatus
from orderly_db.keyset import newest_first
from orderly_db.tables import return_lines, returns


def _to_return(row: Row[Any], lines: Sequence[ReturnLine]) -> Return:
    return Return(
        id=row.id,
        order_id=row.order_id,
        status=ReturnStatus(row.status),
        lines=tuple(lines),
        requested_by=row.requested_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
        note=row.note,
        refund_shipping=row.refund_shipping,
    )


def _changes(ret: Return) -> dict[str, Any]:
    return {
        "status": ret.status.value,
        "note": ret.note,
        "refund_shipping": ret.refund_shipping,
        "updated_at": ret.updated_at,
        "version": ret.version,
    }


class SqlReturns:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def add(self, ret: Return) -> None:
        values = _changes(ret) | {
            "id": ret.id,
            "order_id": ret.order_id,
            "requested_by": ret.requested_by,
            "created_at": ret.created_at,
        }
        await self._db.execute(insert(returns).values(values))
        await self._db.execute(
            insert(return_lines),
            [
                {
                    "return_id": ret.id,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "reason": line.reason,
                    "restocked": line.restocked,
                    "written_off": line.written_off,
                }
                for line in ret.lines
            ],
        )

    async def get(self, return_id: uuid.UUID, *, for_update: bool = False) -> Return | None:
        query = select(returns).where(returns.c.id == return_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._db.execute(query)).one_or_none()
        if row is None:
            return None
        lines = await self._lines([row.id])
        return _to_return(row, lines[row.id])

    async def of_order(self, order_id: uuid.UUID) -> builtins.list[Return]:
        query = (
            select(returns)
            .where(returns.c.order_id == order_id)
            .order_by(returns.c.created_at, returns.c.id)
        )
        return await self._with_lines(query)

    async def save(self, ret: Return) -> None:
        await self._db.execute(update(returns).where(returns.c.id == ret.id).values(_changes(ret)))
        statement = (
            update(return_lines)
            .where(
                return_lines.c.return_id == bindparam("b_return_id"),
                return_lines.c.sku == bindparam("b_sku"),
            )
            .values(restocked=bindparam("b_restocked"), written_off=bindparam("b_written_off"))
        )
        await self._db.execute(
            statement,
            [
                {
                    "b_return_id": ret.id,
                    "b_sku": line.sku,
                    "b_restocked": line.restocked,
                    "b_written_off": line.written_off,
                }
                for line in ret.lines
            ],
        )

    async def list(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: ReturnQuery
    ) -> builtins.list[Return]:
        statement = newest_first(
            select(returns), returns.c.created_at, returns.c.id, after=after, limit=limit
        )
        if query.status is not None:
            statement = statement.where(returns.c.status == query.status.value)
        return await self._with_lines(statement)

    async def _with_lines(self, query: Any) -> builtins.list[Return]:
        rows = (await self._db.execute(query)).all()
        lines = await self._lines([row.id for row in rows])
        return [_to_return(row, lines[row.id]) for row in rows]

    async def _lines(
        self, return_ids: Sequence[uuid.UUID]
    ) -> defaultdict[uuid.UUID, builtins.list[ReturnLine]]:
        found: defaultdict[uuid.UUID, builtins.list[ReturnLine]] = defaultdict(builtins.list)
        if not return_ids:
            return found
        query = (
            select(return_lines)
            .where(return_lines.c.return_id.in_(return_ids))
            .order_by(return_lines.c.return_id, return_lines.c.sku)
        )
        for row in (await self._db.execute(query)).all():
            found[row.return_id].append(
                ReturnLine(row.sku, row.quantity, row.reason, row.restocked, row.written_off)
            )
        return found

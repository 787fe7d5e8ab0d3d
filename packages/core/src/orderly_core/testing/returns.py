"""An in-memory fake of the returns' repository."""

from __future__ import annotations

import uuid
from datetime import datetime

from orderly_core.returns.model import Return, ReturnQuery


class InMemoryReturns:
    def __init__(self, rows: dict[uuid.UUID, Return]) -> None:
        self._rows = rows

    async def add(self, ret: Return) -> None:
        self._rows[ret.id] = ret

    async def get(self, return_id: uuid.UUID, *, for_update: bool = False) -> Return | None:  # noqa: ARG002
        return self._rows.get(return_id)

    async def of_order(self, order_id: uuid.UUID) -> list[Return]:
        mine = (r for r in self._rows.values() if r.order_id == order_id)
        return sorted(mine, key=lambda r: (r.created_at, r.id))

    async def save(self, ret: Return) -> None:
        self._rows[ret.id] = ret

    async def list(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: ReturnQuery
    ) -> list[Return]:
        found = [
            r
            for r in self._rows.values()
            if (query.status is None or r.status is query.status)
            and (after is None or (r.created_at, r.id) < after)
        ]
        return sorted(found, key=lambda r: (r.created_at, r.id), reverse=True)[:limit]

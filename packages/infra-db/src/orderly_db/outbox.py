"""The outbox: domain events waiting for delivery (see :mod:`orderly_core.platform.outbox`).

Adding an event also sends ``NOTIFY orderly_outbox``; PostgreSQL delivers notifications only
when the transaction commits, so a listener wakes exactly when there is a committed event to
relay, and never for one that was rolled back.

Each event keeps the W3C ``traceparent`` of the span active when it was added (only when
tracing is on), so that whoever delivers it continues the trace of the request behind it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.platform.outbox import Event, EventType
from orderly_db.statements import Columns, DriverConnection, Statement, json_text
from orderly_db.tables import outbox
from orderly_telemetry.tracing import current_traceparent

CHANNEL = "orderly_outbox"


def _to_event(row: Columns) -> Event:
    return Event(
        id=row["id"],
        type=EventType(row["type"]),
        subject=row["subject"],
        sequence=row["sequence"],
        data=row["data"],
        request_id=row["request_id"],
        created_at=row["created_at"],
        trace_context=row["trace_context"],
    )


_EVENT_COLUMNS = (
    "id",
    "type",
    "subject",
    "sequence",
    "data",
    "request_id",
    "created_at",
    "trace_context",
)
# The insert and its NOTIFY in one round trip.
_ADD = Statement.compiled(
    select(func.pg_notify(CHANNEL, "")).select_from(
        insert(outbox)
        .values({name: bindparam(name) for name in _EVENT_COLUMNS})
        .returning(outbox.c.position)
        .cte("added")
    )
)


_GET = Statement.compiled(select(outbox).where(outbox.c.id == bindparam("id")))
_CLAIM = Statement.raw(
    "SELECT * FROM outbox WHERE state = 'pending' ORDER BY position LIMIT $1"
    " FOR UPDATE SKIP LOCKED",
    ("limit",),
)
_MARK_DISPATCHED = Statement.raw(
    "UPDATE outbox SET state = 'dispatched', dispatched_at = $2 WHERE id = ANY($1::uuid[])",
    ("ids", "at"),
)
_MARK_DONE = Statement.raw(
    "UPDATE outbox SET state = 'done', done_at = $2,"
    " dispatched_at = coalesce(dispatched_at, $2) WHERE id = ANY($1::uuid[])",
    ("ids", "at"),
)
_GET_MANY = Statement.raw("SELECT * FROM outbox WHERE id = ANY($1::uuid[])", ("ids",))


class SqlOutbox:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver
        self.added: list[Event] = []  # by this unit of work, counted once it commits

    async def add(self, event: Event) -> None:
        values = {
            "id": event.id,
            "type": event.type.value,
            "subject": event.subject,
            "sequence": event.sequence,
            "data": json_text(event.data),
            "request_id": event.request_id,
            "created_at": event.created_at,
            "trace_context": event.trace_context or current_traceparent(),
        }
        await _ADD.execute(self._driver, values)
        self.added.append(event)

    async def mark_done(self, event_ids: Sequence[uuid.UUID], at: datetime) -> None:
        await _MARK_DONE.execute(self._driver, {"ids": list(event_ids), "at": at})

    async def get(self, event_id: uuid.UUID) -> Event | None:
        row = await _GET.fetch_one(self._driver, {"id": event_id})
        return None if row is None else _to_event(row)

    async def get_many(self, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Event]:
        rows = await _GET_MANY.fetch(self._driver, {"ids": list(event_ids)})
        return {row["id"]: _to_event(row) for row in rows}

    async def between(
        self, types: Sequence[EventType], since: datetime, until: datetime, limit: int
    ) -> list[Event]:
        query = (
            select(outbox)
            .where(
                outbox.c.type.in_([t.value for t in types]),
                outbox.c.created_at >= since,
                outbox.c.created_at < until,
            )
            .order_by(outbox.c.position)
            .limit(limit)
        )
        return [_to_event(row._mapping) for row in await self._db.execute(query)]

    async def claim(self, limit: int) -> list[Event]:
        return [_to_event(row) for row in await _CLAIM.fetch(self._driver, {"limit": limit})]

    async def mark_dispatched(self, event_ids: Sequence[uuid.UUID], at: datetime) -> None:
        await _MARK_DISPATCHED.execute(self._driver, {"ids": list(event_ids), "at": at})

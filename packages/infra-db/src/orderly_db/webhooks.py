"""Webhook endpoints, deliveries and attempts in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.platform.outbox import EventType
from orderly_core.webhooks.model import Attempt, Delivery, DeliveryState, Endpoint
from orderly_core.webhooks.ports import Claim, Recorded
from orderly_db.keyset import newest_first
from orderly_db.statements import Columns, DriverConnection, Statement
from orderly_db.tables import webhook_attempts, webhook_deliveries, webhook_endpoints


def _to_endpoint(row: Columns) -> Endpoint:
    return Endpoint(
        id=row["id"],
        url=row["url"],
        event_types=tuple(EventType(t) for t in row["event_types"]),
        secret=row["secret"],
        active=row["active"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        previous_secret=row["previous_secret"],
        previous_secret_until=row["previous_secret_until"],
        failing_since=row["failing_since"],
        disabled_reason=row["disabled_reason"],
    )


def _endpoint_row(endpoint: Endpoint) -> dict[str, object]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": [t.value for t in endpoint.event_types],
        "secret": endpoint.secret,
        "previous_secret": endpoint.previous_secret,
        "previous_secret_until": endpoint.previous_secret_until,
        "active": endpoint.active,
        "failing_since": endpoint.failing_since,
        "disabled_reason": endpoint.disabled_reason,
        "version": endpoint.version,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


_ENDPOINT = select(webhook_endpoints).where(webhook_endpoints.c.id == bindparam("id"))
_GET_ENDPOINT = Statement.compiled(_ENDPOINT)
_ALL_ENDPOINTS = Statement.compiled(
    select(webhook_endpoints).order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
)
# FOR NO KEY UPDATE: deliveries' foreign-key checks do not wait on it.
_GET_ENDPOINT_FOR_UPDATE = Statement.compiled(_ENDPOINT.with_for_update(key_share=True))
_DELIVERY = select(webhook_deliveries).where(webhook_deliveries.c.id == bindparam("id"))
_GET_DELIVERY = Statement.compiled(_DELIVERY)
_GET_DELIVERY_FOR_UPDATE = Statement.compiled(_DELIVERY.with_for_update())
_SAVE_DELIVERY = Statement.compiled(
    update(webhook_deliveries)
    .where(webhook_deliveries.c.id == bindparam("key_id"))
    .values({
        column.name: bindparam(column.name)
        for column in webhook_deliveries.c
        if column.name not in ("id", "created_at")
    })
)  # fmt: skip
_ADD_ATTEMPT = Statement.compiled(
    insert(webhook_attempts).values({c.name: bindparam(c.name) for c in webhook_attempts.c})
)
_CLEAR_FAILING = Statement.raw(
    "UPDATE webhook_endpoints SET failing_since = NULL"
    " WHERE id = ANY($1::uuid[]) AND failing_since IS NOT NULL",
    ("ids",),
)


class SqlEndpoints:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver

    async def add(self, endpoint: Endpoint) -> None:
        await self._db.execute(insert(webhook_endpoints).values(_endpoint_row(endpoint)))

    async def get(self, endpoint_id: uuid.UUID, *, for_update: bool = False) -> Endpoint | None:
        statement = _GET_ENDPOINT_FOR_UPDATE if for_update else _GET_ENDPOINT
        row = await statement.fetch_one(self._driver, {"id": endpoint_id})
        return None if row is None else _to_endpoint(row)

    async def save(self, endpoint: Endpoint) -> None:
        values = _endpoint_row(endpoint)
        del values["id"], values["created_at"]
        await self._db.execute(
            update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint.id).values(values)
        )

    async def remove(self, endpoint_id: uuid.UUID) -> None:
        await self._db.execute(
            delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        )

    async def all(self) -> list[Endpoint]:
        return [_to_endpoint(row) for row in await _ALL_ENDPOINTS.fetch(self._driver, {})]

    async def clear_failing(self, endpoint_ids: Sequence[uuid.UUID]) -> None:
        await _CLEAR_FAILING.execute(self._driver, {"ids": list(endpoint_ids)})


def _to_delivery(row: Columns) -> Delivery:
    return Delivery(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        event_id=row["event_id"],
        event_type=EventType(row["event_type"]),
        state=DeliveryState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
    )


def _delivery_row(delivery: Delivery) -> dict[str, object]:
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type.value,
        "state": delivery.state.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
    }


class SqlDeliveries:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver

    async def add(self, delivery: Delivery) -> bool:
        statement = (
            pg_insert(webhook_deliveries)
            .values(_delivery_row(delivery))
            .on_conflict_do_nothing(index_elements=[webhook_deliveries.c.id])
            .returning(webhook_deliveries.c.id)
        )
        return (await self._db.execute(statement)).first() is not None

    async def get(self, delivery_id: uuid.UUID, *, for_update: bool = False) -> Delivery | None:
        statement = _GET_DELIVERY_FOR_UPDATE if for_update else _GET_DELIVERY
        row = await statement.fetch_one(self._driver, {"id": delivery_id})
        return None if row is None else _to_delivery(row)

    async def save(self, delivery: Delivery) -> None:
        values = _delivery_row(delivery)
        values["key_id"] = values.pop("id")
        await _SAVE_DELIVERY.execute(self._driver, values)

    async def add_attempt(self, attempt: Attempt) -> None:
        values = {
            "delivery_id": attempt.delivery_id,
            "number": attempt.number,
            "at": attempt.at,
            "latency_ms": attempt.latency_ms,
            "status": attempt.status,
            "error": attempt.error,
        }
        await _ADD_ATTEMPT.execute(self._driver, values)

    async def attempts(self, delivery_id: uuid.UUID) -> list[Attempt]:
        table = webhook_attempts
        rows = await self._db.execute(
            select(table).where(table.c.delivery_id == delivery_id).order_by(table.c.number)
        )
        return [
            Attempt(row.delivery_id, row.number, row.at, row.latency_ms, row.status, row.error)
            for row in rows
        ]

    async def of_endpoint(
        self, endpoint_id: uuid.UUID, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Delivery]:
        table = webhook_deliveries
        query = newest_first(
            select(table).where(table.c.endpoint_id == endpoint_id),
            table.c.created_at,
            table.c.id,
            after=after,
            limit=limit,
        )
        return [_to_delivery(row._mapping) for row in await self._db.execute(query)]

    async def add_many(self, deliveries: Sequence[Delivery]) -> set[uuid.UUID]:
        if not deliveries:
            return set()
        rows = await _ADD_MANY.fetch(self._driver, _columns(deliveries, _ADDED))
        return {row["id"] for row in rows}

    async def claim_due(self, claim: Claim) -> list[Delivery]:
        rooms = {endpoint: room for endpoint, room in claim.rooms.items() if room > 0}
        if not rooms or claim.limit <= 0:
            return []
        values = {
            "now": claim.now,
            "until": claim.until,
            "limit": claim.limit,
            "endpoint_ids": list(rooms),
            "rooms": list(rooms.values()),
        }
        return [_to_delivery(row) for row in await _CLAIM.fetch(self._driver, values)]

    async def record(self, recorded: Sequence[Recorded]) -> list[uuid.UUID]:
        if not recorded:
            return []
        values = _columns([r.delivery for r in recorded], _RECORDED)
        values["expected"] = [r.expected_attempts for r in recorded]
        tried = [r.attempt for r in recorded if r.attempt is not None]
        values |= {
            "attempt_ids": [a.delivery_id for a in tried],
            "numbers": [a.number for a in tried],
            "ats": [a.at for a in tried],
            "latencies": [a.latency_ms for a in tried],
            "statuses": [a.status for a in tried],
            "errors": [a.error for a in tried],
        }
        return [row["id"] for row in await _RECORD.fetch(self._driver, values)]

    async def settle_events(self, event_ids: Sequence[uuid.UUID], at: datetime) -> None:
        await _SETTLE.execute(self._driver, {"ids": list(set(event_ids)), "at": at})


def _columns(deliveries: Sequence[Delivery], names: Sequence[str]) -> dict[str, list[object]]:
    """The deliveries' rows as one array per column, for ``unnest``."""
    rows = [_delivery_row(delivery) for delivery in deliveries]
    return {name: [row[name] for row in rows] for name in names}


_ADDED = (
    "id", "endpoint_id", "event_id", "event_type", "state", "attempts", "next_attempt_at",
    "created_at", "updated_at",
)  # fmt: skip
_RECORDED = (
    "id", "state", "attempts", "next_attempt_at", "last_status", "last_error", "delivered_at",
    "updated_at",
)  # fmt: skip
_ADD_MANY = Statement.raw(
    """
    INSERT INTO webhook_deliveries
        (id, endpoint_id, event_id, event_type, state, attempts, next_attempt_at, created_at,
         updated_at)
    SELECT * FROM unnest(
        $1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[],
        $7::timestamptz[], $8::timestamptz[], $9::timestamptz[])
    ON CONFLICT (id) DO NOTHING
    RETURNING id
    """,
    _ADDED,
)
# Each endpoint's soonest due deliveries up to its room, read in the order of the partial
# index on (endpoint_id, next_attempt_at) where pending: an endpoint without room is not
# scanned at all. Of those, the soonest due in all, leased. Rows another transaction holds
# are skipped.
_CLAIM = Statement.raw(
    """
    WITH chosen AS (
        SELECT due.id FROM unnest($4::uuid[], $5::int[]) AS e (endpoint_id, room)
        CROSS JOIN LATERAL (
            SELECT d.id, d.next_attempt_at FROM webhook_deliveries AS d
            WHERE d.endpoint_id = e.endpoint_id AND d.state = 'pending'
              AND d.next_attempt_at <= $1
            ORDER BY d.next_attempt_at
            LIMIT least(e.room, $3)
            FOR UPDATE SKIP LOCKED
        ) AS due
        ORDER BY due.next_attempt_at, due.id
        LIMIT $3
    )
    UPDATE webhook_deliveries AS d SET next_attempt_at = $2
    FROM chosen WHERE d.id = chosen.id
    RETURNING d.*
    """,
    ("now", "until", "limit", "endpoint_ids", "rooms"),
)
# Each delivery saved only if still pending with the attempts it had when claimed, and the
# attempts of those saved added: one statement for a whole batch.
_RECORD = Statement.raw(
    """
    WITH v AS (
        SELECT * FROM unnest(
            $1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::int[], $6::text[],
            $7::timestamptz[], $8::timestamptz[], $9::int[])
        AS v (id, state, attempts, next_attempt_at, last_status, last_error, delivered_at,
              updated_at, expected)
    ), saved AS (
        UPDATE webhook_deliveries AS d
        SET state = v.state, attempts = v.attempts, next_attempt_at = v.next_attempt_at,
            last_status = v.last_status, last_error = v.last_error,
            delivered_at = v.delivered_at, updated_at = v.updated_at
        FROM v WHERE d.id = v.id AND d.state = 'pending' AND d.attempts = v.expected
        RETURNING d.id
    ), tried AS (
        INSERT INTO webhook_attempts (delivery_id, number, at, latency_ms, status, error)
        SELECT a.* FROM unnest(
            $10::uuid[], $11::int[], $12::timestamptz[], $13::int[], $14::int[], $15::text[])
        AS a (delivery_id, number, at, latency_ms, status, error)
        JOIN saved ON saved.id = a.delivery_id
    )
    SELECT id FROM saved
    """,
    (*_RECORDED, "expected", "attempt_ids", "numbers", "ats", "latencies", "statuses", "errors"),
)
_SETTLE = Statement.raw(
    """
    UPDATE outbox AS o
    SET state = 'done', done_at = $2, dispatched_at = coalesce(o.dispatched_at, $2)
    WHERE o.id = ANY($1::uuid[]) AND o.state <> 'done' AND NOT EXISTS (
        SELECT 1 FROM webhook_deliveries AS d WHERE d.event_id = o.id AND d.state = 'pending')
    """,
    ("ids", "at"),
)

"""Webhook endpoints, deliveries and attempts in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.platform.outbox import EventType
from orderly_core.webhooks.model import Attempt, Delivery, DeliveryState, Endpoint
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
_PENDING_FOR_EVENT = Statement.compiled(
    select(func.count()).where(
        webhook_deliveries.c.event_id == bindparam("event_id"),
        webhook_deliveries.c.state == DeliveryState.PENDING.value,
    )
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
        table = webhook_endpoints
        rows = await self._db.execute(select(table).order_by(table.c.created_at, table.c.id))
        return [_to_endpoint(row._mapping) for row in rows]


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
        queued_at=row["queued_at"],
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
        "queued_at": delivery.queued_at,
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

    async def pending_for_event(self, event_id: uuid.UUID) -> int:
        return int(await _PENDING_FOR_EVENT.fetch_value(self._driver, {"event_id": event_id}) or 0)

    async def mark_queued(self, delivery_ids: Sequence[uuid.UUID], at: datetime) -> None:
        table = webhook_deliveries
        await self._db.execute(
            update(table)
            .where(table.c.id.in_(delivery_ids), table.c.state == DeliveryState.PENDING.value)
            .values(queued_at=at)
        )

    async def unqueued(self, now: datetime, limit: int) -> list[Delivery]:
        table = webhook_deliveries
        query = (
            select(table)
            .where(
                table.c.state == DeliveryState.PENDING.value,
                table.c.queued_at.is_(None),
                func.coalesce(table.c.next_attempt_at, table.c.created_at) <= now,
            )
            .order_by(table.c.created_at, table.c.id)
            .limit(limit)
        )
        return [_to_delivery(row._mapping) for row in await self._db.execute(query)]

    async def overdue(self, before: datetime, limit: int) -> list[Delivery]:
        table = webhook_deliveries
        query = (
            select(table)
            .where(table.c.state == DeliveryState.PENDING.value, table.c.next_attempt_at < before)
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(limit)
        )
        return [_to_delivery(row._mapping) for row in await self._db.execute(query)]

"""The stored outcomes of idempotent requests (see :mod:`orderly_core.idempotency`).

A key is held for a transaction with a transaction-level advisory lock on a 64-bit hash of
its scope: ``pg_try_advisory_xact_lock`` never waits, so a retry that arrives while the first
request runs is told so at once, and the lock goes with the commit that makes the outcome
visible. A hash collision between two scopes can only make one of them wait for a retry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.idempotency import KeyScope, StoredOutcome
from orderly_db.tables import idempotency_keys

_SCOPE_SEPARATOR = "\x1f"  # cannot occur in a key, an operation or an actor id


def _is(scope: KeyScope) -> ColumnElement[bool]:
    table = idempotency_keys
    return and_(
        table.c.actor == scope.actor,
        table.c.operation == scope.operation,
        table.c.key == scope.key,
    )


class SqlIdempotencyRecords:
    def __init__(self, connection: AsyncConnection) -> None:
        self._db = connection

    async def claim(self, scope: KeyScope) -> bool:
        name = _SCOPE_SEPARATOR.join((scope.actor, scope.operation, scope.key))
        lock = func.pg_try_advisory_xact_lock(func.hashtextextended(name, 0))
        return bool(await self._db.scalar(select(lock)))

    async def find(self, scope: KeyScope, now: datetime) -> StoredOutcome | None:
        table = idempotency_keys
        query = select(
            table.c.fingerprint,
            table.c.succeeded,
            table.c.kind,
            table.c.document,
            table.c.request_id,
            table.c.created_at,
            table.c.expires_at,
        ).where(_is(scope), table.c.expires_at > now)
        row = (await self._db.execute(query)).one_or_none()
        return None if row is None else StoredOutcome(**row._mapping)

    async def store(self, scope: KeyScope, outcome: StoredOutcome) -> None:
        table = idempotency_keys
        values = {
            "actor": scope.actor,
            "operation": scope.operation,
            "key": scope.key,
            "fingerprint": outcome.fingerprint,
            "succeeded": outcome.succeeded,
            "kind": outcome.kind,
            "document": outcome.document,
            "request_id": outcome.request_id,
            "created_at": outcome.created_at,
            "expires_at": outcome.expires_at,
        }
        statement = insert(table).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.actor, table.c.operation, table.c.key],
            set_={name: statement.excluded[name] for name in values},
            where=table.c.expires_at <= statement.excluded.created_at,
        )
        await self._db.execute(statement)

    async def purge(self, now: datetime, limit: int) -> int:
        table = idempotency_keys
        expired = (
            select(table.c.actor, table.c.operation, table.c.key)
            .where(table.c.expires_at <= now)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        deleted = await self._db.execute(
            table.delete()
            .where(tuple_(table.c.actor, table.c.operation, table.c.key).in_(expired))
            .returning(table.c.key)
        )
        return len(deleted.all())

"""The stored outcomes of idempotent requests (see :mod:`orderly_core.platform.idempotency`).

A key is held for a transaction with a transaction-level advisory lock on a 64-bit hash of
its scope: ``pg_try_advisory_xact_lock`` never waits, so a retry that arrives while the first
request runs is told so at once, and the lock goes with the commit that makes the outcome
visible. A hash collision between two scopes can only make one of them wait for a retry.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BindParameter, ColumnElement, String, and_, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly_core.platform.idempotency import KeyScope, StoredOutcome
from orderly_db.statements import DriverConnection, Statement, json_text
from orderly_db.tables import idempotency_keys

_SCOPE_SEPARATOR = "\x1f"  # cannot occur in a key, an operation or an actor id


def _scope_values(scope: KeyScope) -> dict[str, str]:
    return {"actor": scope.actor, "operation": scope.operation, "key": scope.key}


def _is(scope: KeyScope) -> ColumnElement[bool]:
    table = idempotency_keys
    return and_(
        table.c.actor == scope.actor,
        table.c.operation == scope.operation,
        table.c.key == scope.key,
    )


_TABLE = idempotency_keys
_SCOPE: dict[str, BindParameter[str]] = {
    name: bindparam(name, type_=String) for name in ("actor", "operation", "key")
}
_CLAIM = Statement.compiled(
    select(func.pg_try_advisory_xact_lock(func.hashtextextended(bindparam("name"), 0)))
)
_FIND = Statement.compiled(
    select(
        _TABLE.c.fingerprint,
        _TABLE.c.succeeded,
        _TABLE.c.kind,
        _TABLE.c.document,
        _TABLE.c.request_id,
        _TABLE.c.created_at,
        _TABLE.c.expires_at,
    ).where(
        *(_TABLE.c[name] == value for name, value in _SCOPE.items()),
        _TABLE.c.expires_at > bindparam("now"),
    )
)
_STORED_COLUMNS = (
    "fingerprint", "succeeded", "kind", "document", "request_id", "created_at", "expires_at",
)  # fmt: skip


def _store_statement() -> Statement:
    """Insert the outcome, or replace an expired one (a key may be used again once its
    record has expired, before the purge removes it)."""
    statement = insert(_TABLE).values({
        **_SCOPE, **{name: bindparam(name) for name in _STORED_COLUMNS}
    })  # fmt: skip
    return Statement.compiled(
        statement.on_conflict_do_update(
            index_elements=[_TABLE.c.actor, _TABLE.c.operation, _TABLE.c.key],
            set_={name: statement.excluded[name] for name in _STORED_COLUMNS},
            where=_TABLE.c.expires_at <= statement.excluded.created_at,
        )
    )


_STORE = _store_statement()


class SqlIdempotencyRecords:
    def __init__(self, connection: AsyncConnection, driver: DriverConnection) -> None:
        self._db = connection
        self._driver = driver

    async def claim(self, scope: KeyScope) -> bool:
        name = _SCOPE_SEPARATOR.join((scope.actor, scope.operation, scope.key))
        return bool(await _CLAIM.fetch_value(self._driver, {"name": name}))

    async def find(self, scope: KeyScope, now: datetime) -> StoredOutcome | None:
        row = await _FIND.fetch_one(self._driver, {**_scope_values(scope), "now": now})
        return None if row is None else StoredOutcome(**dict(row.items()))

    async def store(self, scope: KeyScope, outcome: StoredOutcome) -> None:
        values = {
            **_scope_values(scope),
            "fingerprint": outcome.fingerprint,
            "succeeded": outcome.succeeded,
            "kind": outcome.kind,
            "document": json_text(outcome.document),
            "request_id": outcome.request_id,
            "created_at": outcome.created_at,
            "expires_at": outcome.expires_at,
        }
        await _STORE.execute(self._driver, values)

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

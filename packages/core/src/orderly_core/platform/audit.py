"""The audit trail: every successful write says who did it, to what, under which request.

Entries are appended in the same transaction as the change they describe, so a change and its
entry exist together or not at all; a dry run, which never commits, leaves none. ``changes``
holds a compact before/after of the fields that changed, never secrets: a password change
records that the password changed, not the hash.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from orderly_core.platform.ports import Services
from orderly_core.shared.context import Context
from orderly_core.shared.paging import PageQuery

Changes = Mapping[str, Mapping[str, Any]]  # field -> {"before": ..., "after": ...}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: uuid.UUID
    at: datetime
    actor_kind: str
    actor_id: str
    actor_role: str | None
    operation: str  # e.g. "product.create", "user.set_role"
    target_type: str  # "product", "user"
    target_id: str
    request_id: str
    idempotency_key: str | None
    mode: str
    changes: Changes


@dataclass(frozen=True, slots=True)
class AuditQuery(PageQuery):
    target_type: str | None = None
    target_id: str | None = None
    actor_id: str | None = None
    operation: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditLog(Protocol):
    async def append(self, entry: AuditEntry) -> None: ...

    async def list(
        self, *, after: tuple[datetime, uuid.UUID] | None, limit: int, query: AuditQuery
    ) -> list[AuditEntry]:
        """Entries newest first, after the (at, id) position ``after``, filtered by ``query``."""
        ...


class HasAuditLog(Protocol):
    """A unit of work with an audit trail."""

    @property
    def audit(self) -> AuditLog: ...


_NOT_AUDITED = ("created_at", "updated_at")  # every change moves them; the entry has its time


def _audited(view: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if view is None:
        return None
    return {field: value for field, value in view.items() if field not in _NOT_AUDITED}


async def record(
    deps: Services[object],
    uow: HasAuditLog,
    ctx: Context,
    operation: str,
    *,
    target: tuple[str, str],
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
) -> None:
    """Append the entry of a write, in the write's own transaction. ``before``/``after`` are
    public views (never secrets); only the fields that changed are kept."""
    changes = changes_between(_audited(before), _audited(after) or {})
    await uow.audit.append(new_entry(deps, ctx, operation, target, changes))


def changes_between(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> Changes:
    """The fields whose values differ, each as {"before", "after"} (``before`` is None for a
    creation). Values are kept JSON-safe: times as ISO strings."""
    return {
        field: {
            "before": _safe(None if before is None else before.get(field)),
            "after": _safe(value),
        }
        for field, value in after.items()
        if before is None or before.get(field) != value
    }


def _safe(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def new_entry(
    deps: Services[object],
    ctx: Context,
    operation: str,
    target: tuple[str, str],
    changes: Changes,
) -> AuditEntry:
    """The entry for ``operation`` on ``target`` (type, id) by this context's actor."""
    return AuditEntry(
        id=deps.ids.new_id(),
        at=deps.clock.now(),
        actor_kind=ctx.actor.kind.value,
        actor_id=ctx.actor.id,
        actor_role=ctx.actor.role.value if ctx.actor.role else None,
        operation=operation,
        target_type=target[0],
        target_id=target[1],
        request_id=ctx.request_id,
        idempotency_key=ctx.idempotency_key,
        mode=ctx.mode.value,
        changes=changes,
    )

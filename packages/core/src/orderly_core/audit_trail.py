"""Writing and reading the audit trail (see :mod:`orderly_core.audit`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from returns.result import Failure, Result, Success

from orderly_core.audit import (
    AuditEntry,
    AuditPage,
    AuditQuery,
    changes_between,
    decode_position,
    new_entry,
    newest_first_page,
)
from orderly_core.authorization import user_admin_denied
from orderly_core.context import Context
from orderly_core.errors import Forbidden, InvalidInput
from orderly_core.ports import Dependencies, UnitOfWork
from orderly_core.transaction import in_transaction
from orderly_core.validation import FieldErrors

PAGE_SIZE_MAX = 200
_NOT_AUDITED = ("created_at", "updated_at")  # every change moves them; the entry has its time


def _audited(view: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if view is None:
        return None
    return {field: value for field, value in view.items() if field not in _NOT_AUDITED}


async def record(
    deps: Dependencies,
    uow: UnitOfWork,
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


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    """The public representation of an audit entry."""
    return {
        "id": str(entry.id),
        "at": entry.at,
        "actor": {"kind": entry.actor_kind, "id": entry.actor_id, "role": entry.actor_role},
        "operation": entry.operation,
        "target": {"type": entry.target_type, "id": entry.target_id},
        "request_id": entry.request_id,
        "idempotency_key": entry.idempotency_key,
        "mode": entry.mode,
        "changes": dict(entry.changes),
    }


async def list_audit(
    deps: Dependencies, ctx: Context, query: AuditQuery
) -> Result[AuditPage, Forbidden | InvalidInput]:
    """Audit entries, newest first (keyset pagination); admins and operators only.

    Filters: target (type and id), actor id, operation, and a time range [since, until).
    """
    if denied := user_admin_denied(ctx.actor, "read the audit trail"):
        return Failure(denied)
    fields = FieldErrors()
    if not 1 <= query.limit <= PAGE_SIZE_MAX:
        fields.fail("limit", f"must be between 1 and {PAGE_SIZE_MAX}")
    after = None
    if query.cursor is not None and (after := decode_position(query.cursor)) is None:
        fields.fail("cursor", "is not a cursor this API returned")
    if query.since and query.until and query.since >= query.until:
        fields.fail("until", "must be after since")
    if invalid := fields.invalid():
        return invalid

    async def work(uow: UnitOfWork) -> Result[AuditPage, Forbidden | InvalidInput]:
        found = await uow.audit.list(after=after, limit=query.limit + 1, query=query)
        items, cursor = newest_first_page(found, query.limit, lambda e: (e.at, e.id))
        return Success(AuditPage(items, cursor))

    return await in_transaction(deps, ctx, work)

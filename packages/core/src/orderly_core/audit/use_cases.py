"""Reading the audit trail (written by :mod:`orderly_core.platform.audit`)."""

from __future__ import annotations

from typing import Any

from returns.result import Failure, Result, Success

from orderly_core.audit.ports import AuditServices, AuditUnit
from orderly_core.platform.audit import (
    AuditEntry,
    AuditPage,
    AuditQuery,
    decode_position,
    newest_first_page,
)
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import user_admin_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.validation import FieldErrors

PAGE_SIZE_MAX = 200


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
    deps: AuditServices, ctx: Context, query: AuditQuery
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

    async def work(uow: AuditUnit) -> Result[AuditPage, Forbidden | InvalidInput]:
        found = await uow.audit.list(after=after, limit=query.limit + 1, query=query)
        items, cursor = newest_first_page(found, query.limit, lambda e: (e.at, e.id))
        return Success(AuditPage(items, cursor))

    return await in_transaction(deps, ctx, work)

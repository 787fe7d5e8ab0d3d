"""Reading the audit trail (written by :mod:`orderly_core.platform.audit`)."""

from __future__ import annotations

from typing import Any

from returns.result import Failure, Result, Success

from orderly_core.audit.ports import AuditServices, AuditUnit
from orderly_core.platform.audit import AuditEntry, AuditQuery
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import user_admin_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.paging import NEWEST_FIRST, Page, checked_page
from orderly_core.shared.validation import FieldErrors


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
) -> Result[Page[AuditEntry], Forbidden | InvalidInput]:
    """Audit entries, newest first (keyset pagination); admins and operators only.

    Filters: target (type and id), actor id, operation, and a time range [since, until).
    """
    if denied := user_admin_denied(ctx.actor, "read the audit trail"):
        return Failure(denied)
    fields = FieldErrors()
    page = checked_page(fields, query, NEWEST_FIRST)
    fields.time_range(query.since, query.until)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: AuditUnit) -> Result[Page[AuditEntry], Forbidden | InvalidInput]:
        found = await uow.audit.list(after=page.after, limit=page.fetch_limit, query=query)
        return Success(page.cut(found, lambda e: (e.at, e.id)))

    return await in_transaction(deps, ctx, work)

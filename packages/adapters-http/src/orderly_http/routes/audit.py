"""``GET /api/v1/audit``: the audit trail of every write, for admins.

Each successful write of the catalogue and of accounts leaves an entry naming its actor,
target, request id, idempotency key and mode, with the fields it changed. Who may read the
trail is the core's decision (admins; operators at the CLI).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from starlette.responses import Response

from orderly_core.audit.use_cases import list_audit
from orderly_core.platform.audit import AuditQuery
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_http import limits
from orderly_http.answers import answer, described
from orderly_http.audit_schemas import AuditPageResource
from orderly_http.container import Resources
from orderly_http.context import RequestContext
from orderly_http.paging import Cursor, Instant, Limit
from orderly_http.problems import problem_responses
from orderly_http.routing import Router

router = Router(prefix="/api/v1/audit", tags=["audit"])

_TIME = (
    "An RFC 3339 time with its offset, such as `2026-11-22T10:00:00Z` "
    "(encode `+` as `%2B` in a query string)"
)


@router.get(
    "",
    operation_id="audit.list",
    summary="List audit entries (admins)",
    description=described(
        list_audit,
        "Newest first. Filters combine (all must match); follow `next_cursor`, with the same "
        "filters, until it is null. Dry runs change nothing and leave no entry.",
    ),
    response_model=AuditPageResource,
    responses=problem_responses(401, 403, 422),
)
async def list_audit_route(
    *,
    resources: Resources,
    ctx: RequestContext,
    target_type: Annotated[
        str | None,
        Query(max_length=64, description="`product`, `user`...", json_schema_extra=limits.FILTER),
    ] = None,
    target_id: Annotated[
        str | None,
        Query(
            max_length=255,
            description="A SKU (as shown, upper-case), a user id",
            json_schema_extra=limits.FILTER,
        ),
    ] = None,
    actor_id: Annotated[
        str | None,
        Query(
            max_length=255,
            description="A user id, an operator's name",
            json_schema_extra=limits.FILTER,
        ),
    ] = None,
    operation: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Such as `product.adjust_stock`",
            json_schema_extra=limits.FILTER,
        ),
    ] = None,
    since: Annotated[
        Instant | None, Query(description=f"Entries at or after this time. {_TIME}")
    ] = None,
    until: Annotated[
        Instant | None, Query(description=f"Entries before this time. {_TIME}")
    ] = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
) -> Response:
    query = AuditQuery(
        limit=limit,
        cursor=cursor,
        target_type=target_type,
        target_id=target_id,
        actor_id=actor_id,
        operation=operation,
        since=since,
        until=until,
    )
    result = await list_audit(resources.dependencies, ctx, query)
    return answer(result, ctx, AuditPageResource.document)

"""``/api/v1/orders/{id}/returns`` and ``/api/v1/returns``: sending delivered units back.

A customer asks to return units of their own order (``POST /orders/{id}/returns``) and reads
its returns; staff and admins do so for any order, list every return (``GET /returns``,
by status), approve or reject a request, and receive what came back, which restocks or
writes off each unit and refunds them. Who may do what, and every quantity and window
rule, is the core's decision. Asking for a return and receiving one require an
``Idempotency-Key`` (a retry must never return or refund twice); approving and rejecting
accept one, and ``If-Match`` with the return's ``ETag``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query
from pydantic.json_schema import SkipJsonSchema
from starlette.responses import Response

from orderly_core.returns.model import Return, ReturnQuery, ReturnStatus
from orderly_core.returns.requests import (
    get_return,
    list_order_returns,
    list_returns,
    request_return,
)
from orderly_core.returns.steps import approve_return, receive_return, reject_return
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_http import limits
from orderly_http.answers import (
    IdempotencyKey,
    answer,
    answer_change,
    described,
    idempotency_key_missing,
    optional_version,
    version_of,
)
from orderly_http.container import Resources
from orderly_http.context import RequestContext, WriteContext
from orderly_http.paging import Cursor, Limit
from orderly_http.problems import problem_responses
from orderly_http.return_schemas import (
    NewReturnBody,
    ReceiptBody,
    ReceivedReturnResource,
    ReturnDecisionBody,
    ReturnListResource,
    ReturnPageResource,
    ReturnResource,
)
from orderly_http.routing import Router

router = Router(prefix="/api/v1", tags=["returns"])

IfMatch = Annotated[
    str | SkipJsonSchema[None],
    Header(
        description='The return\'s `ETag` (such as `"2"`): change only that version',
        json_schema_extra=limits.IF_MATCH,
    ),
]

_KEY_NOTE = (
    "A retry with the same `Idempotency-Key` and body within 24 hours gets the first answer "
    "again with `Idempotent-Replayed: true`; the same key with another body is 422 "
    "`idempotency_key_reused`; a retry while the first request is still running is 409 "
    "`request_in_flight`. A dry run (`?mode=dry_run`, no key needed) answers 200 and "
    "changes nothing."
)
_STEP_NOTES = (
    "Send `If-Match` with the return's `ETag` to change only that version (412 otherwise); "
    f"`Idempotency-Key` is optional. {_KEY_NOTE}"
)


def _location(ret: Return) -> str:
    return f"{router.prefix}/returns/{ret.id}"


@router.post(
    "/orders/{order_id}/returns",
    operation_id="returns.request",
    status_code=201,
    summary="Ask to return delivered units of an order",
    description=described(
        request_return,
        f"Requires `Idempotency-Key` (400 without it). {_KEY_NOTE} Answers 201 with the "
        "return, its `ETag` and its `Location`.",
    ),
    response_model=ReturnResource,
    responses={
        200: {"model": ReturnResource, "description": "Dry run: the return it would be"},
        **problem_responses(400, 401, 403, 404, 409, 422),
    },
)
async def request_return_route(
    *,
    order_id: str,
    body: NewReturnBody,
    resources: Resources,
    ctx: WriteContext,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    del idempotency_key  # read into the context; declared here to document it
    if (missing := idempotency_key_missing(ctx)) is not None:
        return missing
    result = await request_return(resources.dependencies, ctx, body.to_domain(order_id))
    return answer(
        result, ctx, ReturnResource.document, status=201, version=version_of, location=_location
    )


@router.get(
    "/orders/{order_id}/returns",
    operation_id="returns.list_for_order",
    summary="List an order's returns",
    description=described(list_order_returns),
    response_model=ReturnListResource,
    responses=problem_responses(401, 404, 422),
)
async def list_order_returns_route(
    *, order_id: str, resources: Resources, ctx: RequestContext
) -> Response:
    result = await list_order_returns(resources.dependencies, ctx, order_id)
    return answer(result, ctx, ReturnListResource.document)


@router.get(
    "/returns",
    operation_id="returns.list",
    summary="List returns",
    description=described(list_returns, "Follow `next_cursor` until it is null."),
    response_model=ReturnPageResource,
    responses=problem_responses(401, 403, 422),
)
async def list_returns_route(
    *,
    resources: Resources,
    ctx: RequestContext,
    status: Annotated[ReturnStatus | None, Query(description="Only returns in this status")] = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
) -> Response:
    query = ReturnQuery(limit=limit, cursor=cursor, status=status)
    result = await list_returns(resources.dependencies, ctx, query)
    return answer(result, ctx, ReturnPageResource.document)


@router.get(
    "/returns/{return_id}",
    operation_id="returns.get",
    summary="Get a return",
    description=described(get_return, "Answers the return with its `ETag`."),
    response_model=ReturnResource,
    responses=problem_responses(401, 404, 422),
)
async def get_return_route(
    *, return_id: str, resources: Resources, ctx: RequestContext
) -> Response:
    result = await get_return(resources.dependencies, ctx, return_id)
    return answer(result, ctx, ReturnResource.document, version=version_of)


_STEP_RESPONSES = {
    200: {"model": ReturnResource, "description": "The return after the step"},
    **problem_responses(401, 403, 404, 409, 412, 422),
}


@router.post(
    "/returns/{return_id}/approve",
    operation_id="returns.approve",
    summary="Approve a return",
    description=described(approve_return, f"The body (a `note`) is optional. {_STEP_NOTES}"),
    response_model=ReturnResource,
    responses=_STEP_RESPONSES,
)
async def approve_return_route(
    *,
    return_id: str,
    resources: Resources,
    ctx: WriteContext,
    body: ReturnDecisionBody | None = None,
    if_match: IfMatch = None,
) -> Response:
    decision = (body or ReturnDecisionBody()).to_domain(return_id, optional_version(if_match))
    result = await approve_return(resources.dependencies, ctx, decision)
    return answer_change(result, ctx, ReturnResource.document, if_match=if_match)


@router.post(
    "/returns/{return_id}/reject",
    operation_id="returns.reject",
    summary="Reject a return",
    description=described(reject_return, f"The body (a `note`) is optional. {_STEP_NOTES}"),
    response_model=ReturnResource,
    responses=_STEP_RESPONSES,
)
async def reject_return_route(
    *,
    return_id: str,
    resources: Resources,
    ctx: WriteContext,
    body: ReturnDecisionBody | None = None,
    if_match: IfMatch = None,
) -> Response:
    decision = (body or ReturnDecisionBody()).to_domain(return_id, optional_version(if_match))
    result = await reject_return(resources.dependencies, ctx, decision)
    return answer_change(result, ctx, ReturnResource.document, if_match=if_match)


@router.post(
    "/returns/{return_id}/receive",
    operation_id="returns.receive",
    summary="Receive a return",
    description=described(
        receive_return,
        f"Requires `Idempotency-Key` (400 without it). {_KEY_NOTE} Send `If-Match` with the "
        "return's `ETag` to receive only that version (412 otherwise). Answers 200 with the "
        "return and its `refunds`.",
    ),
    response_model=ReceivedReturnResource,
    responses={
        200: {"model": ReceivedReturnResource, "description": "The received return"},
        **problem_responses(400, 401, 403, 404, 409, 412, 422),
    },
)
async def receive_return_route(
    *,
    return_id: str,
    body: ReceiptBody,
    resources: Resources,
    ctx: WriteContext,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    del idempotency_key
    if (missing := idempotency_key_missing(ctx)) is not None:
        return missing
    receipt = body.to_domain(return_id, optional_version(if_match))
    result = await receive_return(resources.dependencies, ctx, receipt)
    return answer_change(result, ctx, ReceivedReturnResource.received, if_match=if_match)

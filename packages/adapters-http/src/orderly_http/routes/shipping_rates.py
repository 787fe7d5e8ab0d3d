"""``/api/v1/shipping-rates``: the shop's shipping rates.

Who may do what is the core's decision: admins create, change and retire rates; anyone
signed in reads the active ones (staff see retired ones too). Writes take ``?mode=dry_run``
and an ``Idempotency-Key``; a ``PATCH`` must send ``If-Match`` with the rate's ``ETag`` (428
otherwise), a ``DELETE`` may.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Query
from pydantic.json_schema import SkipJsonSchema
from starlette.responses import Response

from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_core.shipping.model import ShippingRate, ShippingRateQuery
from orderly_core.shipping.use_cases import (
    RetireRequest,
    create_shipping_rate,
    get_shipping_rate,
    list_shipping_rates,
    retire_shipping_rate,
    update_shipping_rate,
)
from orderly_http import limits
from orderly_http.answers import (
    answer,
    answer_change,
    described,
    dry_run_marked,
    expected_version,
    optional_version,
    version_of,
)
from orderly_http.container import Resources
from orderly_http.context import RequestContext, WriteContext
from orderly_http.paging import Cursor, Limit
from orderly_http.problems import precondition_required, problem_responses
from orderly_http.routing import Router
from orderly_http.shipping_schemas import (
    NewShippingRateBody,
    ShippingRateChangesBody,
    ShippingRatePageResource,
    ShippingRateResource,
)

router = Router(prefix="/api/v1/shipping-rates", tags=["shipping"])

IfMatch = Annotated[
    str | SkipJsonSchema[None],
    Header(
        description='The rate\'s `ETag` (such as `"3"`): change only that version',
        json_schema_extra=limits.IF_MATCH,
    ),
]
_RATE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"model": ShippingRateResource, "description": "The rate after the change"}
}


def _location(rate: ShippingRate) -> str:
    return f"{router.prefix}/{rate.code}"


@router.post(
    "",
    operation_id="shipping_rates.create",
    status_code=201,
    summary="Create a shipping rate",
    description=described(
        create_shipping_rate,
        "Answers 201 with the rate, its `Location` and `ETag`. A dry run answers 200 with the "
        "rate that would be created.",
    ),
    response_model=ShippingRateResource,
    responses={
        200: {"model": ShippingRateResource, "description": "Dry run: what would be created"},
        **problem_responses(401, 403, 409, 413, 422),
    },
)
async def create_rate_route(
    *, body: NewShippingRateBody, resources: Resources, ctx: WriteContext
) -> Response:
    result = await create_shipping_rate(resources.dependencies, ctx, body.to_domain())
    return answer(
        result,
        ctx,
        ShippingRateResource.document,
        status=201,
        version=version_of,
        location=_location,
    )


@router.get(
    "",
    operation_id="shipping_rates.list",
    summary="List shipping rates",
    description=described(list_shipping_rates, "Follow `next_cursor` until it is null."),
    response_model=ShippingRatePageResource,
    responses=problem_responses(401, 422),
)
async def list_rates_route(
    *,
    resources: Resources,
    ctx: RequestContext,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    active: Annotated[
        bool | None, Query(description="Staff: only active (true) or retired (false) rates")
    ] = None,
) -> Response:
    query = ShippingRateQuery(limit=limit, cursor=cursor, active=active)
    result = await list_shipping_rates(resources.dependencies, ctx, query)
    return answer(result, ctx, ShippingRatePageResource.document)


@router.get(
    "/{code}",
    operation_id="shipping_rates.get",
    summary="Get a shipping rate",
    description=described(get_shipping_rate, "Answers the rate with its `ETag`."),
    response_model=ShippingRateResource,
    responses=problem_responses(401, 404, 422),
)
async def get_rate_route(
    *, code: limits.RateCodePath, resources: Resources, ctx: RequestContext
) -> Response:
    result = await get_shipping_rate(resources.dependencies, ctx, code)
    return answer(result, ctx, ShippingRateResource.document, version=version_of)


@router.patch(
    "/{code}",
    operation_id="shipping_rates.update",
    summary="Change a shipping rate",
    description=described(
        update_shipping_rate,
        "Send the `ETag` you read in `If-Match`: without it the answer is 428, and when the "
        "rate has changed since, 412 (read it again and reapply your change).",
    ),
    response_model=ShippingRateResource,
    responses={**_RATE_ANSWER, **problem_responses(401, 403, 404, 412, 413, 422, 428)},
)
async def update_rate_route(
    *,
    code: limits.RateCodePath,
    body: ShippingRateChangesBody,
    resources: Resources,
    ctx: WriteContext,
    if_match: IfMatch = None,
) -> Response:
    if if_match is None:
        return dry_run_marked(precondition_required(ctx.request_id), ctx)
    changes = body.to_domain(code, expected_version(if_match))
    result = await update_shipping_rate(resources.dependencies, ctx, changes)
    return answer_change(result, ctx, ShippingRateResource.document, if_match=if_match)


@router.delete(
    "/{code}",
    operation_id="shipping_rates.retire",
    summary="Retire a shipping rate",
    description=described(
        retire_shipping_rate,
        "Answers 200 with the retired rate (`active: false`) and its new `ETag`. With "
        "`If-Match`, only that version is retired (412 otherwise).",
    ),
    response_model=ShippingRateResource,
    responses={**_RATE_ANSWER, **problem_responses(401, 403, 404, 412, 422)},
)
async def retire_rate_route(
    *, code: limits.RateCodePath, resources: Resources, ctx: WriteContext, if_match: IfMatch = None
) -> Response:
    request = RetireRequest(code, optional_version(if_match))
    result = await retire_shipping_rate(resources.dependencies, ctx, request)
    return answer_change(result, ctx, ShippingRateResource.document, if_match=if_match)

"""``/api/v1/products`` writes: create, change, archive, adjust stock.

Who may write is the core's decision (staff and admins); each route decodes the request,
calls one use case with the request's context and mode, and answers the product or the
problem for its failure. Every write takes ``?mode=dry_run``: the answer is then what would
happen, marked ``Orderly-Mode: dry_run``, without ``ETag`` or ``Location`` since nothing
was stored.

Changes are made against a version: ``If-Match`` carries the product's ``ETag`` and becomes
the use case's expected version, so a stale copy gets 412 instead of overwriting someone
else's change. A ``PATCH`` must send it (428 otherwise); archiving and stock adjustments
may.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.exceptions import RequestValidationError
from returns.pipeline import is_successful
from starlette.responses import Response

from orderly_core.catalogue.model import Product
from orderly_core.catalogue.use_cases import (
    ArchiveRequest,
    adjust_stock,
    archive_product,
    create_product,
    update_product,
)
from orderly_core.platform.idempotency import Idempotent, without_replay
from orderly_core.shared.context import Context, Mode
from orderly_http.container import Resources
from orderly_http.context import MODE_HEADER, WriteContext
from orderly_http.problems import (
    REPLAYED_HEADER,
    domain_problem,
    precondition_required,
    problem_responses,
)
from orderly_http.routes.products import described, strong_etag
from orderly_http.schemas import (
    NewProductBody,
    ProductChangesBody,
    ProductResource,
    StockAdjustmentBody,
    json_response,
)

router = APIRouter(prefix="/api/v1/products", tags=["products"])

IF_MATCH_RULE = 'must be the ETag of the product (such as "3") or *'
_STRONG_ETAG = re.compile(r'"([0-9]{1,18})"')

IfMatch = Annotated[
    str | None,
    Header(description='The product\'s `ETag` (such as `"3"`): change only that version'),
]
_PRODUCT_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"model": ProductResource, "description": "The product after the change"}
}


def expected_version(if_match: str) -> int | None:
    """The version ``If-Match`` names; ``None`` for ``*`` (any current version).

    One strong tag or ``*`` only: weak tags never match a change (RFC 9110 compares strongly)
    and the core checks one version, so anything else is refused as malformed.
    """
    value = if_match.strip()
    if value == "*":
        return None
    match = _STRONG_ETAG.fullmatch(value)
    if match is None:
        raise RequestValidationError([{"loc": ("header", "If-Match"), "msg": IF_MATCH_RULE}])
    return int(match[1])


def _marked(ctx: Context, response: Response) -> Response:
    if ctx.mode is Mode.DRY_RUN:
        response.headers[MODE_HEADER] = Mode.DRY_RUN.value
    return response


def _answer(
    ctx: Context,
    result: Idempotent[Product, Any],
    *,
    conditional: bool,
    status: int = 200,
    location: bool = False,
) -> Response:
    """The product with its ``ETag`` (and ``Location``), or the failure's problem; the stored
    answer of an earlier request with the same key is marked ``Idempotent-Replayed``."""
    if not is_successful(result):
        return _marked(ctx, domain_problem(result.failure(), ctx, conditional=conditional))
    product, replayed = without_replay(result.unwrap())
    resource = ProductResource.from_domain(product)
    if ctx.mode is Mode.DRY_RUN:
        return _marked(ctx, json_response(resource))
    headers = {"ETag": strong_etag(resource.version)}
    if location:
        headers["Location"] = f"{router.prefix}/{resource.sku}"
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return json_response(resource, status_code=status, headers=headers)


@router.post(
    "",
    status_code=201,
    summary="Create a product",
    description=described(
        create_product,
        "Answers 201 with the product, its `Location` and `ETag`. A dry run answers 200 with "
        "the product that would be created.",
    ),
    response_model=ProductResource,
    responses={
        200: {"model": ProductResource, "description": "Dry run: what would be created"},
        **problem_responses(403, 409, 413, 422),
    },
)
async def create_product_route(
    *, body: NewProductBody, resources: Resources, ctx: WriteContext
) -> Response:
    result = await create_product(resources.dependencies, ctx, body.to_domain())
    return _answer(ctx, result, conditional=False, status=201, location=True)


@router.patch(
    "/{sku}",
    summary="Change a product",
    description=described(
        update_product,
        "Send the `ETag` you read in `If-Match`: without it the answer is 428, and when the "
        "product has changed since, 412 (read it again and reapply your change).",
    ),
    response_model=ProductResource,
    responses={**_PRODUCT_ANSWER, **problem_responses(403, 404, 412, 413, 422, 428)},
)
async def update_product_route(
    *,
    sku: str,
    body: ProductChangesBody,
    resources: Resources,
    ctx: WriteContext,
    if_match: IfMatch = None,
) -> Response:
    if if_match is None:
        return _marked(ctx, precondition_required(ctx.request_id))
    changes = body.to_domain(sku, expected_version(if_match))
    result = await update_product(resources.dependencies, ctx, changes)
    return _answer(ctx, result, conditional=True)


@router.delete(
    "/{sku}",
    summary="Archive a product",
    description=described(
        archive_product,
        "Answers 200 with the archived product (`active: false`) and its new `ETag`. With "
        "`If-Match`, only that version is archived (412 otherwise).",
    ),
    response_model=ProductResource,
    responses={**_PRODUCT_ANSWER, **problem_responses(403, 404, 412, 422)},
)
async def archive_product_route(
    *, sku: str, resources: Resources, ctx: WriteContext, if_match: IfMatch = None
) -> Response:
    request = ArchiveRequest(sku, None if if_match is None else expected_version(if_match))
    result = await archive_product(resources.dependencies, ctx, request)
    return _answer(ctx, result, conditional=if_match is not None)


@router.post(
    "/{sku}/stock-adjustments",
    summary="Adjust a product's stock",
    description=described(
        adjust_stock,
        "Answers 200 with the product and its new `ETag`. With `If-Match`, only that version "
        "is adjusted (412 otherwise).",
    ),
    response_model=ProductResource,
    responses={**_PRODUCT_ANSWER, **problem_responses(403, 404, 409, 412, 413, 422)},
)
async def adjust_stock_route(
    *,
    sku: str,
    body: StockAdjustmentBody,
    resources: Resources,
    ctx: WriteContext,
    if_match: IfMatch = None,
) -> Response:
    version = None if if_match is None else expected_version(if_match)
    result = await adjust_stock(resources.dependencies, ctx, body.to_domain(sku, version))
    return _answer(ctx, result, conditional=if_match is not None)

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

from typing import Annotated, Any

from fastapi import Header
from pydantic.json_schema import SkipJsonSchema
from starlette.responses import Response

from orderly_core.catalogue.model import Product
from orderly_core.catalogue.use_cases import (
    ArchiveRequest,
    adjust_stock,
    archive_product,
    create_product,
    update_product,
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
from orderly_http.context import WriteContext
from orderly_http.problems import precondition_required, problem_responses
from orderly_http.routing import Router
from orderly_http.schemas import (
    NewProductBody,
    ProductChangesBody,
    ProductResource,
    StockAdjustmentBody,
)

router = Router(prefix="/api/v1/products", tags=["products"])

IfMatch = Annotated[
    str | SkipJsonSchema[None],
    Header(
        description='The product\'s `ETag` (such as `"3"`): change only that version',
        json_schema_extra=limits.IF_MATCH,
    ),
]
_PRODUCT_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"model": ProductResource, "description": "The product after the change"}
}


def _location(product: Product) -> str:
    return f"{router.prefix}/{product.sku}"


@router.post(
    "",
    operation_id="products.create",
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
    return answer(
        result, ctx, ProductResource.from_domain, status=201, version=version_of, location=_location
    )


@router.patch(
    "/{sku}",
    operation_id="products.update",
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
    sku: limits.SkuPath,
    body: ProductChangesBody,
    resources: Resources,
    ctx: WriteContext,
    if_match: IfMatch = None,
) -> Response:
    if if_match is None:
        return dry_run_marked(precondition_required(ctx.request_id), ctx)
    changes = body.to_domain(sku, expected_version(if_match))
    result = await update_product(resources.dependencies, ctx, changes)
    return answer_change(result, ctx, ProductResource.from_domain, if_match=if_match)


@router.delete(
    "/{sku}",
    operation_id="products.archive",
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
    *, sku: limits.SkuPath, resources: Resources, ctx: WriteContext, if_match: IfMatch = None
) -> Response:
    request = ArchiveRequest(sku, optional_version(if_match))
    result = await archive_product(resources.dependencies, ctx, request)
    return answer_change(result, ctx, ProductResource.from_domain, if_match=if_match)


@router.post(
    "/{sku}/stock-adjustments",
    operation_id="stock.adjust",
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
    sku: limits.SkuPath,
    body: StockAdjustmentBody,
    resources: Resources,
    ctx: WriteContext,
    if_match: IfMatch = None,
) -> Response:
    adjustment = body.to_domain(sku, optional_version(if_match))
    result = await adjust_stock(resources.dependencies, ctx, adjustment)
    return answer_change(result, ctx, ProductResource.from_domain, if_match=if_match)

"""``/api/v1/products``: the public catalogue reads.

Each route decodes the request, calls one use case with the request's context, and answers
the resource or the problem for its failure.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Request
from starlette.responses import Response

from orderly_core.catalogue.model import ProductQuery
from orderly_core.catalogue.use_cases import get_product, list_products
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_http import limits
from orderly_http.answers import answer, described, version_of
from orderly_http.context import claims_context, run_signed_in
from orderly_http.paging import Cursor, Limit
from orderly_http.problems import problem_responses
from orderly_http.routing import Router
from orderly_http.schemas import ProductPageResource, ProductResource

router = Router(prefix="/api/v1/products", tags=["products"])

# The core calls the text search ``search``; this API calls the parameter ``q``.
_LIST_FIELD_NAMES = {"search": "q"}


@router.get(
    "",
    operation_id="products.list",
    summary="List products",
    description=described(
        list_products,
        "In this API the text search is the `q` parameter. Follow `next_cursor` until it is "
        "null to read the whole catalogue.",
    ),
    response_model=ProductPageResource,
    responses=problem_responses(422),
)
async def list_products_route(
    *,
    request: Request,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    active: Annotated[
        bool | None, Query(description="Only products in sale (true) or archived (false)")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            description="Text in the product's name or SKU, ignoring case",
            json_schema_extra=limits.SEARCH,
        ),
    ] = None,
) -> Response:
    query = ProductQuery(limit=limit, cursor=cursor, active=active, search=q)
    ctx = claims_context(request)
    ctx, result = await run_signed_in(request, ctx, lambda deps, c: list_products(deps, c, query))
    return answer(result, ctx, ProductPageResource.document, field_names=_LIST_FIELD_NAMES)


@router.get(
    "/{sku}",
    operation_id="products.get",
    summary="Get a product",
    description=described(
        get_product,
        "The `ETag` header carries the product's version: send it back in `If-None-Match` to "
        "get `304 Not Modified` while the product is unchanged. SKUs are case-insensitive.",
    ),
    response_model=ProductResource,
    responses={
        304: {"description": "Not modified: the ETag in `If-None-Match` is current"},
        **problem_responses(404, 422),
    },
)
async def get_product_route(
    *,
    sku: limits.SkuPath,
    request: Request,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    ctx = claims_context(request)
    ctx, result = await run_signed_in(request, ctx, lambda deps, c: get_product(deps, c, sku))
    return answer(
        result,
        ctx,
        ProductResource.document,
        version=version_of,
        if_none_match=if_none_match,
    )

"""``GET /api/v1/products/{sku}/stock-movements``: a product's stock ledger.

Every change of a product's stock (its opening stock, adjustments, imports, and the
reservations, releases and shipments of orders) is a movement; the levels are their sums.
Who may read them is the core's decision (staff and admins).
"""

from __future__ import annotations

from starlette.responses import Response

from orderly_core.catalogue.stock import HistoryQuery, stock_history
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_http import limits
from orderly_http.answers import answer, described
from orderly_http.audit_schemas import StockMovementPageResource
from orderly_http.container import Resources
from orderly_http.context import RequestContext
from orderly_http.paging import Cursor, Limit
from orderly_http.problems import problem_responses
from orderly_http.routing import Router

router = Router(prefix="/api/v1/products", tags=["products"])


@router.get(
    "/{sku}/stock-movements",
    operation_id="stock.list_movements",
    summary="List a product's stock movements",
    description=described(
        stock_history,
        "Newest first. Follow `next_cursor` until it is null to read the whole history; the "
        "sums of `on_hand_delta` and `reserved_delta` are the product's `on_hand` and "
        "`reserved`.",
    ),
    response_model=StockMovementPageResource,
    responses=problem_responses(401, 403, 404, 422),
)
async def stock_movements_route(
    *,
    sku: limits.SkuPath,
    resources: Resources,
    ctx: RequestContext,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
) -> Response:
    query = HistoryQuery(limit=limit, cursor=cursor)
    result = await stock_history(resources.dependencies, ctx, sku, query)
    return answer(result, ctx, StockMovementPageResource.from_domain)

"""``/api/v1/reports``: the daily sales summaries, for staff and admins."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from starlette.responses import Response

from orderly_core.sales.use_cases import SalesQuery, sales_report
from orderly_http.answers import answer, described
from orderly_http.container import Resources
from orderly_http.context import RequestContext
from orderly_http.problems import problem_responses
from orderly_http.report_schemas import SalesReportResource
from orderly_http.routing import Router

router = Router(prefix="/api/v1/reports", tags=["reports"])


@router.get(
    "/sales",
    operation_id="reports.sales",
    summary="Daily sales summaries",
    description=described(
        sales_report,
        "Orderly's worker summarises each UTC day a few minutes after it ends; `orderly "
        "reports summarise --day` makes a day's summary again.",
    ),
    response_model=SalesReportResource,
    responses=problem_responses(401, 403, 422),
)
async def sales_report_route(
    *,
    resources: Resources,
    ctx: RequestContext,
    first: Annotated[date, Query(alias="from", description="First day (YYYY-MM-DD)")],
    last: Annotated[date, Query(alias="to", description="Last day, included (YYYY-MM-DD)")],
) -> Response:
    result = await sales_report(resources.dependencies, ctx, SalesQuery(first, last))
    return answer(result, ctx, SalesReportResource.from_domain)

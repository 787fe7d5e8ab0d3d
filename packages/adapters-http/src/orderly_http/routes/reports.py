"""``/api/v1/reports``: the daily sales summaries, for staff and admins."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from returns.pipeline import is_successful
from starlette.responses import Response

from orderly_core.sales.use_cases import SalesQuery, sales_report
from orderly_http.container import Resources
from orderly_http.context import RequestContext
from orderly_http.problems import domain_problem, problem_responses
from orderly_http.report_schemas import SalesReportResource
from orderly_http.routes.products import described

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.get(
    "/sales",
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
    if not is_successful(result):
        return domain_problem(result.failure(), ctx)
    resource = SalesReportResource.from_domain(result.unwrap())
    return Response(
        resource.__pydantic_serializer__.to_json(resource, by_alias=True),
        media_type="application/json",
    )

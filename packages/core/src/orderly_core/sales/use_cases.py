"""Making and reading the daily sales summaries.

Orderly's worker makes yesterday's summary a few minutes after midnight UTC; making a day's
summary again replaces it, so a day can be brought up to date after late payments or
cancellations (``orderly reports summarise --day``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from returns.result import Failure, Result, Success

from orderly_core.platform.transaction import in_transaction
from orderly_core.sales.model import TOP_SKUS, SalesSummary, day_bounds
from orderly_core.sales.ports import SalesServices, SalesUnit
from orderly_core.shared.authorization import operations_denied, sales_report_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.validation import FieldErrors, day_problem

REPORT_DAYS_MAX = 366


@dataclass(frozen=True, slots=True)
class SalesQuery:
    first: date
    last: date  # inclusive


@dataclass(frozen=True, slots=True)
class SalesReport:
    first: date
    last: date
    days: tuple[SalesSummary, ...]  # the days summarised so far, oldest first


async def summarise_sales(
    deps: SalesServices, ctx: Context, day: date | None = None
) -> Result[SalesSummary, Forbidden | InvalidInput]:
    """Make (or make again) the summary of ``day``, yesterday (UTC) by default, a day between
    0001-01-02 and 9999-12-30. Orderly's schedule and operators make summaries; a dry run
    computes it and keeps nothing."""
    if denied := operations_denied(ctx.actor, "make sales summaries"):
        return Failure(denied)
    now = deps.clock.now()
    wanted = day or (now.date() - timedelta(days=1))
    if problem := day_problem(wanted):
        return Failure(InvalidInput.single("day", problem))

    async def work(uow: SalesUnit) -> Result[SalesSummary, Forbidden | InvalidInput]:
        start, end = day_bounds(wanted)
        summary = SalesSummary(wanted, await uow.sales.tally(start, end, TOP_SKUS), now)
        await uow.sales.save(summary)
        return Success(summary)

    return await in_transaction(deps, ctx, work)


async def sales_report(
    deps: SalesServices, ctx: Context, query: SalesQuery
) -> Result[SalesReport, Forbidden | InvalidInput]:
    """The stored daily summaries of [first, last] (at most 366 days), for staff, admins and
    operators. Days not summarised yet (today, or before Orderly summarised) are absent."""
    if denied := sales_report_denied(ctx.actor):
        return Failure(denied)
    fields = FieldErrors()
    if query.last < query.first:
        fields.fail("to", "must not be before from")
    elif (query.last - query.first).days + 1 > REPORT_DAYS_MAX:
        fields.fail("to", f"a report covers at most {REPORT_DAYS_MAX} days")
    if invalid := fields.invalid():
        return invalid

    async def work(uow: SalesUnit) -> Result[SalesReport, Forbidden | InvalidInput]:
        days = await uow.sales.between(query.first, query.last)
        return Success(SalesReport(query.first, query.last, tuple(days)))

    return await in_transaction(deps, ctx, work)

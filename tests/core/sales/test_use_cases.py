"""The daily sales summary, on the fakes and on PostgreSQL: paid orders of a UTC day, revenue
per currency, the SKUs sold most; made again, it replaces the day's summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.sales.model import Revenue, SkuSales
from orderly_core.sales.use_cases import SalesQuery, sales_report, summarise_sales
from orderly_core.shared.context import Actor, Context, Mode, Role
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.validation import DAY_RULE
from orderly_core.shipments.model import ShipmentLine, Tracking
from orderly_core.shipments.steps import cancel_order
from orderly_core.shipments.use_cases import NewShipment, create_shipment
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, err, fresh, make_product, ok, pay_order

ANN = Context(Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER), "req-ann")
SCHEDULE = Context(Actor.system("scheduler"), "req-schedule")
DAY = date(2031, 3, 1)


async def paid_order(deps: Dependencies, *lines: tuple[str, int]) -> str:
    new = NewOrder(tuple(LineRequest(sku, quantity) for sku, quantity in lines))
    order = fresh(await place_order(deps, ANN, new)).order
    fresh(await pay_order(deps, Context(STAFF, "req-staff"), OrderStep(str(order.id))))
    return str(order.id)


async def test_a_day_counts_its_paid_orders_revenue_per_currency_and_top_skus(
    deps: Dependencies,
) -> None:
    clock = FixedClock(datetime.fromisoformat("2031-03-01T09:00:00+00:00"))
    deps = replace(deps, clock=clock)
    await make_product(deps, "MUG-1", on_hand=100, unit_price=1250)
    await make_product(deps, "TEA-1", on_hand=100, unit_price=400)
    await make_product(deps, "YEN-1", on_hand=100, unit_price=1500, currency="JPY")
    await paid_order(deps, ("MUG-1", 2), ("TEA-1", 1))
    partly = await paid_order(deps, ("TEA-1", 5))
    some = NewShipment(partly, (ShipmentLine("TEA-1", 2),), Tracking("DHL", "JD1"))
    fresh(await create_shipment(deps, Context(STAFF, "req-ship"), some))  # a sale all the same
    await paid_order(deps, ("YEN-1", 1))
    fresh(await place_order(deps, ANN, NewOrder((LineRequest("MUG-1", 9),))))  # never paid
    cancelled = fresh(await place_order(deps, ANN, NewOrder((LineRequest("MUG-1", 7),))))
    fresh(await cancel_order(deps, ANN, OrderStep(str(cancelled.order.id))))
    clock.advance(timedelta(days=1))
    await paid_order(deps, ("MUG-1", 50))  # the next day

    summary = ok(await summarise_sales(deps, SCHEDULE))  # yesterday, by default

    assert summary.day == DAY
    assert summary.tally.orders == 3
    assert summary.tally.revenue == (Revenue("EUR", 2 * 1250 + 400 + 5 * 400), Revenue("JPY", 1500))
    assert summary.tally.top_skus == (
        SkuSales("TEA-1", 6),
        SkuSales("MUG-1", 2),
        SkuSales("YEN-1", 1),
    )
    report = ok(await sales_report(deps, Context(STAFF, "r"), SalesQuery(DAY, DAY + timedelta(1))))
    assert report.days == (summary,)


async def test_summarising_again_replaces_the_day_and_a_dry_run_keeps_nothing(
    deps: Dependencies,
) -> None:
    clock = FixedClock(datetime.fromisoformat("2031-03-01T09:00:00+00:00"))
    deps = replace(deps, clock=clock)
    await make_product(deps, "MUG-1", on_hand=100)
    await paid_order(deps, ("MUG-1", 1))
    operator = Context(Actor.operator("alice"), "req-op")
    first = ok(await summarise_sales(deps, operator, DAY))
    await paid_order(deps, ("MUG-1", 3))  # a late payment of the same day
    preview = ok(await summarise_sales(deps, replace(operator, mode=Mode.DRY_RUN), DAY))

    query = SalesQuery(DAY, DAY)
    assert ok(await sales_report(deps, operator, query)).days == (first,)
    again = ok(await summarise_sales(deps, operator, DAY))

    assert (first.tally.orders, preview.tally.orders, again.tally.orders) == (1, 2, 2)
    assert ok(await sales_report(deps, operator, query)).days == (again,)


async def test_who_may_summarise_and_read_and_which_ranges(deps: Dependencies) -> None:
    assert err(await summarise_sales(deps, Context(STAFF, "r"), DAY)) == Forbidden(
        "make sales summaries"
    )
    assert err(await sales_report(deps, ANN, SalesQuery(DAY, DAY))) == Forbidden(
        "read sales reports"
    )
    backwards = err(await sales_report(deps, SCHEDULE, SalesQuery(DAY, DAY - timedelta(1))))
    too_long = err(await sales_report(deps, SCHEDULE, SalesQuery(DAY, DAY + timedelta(400))))
    assert isinstance(backwards, InvalidInput)
    assert isinstance(too_long, InvalidInput)
    assert ok(await sales_report(deps, SCHEDULE, SalesQuery(DAY, DAY))).days == ()


@pytest.mark.parametrize("day", [date(1, 1, 1), date(9999, 12, 31)])
async def test_a_day_whose_bounds_orderly_cannot_store_is_invalid(
    deps: Dependencies, day: date
) -> None:
    refused = err(await summarise_sales(deps, SCHEDULE, day))
    last = ok(await summarise_sales(deps, SCHEDULE, date(9999, 12, 30)))

    assert refused == InvalidInput.single("day", DAY_RULE)
    assert last.day == date(9999, 12, 30)

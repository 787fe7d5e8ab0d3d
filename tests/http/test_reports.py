"""``GET /api/v1/reports/sales`` with real accounts: staff and admins read the stored daily
summaries; customers may not; a range is checked."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest

from orderly_core.sales.model import DayTally, Revenue, SalesSummary, SkuSales
from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from tests.http.accounts import signed_in
from tests.http.helpers import assert_problem

pytestmark = pytest.mark.postgres

SALES = "/api/v1/reports/sales"


async def test_staff_read_the_summaries_of_a_range(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    made = datetime(2031, 3, 2, 0, 5, tzinfo=UTC)
    tally = DayTally(3, (Revenue("EUR", 4900), Revenue("JPY", 1500)), (SkuSales("TEA-1", 6),))
    async with pg_deps.unit_of_work() as uow:
        await uow.sales.save(SalesSummary(date(2031, 3, 1), tally, made))
        await uow.sales.save(SalesSummary(date(2031, 4, 1), tally, made))
        await uow.commit()
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    _, customer = await signed_in(client, pg_deps, "ann@example.com")

    answer = await client.get(
        SALES, params={"from": "2031-03-01", "to": "2031-03-31"}, headers=staff
    )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "from": "2031-03-01",
        "to": "2031-03-31",
        "days": [
            {
                "day": "2031-03-01",
                "orders": 3,
                "revenue": [
                    {"currency": "EUR", "amount": 4900},
                    {"currency": "JPY", "amount": 1500},
                ],
                "top_skus": [{"sku": "TEA-1", "units": 6}],
                "computed_at": "2031-03-02T00:05:00Z",
            }
        ],
    }
    refused = await client.get(
        SALES, params={"from": "2031-03-01", "to": "2031-03-31"}, headers=customer
    )
    assert_problem(refused, 403, "forbidden")
    backwards = await client.get(
        SALES, params={"from": "2031-03-02", "to": "2031-03-01"}, headers=staff
    )
    assert_problem(backwards, 422, "invalid_input")
    assert_problem(
        await client.get(SALES, params={"from": "x", "to": "y"}, headers=staff),
        422,
        "invalid_input",
    )

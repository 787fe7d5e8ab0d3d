"""Times an input carries are times PostgreSQL stores and Python converts to UTC: from
0001-01-02 to 9999-12-30 (UTC), with an offset. One rule, in
:mod:`orderly_core.shared.validation`, bounds every time filter; outside it the input is
invalid, naming the field (on PostgreSQL ``0001-01-01T00:00:00+14:00`` once failed the read)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from orderly_core.audit.use_cases import list_audit
from orderly_core.orders.model import OrderQuery
from orderly_core.orders.reading import list_orders
from orderly_core.platform.audit import AuditQuery
from orderly_core.shared.context import Actor, Role
from orderly_core.shared.errors import InvalidInput
from orderly_core.shared.validation import TIME_MAX, TIME_MIN, TIME_RULE, time_problem
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.replay import ReplayRequest, replay_events
from tests.core.helpers import CUSTOMER, ctx, err, ok

pytestmark = pytest.mark.postgres

EARLIEST_EAST = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
LATEST_WEST = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-12)))


@pytest.mark.parametrize(
    ("moment", "problem"),
    [
        (TIME_MIN, None),
        (TIME_MAX, None),
        (datetime(2031, 4, 1, 12, 0, tzinfo=timezone(timedelta(hours=14))), None),
        (TIME_MIN - timedelta(microseconds=1), TIME_RULE),
        (TIME_MAX + timedelta(microseconds=1), TIME_RULE),
        (EARLIEST_EAST, TIME_RULE),
        (LATEST_WEST, TIME_RULE),
        (datetime(2031, 4, 1), TIME_RULE),  # noqa: DTZ001 - a time without its offset
    ],
)
def test_a_time_is_bounded_to_what_converts_to_utc(moment: datetime, problem: str | None) -> None:
    assert time_problem(moment) == problem


def _fields(error: object) -> set[str]:
    assert isinstance(error, InvalidInput), error
    return {e.field for e in error.errors}


@pytest.mark.parametrize("moment", [EARLIEST_EAST, LATEST_WEST])
async def test_order_and_audit_filters_refuse_times_out_of_range(
    deps: Dependencies, moment: datetime
) -> None:
    admin = ctx(Actor.user("u-3", Role.ADMIN))

    assert _fields(err(await list_orders(deps, ctx(CUSTOMER), OrderQuery(since=moment)))) == {
        "since"
    }
    assert _fields(err(await list_audit(deps, admin, AuditQuery(until=moment)))) == {"until"}


async def test_times_in_range_are_read(deps: Dependencies) -> None:
    query = OrderQuery(since=TIME_MIN, until=TIME_MAX)

    assert ok(await list_orders(deps, ctx(CUSTOMER), query)).items == ()


async def test_a_replay_refuses_times_out_of_range(deps: Dependencies) -> None:
    window = ReplayRequest(("order.placed",), EARLIEST_EAST, datetime(2031, 1, 1, tzinfo=UTC))

    error = err(await replay_events(deps, ctx(), "9d6c2f5e-0000-4000-8000-000000000000", window))

    assert _fields(error) == {"since"}

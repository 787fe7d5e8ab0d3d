"""The order lifecycle, edge by edge, on the fakes and on PostgreSQL:
``placed -> paid -> shipped -> delivered``, ``cancelled`` from placed or paid, nothing out of
delivered or cancelled; each step moves the order's version and its ``updated_at``."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from itertools import pairwise

import pytest

from orderly_core.orders.errors import IllegalTransition
from orderly_core.orders.model import OrderStatus, may_move
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.reading import get_order
from orderly_core.orders.steps import OrderStep
from orderly_core.payments.errors import OrderNotPayable
from orderly_core.shared.context import Actor, Role
from orderly_core.shipments.steps import cancel_order, deliver_order, ship_order
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, ctx, err, fresh, make_product, ok, pay_order

pytestmark = pytest.mark.postgres

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)
S = OrderStatus
LEGAL = {
    (S.PLACED, S.PAID),
    (S.PLACED, S.CANCELLED),
    (S.PAID, S.PARTIALLY_SHIPPED),
    (S.PAID, S.SHIPPED),
    (S.PAID, S.CANCELLED),
    (S.PARTIALLY_SHIPPED, S.SHIPPED),
    # what remained of it cancelled once all it shipped was delivered
    (S.PARTIALLY_SHIPPED, S.DELIVERED),
    (S.SHIPPED, S.DELIVERED),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_the_lifecycle_has_exactly_its_eight_edges(current: S, target: S) -> None:
    assert may_move(current, target) is ((current, target) in LEGAL)


async def test_a_delivered_order_is_delivered_once(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    placed = fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 1),))))
    step = OrderStep(str(placed.order.id))
    fresh(await pay_order(deps, ctx(STAFF), step))
    fresh(await ship_order(deps, ctx(STAFF), step))
    delivered = fresh(await deliver_order(deps, ctx(STAFF), step))

    again = err(await deliver_order(deps, ctx(STAFF), step))
    cancel = err(await cancel_order(deps, ctx(STAFF), step))

    assert again == IllegalTransition(str(placed.order.id), "delivered", "delivered")
    assert cancel == IllegalTransition(str(placed.order.id), "delivered", "cancelled")
    assert ok(await get_order(deps, ctx(STAFF), str(placed.order.id))) == delivered


async def test_a_cancelled_order_moves_no_more(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    placed = fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 1),))))
    step = OrderStep(str(placed.order.id))
    fresh(await cancel_order(deps, ctx(ANN), step))

    not_payable = err(await pay_order(deps, ctx(STAFF), step))
    refusals = [
        err(await cancel_order(deps, ctx(ANN), step)),
        err(await ship_order(deps, ctx(STAFF), step)),
    ]

    assert not_payable == OrderNotPayable(str(placed.order.id), "cancelled")
    assert refusals == [
        IllegalTransition(str(placed.order.id), "cancelled", wanted)
        for wanted in ("cancelled", "shipped")
    ]


async def test_each_step_moves_updated_at_to_its_time_and_keeps_placed_at(
    deps: Dependencies,
) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock)
    await make_product(deps, "MUG-1", on_hand=10)
    placed = fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 1),))))
    step = OrderStep(str(placed.order.id))
    times = [placed.order.updated_at]

    for move, actor in ((pay_order, STAFF), (ship_order, STAFF), (deliver_order, STAFF)):
        clock.advance(timedelta(minutes=5))
        moved = fresh(await move(deps, ctx(actor), step))
        assert moved.updated_at == clock.now()
        assert moved.placed_at == placed.order.placed_at
        times.append(moved.updated_at)

    stored = ok(await get_order(deps, ctx(STAFF), str(placed.order.id)))
    assert stored.updated_at == times[-1]
    assert [later - earlier for earlier, later in pairwise(times)] == [timedelta(minutes=5)] * 3
    assert placed.order.updated_at == placed.order.placed_at


async def test_a_cancellation_moves_updated_at_and_records_the_reason(
    deps: Dependencies,
) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock)
    await make_product(deps, "MUG-1", on_hand=10)
    placed = fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 1),))))
    clock.advance(timedelta(minutes=2))

    cancelled = fresh(
        await cancel_order(deps, ctx(ANN), OrderStep(str(placed.order.id)), "  wrong size ")
    )

    assert (cancelled.updated_at, cancelled.cancel_reason, cancelled.version) == (
        clock.now(),
        "wrong size",
        2,
    )
    stored = ok(await get_order(deps, ctx(STAFF), str(placed.order.id)))
    assert (stored.updated_at, stored.cancel_reason) == (clock.now(), "wrong size")

"""A cancellation's reason is multi-line text, on the fakes and on PostgreSQL: it may hold tabs
and line breaks, kept as written, and no other control character."""

from __future__ import annotations

import pytest

from orderly_core.orders.model import OrderStatus
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.reading import get_order
from orderly_core.orders.steps import OrderStep
from orderly_core.shared.context import Actor, Role
from orderly_core.shared.errors import InvalidInput
from orderly_core.shared.validation import MULTI_LINE_RULE
from orderly_core.shipments.steps import cancel_order
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ctx, err, fresh, make_product, ok

pytestmark = pytest.mark.postgres

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)


async def placed(deps: Dependencies) -> OrderStep:
    await make_product(deps, "MUG-1", on_hand=10)
    order = fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 1),)))).order
    return OrderStep(str(order.id))


async def test_a_reason_may_span_lines(deps: Dependencies) -> None:
    step = await placed(deps)
    reason = "Wrong size:\n\tasked for L,\r\n\tgot M"

    cancelled = fresh(await cancel_order(deps, ctx(ANN), step, reason))

    assert (cancelled.status, cancelled.cancel_reason) == (OrderStatus.CANCELLED, reason)
    kept = ok(await get_order(deps, ctx(ANN), step.order_id))
    assert kept.cancel_reason == reason


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x85"])
async def test_a_reason_holds_no_other_control_character(deps: Dependencies, control: str) -> None:
    step = await placed(deps)

    refused = err(await cancel_order(deps, ctx(ANN), step, f"changed\n{control}my mind"))

    assert refused == InvalidInput.single("reason", MULTI_LINE_RULE)
    kept = ok(await get_order(deps, ctx(ANN), step.order_id))
    assert (kept.status, kept.cancel_reason) == (OrderStatus.PLACED, None)

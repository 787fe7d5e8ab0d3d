"""The ``stock.low`` event, on the fakes and on PostgreSQL: it names the product and carries
its levels as the movement left them, with exactly these keys."""

from __future__ import annotations

import pytest

from orderly_core.catalogue.use_cases import StockAdjustment, adjust_stock
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.platform.outbox import Event, EventType
from orderly_core.shared.context import Actor, Role
from orderly_core.shipments.steps import ship_order
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, ctx, fresh, make_product, pay_order, stored

pytestmark = pytest.mark.postgres

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)


async def low_stock_events(deps: Dependencies) -> list[Event]:
    async with deps.unit_of_work() as uow:
        return [e for e in await uow.outbox.claim(1000) if e.type is EventType.STOCK_LOW]


async def test_stock_low_carries_the_products_levels_after_the_movement(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10, low_stock_threshold=5)

    fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 6),))))

    (low,) = await low_stock_events(deps)
    product = await stored(deps, "MUG-1")
    assert product is not None
    assert (low.subject, low.sequence) == ("product:MUG-1", product.version)
    assert low.data == {
        "sku": "MUG-1",
        "available": 4,
        "low_stock_threshold": 5,
        "on_hand": 10,
        "reserved": 6,
    }


async def test_shipping_moves_no_available_stock_and_tells_nothing(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10, low_stock_threshold=5)
    placed = fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 6),)))).order
    fresh(await pay_order(deps, ctx(STAFF), OrderStep(str(placed.id))))

    fresh(await ship_order(deps, ctx(STAFF), OrderStep(str(placed.id))))

    assert len(await low_stock_events(deps)) == 1  # the placement's, no other


async def test_a_fall_to_exactly_the_threshold_is_not_low(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10, low_stock_threshold=5)

    fresh(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", -5, "breakage")))
    assert await low_stock_events(deps) == []
    fresh(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", -1, "breakage")))

    assert [e.data["available"] for e in await low_stock_events(deps)] == [4]

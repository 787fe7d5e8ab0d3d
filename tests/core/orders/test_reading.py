"""Who sees and acts on which orders, on the fakes and on PostgreSQL."""

from __future__ import annotations

from orderly_core.orders.errors import (
    OrderNotFound,
)
from orderly_core.orders.model import OrderQuery
from orderly_core.orders.placement import place_order
from orderly_core.orders.reading import get_order, list_orders
from orderly_core.orders.steps import OrderStep
from orderly_core.shipments.steps import cancel_order
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, BOB, STAFF, ctx, err, fresh, make_product, ok, order


async def test_customers_see_and_act_on_their_own_orders_only(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    anns = fresh(await place_order(deps, ctx(ANN), order(("MUG-1", 1)))).order
    fresh(await place_order(deps, ctx(BOB), order(("MUG-1", 1))))

    assert err(await get_order(deps, ctx(BOB), str(anns.id))) == OrderNotFound(str(anns.id))
    assert err(await cancel_order(deps, ctx(BOB), OrderStep(str(anns.id)))) == OrderNotFound(
        str(anns.id)
    )
    mine = ok(await list_orders(deps, ctx(ANN), OrderQuery(customer_id=BOB.id)))
    everyone = ok(await list_orders(deps, ctx(STAFF), OrderQuery()))
    assert [o.id for o in mine.items] == [anns.id]
    assert len(everyone.items) == 2

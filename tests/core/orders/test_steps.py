"""The steps of an order's lifecycle and the stock they move, on the fakes and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from orderly_core.catalogue.stock import verify_stock
from orderly_core.orders.errors import (
    IllegalTransition,
)
from orderly_core.orders.model import OrderStatus
from orderly_core.orders.placement import place_order
from orderly_core.orders.reading import get_order
from orderly_core.orders.steps import OrderStep, expire_orders
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shipments.steps import cancel_order, deliver_order, ship_order
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import (
    ANN,
    BOB,
    STAFF,
    ctx,
    err,
    fresh,
    make_product,
    ok,
    order,
    pay_order,
    stored,
)


async def levels(deps: Dependencies, sku: str) -> tuple[int, int]:
    product = await stored(deps, sku)
    assert product is not None
    return product.stock.on_hand, product.stock.reserved


async def test_the_lifecycle_moves_stock_and_refuses_illegal_steps(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    placed = fresh(await place_order(deps, ctx(ANN), order(("MUG-1", 3)))).order
    step = OrderStep(str(placed.id))

    assert err(await ship_order(deps, ctx(STAFF), step)) == IllegalTransition(
        str(placed.id), "placed", "shipped"
    )
    assert isinstance(err(await pay_order(deps, ctx(ANN), step)), Forbidden)
    assert fresh(await pay_order(deps, ctx(STAFF), step)).status is OrderStatus.PAID
    assert isinstance(err(await ship_order(deps, ctx(ANN), step)), Forbidden)
    assert fresh(await ship_order(deps, ctx(STAFF), step)).status is OrderStatus.SHIPPED
    assert await levels(deps, "MUG-1") == (7, 0)
    assert isinstance(err(await cancel_order(deps, ctx(ANN), step)), IllegalTransition)
    delivered = fresh(await deliver_order(deps, ctx(STAFF), step))
    assert (delivered.status, delivered.version) == (OrderStatus.DELIVERED, 4)
    assert ok(await verify_stock(deps, ctx())).drifts == ()


async def test_cancelling_releases_the_reservation(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    placed = fresh(await place_order(deps, ctx(ANN), order(("MUG-1", 4)))).order
    fresh(await pay_order(deps, ctx(STAFF), OrderStep(str(placed.id))))

    too_long = await cancel_order(deps, ctx(ANN), OrderStep(str(placed.id)), "x" * 256)
    cancelled = fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(placed.id)), "changed mind"))

    assert isinstance(err(too_long), InvalidInput)

    assert (cancelled.status, cancelled.cancel_reason) == (OrderStatus.CANCELLED, "changed mind")
    assert await levels(deps, "MUG-1") == (10, 0)


async def test_unpaid_orders_expire_and_release_their_stock(deps: Dependencies) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock)
    await make_product(deps, "MUG-1", on_hand=10)
    unpaid = fresh(await place_order(deps, ctx(ANN), order(("MUG-1", 2)))).order
    paid = fresh(await place_order(deps, ctx(BOB), order(("MUG-1", 3)))).order
    fresh(await pay_order(deps, ctx(STAFF), OrderStep(str(paid.id))))

    report = ok(await expire_orders(deps, ctx()))
    assert report.expired == ()  # nothing is due yet
    clock.advance(timedelta(minutes=31))

    report = ok(await expire_orders(deps, ctx()))

    assert report.expired == (unpaid.id,)
    expired = ok(await get_order(deps, ctx(ANN), str(unpaid.id)))
    assert (expired.status, expired.cancel_reason) == (OrderStatus.CANCELLED, "expired")
    assert await levels(deps, "MUG-1") == (10, 3)
    assert isinstance(err(await expire_orders(deps, ctx(ANN))), Forbidden)

"""No free holds on stock: a customer's unpaid orders are limited, under concurrency too, and
a product may limit the units one order holds; on the fakes and on PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from returns.result import Success

from orderly_core.catalogue.use_cases import ProductChanges, update_product
from orderly_core.orders.errors import MaxPerOrderExceeded, OverLimitLine, TooManyOpenOrders
from orderly_core.orders.placement import place_order
from orderly_core.orders.steps import OrderStep
from orderly_core.shared.context import Mode
from orderly_core.shared.errors import InvalidInput
from orderly_core.shipments.steps import cancel_order
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
    order,
    pay_order,
    stored,
)


async def test_a_customer_holds_at_most_the_limit_of_unpaid_orders(deps: Dependencies) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock, max_open_unpaid_orders=2)
    await make_product(deps, "MUG-1", on_hand=100)
    first = fresh(await place_order(deps, ctx(ANN), order(("MUG-1", 1)))).order
    second = fresh(await place_order(deps, ctx(ANN), order(("MUG-1", 1)))).order

    third = err(await place_order(deps, ctx(ANN), order(("MUG-1", 1))))
    dry_run = err(await place_order(deps, ctx(ANN, Mode.DRY_RUN), order(("MUG-1", 1))))
    bobs = fresh(await place_order(deps, ctx(BOB), order(("MUG-1", 1))))

    assert third == TooManyOpenOrders(ANN.id, 2)
    assert dry_run == third
    assert bobs.order.customer_id == BOB.id
    product = await stored(deps, "MUG-1")
    assert product is not None
    assert product.stock.reserved == 3

    fresh(await pay_order(deps, ctx(STAFF), OrderStep(str(first.id))))  # paid: no longer a hold
    fresh(await place_order(deps, ctx(ANN), order(("MUG-1", 1))))
    fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(second.id))))
    fresh(await place_order(deps, ctx(ANN), order(("MUG-1", 1))))
    assert isinstance(
        err(await place_order(deps, ctx(ANN), order(("MUG-1", 1)))), TooManyOpenOrders
    )

    clock.advance(timedelta(minutes=31))  # expired, waiting for the sweep: no longer counted
    fresh(await place_order(deps, ctx(ANN), order(("MUG-1", 1))))


async def test_a_product_limits_the_units_of_it_one_order_holds(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=100, max_per_order=3)
    await make_product(deps, "TEA-1", on_hand=100, max_per_order=5)
    await make_product(deps, "CUP-1", on_hand=1000)

    refused = err(
        await place_order(deps, ctx(ANN), order(("MUG-1", 4), ("TEA-1", 5), ("CUP-1", 1000)))
    )
    fresh(await place_order(deps, ctx(ANN), order(("MUG-1", 3), ("CUP-1", 1000))))
    lifted = fresh(await update_product(deps, ctx(), ProductChanges("MUG-1", max_per_order=0)))
    fresh(await place_order(deps, ctx(BOB), order(("MUG-1", 4))))
    bounds = err(await update_product(deps, ctx(), ProductChanges("MUG-1", max_per_order=1001)))

    assert refused == MaxPerOrderExceeded((OverLimitLine("MUG-1", 4, 3),))
    assert lifted.max_per_order is None
    assert isinstance(bounds, InvalidInput)
    assert [e.field for e in bounds.errors] == ["max_per_order"]


@pytest.mark.postgres
async def test_placements_racing_for_the_last_slot_make_one_order(pg_deps: Dependencies) -> None:
    """Ten placements of one customer at once, with two slots left: two orders, eight
    refusals, whatever the interleaving (the customer's lock serialises the count)."""
    deps = replace(pg_deps, max_open_unpaid_orders=3)
    await make_product(deps, "MUG-1", on_hand=100)
    fresh(await place_order(deps, ctx(ANN), order(("MUG-1", 1))))

    results = await asyncio.gather(
        *(place_order(deps, ctx(ANN), order(("MUG-1", 1))) for _ in range(10))
    )

    placed = [r for r in results if isinstance(r, Success)]
    refused = [r.failure() for r in results if not isinstance(r, Success)]
    assert len(placed) == 2
    assert refused == [TooManyOpenOrders(ANN.id, 3)] * 8
    product = await stored(deps, "MUG-1")
    assert product is not None
    assert product.stock.reserved == 3

"""Placing orders: reservation, pricing, the placement rules and placements racing, on the
fakes and on PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from returns.result import Success

from orderly_core.catalogue.stock import HistoryQuery, stock_history, verify_stock
from orderly_core.catalogue.use_cases import ArchiveRequest, archive_product
from orderly_core.orders.errors import (
    MixedCurrencies,
    OutOfStock,
    ProductsUnavailable,
    ShortLine,
)
from orderly_core.orders.model import OrderStatus
from orderly_core.orders.placement import place_order
from orderly_core.shared.context import Actor, Role
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, ctx, err, fresh, make_product, ok, order, stored


async def levels(deps: Dependencies, sku: str) -> tuple[int, int]:
    product = await stored(deps, sku)
    assert product is not None
    return product.stock.on_hand, product.stock.reserved


async def test_placing_reserves_every_line_and_prices_the_order(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10, unit_price=1250)
    await make_product(deps, "TEE-1", on_hand=5, unit_price=2000)

    placed = fresh(await place_order(deps, ctx(ANN), order(("mug-1", 2), ("TEE-1", 1)))).order

    assert (placed.status, placed.customer_id, placed.total.amount) == (
        OrderStatus.PLACED,
        ANN.id,
        4500,
    )
    assert placed.expires_at - placed.placed_at == timedelta(minutes=30)
    assert await levels(deps, "MUG-1") == (10, 2)
    assert await levels(deps, "TEE-1") == (5, 1)
    history = ok(await stock_history(deps, ctx(), "MUG-1", HistoryQuery()))
    assert (history.items[0].kind.value, history.items[0].reference) == (
        "reservation",
        str(placed.id),
    )


async def test_a_short_line_reserves_nothing_and_every_short_line_is_named(
    deps: Dependencies,
) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    await make_product(deps, "TEE-1", on_hand=1)
    await make_product(deps, "CAP-1", on_hand=0)

    refused = await place_order(deps, ctx(ANN), order(("MUG-1", 2), ("TEE-1", 3), ("CAP-1", 1)))

    assert err(refused) == OutOfStock((ShortLine("TEE-1", 3, 1), ShortLine("CAP-1", 1, 0)))
    assert await levels(deps, "MUG-1") == (10, 0)


async def test_placement_rules(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1")
    await make_product(deps, "YEN-1", unit_price=500, currency="JPY")
    await make_product(deps, "OLD-1")
    fresh(await archive_product(deps, ctx(), ArchiveRequest("OLD-1")))

    no_lines = err(await place_order(deps, ctx(ANN), order()))
    twice = err(await place_order(deps, ctx(ANN), order(("MUG-1", 1), ("mug-1", 1))))
    too_many = err(await place_order(deps, ctx(ANN), order(("MUG-1", 1001))))
    mixed = err(await place_order(deps, ctx(ANN), order(("MUG-1", 1), ("YEN-1", 1))))
    gone = err(await place_order(deps, ctx(ANN), order(("OLD-1", 1), ("NOPE-1", 1))))
    anonymous = err(await place_order(deps, ctx(Actor.anonymous()), order(("MUG-1", 1))))

    assert isinstance(no_lines, InvalidInput)
    assert isinstance(twice, InvalidInput)
    assert [e.field for e in too_many.errors] == ["lines.0.quantity"]  # type: ignore[union-attr]
    assert mixed == MixedCurrencies(("EUR", "JPY"))
    assert gone == ProductsUnavailable(("OLD-1", "NOPE-1"))
    assert isinstance(anonymous, Forbidden)


@pytest.mark.postgres
async def test_concurrent_placements_never_oversell(pg_deps: Dependencies) -> None:
    """200 customers race for 50 mugs: exactly 50 orders, 150 typed refusals."""
    await make_product(pg_deps, "MUG-1", on_hand=50)
    buyers = [Actor.user(f"00000000-0000-0000-0000-{n:012d}", Role.CUSTOMER) for n in range(200)]

    results = await asyncio.gather(
        *(place_order(pg_deps, ctx(buyer), order(("MUG-1", 1))) for buyer in buyers)
    )

    placed = [r for r in results if isinstance(r, Success)]
    refused = [r.failure() for r in results if not isinstance(r, Success)]
    assert len(placed) == 50
    assert len(refused) == 150
    assert all(isinstance(error, OutOfStock) for error in refused)
    assert await levels(pg_deps, "MUG-1") == (50, 50)
    assert ok(await verify_stock(pg_deps, ctx())).drifts == ()


@pytest.mark.postgres
async def test_orders_sharing_products_in_opposite_order_never_deadlock(
    pg_deps: Dependencies,
) -> None:
    pg_deps = replace(pg_deps, max_open_unpaid_orders=60)  # one customer's 60 orders
    await make_product(pg_deps, "A-1", on_hand=1000)
    await make_product(pg_deps, "B-1", on_hand=1000)

    results = await asyncio.gather(
        *(
            place_order(
                pg_deps,
                ctx(ANN),
                order(("A-1", 1), ("B-1", 1)) if n % 2 else order(("B-1", 1), ("A-1", 1)),
            )
            for n in range(60)
        )
    )

    assert all(isinstance(r, Success) for r in results)
    assert await levels(pg_deps, "A-1") == (1000, 60)
    assert await levels(pg_deps, "B-1") == (1000, 60)

"""Steps that race, on PostgreSQL (the fakes run one transaction at a time): each step locks
its order, each stock movement locks its products, and a stock repair locks the product it
fixes, so that of two steps on one order only one happens, steps on orders sharing a product
lose no movement, and a repair loses no concurrent change."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from returns.pipeline import is_successful
from returns.result import Result

from orderly_core.catalogue.model import Stock
from orderly_core.catalogue.stock import verify_stock
from orderly_core.catalogue.use_cases import ProductChanges, update_product
from orderly_core.orders.errors import IllegalTransition
from orderly_core.orders.model import Order, OrderStatus
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.reading import get_order
from orderly_core.orders.steps import OrderStep
from orderly_core.shared.context import Actor, Role
from orderly_core.shipments.steps import cancel_order, ship_order
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, ctx, fresh, make_product, ok, pay_order, stored

pytestmark = pytest.mark.postgres

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)
ROUNDS = 12


async def paid_orders(deps: Dependencies, count: int, quantity: int = 2) -> list[Order]:
    orders = []
    for _ in range(count):
        placed = fresh(
            await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", quantity),)))
        ).order
        orders.append(fresh(await pay_order(deps, ctx(STAFF), OrderStep(str(placed.id)))))
    return orders


async def levels(deps: Dependencies, sku: str = "MUG-1") -> tuple[int, int]:
    product = await stored(deps, sku)
    assert product is not None
    return product.stock.on_hand, product.stock.reserved


def outcomes(results: Sequence[Result[Any, Any] | BaseException]) -> list[Result[Any, Any]]:
    """The results of racing use cases; none may have raised."""
    raised = [r for r in results if isinstance(r, BaseException)]
    assert raised == [], raised
    return [r for r in results if not isinstance(r, BaseException)]


async def test_of_a_shipment_and_a_cancellation_of_one_order_only_one_happens(
    pg_deps: Dependencies,
) -> None:
    await make_product(pg_deps, "MUG-1", on_hand=100)
    orders = await paid_orders(pg_deps, ROUNDS)

    for order in orders:
        step = OrderStep(str(order.id))
        shipped, cancelled = outcomes(
            await asyncio.gather(
                ship_order(pg_deps, ctx(STAFF), step),
                cancel_order(pg_deps, ctx(STAFF), step),
                return_exceptions=True,
            )
        )
        assert is_successful(shipped) != is_successful(cancelled)
        winner, loser = (shipped, cancelled) if is_successful(shipped) else (cancelled, shipped)
        final = ok(await get_order(pg_deps, ctx(STAFF), str(order.id)))
        assert (final.status, final.version) == (winner.unwrap().status, 3)
        lost = "cancelled" if final.status is OrderStatus.SHIPPED else "shipped"
        assert loser.failure() == IllegalTransition(str(order.id), final.status.value, lost)

    shipped_count = 0
    for order in orders:
        final = ok(await get_order(pg_deps, ctx(STAFF), str(order.id)))
        shipped_count += final.status is OrderStatus.SHIPPED
    assert await levels(pg_deps) == (100 - 2 * shipped_count, 0)
    assert ok(await verify_stock(pg_deps, ctx())).drifts == ()


async def test_two_payments_of_one_order_make_one_step(pg_deps: Dependencies) -> None:
    await make_product(pg_deps, "MUG-1", on_hand=100)

    for _ in range(ROUNDS):
        placed = fresh(
            await place_order(pg_deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 1),)))
        ).order
        step = OrderStep(str(placed.id))
        results = outcomes(
            await asyncio.gather(
                pay_order(pg_deps, ctx(STAFF), step),  # two staff record the same transfer
                pay_order(pg_deps, ctx(STAFF), step),
                return_exceptions=True,
            )
        )

        assert sum(is_successful(r) for r in results) == 1
        final = ok(await get_order(pg_deps, ctx(STAFF), str(placed.id)))
        assert (final.status, final.version) == (OrderStatus.PAID, 2)


async def test_steps_of_orders_sharing_a_product_lose_no_movement(
    pg_deps: Dependencies,
) -> None:
    await make_product(pg_deps, "MUG-1", on_hand=100)
    to_ship = await paid_orders(pg_deps, ROUNDS)
    to_cancel = await paid_orders(pg_deps, ROUNDS)
    assert await levels(pg_deps) == (100, 4 * ROUNDS)

    results = outcomes(
        await asyncio.gather(
            *(ship_order(pg_deps, ctx(STAFF), OrderStep(str(o.id))) for o in to_ship),
            *(cancel_order(pg_deps, ctx(ANN), OrderStep(str(o.id))) for o in to_cancel),
            return_exceptions=True,
        )
    )

    assert all(is_successful(r) for r in results)
    assert await levels(pg_deps) == (100 - 2 * ROUNDS, 0)
    assert ok(await verify_stock(pg_deps, ctx())).drifts == ()


async def test_a_repair_loses_no_change_made_while_it_runs(pg_deps: Dependencies) -> None:
    """Products are renamed over and over while a repair fixes their levels: every rename and
    the repair each make one version, and the levels end as the ledger's."""
    skus = [f"MUG-{n}" for n in range(4)]
    for sku in skus:
        await make_product(pg_deps, sku, on_hand=10)
        async with pg_deps.unit_of_work() as uow:  # a drift the ledger knows nothing of
            product = await uow.products.get(sku, for_update=True)
            assert product is not None
            await uow.products.save(replace(product, stock=Stock(15, 3)))
            await uow.commit()
    repaired = asyncio.Event()

    async def rename(sku: str) -> int:
        renames = 0
        while not repaired.is_set() or renames < 3:
            changes = ProductChanges(sku, name=f"Mug no. {renames}")
            renames += is_successful(await update_product(pg_deps, ctx(), changes))
            await asyncio.sleep(0)
        return renames

    renamers = [asyncio.create_task(rename(sku)) for sku in skus]
    await asyncio.sleep(0.05)
    report = ok(await verify_stock(pg_deps, ctx(), repair=True))
    repaired.set()
    renames = await asyncio.gather(*renamers)

    assert sorted(d.sku for d in report.drifts) == skus
    for sku, count in zip(skus, renames, strict=True):
        product = await stored(pg_deps, sku)
        assert product is not None
        assert (product.version, product.name) == (1 + count + 1, f"Mug no. {count - 1}")
        assert (product.stock.on_hand, product.stock.reserved) == (10, 0)

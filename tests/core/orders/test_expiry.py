"""The expiry sweep's batch: each run expires at most ``limit`` orders (500 unless told),
the ones that expired first; the rest wait for the next run."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.steps import expire_orders
from orderly_core.shared.context import Actor, Mode, Role
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ctx, fresh, make_product, ok

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)


async def unpaid(deps: Dependencies, clock: FixedClock, count: int) -> list[object]:
    await make_product(deps, "MUG-1", on_hand=count)
    deps = replace(deps, max_open_unpaid_orders=count)  # one customer's, all unpaid
    ids: list[object] = []
    for _ in range(count):
        placed = fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 1),))))
        ids.append(placed.order.id)
        clock.advance(timedelta(seconds=1))
    clock.advance(timedelta(hours=1))
    return ids


@pytest.mark.postgres
async def test_a_sweep_expires_at_most_its_limit_oldest_first(deps: Dependencies) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock)
    ids = await unpaid(deps, clock, 3)

    first = ok(await expire_orders(deps, ctx(), limit=2))
    second = ok(await expire_orders(deps, ctx(), limit=2))

    assert (first.expired, second.expired) == (tuple(ids[:2]), tuple(ids[2:]))
    assert first.applied


@pytest.mark.postgres
async def test_a_dry_run_sweep_says_what_it_would_expire(deps: Dependencies) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock)
    ids = await unpaid(deps, clock, 2)

    preview = ok(await expire_orders(deps, ctx(mode=Mode.DRY_RUN)))
    real = ok(await expire_orders(deps, ctx()))

    assert (preview.expired, preview.applied) == (tuple(ids), False)
    assert (real.expired, real.applied) == (tuple(ids), True)


@pytest.mark.parametrize("deps", ["memory"], indirect=True)  # 501 orders: the fakes suffice
async def test_a_sweep_expires_500_orders_unless_told(deps: Dependencies) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock)
    ids = await unpaid(deps, clock, 501)

    first = ok(await expire_orders(deps, ctx()))
    second = ok(await expire_orders(deps, ctx()))

    assert (len(first.expired), second.expired) == (500, (ids[-1],))

"""The limits of orders taken exactly at their edges, on the fakes and on PostgreSQL: 1-100
lines, 1-1000 of each, a reason of at most 255 characters, pages of 1-200 orders, a time
range [since, until) that is not empty, and the cursor that walks the list."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from returns.result import Result

from orderly_core.orders.model import MAX_LINES, MAX_QUANTITY, OrderQuery, OrderStatus
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.reading import list_orders
from orderly_core.orders.steps import REASON_MAX, OrderStep
from orderly_core.shared.context import Actor, Role
from orderly_core.shared.errors import InvalidInput
from orderly_core.shared.paging import PAGE_SIZE_MAX
from orderly_core.shipments.steps import cancel_order
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import CUSTOMER, STAFF, ctx, err, fresh, make_product, ok, stored

pytestmark = pytest.mark.postgres

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)


def fields_of(result: Result[Any, Any]) -> list[str]:
    refusal = err(result)
    assert isinstance(refusal, InvalidInput), refusal
    return [error.field for error in refusal.errors]


def one_of_each(count: int) -> NewOrder:
    return NewOrder(tuple(LineRequest(f"SKU-{n}", 1) for n in range(count)))


async def test_an_order_holds_one_to_a_hundred_lines(deps: Dependencies) -> None:
    assert MAX_LINES == 100
    for n in range(MAX_LINES + 1):
        await make_product(deps, f"SKU-{n}", on_hand=1, unit_price=100)

    too_many = await place_order(deps, ctx(ANN), one_of_each(MAX_LINES + 1))
    none = await place_order(deps, ctx(ANN), one_of_each(0))
    full = fresh(await place_order(deps, ctx(ANN), one_of_each(MAX_LINES))).order

    assert fields_of(too_many) == ["lines"]
    assert fields_of(none) == ["lines"]
    assert (len(full.lines), full.total.amount) == (100, 100 * 100)
    assert (await stored(deps, "SKU-100")).stock.reserved == 0  # type: ignore[union-attr]


async def test_a_line_holds_one_to_a_thousand(deps: Dependencies) -> None:
    assert MAX_QUANTITY == 1000
    await make_product(deps, "MUG-1", on_hand=2000, unit_price=1)

    def of(quantity: int) -> NewOrder:
        return NewOrder((LineRequest("MUG-1", quantity),))

    above = await place_order(deps, ctx(ANN), of(MAX_QUANTITY + 1))
    zero = await place_order(deps, ctx(ANN), of(0))
    placed = fresh(await place_order(deps, ctx(ANN), of(MAX_QUANTITY))).order
    one = fresh(await place_order(deps, ctx(ANN), of(1))).order

    assert fields_of(above) == ["lines.0.quantity"]
    assert fields_of(zero) == ["lines.0.quantity"]
    assert ([line.quantity for line in placed.lines], placed.total.amount) == ([1000], 1000)
    assert [line.quantity for line in one.lines] == [1]
    assert (await stored(deps, "MUG-1")).stock.reserved == 1001  # type: ignore[union-attr]


async def test_every_bad_line_is_named_not_only_the_first(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    lines = (LineRequest("not a sku", 1), LineRequest("MUG-1", 0), LineRequest("mug-1", 1))

    refused = await place_order(deps, ctx(ANN), NewOrder(lines))

    assert fields_of(refused) == ["lines.0.sku", "lines.1.quantity", "lines.2.sku"]


async def test_a_cancellation_reason_holds_at_most_255_characters(deps: Dependencies) -> None:
    assert REASON_MAX == 255
    await make_product(deps, "MUG-1", on_hand=10)
    kept = fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 1),)))).order
    step = OrderStep(str(kept.id))

    too_long = await cancel_order(deps, ctx(ANN), step, "x" * 256)
    assert fields_of(too_long) == ["reason"]
    cancelled = fresh(await cancel_order(deps, ctx(ANN), step, " " + "y" * 255 + " "))

    assert (cancelled.status, cancelled.cancel_reason) == (OrderStatus.CANCELLED, "y" * 255)


async def test_a_cancellation_without_a_reason_says_cancelled(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    kept = fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 1),)))).order

    cancelled = fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(kept.id))))

    assert cancelled.cancel_reason == "cancelled"


async def test_a_blank_reason_is_the_default_one(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    kept = fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 1),)))).order

    cancelled = fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(kept.id)), " " * 300))

    assert cancelled.cancel_reason == "cancelled"


@pytest.mark.parametrize("limit", [0, PAGE_SIZE_MAX + 1])
async def test_a_page_of_orders_outside_1_to_200_is_refused(deps: Dependencies, limit: int) -> None:
    assert PAGE_SIZE_MAX == 200

    assert fields_of(await list_orders(deps, ctx(STAFF), OrderQuery(limit=limit))) == ["limit"]


async def placed_one_minute_apart(deps: Dependencies, count: int) -> tuple[Dependencies, list[Any]]:
    clock = FixedClock()
    deps = replace(deps, clock=clock)
    await make_product(deps, "MUG-1", on_hand=100)
    orders = []
    for _ in range(count):
        orders.append(
            fresh(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 1),)))).order
        )
        clock.advance(timedelta(minutes=1))
    return deps, orders


async def test_the_cursor_walks_every_order_newest_first_once(deps: Dependencies) -> None:
    deps, (first, second, third) = await placed_one_minute_apart(deps, 3)

    single = ok(await list_orders(deps, ctx(STAFF), OrderQuery(limit=1)))
    page_one = ok(await list_orders(deps, ctx(STAFF), OrderQuery(limit=2)))
    page_two = ok(
        await list_orders(deps, ctx(STAFF), OrderQuery(limit=2, cursor=page_one.next_cursor))
    )
    whole = ok(await list_orders(deps, ctx(STAFF), OrderQuery(limit=3)))
    widest = ok(await list_orders(deps, ctx(STAFF), OrderQuery(limit=PAGE_SIZE_MAX)))

    assert [o.id for o in single.items] == [third.id]
    assert single.next_cursor is not None
    assert [o.id for o in page_one.items] == [third.id, second.id]
    assert page_one.next_cursor is not None
    assert [o.id for o in page_two.items] == [first.id]
    assert page_two.next_cursor is None
    assert [o.id for o in whole.items] == [third.id, second.id, first.id]
    assert whole.next_cursor is None  # exactly a page: nothing follows
    assert widest.items == whole.items


async def test_a_cursor_the_list_did_not_return_is_refused(deps: Dependencies) -> None:
    refused = await list_orders(deps, ctx(STAFF), OrderQuery(cursor="not-a-cursor"))

    assert fields_of(refused) == ["cursor"]


async def test_the_time_range_includes_since_excludes_until_and_may_not_be_empty(
    deps: Dependencies,
) -> None:
    deps, (first, second, third) = await placed_one_minute_apart(deps, 3)
    since, until = second.placed_at, third.placed_at

    empty = await list_orders(deps, ctx(STAFF), OrderQuery(since=since, until=since))
    backwards = await list_orders(deps, ctx(STAFF), OrderQuery(since=until, until=since))
    ranged = ok(await list_orders(deps, ctx(STAFF), OrderQuery(since=since, until=until)))
    from_since = ok(await list_orders(deps, ctx(STAFF), OrderQuery(since=since)))
    before_until = ok(await list_orders(deps, ctx(STAFF), OrderQuery(until=until)))

    assert fields_of(empty) == ["until"]
    assert fields_of(backwards) == ["until"]
    assert [o.id for o in ranged.items] == [second.id]
    assert [o.id for o in from_since.items] == [third.id, second.id]
    assert [o.id for o in before_until.items] == [second.id, first.id]


@pytest.mark.parametrize("actor", [CUSTOMER, STAFF], ids=["customer", "staff"])
async def test_a_customer_filter_holding_a_control_character_is_refused_for_everyone(
    deps: Dependencies, actor: Actor
) -> None:
    """A customer's listing is always their own, but the filter they sent is still text."""
    query = OrderQuery(customer_id="\x84")
    assert fields_of(await list_orders(deps, ctx(actor), query)) == ["customer_id"]

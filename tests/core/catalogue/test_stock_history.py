"""A product's stock history, on the fakes and on PostgreSQL: each movement's public view
holds what moved, why, for which order, and who asked under which request."""

from __future__ import annotations

import pytest

from orderly_core.catalogue.errors import ProductNotFound
from orderly_core.catalogue.stock import HistoryQuery, movement_view, stock_history
from orderly_core.catalogue.use_cases import StockAdjustment, adjust_stock
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, ctx, err, fresh, make_product, ok

pytestmark = pytest.mark.postgres

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)


async def test_a_movement_is_viewed_with_every_field(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    placed = fresh(
        await place_order(deps, Context(ANN, "req-cart"), NewOrder((LineRequest("MUG-1", 3),)))
    ).order

    newest = ok(await stock_history(deps, ctx(STAFF), "mug-1", HistoryQuery(limit=1)))

    (movement,) = newest.items
    assert movement_view(movement) == {
        "id": str(movement.id),
        "sku": "MUG-1",
        "at": movement.at,
        "kind": "reservation",
        "on_hand_delta": 0,
        "reserved_delta": 3,
        "note": "order reservation",
        "reference": str(placed.id),
        "actor_id": ANN.id,
        "request_id": "req-cart",
    }
    assert newest.next_cursor is not None


async def test_the_history_pages_newest_first_to_its_end(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    for delta in (1, 2, 3):
        fresh(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", delta, f"count {delta}")))

    first = ok(await stock_history(deps, ctx(), "MUG-1", HistoryQuery(limit=2)))
    rest = ok(await stock_history(deps, ctx(), "MUG-1", HistoryQuery(cursor=first.next_cursor)))

    assert [m.on_hand_delta for m in first.items + rest.items] == [3, 2, 1, 10]
    assert rest.next_cursor is None


async def test_the_history_of_an_unknown_or_misspelt_product(deps: Dependencies) -> None:
    unknown = err(await stock_history(deps, ctx(), "NOPE-1", HistoryQuery()))
    misspelt = err(await stock_history(deps, ctx(), "not a sku", HistoryQuery(limit=0)))
    customer = err(await stock_history(deps, ctx(ANN), "NOPE-1", HistoryQuery()))

    assert unknown == ProductNotFound("NOPE-1")
    assert isinstance(misspelt, InvalidInput)
    assert sorted(e.field for e in misspelt.errors) == ["limit", "sku"]
    assert customer == Forbidden("read stock history")

"""An order's amounts are amounts Orderly keeps: each line's subtotal and the total are at
most ``MAX_MINOR_UNITS`` minor units. An order beyond that is invalid input naming the line
or the order, dry run or real, and nothing is reserved (on PostgreSQL it once overflowed the
total's bigint)."""

from __future__ import annotations

import pytest

from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.shared.context import Mode
from orderly_core.shared.errors import FieldError, InvalidInput
from orderly_core.shared.money import MAX_MINOR_UNITS
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, ctx, err, fresh, make_product, stored
from tests.core.orders.accounts import add_account

CUSTOMER_ID = "00000000-0000-4000-8000-0000000000c1"
TOTAL_RULE = f"the order's total exceeds {MAX_MINOR_UNITS} minor units"
SUBTOTAL_RULE = f"its subtotal exceeds {MAX_MINOR_UNITS} minor units"


@pytest.fixture(autouse=True)
async def _customer(deps: Dependencies) -> None:
    await add_account(deps, CUSTOMER_ID, "gold@example.com")


def _order(*lines: tuple[str, int]) -> NewOrder:
    return NewOrder(tuple(LineRequest(sku, qty) for sku, qty in lines), customer_id=CUSTOMER_ID)


@pytest.mark.parametrize("mode", [Mode.EXECUTE, Mode.DRY_RUN])
async def test_a_total_above_the_bound_is_invalid_and_reserves_nothing(
    deps: Dependencies, mode: Mode
) -> None:
    skus = [f"GOLD-{n}" for n in range(10)]
    for sku in skus:
        await make_product(deps, sku, unit_price=MAX_MINOR_UNITS, on_hand=1000)

    refused = await place_order(deps, ctx(mode=mode), _order(*((sku, 1000) for sku in skus)))

    error = err(refused)
    assert isinstance(error, InvalidInput)
    assert FieldError("lines", TOTAL_RULE) in error.errors
    assert {e.field for e in error.errors} == {"lines", *(f"lines.{n}" for n in range(10))}
    product = await stored(deps, "GOLD-0")
    assert product is not None
    assert product.stock.reserved == 0


async def test_one_line_above_the_bound_is_named(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", unit_price=1, on_hand=10)
    await make_product(deps, "GOLD-1", unit_price=MAX_MINOR_UNITS // 2 + 1, on_hand=10)

    error = err(await place_order(deps, ctx(), _order(("MUG-1", 1), ("GOLD-1", 2))))

    assert isinstance(error, InvalidInput)
    assert FieldError("lines.1", SUBTOTAL_RULE) in error.errors


async def test_a_total_at_the_bound_is_placed(deps: Dependencies) -> None:
    await make_product(deps, "GOLD-1", unit_price=MAX_MINOR_UNITS // 4, on_hand=10)

    placement = fresh(await place_order(deps, ctx(STAFF), _order(("GOLD-1", 4))))

    assert placement.order.total.amount == MAX_MINOR_UNITS

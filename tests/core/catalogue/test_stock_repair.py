"""Checking stock levels against the ledger and repairing them, on the fakes and on
PostgreSQL: a repair sets each drifting product to the ledger's levels, both of them, as a new
version of the product, and audits it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from orderly_core.audit.use_cases import list_audit
from orderly_core.catalogue.model import Stock
from orderly_core.catalogue.stock import StockDrift, verify_stock
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.platform.audit import AuditQuery
from orderly_core.shared.context import Actor, Mode, Role
from orderly_core.shared.errors import Forbidden
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, ctx, err, make_product, ok, stored

pytestmark = pytest.mark.postgres

ANN = Actor.user("00000000-0000-0000-0000-0000000000a1", Role.CUSTOMER)


async def write_levels(deps: Dependencies, sku: str, on_hand: int, reserved: int) -> None:
    """Levels written around the use cases, so that the ledger knows nothing of them."""
    async with deps.unit_of_work() as uow:
        product = await uow.products.get(sku, for_update=True)
        assert product is not None
        await uow.products.save(replace(product, stock=Stock(on_hand, reserved)))
        await uow.commit()


async def levels(deps: Dependencies, sku: str) -> tuple[int, int, int]:
    product = await stored(deps, sku)
    assert product is not None
    return product.stock.on_hand, product.stock.reserved, product.version


async def test_a_repair_takes_both_levels_from_the_ledger(deps: Dependencies) -> None:
    clock = FixedClock()
    deps = replace(deps, clock=clock)
    await make_product(deps, "MUG-1", on_hand=10)
    await make_product(deps, "TEE-1", on_hand=4)
    ok(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 3),))))
    await write_levels(deps, "MUG-1", 12, 7)  # the ledger says 10 on hand, 3 reserved
    _, _, version = await levels(deps, "MUG-1")
    clock.advance(timedelta(hours=1))

    report = ok(await verify_stock(deps, ctx(), repair=True))

    assert report.drifts == (StockDrift("MUG-1", 12, 7, 10, 3),)
    assert report.repaired
    assert await levels(deps, "MUG-1") == (10, 3, version + 1)
    assert (await stored(deps, "MUG-1")).updated_at == clock.now()  # type: ignore[union-attr]
    assert await levels(deps, "TEE-1") == (4, 0, 1)  # no drift, untouched
    assert ok(await verify_stock(deps, ctx())).drifts == ()


async def test_a_repair_is_audited_with_the_levels_it_changed(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    ok(await place_order(deps, ctx(ANN), NewOrder((LineRequest("MUG-1", 3),))))
    await write_levels(deps, "MUG-1", 12, 7)

    ok(await verify_stock(deps, ctx(), repair=True))

    (entry,) = ok(await list_audit(deps, ctx(), AuditQuery(operation="stock.repair"))).items
    assert (entry.target_type, entry.target_id, entry.actor_id) == ("product", "MUG-1", "alice")
    assert dict(entry.changes) == {
        "on_hand": {"before": 12, "after": 10},
        "reserved": {"before": 7, "after": 3},
        "available": {"before": 5, "after": 7},
        "version": {"before": 2, "after": 3},
    }


async def test_a_check_or_a_dry_run_repairs_nothing(deps: Dependencies) -> None:
    await make_product(deps, "MUG-1", on_hand=10)
    await write_levels(deps, "MUG-1", 12, 1)
    before = await levels(deps, "MUG-1")

    checked = ok(await verify_stock(deps, ctx()))
    previewed = ok(await verify_stock(deps, ctx(mode=Mode.DRY_RUN), repair=True))

    assert checked.drifts == previewed.drifts == (StockDrift("MUG-1", 12, 1, 10, 0),)
    assert (checked.repaired, previewed.repaired) == (False, False)
    assert await levels(deps, "MUG-1") == before
    assert ok(await list_audit(deps, ctx(), AuditQuery(operation="stock.repair"))).items == ()


async def test_every_product_is_checked_across_pages(deps: Dependencies) -> None:
    """The check reads the catalogue 500 products at a time; a drift on a later page counts."""
    for n in range(502):
        await make_product(deps, f"SKU-{n:03d}", on_hand=1)
    await write_levels(deps, "SKU-501", 2, 0)
    await write_levels(deps, "SKU-000", 3, 0)

    report = ok(await verify_stock(deps, ctx()))

    assert [d.sku for d in report.drifts] == ["SKU-000", "SKU-501"]


@pytest.mark.parametrize("repair", [False, True])
async def test_only_admins_and_operators_check_stock(deps: Dependencies, repair: bool) -> None:
    refusal = err(await verify_stock(deps, ctx(STAFF), repair=repair))

    assert refusal == Forbidden("verify stock levels")

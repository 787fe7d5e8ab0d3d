"""The stock ledger: every stock change is a movement, the levels equal the ledger and drift
is found and repaired; on the fakes and on PostgreSQL alike."""

from __future__ import annotations

from dataclasses import replace

from orderly_core.audit.use_cases import list_audit
from orderly_core.catalogue.imports import import_products, parse_product_csv
from orderly_core.catalogue.ledger import MovementKind
from orderly_core.catalogue.stock import HistoryQuery, stock_history, verify_stock
from orderly_core.catalogue.use_cases import (
    NewProduct,
    StockAdjustment,
    adjust_stock,
    create_product,
)
from orderly_core.platform.audit import AuditQuery
from orderly_core.shared.context import Actor, Context, Mode
from orderly_core.shared.errors import Forbidden
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import STAFF, ctx, err, fresh, make_product, ok, set_reserved, stored


def keyed(key: str, mode: Mode = Mode.EXECUTE) -> Context:
    return replace(ctx(mode=mode), request_id=f"req-{key}", idempotency_key=key)


async def _history(deps: Dependencies, sku: str = "MUG-1") -> list[tuple[str, int, str]]:
    page = ok(await stock_history(deps, ctx(), sku, HistoryQuery(limit=200)))
    return [(m.kind.value, m.on_hand_delta, m.note) for m in page.items]


async def test_every_stock_change_is_a_movement_and_levels_equal_the_ledger(
    deps: Dependencies,
) -> None:
    await make_product(deps, on_hand=5)
    fresh(await adjust_stock(deps, keyed("k1"), StockAdjustment("MUG-1", 3, "delivery")))
    fresh(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", -2, "breakage")))
    csv = (
        "sku,name,description,price,currency,on_hand\nMUG-1,Mug,,12.50,EUR,10\nNEW-1,New,,1,EUR,4\n"
    )
    ok(await import_products(deps, keyed("job-7"), ok(parse_product_csv(csv))))

    assert await _history(deps) == [
        ("import", 4, "set by a product import"),
        ("adjustment", -2, "breakage"),
        ("adjustment", 3, "delivery"),
        ("opening", 5, "opening stock"),
    ]
    page = ok(await stock_history(deps, ctx(), "new-1", HistoryQuery()))
    assert [(m.kind, m.on_hand_delta, m.reference) for m in page.items] == [
        (MovementKind.IMPORT, 4, "job-7")
    ]
    assert ok(await verify_stock(deps, ctx())).drifts == ()


async def test_history_pages_newest_first(deps: Dependencies) -> None:
    await make_product(deps, on_hand=1)
    for delta in range(2, 6):
        fresh(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", delta, f"+{delta}")))

    first = ok(await stock_history(deps, ctx(), "MUG-1", HistoryQuery(limit=3)))
    rest = ok(await stock_history(deps, ctx(), "MUG-1", HistoryQuery(cursor=first.next_cursor)))

    assert [m.on_hand_delta for m in first.items + rest.items] == [5, 4, 3, 2, 1]
    assert rest.next_cursor is None


async def test_dry_runs_and_refusals_leave_no_movement_and_no_entry(deps: Dependencies) -> None:
    await make_product(deps, on_hand=5)
    before = ok(await list_audit(deps, ctx(), AuditQuery())).items

    preview = ctx(mode=Mode.DRY_RUN)
    fresh(await adjust_stock(deps, preview, StockAdjustment("MUG-1", 3, "maybe")))
    fresh(await create_product(deps, preview, NewProduct("DRY-1", "Dry", 1, "EUR", on_hand=3)))
    err(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", -9, "too many")))
    err(await create_product(deps, ctx(), NewProduct("MUG-1", "Again", 1, "EUR")))

    assert await _history(deps) == [("opening", 5, "opening stock")]
    assert ok(await list_audit(deps, ctx(), AuditQuery())).items == before


async def test_verify_finds_drift_and_repairs_it_only_when_told(deps: Dependencies) -> None:
    await make_product(deps, on_hand=5)
    await set_reserved(deps, "MUG-1", 2)  # written around the use cases: the ledger knows nothing

    found = ok(await verify_stock(deps, ctx()))
    preview = ok(await verify_stock(deps, ctx(mode=Mode.DRY_RUN), repair=True))
    assert [(d.sku, d.reserved, d.ledger_reserved) for d in found.drifts] == [("MUG-1", 2, 0)]
    assert (found.repaired, preview.repaired) == (False, False)
    assert (await stored(deps, "MUG-1")).stock.reserved == 2  # type: ignore[union-attr]

    fixed = ok(await verify_stock(deps, ctx(), repair=True))

    assert fixed.repaired
    assert (await stored(deps, "MUG-1")).stock.reserved == 0  # type: ignore[union-attr]
    assert ok(await verify_stock(deps, ctx())).drifts == ()
    repairs = ok(await list_audit(deps, ctx(), AuditQuery(operation="stock.repair"))).items
    assert [dict(e.changes)["reserved"] for e in repairs] == [{"before": 2, "after": 0}]


async def test_who_reads_and_verifies_the_ledger(deps: Dependencies) -> None:
    await make_product(deps)

    assert ok(await stock_history(deps, ctx(STAFF), "MUG-1", HistoryQuery())).items
    assert isinstance(err(await verify_stock(deps, ctx(STAFF))), Forbidden)
    anonymous = ctx(Actor.anonymous())
    assert isinstance(err(await stock_history(deps, anonymous, "MUG-1", HistoryQuery())), Forbidden)

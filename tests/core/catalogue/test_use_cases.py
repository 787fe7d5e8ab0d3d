"""Business rules of the catalogue, on the fakes and on PostgreSQL alike."""

from __future__ import annotations

import pytest

from orderly_core.catalogue.errors import (
    DuplicateSku,
    ProductNotFound,
    StockBelowReserved,
)
from orderly_core.catalogue.model import ProductQuery
from orderly_core.catalogue.use_cases import (
    ArchiveRequest,
    NewProduct,
    ProductChanges,
    StockAdjustment,
    adjust_stock,
    archive_product,
    create_product,
    get_product,
    list_products,
    update_product,
)
from orderly_core.shared.context import Actor, Mode
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import (
    CUSTOMER,
    STAFF,
    ctx,
    err,
    fresh,
    make_product,
    ok,
    set_reserved,
    stored,
)


async def test_create_normalises_the_sku_and_opens_at_version_one(deps: Dependencies) -> None:
    product = await make_product(deps, sku=" mug-blue.1 ", on_hand=7)

    assert product.sku == "MUG-BLUE.1"
    assert product.version == 1
    assert (product.stock.on_hand, product.stock.reserved, product.stock.available) == (7, 0, 7)
    assert await stored(deps, "MUG-BLUE.1") == product


async def test_skus_are_unique_regardless_of_case(deps: Dependencies) -> None:
    await make_product(deps, sku="MUG-1")

    again = await create_product(
        deps, ctx(), NewProduct(sku="mug-1", name="Other", unit_price=1, currency="EUR")
    )

    assert err(again) == DuplicateSku("MUG-1")


async def test_create_lists_every_invalid_field(deps: Dependencies) -> None:
    bad = NewProduct(sku="bad sku!", name="  ", unit_price=-1, currency="EURO", on_hand=-5)

    error = err(await create_product(deps, ctx(), bad))

    assert isinstance(error, InvalidInput)
    assert {e.field for e in error.errors} == {"sku", "name", "unit_price", "currency", "on_hand"}
    assert ok(await list_products(deps, ctx(), ProductQuery())).items == ()


@pytest.mark.parametrize("actor", [Actor.anonymous(), CUSTOMER])
async def test_only_catalogue_managers_write(deps: Dependencies, actor: Actor) -> None:
    new = NewProduct(sku="MUG-1", name="Mug", unit_price=1, currency="EUR")

    assert isinstance(err(await create_product(deps, ctx(actor), new)), Forbidden)
    assert fresh(await create_product(deps, ctx(STAFF), new)).sku == "MUG-1"
    assert isinstance(
        err(await archive_product(deps, ctx(actor), ArchiveRequest("MUG-1"))), Forbidden
    )
    assert (await stored(deps, "MUG-1")).active  # type: ignore[union-attr]


async def test_dry_run_create_computes_the_product_and_stores_nothing(deps: Dependencies) -> None:
    new = NewProduct(sku="MUG-1", name="Mug", unit_price=1250, currency="EUR")

    preview = fresh(await create_product(deps, ctx(mode=Mode.DRY_RUN), new))

    assert preview.sku == "MUG-1"
    assert await stored(deps, "MUG-1") is None


async def test_get_reports_a_missing_product(deps: Dependencies) -> None:
    assert err(await get_product(deps, ctx(Actor.anonymous()), "nope")) == ProductNotFound("NOPE")
    assert isinstance(err(await get_product(deps, ctx(), "no such sku")), InvalidInput)


async def test_list_pages_by_sku_with_an_opaque_cursor(deps: Dependencies) -> None:
    for sku in ["C-3", "A-1", "E-5", "B-2", "D-4"]:
        await make_product(deps, sku=sku)

    first = ok(await list_products(deps, ctx(), ProductQuery(limit=2)))
    second = ok(await list_products(deps, ctx(), ProductQuery(limit=2, cursor=first.next_cursor)))
    third = ok(await list_products(deps, ctx(), ProductQuery(limit=2, cursor=second.next_cursor)))

    assert [p.sku for p in first.items + second.items + third.items] == [
        "A-1",
        "B-2",
        "C-3",
        "D-4",
        "E-5",
    ]
    assert third.next_cursor is None


async def test_list_filters_by_active_flag_and_text(deps: Dependencies) -> None:
    await make_product(deps, sku="MUG-1", name="Blue mug")
    await make_product(deps, sku="TEE-1", name="Shirt 100% cotton")
    await make_product(deps, sku="CAP-1", name="Cap")
    fresh(await archive_product(deps, ctx(), ArchiveRequest("CAP-1")))

    active = ok(await list_products(deps, ctx(), ProductQuery(active=True)))
    archived = ok(await list_products(deps, ctx(), ProductQuery(active=False)))
    by_name = ok(await list_products(deps, ctx(), ProductQuery(search="MUG")))
    by_sku = ok(await list_products(deps, ctx(), ProductQuery(search="tee-")))
    literal_percent = ok(await list_products(deps, ctx(), ProductQuery(search="100%")))
    assert [p.sku for p in active.items] == ["MUG-1", "TEE-1"]
    assert [p.sku for p in archived.items] == ["CAP-1"]
    assert [p.sku for p in by_name.items] == ["MUG-1"]
    assert [p.sku for p in by_sku.items] == ["TEE-1"]
    assert [p.sku for p in literal_percent.items] == ["TEE-1"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (ProductQuery(limit=0), "limit"),
        (ProductQuery(limit=201), "limit"),
        (ProductQuery(cursor="%%%"), "cursor"),
        (ProductQuery(search="x" * 101), "search"),
    ],
)
async def test_list_rejects_bad_queries(
    deps: Dependencies, query: ProductQuery, field: str
) -> None:
    error = err(await list_products(deps, ctx(), query))

    assert isinstance(error, InvalidInput)
    assert [e.field for e in error.errors] == [field]


async def test_update_changes_only_the_given_fields_and_bumps_the_version(
    deps: Dependencies,
) -> None:
    created = await make_product(deps, description="Ceramic")

    updated = fresh(
        await update_product(
            deps, ctx(), ProductChanges(sku="mug-1", expected_version=1, name="Big mug")
        )
    )

    assert (updated.name, updated.description, updated.version) == ("Big mug", "Ceramic", 2)
    assert updated.price == created.price
    assert await stored(deps, "MUG-1") == updated


async def test_update_of_a_stale_version_is_a_conflict(deps: Dependencies) -> None:
    await make_product(deps)
    fresh(await update_product(deps, ctx(), ProductChanges(sku="MUG-1", name="Second")))

    stale = await update_product(
        deps, ctx(), ProductChanges(sku="MUG-1", expected_version=1, name="Third")
    )

    assert err(stale) == VersionConflict("product", "MUG-1", expected=1, current=2)
    assert (await stored(deps, "MUG-1")).name == "Second"  # type: ignore[union-attr]


async def test_an_update_that_changes_nothing_keeps_the_version(deps: Dependencies) -> None:
    await make_product(deps)

    same = fresh(await update_product(deps, ctx(), ProductChanges(sku="MUG-1", name="Mug")))

    assert same.version == 1


async def test_update_rules(deps: Dependencies) -> None:
    await make_product(deps)

    nothing = err(await update_product(deps, ctx(), ProductChanges(sku="MUG-1")))
    currency_alone = err(
        await update_product(deps, ctx(), ProductChanges(sku="MUG-1", currency="JPY"))
    )
    missing = err(await update_product(deps, ctx(), ProductChanges(sku="NOPE", name="x")))

    assert isinstance(nothing, InvalidInput)
    assert isinstance(currency_alone, InvalidInput)
    assert [e.field for e in currency_alone.errors] == ["unit_price"]
    assert missing == ProductNotFound("NOPE")


async def test_archive_is_idempotent(deps: Dependencies) -> None:
    await make_product(deps)

    first = fresh(await archive_product(deps, ctx(), ArchiveRequest("MUG-1", expected_version=1)))
    second = fresh(await archive_product(deps, ctx(), ArchiveRequest("MUG-1")))

    assert (first.active, first.version) == (False, 2)
    assert second == first


async def test_adjust_stock_moves_on_hand_by_the_delta(deps: Dependencies) -> None:
    await make_product(deps, on_hand=10)

    added = fresh(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", 5, "delivery")))
    removed = fresh(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", -12, "breakage")))

    assert (added.stock.on_hand, removed.stock.on_hand, removed.version) == (15, 3, 3)


async def test_stock_cannot_drop_below_what_is_reserved(deps: Dependencies) -> None:
    await make_product(deps, on_hand=10)
    await set_reserved(deps, "MUG-1", 8)

    refused = await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", -3, "stocktake"))
    allowed = fresh(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", -2, "stocktake")))

    assert err(refused) == StockBelowReserved("MUG-1", 10, 8, 7)
    assert (allowed.stock.on_hand, allowed.stock.available) == (8, 0)


async def test_adjust_stock_needs_a_reason_and_a_non_zero_delta(deps: Dependencies) -> None:
    await make_product(deps)

    error = err(await adjust_stock(deps, ctx(), StockAdjustment("MUG-1", 0, " ")))

    assert isinstance(error, InvalidInput)
    assert {e.field for e in error.errors} == {"delta", "reason"}


async def test_dry_run_adjustment_reports_the_new_level_and_changes_nothing(
    deps: Dependencies,
) -> None:
    await make_product(deps, on_hand=10)

    preview = fresh(
        await adjust_stock(deps, ctx(mode=Mode.DRY_RUN), StockAdjustment("MUG-1", 4, "count"))
    )

    assert preview.stock.on_hand == 14
    assert (await stored(deps, "MUG-1")).stock.on_hand == 10  # type: ignore[union-attr]

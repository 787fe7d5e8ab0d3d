"""Importing products from CSV, on the fakes and on PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderly_core.catalogue.errors import ImportRejected
from orderly_core.catalogue.imports import (
    ImportAction,
    ImportRow,
    import_product_csv,
    import_products,
    parse_product_csv,
)
from orderly_core.catalogue.model import ProductQuery
from orderly_core.catalogue.use_cases import list_products
from orderly_core.shared.context import Mode
from orderly_core.shared.errors import Forbidden
from orderly_core.shared.money import Money
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import CUSTOMER, ctx, err, fresh, make_product, ok, set_reserved, stored

CSV = """sku,name,description,price,currency,on_hand
mug-1,Mug,Ceramic,12.50,EUR,10
TEE-1,Shirt,,20,eur,
CAP-1,Cap,Wool,1500,JPY,3
"""


def rows(text: str = CSV) -> list[ImportRow]:
    return ok(parse_product_csv(text))


async def test_import_creates_updates_and_leaves_unchanged_by_sku(deps: Dependencies) -> None:
    await make_product(deps, sku="MUG-1", name="Mug", description="Ceramic", unit_price=1250)
    await make_product(deps, sku="CAP-1", name="Old cap", unit_price=1500, currency="JPY")
    await set_reserved(deps, "CAP-1", 2)

    report = fresh(await import_products(deps, ctx(), rows()))

    assert [(r.sku, r.action, r.changed) for r in report.rows] == [
        ("MUG-1", ImportAction.UNCHANGED, ()),
        ("TEE-1", ImportAction.CREATED, ()),
        ("CAP-1", ImportAction.UPDATED, ("name", "description", "on_hand")),
    ]
    assert report.applied
    tee = await stored(deps, "TEE-1")
    cap = await stored(deps, "CAP-1")
    assert tee is not None
    assert (tee.price, tee.stock.on_hand, tee.description) == (Money(2000, "EUR"), 0, "")
    assert cap is not None
    assert (cap.name, cap.stock.on_hand, cap.stock.reserved, cap.version) == ("Cap", 3, 2, 2)


async def test_dry_run_import_reports_and_writes_nothing(deps: Dependencies) -> None:
    report = fresh(await import_products(deps, ctx(mode=Mode.DRY_RUN), rows()))

    assert report.count(ImportAction.CREATED) == 3
    assert not report.applied
    assert ok(await list_products(deps, ctx(), ProductQuery())).items == ()


async def test_one_bad_row_rejects_the_import_and_every_bad_row_is_listed(
    deps: Dependencies,
) -> None:
    text = """sku,name,description,price,currency,on_hand
GOOD-1,Good,,1.00,EUR,1
bad sku,Bad,,1.00,EUR,1
BAD-2,,,12.505,EUR,-1
GOOD-1,Again,,1.00,EUR,1
BAD-3,Yen,,1.5,JPY,
BAD-4,Coin,,1,XYZ,
"""
    error = err(await import_products(deps, ctx(), rows(text)))

    assert isinstance(error, ImportRejected)
    assert [(r.line, sorted(e.field for e in r.errors)) for r in error.rows] == [
        (3, ["sku"]),
        (4, ["name", "on_hand", "price"]),
        (5, ["sku"]),
        (6, ["price"]),
        (7, ["currency"]),
    ]
    assert await stored(deps, "GOOD-1") is None


async def test_an_import_may_not_set_stock_below_reservations(deps: Dependencies) -> None:
    await make_product(deps, sku="MUG-1", on_hand=10)
    await set_reserved(deps, "MUG-1", 6)

    error = err(
        await import_products(
            deps, ctx(), rows("sku,name,description,price,currency,on_hand\nMUG-1,Mug,,1,EUR,5\n")
        )
    )

    assert isinstance(error, ImportRejected)
    assert [(r.sku, r.errors[0].field) for r in error.rows] == [("MUG-1", "on_hand")]
    assert (await stored(deps, "MUG-1")).stock.on_hand == 10  # type: ignore[union-attr]


async def test_import_reports_progress_and_needs_a_catalogue_manager(deps: Dependencies) -> None:
    seen: list[tuple[int, int]] = []

    fresh(await import_products(deps, ctx(), rows(), progress=lambda d, t: seen.append((d, t))))

    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert isinstance(err(await import_products(deps, ctx(CUSTOMER), rows())), Forbidden)


async def test_a_file_is_imported_from_its_text_and_a_misshapen_one_writes_nothing(
    deps: Dependencies,
) -> None:
    misshapen = CSV.replace("TEE-1,Shirt,,20,eur,", "TEE-1,Shirt,,20,eur,,extra")

    refused = err(await import_product_csv(deps, ctx(), misshapen))
    assert isinstance(refused, ImportRejected)
    assert [(r.line, r.errors[0].field) for r in refused.rows] == [(3, "row")]
    assert await stored(deps, "MUG-1") is None

    report = fresh(await import_product_csv(deps, ctx(), CSV))
    assert [(r.sku, r.action) for r in report.rows] == [
        ("MUG-1", ImportAction.CREATED),
        ("TEE-1", ImportAction.CREATED),
        ("CAP-1", ImportAction.CREATED),
    ]
    assert await stored(deps, "MUG-1") is not None


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("sku,name,price\nA,B,1\n", "header"),
        ("sku,name,description,price,currency,on_hand\n", "file"),
        ("sku,name,description,price,currency,on_hand\nA,B,,1,EUR,1,extra\n", "row"),
    ],
)
def test_csv_shape_errors(text: str, field: str) -> None:
    error = err(parse_product_csv(text))

    assert [r.errors[0].field for r in error.rows] == [field]


def test_csv_header_may_come_in_any_order_and_with_a_bom() -> None:
    parsed = rows("\ufeffname,sku,price,currency,on_hand,description\nMug,m-1,2.5,EUR,,Blue\n")

    assert parsed == [ImportRow(2, "m-1", "Mug", "Blue", "2.5", "EUR", "")]


async def test_the_readmes_example_file_imports_every_product(deps: Dependencies) -> None:
    """``examples/products.csv``, which the README imports, is a file Orderly accepts."""
    text = (Path(__file__).parents[3] / "examples" / "products.csv").read_text()
    report = fresh(await import_product_csv(deps, ctx(), text))
    assert {r.action for r in report.rows} == {ImportAction.CREATED}
    assert len(report.rows) == len(text.splitlines()) - 1
    assert (await stored(deps, "TEA-EARL")) is not None

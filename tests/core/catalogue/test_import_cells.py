"""A CSV file is read as text Orderly keeps: a cell holding a NUL or a control character,
and a cell longer than the CSV reader's limit, are invalid input listed by row like every
other import error, never a crash, for the import run at once and the one queued alike."""

from __future__ import annotations

import csv

import pytest

from orderly_core.catalogue.errors import ImportRejected, RowError
from orderly_core.catalogue.imports import import_product_csv, parse_product_csv
from orderly_core.jobs.imports import submit_product_import
from orderly_core.shared.errors import FieldError
from orderly_core.shared.validation import MULTI_LINE_RULE, SINGLE_LINE_RULE
from orderly_core.testing import InMemoryJobQueue
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ctx, err, fresh

pytestmark = pytest.mark.postgres

HEADER = "sku,name,description,price,currency,on_hand\n"
NOT_TEXT = (
    HEADER
    + "MUG-1,Mug,Ceramic,12.50,EUR,3\n"
    + "TEE-1,Sh\x00irt,,20,EUR,\n"
    + 'CAP-1,Cap,"Bell\x07",15,EUR,\n'
    + "HAT\x01,Hat,,15,EUR,\n"
)
MULTI_LINE_DESCRIPTION = HEADER + 'MUG-1,Mug,"Ceramic,\n\tglazed",12.50,EUR,3\n'


def _huge_cell() -> str:
    return HEADER + "MUG-1,Mug," + "x" * (csv.field_size_limit() + 1) + ",12.50,EUR,3\n"


def test_cells_that_are_not_text_are_listed_by_row_and_column() -> None:
    rejected = err(parse_product_csv(NOT_TEXT))

    assert rejected == ImportRejected(
        (
            RowError(3, "TEE-1", (FieldError("name", SINGLE_LINE_RULE),)),
            RowError(4, "CAP-1", (FieldError("description", MULTI_LINE_RULE),)),
            RowError(5, "", (FieldError("sku", SINGLE_LINE_RULE),)),
        )
    )


def test_a_cell_longer_than_the_reader_takes_is_its_rows_error() -> None:
    rejected = err(parse_product_csv(_huge_cell()))

    limit = csv.field_size_limit()
    assert rejected == ImportRejected(
        (RowError(2, "", (FieldError("row", f"has a cell longer than {limit} characters"),)),)
    )


async def test_the_import_refuses_them_and_imports_a_multi_line_description(
    deps: Dependencies,
) -> None:
    assert isinstance(err(await import_product_csv(deps, ctx(), NOT_TEXT)), ImportRejected)
    assert isinstance(err(await import_product_csv(deps, ctx(), _huge_cell())), ImportRejected)

    report = fresh(await import_product_csv(deps, ctx(), MULTI_LINE_DESCRIPTION))

    assert len(report.rows) == 1


@pytest.mark.parametrize("text", [NOT_TEXT, _huge_cell()], ids=["not text", "huge cell"])
async def test_a_queued_import_is_refused_before_it_is_queued(
    deps: Dependencies, text: str
) -> None:
    queue = InMemoryJobQueue()

    rejected = err(await submit_product_import(deps, ctx(), text, queue))

    assert isinstance(rejected, ImportRejected)
    assert queue.jobs == []

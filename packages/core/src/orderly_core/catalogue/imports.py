"""Importing products from CSV: parse, validate every row, then create or update by SKU.

:func:`import_product_csv` imports a file's text: ``orderly products import`` runs it at once,
the worker's import job in the background.

The file has a header row ``sku,name,description,price,currency,on_hand``; prices are decimal
strings in major units (``12.50``); ``description`` and ``on_hand`` may be empty. An empty
``on_hand`` leaves an existing product's stock alone (and opens a new one at 0); a number sets
the on-hand level. One bad row rejects the whole import, with every bad row listed.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from returns.pipeline import is_successful
from returns.result import Failure, Result, Success

from orderly_core.catalogue.errors import ImportRejected, RowError
from orderly_core.catalogue.ledger import MovementKind
from orderly_core.catalogue.model import ON_HAND_MAX, Product, Stock, product_view
from orderly_core.catalogue.ports import CatalogueServices, CatalogueUnit
from orderly_core.catalogue.stock import record_movement
from orderly_core.catalogue.validation import Fields
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.transaction import in_idempotent_transaction
from orderly_core.shared.authorization import catalogue_write_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import FieldError, Forbidden
from orderly_core.shared.money import Money, MoneyError, parse_major
from orderly_core.shared.validation import text_problem

CSV_COLUMNS = ("sku", "name", "description", "price", "currency", "on_hand")
MAX_IMPORT_ROWS = 50_000

Progress = Callable[[int, int], None]
"""Called with (rows done, rows in all) while an import is applied."""


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One CSV row as text, with its line number in the file (the header is line 1)."""

    line: int
    sku: str
    name: str
    description: str = ""
    price: str = ""
    currency: str = ""
    on_hand: str = ""


class ImportAction(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class ImportedRow:
    line: int
    sku: str
    action: ImportAction
    changed: tuple[str, ...] = ()  # the fields an update changes


@dataclass(frozen=True, slots=True)
class ImportReport:
    rows: tuple[ImportedRow, ...]
    applied: bool  # False for a dry run: this is what would have happened

    def count(self, action: ImportAction) -> int:
        return sum(1 for row in self.rows if row.action is action)


ImportProductsError = Forbidden | ImportRejected


def _rejected(line: int, sku: str, field: str, message: str) -> Failure[ImportRejected]:
    return Failure(ImportRejected((RowError(line, sku, (FieldError(field, message),)),)))


def _cells_problem(line: int, cells: dict[str, str]) -> RowError | None:
    """The cells of a row that are not text Orderly keeps (the description may hold tabs and
    line breaks, no other cell any control character), named by column."""
    problems = tuple(
        FieldError(column, problem)
        for column in CSV_COLUMNS
        if (problem := text_problem(cells.get(column, ""), multiline=column == "description"))
    )
    if not problems:
        return None
    sku = cells.get("sku", "")
    return RowError(line, "" if text_problem(sku) else sku, problems)


def _not_csv(line: int, error: csv.Error) -> Failure[ImportRejected]:
    """The file stops being CSV Orderly reads at ``line``: a cell too long, a broken quote."""
    limit = csv.field_size_limit()
    if "field larger than field limit" in str(error):
        return _rejected(line, "", "row", f"has a cell longer than {limit} characters")
    return _rejected(line, "", "row", f"is not well-formed CSV ({error})")


def _read_rows(reader: csv.DictReader[str]) -> Result[list[ImportRow], ImportRejected]:
    rows: list[ImportRow] = []
    misshapen: list[RowError] = []
    for raw in reader:
        if len(rows) + len(misshapen) == MAX_IMPORT_ROWS:
            return _rejected(reader.line_num, "", "file", f"holds more than {MAX_IMPORT_ROWS} rows")
        cells = {key.strip().lower(): (value or "").strip() for key, value in raw.items() if key}
        if None in raw:
            problem = FieldError("row", "has more cells than the header")
            misshapen.append(RowError(reader.line_num, cells.get("sku", ""), (problem,)))
            continue
        if (not_text := _cells_problem(reader.line_num, cells)) is not None:
            misshapen.append(not_text)
            continue
        rows.append(ImportRow(line=reader.line_num, **{c: cells.get(c, "") for c in CSV_COLUMNS}))
    if misshapen:
        return Failure(ImportRejected(tuple(misshapen)))
    return Success(rows)


def parse_product_csv(text: str) -> Result[list[ImportRow], ImportRejected]:
    """Split CSV text into rows, checking the header, the shape of rows and their count.

    A row with more cells than the header, or a cell that is not text Orderly keeps (a NUL,
    a control character), is refused with every such row listed; a cell longer than the CSV
    reader's limit (131,072 characters) or a broken quote stops the file at its line. The
    cells' own rules are checked later, by :func:`import_products`, so that one report lists
    every bad cell of the file.
    """
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = tuple((name or "").strip().lower() for name in (reader.fieldnames or ()))
        if sorted(header) != sorted(CSV_COLUMNS):
            return _rejected(1, "", "header", f"must name the columns {','.join(CSV_COLUMNS)}")
        rows = _read_rows(reader)
    except csv.Error as error:  # raised while reading the line after the last one read
        return _not_csv(reader.line_num + 1, error)
    if is_successful(rows) and not rows.unwrap():
        return _rejected(1, "", "file", "has no rows")
    return rows


@dataclass(frozen=True, slots=True)
class _ValidRow:
    line: int
    sku: str
    name: str
    description: str
    price: Money
    on_hand: int | None


def _validate(row: ImportRow) -> _ValidRow | RowError:
    fields = Fields()
    sku = fields.sku(row.sku)
    name = fields.name(row.name)
    description = fields.description(row.description)
    price = Money(0, "XXX")
    try:
        price = parse_major(row.price, row.currency)
    except MoneyError as error:
        fields.fail("currency" if "currency" in str(error) else "price", str(error))
    on_hand: int | None = None
    if row.on_hand:
        if row.on_hand.isdecimal() and int(row.on_hand) <= ON_HAND_MAX:
            on_hand = int(row.on_hand)
        else:
            fields.fail("on_hand", f"must be empty or a whole number from 0 to {ON_HAND_MAX}")
    if fields.errors:
        return RowError(row.line, row.sku, tuple(fields.errors))
    return _ValidRow(row.line, sku, name, description, price, on_hand)


def _check_rows(rows: Sequence[ImportRow]) -> list[_ValidRow] | ImportRejected:
    valid: list[_ValidRow] = []
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    for row in rows:
        checked = _validate(row)
        if isinstance(checked, RowError):
            errors.append(checked)
            continue
        if (earlier := first_line.setdefault(checked.sku, checked.line)) != checked.line:
            message = f"repeats the SKU of line {earlier}"
            errors.append(RowError(row.line, checked.sku, (FieldError("sku", message),)))
            continue
        valid.append(checked)
    if not rows:
        errors.append(RowError(1, "", (FieldError("file", "has no rows"),)))
    return ImportRejected(tuple(errors)) if errors else valid


def _merge(current: Product, row: _ValidRow) -> tuple[Product, tuple[str, ...]] | RowError:
    on_hand = current.stock.on_hand if row.on_hand is None else row.on_hand
    if on_hand < current.stock.reserved:
        message = f"{current.stock.reserved} are reserved by open orders; on_hand cannot be less"
        return RowError(row.line, row.sku, (FieldError("on_hand", message),))
    merged = replace(
        current,
        name=row.name,
        description=row.description,
        price=row.price,
        stock=replace(current.stock, on_hand=on_hand),
    )
    changed = tuple(
        name
        for name, before, after in (
            ("name", current.name, merged.name),
            ("description", current.description, merged.description),
            ("price", current.price, merged.price),
            ("on_hand", current.stock.on_hand, merged.stock.on_hand),
        )
        if before != after
    )
    return merged, changed


async def _recorded(
    deps: CatalogueServices,
    uow: CatalogueUnit,
    ctx: Context,
    before: Product | None,
    after: Product,
) -> None:
    """The ledger movement (if stock changed) and the audit entry of one imported product."""
    on_hand_before = before.stock.on_hand if before else 0
    await record_movement(
        deps,
        uow,
        ctx,
        product=after,
        kind=MovementKind.IMPORT,
        delta=Stock(after.stock.on_hand - on_hand_before),
        note="set by a product import",
        reference=ctx.idempotency_key,
    )
    await record(
        deps,
        uow,
        ctx,
        "product.import",
        target=("product", after.sku),
        before=product_view(before) if before else None,
        after=product_view(after),
    )


async def _create(
    deps: CatalogueServices, uow: CatalogueUnit, ctx: Context, row: _ValidRow, *, now: datetime
) -> ImportedRow | ImportRejected:
    """Create the product a row names that does not exist yet."""
    product = Product(
        sku=row.sku,
        name=row.name,
        description=row.description,
        price=row.price,
        active=True,
        stock=Stock(on_hand=row.on_hand or 0),
        version=1,
        created_at=now,
        updated_at=now,
    )
    added = await uow.products.add(product)
    if not is_successful(added):
        # Created by someone else since the rows were locked: the import's transaction
        # cannot go on, so the import is rejected on this row.
        taken = RowError(row.line, row.sku, (FieldError("sku", "was just created"),))
        return ImportRejected((taken,))
    await _recorded(deps, uow, ctx, None, product)
    return ImportedRow(row.line, row.sku, ImportAction.CREATED)


async def _update(
    deps: CatalogueServices,
    uow: CatalogueUnit,
    ctx: Context,
    current: Product,
    row: _ValidRow,
    *,
    now: datetime,
) -> ImportedRow | RowError:
    """Update an existing product from a row, unless the row changes nothing."""
    merged = _merge(current, row)
    if isinstance(merged, RowError):
        return merged
    product, changed = merged
    if not changed:
        return ImportedRow(row.line, row.sku, ImportAction.UNCHANGED)
    saved = product.bumped(now)
    await uow.products.save(saved)
    await _recorded(deps, uow, ctx, current, saved)
    return ImportedRow(row.line, row.sku, ImportAction.UPDATED, changed)


async def _import_row(
    deps: CatalogueServices,
    uow: CatalogueUnit,
    ctx: Context,
    current: Product | None,
    row: _ValidRow,
    *,
    now: datetime,
) -> ImportedRow | RowError | ImportRejected:
    """A row creates the product it names, or updates the one that exists."""
    if current is None:
        return await _create(deps, uow, ctx, row, now=now)
    return await _update(deps, uow, ctx, current, row, now=now)


async def import_products(
    deps: CatalogueServices,
    ctx: Context,
    rows: Sequence[ImportRow],
    progress: Progress | None = None,
) -> Idempotent[ImportReport, ImportProductsError]:
    """Create or update products by SKU from validated rows, all in one transaction.

    Rules: only catalogue managers; every row is validated before anything is written and one
    bad row (or a SKU repeated within the file) rejects the import, listing every bad row; a
    row may not set on-hand stock below what is reserved. In ``DRY_RUN`` the report lists
    exactly what would be created, updated and left unchanged. A background import's job id
    is its idempotency key, so a job that runs twice imports once.
    """
    if denied := catalogue_write_denied(ctx.actor, "import products"):
        return Failure(denied)
    checked = _check_rows(rows)
    if isinstance(checked, ImportRejected):
        return Failure(checked)

    async def work(uow: CatalogueUnit) -> Result[ImportReport, ImportProductsError]:
        existing = await uow.products.get_many([row.sku for row in checked], for_update=True)
        now = deps.clock.now()
        outcome: list[ImportedRow] = []
        errors: list[RowError] = []
        for done, row in enumerate(checked, start=1):
            imported = await _import_row(deps, uow, ctx, existing.get(row.sku), row, now=now)
            if isinstance(imported, ImportRejected):
                return Failure(imported)
            if isinstance(imported, RowError):
                errors.append(imported)
            else:
                outcome.append(imported)
            if progress is not None:
                progress(done, len(checked))
        if errors:
            return Failure(ImportRejected(tuple(errors)))
        return Success(ImportReport(tuple(outcome), applied=ctx.applies_changes))

    operation = Operation("products.import", tuple(checked), ImportReport, (ImportRejected,))
    return await in_idempotent_transaction(deps, ctx, operation, work)


async def import_product_csv(
    deps: CatalogueServices,
    ctx: Context,
    csv_text: str,
    progress: Progress | None = None,
) -> Idempotent[ImportReport, ImportProductsError]:
    """Import a product CSV file: the one import that the CLI runs at once and the worker runs
    in the background.

    The file's shape is checked first (:func:`parse_product_csv`: header, row lengths, row
    count), then its rows are imported by :func:`import_products`, whose rules apply: one bad
    row rejects the whole file, listing every bad row, and nothing is written.
    """
    parsed = parse_product_csv(csv_text)
    if not is_successful(parsed):
        return Failure(parsed.failure())
    return await import_products(deps, ctx, parsed.unwrap(), progress)

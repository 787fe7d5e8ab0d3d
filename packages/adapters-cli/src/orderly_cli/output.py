"""How CLI commands show their results: rich tables for people, JSON for scripts.

Human output goes to stdout through rich; ``--json`` prints exactly one JSON document on
stdout. A product in JSON has the same members as the HTTP API's product resource, so a
script can read either.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import typer
from rich import box
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from orderly_core.catalogue.imports import ImportAction, ImportReport
from orderly_core.catalogue.model import Product, product_view
from orderly_core.shared.paging import Page

NOT_APPLIED = "dry run: nothing was changed"


PIPE_WIDTH = 160


WIDE_WIDTH = 250


def console(*, wide: bool = False) -> Console:
    """A console on the current stdout (built per call, so redirected output is honoured).

    Output to a pipe or file is laid out wide instead of at 80 columns, so that no column of
    a table is cut; ``COLUMNS`` overrides the width either way. The tables of ``--wide`` are
    laid out as wide as they need, the terminal wrapping their lines.
    """
    out = Console(highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPE_WIDTH
    if wide:
        out.width = max(out.width, WIDE_WIDTH)
    return out


def table_time(moment: datetime | None, *, wide: bool = False) -> str:
    """A time in a listing: UTC to the minute (``2031-04-01 09:00``), in full with ``--wide``
    (as ``--json`` always has it), ``-`` where there is none."""
    if moment is None:
        return "-"
    return rfc3339(moment) if wide else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def add_id_column(table: Table, heading: str = "ID") -> None:
    """A column of ids: never wrapped nor cut, so that each can be copied whole."""
    table.add_column(heading, no_wrap=True, overflow="ignore")


def print_json(document: Mapping[str, Any]) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, default=str))


def rfc3339(moment: datetime) -> str:
    """UTC with a ``Z`` suffix, as the HTTP API writes timestamps."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def time_text(moment: datetime | None) -> str:
    """A timestamp as :func:`rfc3339` writes it, or ``-`` where there is none."""
    return "-" if moment is None else rfc3339(moment)


def json_view(view: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's view (the members of its HTTP resource) as ``--json`` prints it: with
    timestamps in RFC 3339 UTC, as the HTTP API writes them."""
    return {
        name: rfc3339(value) if isinstance(value, datetime) else value
        for name, value in view.items()
    }


def page_json[T](page: Page[T], item_json: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """A page as ``--json`` prints it: ``{"items": [...], "next_cursor": ...}``."""
    return {"items": [item_json(item) for item in page.items], "next_cursor": page.next_cursor}


def product_json(product: Product) -> dict[str, Any]:
    return json_view(product_view(product))


def price_text(product: Product) -> str:
    return f"{product.price.format_major()} {product.price.currency}"


def list_table(title: str) -> Table:
    """The look of every listing the CLI prints: a titled table with a simple header rule."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )


def fields_table(title: str, rows: Iterable[tuple[str, RenderableType]]) -> Table:
    """The look of one thing shown in full: a titled table of its fields and their values."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("Field", style="bold", no_wrap=True)
    table.add_column("Value", overflow="fold")
    for field, value in rows:
        table.add_row(field, value)
    return table


def not_applied(what: str) -> None:
    """Says that a dry run changed nothing, then ``what`` it would have done."""
    console().print(f"[bold]{NOT_APPLIED}.[/bold] {what}")


class ShowTitled[T](Protocol):
    """Shows one thing in full under a title."""

    def __call__(self, value: T, /, *, title: str) -> None: ...


@dataclass(frozen=True, slots=True)
class WriteOutcome[T]:
    """How a write's outcome is shown for one kind of thing: with --json,
    ``{"applied": ..., member: document}``; otherwise ``show`` shows it under its ``name``
    (such as "Order 5a0e...") followed by what was ``done`` to it, and a dry run says plainly
    that nothing was changed and what would have been done."""

    member: str
    name: Callable[[T], str]
    document: Callable[[T], dict[str, Any]]
    show: ShowTitled[T]

    def __call__(self, value: T, *, applied: bool, done: str, as_json: bool) -> None:
        name = self.name(value)
        if as_json:
            print_json({"applied": applied, self.member: self.document(value)})
        elif applied:
            self.show(value, title=f"{name} {done}")
        else:
            not_applied(f"{name} would be {done}:")
            self.show(value, title=name)


def show_page(page: Page[Product]) -> None:
    out = console()
    if not page.items:
        out.print("No products.")
    else:
        table = list_table(f"{len(page.items)} product(s)")
        table.add_column("SKU", no_wrap=True)
        table.add_column("Name", overflow="fold", min_width=10)
        table.add_column("Price", justify="right", no_wrap=True)
        for heading in ("On hand", "Reserved", "Available", "Active", "Version"):
            table.add_column(heading, justify="right", no_wrap=True, min_width=len(heading))
        for p in page.items:
            table.add_row(
                p.sku,
                p.name,
                price_text(p),
                str(p.stock.on_hand),
                str(p.stock.reserved),
                str(p.stock.available),
                "yes" if p.active else "no",
                str(p.version),
            )
        out.print(table)
    if page.next_cursor:
        out.print(f"More products follow: --cursor {page.next_cursor}")


def show_product(product: Product, *, title: str | None = None) -> None:
    rows = (
        ("SKU", product.sku),
        ("Name", product.name),
        ("Description", product.description or "-"),
        ("Price", price_text(product)),
        ("On hand", str(product.stock.on_hand)),
        ("Reserved", str(product.stock.reserved)),
        ("Available", str(product.stock.available)),
        ("Low stock below", str(product.low_stock_threshold or "-")),
        ("Max per order", str(product.max_per_order or "-")),
        ("Active", "yes" if product.active else "no"),
        ("Version", str(product.version)),
        ("Created", rfc3339(product.created_at)),
        ("Updated", rfc3339(product.updated_at)),
    )
    console().print(fields_table(title or f"Product {product.sku}", rows))


show_written: WriteOutcome[Product] = WriteOutcome(
    "product", lambda product: f"Product {product.sku}", product_json, show_product
)
"""The product a write produced."""


def import_json(report: ImportReport) -> dict[str, Any]:
    return {
        "applied": report.applied,
        **{action.value: report.count(action) for action in ImportAction},
        "rows": [
            {"line": r.line, "sku": r.sku, "action": r.action.value, "changed": list(r.changed)}
            for r in report.rows
        ],
    }


def show_import(report: ImportReport, *, verbose: bool = False) -> None:
    """The rows the import created or updated (every row with ``verbose``), then its summary:
    last, where a long import leaves it on screen."""
    out = console()
    if not report.applied:
        out.print(f"[bold]{NOT_APPLIED}.[/bold] This is what the import would do:")
    verb = "" if report.applied else "would be "
    listed = [r for r in report.rows if verbose or r.action is not ImportAction.UNCHANGED]
    if listed:
        rows = list_table("Every row" if verbose else "Rows created or updated")
        rows.add_column("Line", justify="right", no_wrap=True)
        rows.add_column("SKU", no_wrap=True)
        rows.add_column("Action", no_wrap=True)
        rows.add_column("Changed fields", overflow="fold")
        for row in listed:
            changed = ", ".join(row.changed) or "-"
            rows.add_row(str(row.line), row.sku, f"{verb}{row.action.value}", changed)
        out.print(rows)
    if hidden := len(report.rows) - len(listed):
        out.print(f"{hidden} unchanged row(s) not listed: --verbose lists every row.")
    counts = Table(title="Import summary", title_justify="left")
    for action in ImportAction:
        counts.add_column(f"{verb}{action.value}", justify="right")
    counts.add_row(*(str(report.count(action)) for action in ImportAction))
    out.print(counts)


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback ``(done, total)`` drawing a bar on a terminal, or ``None``."""
    out = console()
    if not enabled or not out.is_terminal:
        yield None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=out, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance

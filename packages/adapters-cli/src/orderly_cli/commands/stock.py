"""``orderly stock``: the stock ledger, for operators.

Every change of a product's stock is a movement in the ledger, so the levels can always be
recomputed from it. ``history`` reads a product's movements; ``verify`` recomputes every
product's levels from the ledger and reports (or, with ``--repair``, fixes) those that differ.
Each command builds the operator's context, runs one use case and prints the outcome; what
counts as drift and how a repair is audited live in the core.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from orderly_cli import output
from orderly_cli.boundary import EXIT_REFUSED
from orderly_cli.options import AsJson, Cursor, DryRun, Limit, Wide, command_group
from orderly_cli.session import operator_context, run_use_case
from orderly_core.catalogue.ledger import StockMovement
from orderly_core.catalogue.stock import (
    HistoryQuery,
    StockDrift,
    StockReport,
    movement_view,
    stock_history,
    verify_stock,
)
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT, Page

app = command_group(
    (
        "The stock ledger: each product's stock movements, and a check of the stock levels "
        "against them.\n\n"
        "Commands connect with DATABASE_URL and REDIS_URL, or find a running `orderly dev` "
        "in the current directory, and act as the operator (your OS user). Every command "
        "takes --json for scripts."
    ),
    exit_codes=(
        "Exit codes: 0 success, 1 refused by a business rule or (verify) drift found and "
        "not repaired, 2 usage or configuration error, 3 a server could not be reached, "
        "4 internal error."
    ),
)

Sku = Annotated[str, typer.Argument(metavar="SKU", help="The product's SKU (any case).")]


def _signed(delta: int) -> str:
    return f"{delta:+d}" if delta else "0"


# --- history -------------------------------------------------------------------------------


def movement_json(movement: StockMovement) -> dict[str, Any]:
    """A movement as the HTTP API shows one."""
    return output.json_view(movement_view(movement))


def _show_history(sku: str, page: Page[StockMovement], *, wide: bool = False) -> None:
    """Movements with what they refer to (an order's id, whole); ``wide`` adds who made them
    under which request, and times in full."""
    out = output.console(wide=wide)
    if not page.items:
        out.print(f"No stock movements for {sku}.")
    else:
        table = output.list_table(
            f"{len(page.items)} movement(s) of {page.items[0].sku}, newest first"
        )
        table.add_column("At", no_wrap=True)
        table.add_column("Kind", no_wrap=True)
        table.add_column("On hand", justify="right", no_wrap=True)
        table.add_column("Reserved", justify="right", no_wrap=True)
        output.add_id_column(table, "Reference")
        table.add_column("Reason", overflow="fold", min_width=12)
        if wide:
            table.add_column("Actor", no_wrap=True)
            table.add_column("Request", no_wrap=True)
        for m in page.items:
            cells: list[str | Text] = [
                output.table_time(m.at, wide=wide),
                m.kind.value,
                _signed(m.on_hand_delta),
                _signed(m.reserved_delta),
                Text(m.reference or "-"),
                Text(m.note),  # a person's words: never read as markup
            ]
            if wide:
                cells += [Text(m.actor_id), m.request_id]
            table.add_row(*cells)
        out.print(table)
    if page.next_cursor:
        out.print(f"Older movements follow: --cursor {page.next_cursor}")


@app.command("history")
def history_command(
    sku: Sku,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    wide: Wide = False,
    as_json: AsJson = False,
) -> None:
    """Show a product's stock movements, newest first, a page at a time.

    Each movement shows its kind (opening, adjustment, import, reservation, release,
    shipment, restock, write_off), the change of stock on hand and of reserved stock, the
    reason and a reference (an order, an import job, a return); --wide adds who made it and
    under which request. When older movements follow, the next page's cursor is printed;
    pass it back with --cursor. With --json: {"items": [...], "next_cursor": ...}.

    \b
    Example:
      orderly stock history MUG-01 --limit 20
    """
    ctx = operator_context()
    query = HistoryQuery(limit=limit, cursor=cursor)
    page = run_use_case(lambda deps: stock_history(deps, ctx, sku, query), as_json=as_json)
    if as_json:
        output.print_json(output.page_json(page, movement_json))
    else:
        _show_history(sku.strip().upper(), page, wide=wide)


# --- verify --------------------------------------------------------------------------------


def drift_json(drift: StockDrift) -> dict[str, Any]:
    return {
        "sku": drift.sku,
        "on_hand": drift.on_hand,
        "reserved": drift.reserved,
        "ledger_on_hand": drift.ledger_on_hand,
        "ledger_reserved": drift.ledger_reserved,
    }


def _drift_table(drifts: tuple[StockDrift, ...], *, title: str) -> Table:
    table = output.list_table(title)
    table.add_column("SKU", no_wrap=True)
    for heading in ("On hand", "Ledger on hand", "Reserved", "Ledger reserved"):
        table.add_column(heading, justify="right", no_wrap=True)
    for d in drifts:
        levels = (d.on_hand, d.ledger_on_hand, d.reserved, d.ledger_reserved)
        table.add_row(d.sku, *(str(level) for level in levels))
    return table


def _show_report(report: StockReport, *, repair: bool, applied: bool) -> None:
    out = output.console()
    count = len(report.drifts)
    if not report.drifts:
        out.print("Stock levels match the ledger for every product.")
        return
    if report.repaired:
        title = f"Repaired {count} product(s): their levels now equal the ledger's"
    elif repair and not applied:
        out.print(f"[bold]{output.NOT_APPLIED}.[/bold] The repair would set these levels:")
        title = f"{count} product(s) would be set to the ledger's levels"
    else:
        title = f"{count} product(s) differ from the ledger"
    out.print(_drift_table(report.drifts, title=title))
    if not repair:
        out.print("Run `orderly stock verify --repair` to set them to the ledger's levels.")


@app.command("verify")
def verify_command(
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Set every drifting product's levels to the ledger's, and audit each fix.",
        ),
    ] = False,
    dry_run: DryRun = False,
    as_json: AsJson = False,
) -> None:
    """Recompute every product's stock levels from the ledger and report any drift.

    A product drifts when its stock on hand or reserved differs from the sum of its
    movements. Exits 0 when nothing drifts, 1 when something drifts and is not repaired.
    With --repair each drifting product is set to the ledger's levels, each fix is written
    to the audit trail (operation stock.repair), and the command exits 0; with --repair
    --dry-run it shows what would be fixed, changes nothing and exits 0. With --json:
    {"applied": ..., "repaired": ..., "drifts": [...]}.

    \b
    Examples:
      orderly stock verify
      orderly stock verify --repair --dry-run
      orderly stock verify --repair
    """
    ctx = operator_context(dry_run=dry_run)
    report = run_use_case(lambda deps: verify_stock(deps, ctx, repair=repair), as_json=as_json)
    if as_json:
        output.print_json(
            {
                "applied": ctx.applies_changes,
                "repaired": report.repaired,
                "drifts": [drift_json(d) for d in report.drifts],
            }
        )
    else:
        _show_report(report, repair=repair, applied=ctx.applies_changes)
    if report.drifts and not repair:
        raise typer.Exit(EXIT_REFUSED)

"""``orderly returns``: returns of delivered units, for operators.

An operator may list every return (or one order's), show one, approve or reject a request,
and receive what came back: each unit restocked or written off, and the return refunded.
Each command decodes its options, builds the operator's context, runs one returns use case
and prints the outcome; every rule lives in the core. What is checked here is only what the
command line itself must make sense of: a received line written ``SKU:QTY:DISPOSITION``.
How returns are shown is in :mod:`orderly_cli.commands.return_views`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from orderly_cli import output
from orderly_cli.commands import return_views
from orderly_cli.options import (
    AsJson,
    Cursor,
    DryRun,
    IdempotencyKey,
    Limit,
    command_group,
    if_version_option,
)
from orderly_cli.session import operator_context, run_idempotent_use_case, run_use_case
from orderly_core.returns.model import Disposition, ReturnQuery, ReturnStatus
from orderly_core.returns.requests import get_return, list_order_returns, list_returns
from orderly_core.returns.steps import (
    ReceivedLine,
    ReturnDecision,
    ReturnReceipt,
    approve_return,
    receive_return,
    reject_return,
)
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT

app = command_group(
    "Returns: list and show them, approve or reject a customer's request, and receive what "
    "came back (each unit restocked or written off), which refunds the return.\n\n"
    "Commands connect with DATABASE_URL and REDIS_URL, or find a running `orderly dev` "
    "in the current directory. They act as the operator (your OS user). Writes take "
    "--dry-run (check everything, show the result, change nothing) and --idempotency-key "
    "KEY; every command takes --json for scripts."
)

ReturnId = Annotated[str, typer.Argument(metavar="RETURN_ID", help="The return's id.")]
IfVersion = Annotated[int | None, if_version_option("return")]
Note = Annotated[
    str | None,
    typer.Option(metavar="TEXT", help="Why (at most 1000 characters; kept with the return)."),
]
_DISPOSITIONS = ", ".join(d.value for d in Disposition)


def _line(text: str) -> ReceivedLine:
    """``SKU:QTY:DISPOSITION`` as written on the command line."""
    sku, _, rest = text.partition(":")
    quantity, _, disposition = rest.partition(":")
    try:
        count: int | None = int(quantity)
        kind: Disposition | None = Disposition(disposition.strip().lower())
    except ValueError:
        count = kind = None
    if count is None or kind is None or not sku.strip():
        raise typer.BadParameter(
            f"{text!r} is not SKU:QTY:DISPOSITION with a disposition of {_DISPOSITIONS} "
            "(e.g. MUG-01:2:restock)",
            param_hint="'--line'",
        )
    return ReceivedLine(sku.strip(), count, kind)


@app.command("list")
def list_command(
    *,
    status: Annotated[
        ReturnStatus | None,
        typer.Option(case_sensitive=False, help="Only returns with this status."),
    ] = None,
    order: Annotated[
        str | None,
        typer.Option(metavar="ORDER_ID", help="Only this order's returns (all, oldest first)."),
    ] = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    as_json: AsJson = False,
) -> None:
    """List returns, newest first, a page at a time; or one order's, oldest first.

    When older returns follow, the next page's cursor is printed; pass it back with
    --cursor. With --json: {"items": [...], "next_cursor": ...} (an order's: {"items"}).

    \b
    Examples:
      orderly returns list --status requested
      orderly returns list --order 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77
    """
    ctx = operator_context()
    if order is not None:
        found = run_use_case(lambda deps: list_order_returns(deps, ctx, order), as_json=as_json)
        if status is not None:
            found = tuple(ret for ret in found if ret.status is status)
        if as_json:
            output.print_json({"items": [return_views.return_json(r) for r in found]})
        else:
            return_views.show_returns(found, title=f"Returns of order {order}, oldest first")
        return
    query = ReturnQuery(limit=limit, cursor=cursor, status=status)
    page = run_use_case(lambda deps: list_returns(deps, ctx, query), as_json=as_json)
    if as_json:
        output.print_json(output.page_json(page, return_views.return_json))
    else:
        return_views.show_page(page)


@app.command("show")
def show_command(return_id: ReturnId, as_json: AsJson = False) -> None:
    """Show one return: its order, status, lines (with what was restocked and written off),
    note and version.

    \b
    Example:
      orderly returns show 0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f --json
    """
    ctx = operator_context()
    ret = run_use_case(lambda deps: get_return(deps, ctx, return_id), as_json=as_json)
    if as_json:
        output.print_json(return_views.return_json(ret))
    else:
        return_views.show_return(ret, title=f"Return {ret.id}")


@app.command("approve")
def approve_command(
    return_id: ReturnId,
    *,
    note: Note = None,
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Approve a requested return: the customer may send the units back.

    With --json: {"applied", "return"}.

    \b
    Example:
      orderly returns approve 0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f --note "unworn"
    """
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    decision = ReturnDecision(return_id, note, if_version)
    ret = run_idempotent_use_case(lambda deps: approve_return(deps, ctx, decision), as_json=as_json)
    return_views.show_written(ret, applied=ctx.applies_changes, done="approved", as_json=as_json)


@app.command("reject")
def reject_command(
    return_id: ReturnId,
    *,
    note: Note = None,
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Reject a requested return, with a note saying why: its units may be asked for again.

    With --json: {"applied", "return"}.

    \b
    Example:
      orderly returns reject 0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f --note "worn"
    """
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    decision = ReturnDecision(return_id, note, if_version)
    ret = run_idempotent_use_case(lambda deps: reject_return(deps, ctx, decision), as_json=as_json)
    return_views.show_written(ret, applied=ctx.applies_changes, done="rejected", as_json=as_json)


@app.command("receive")
def receive_command(
    return_id: ReturnId,
    *,
    lines: Annotated[
        list[str],
        typer.Option(
            "--line",
            metavar="SKU:QTY:DISPOSITION",
            help=f"Units received and what became of them ({_DISPOSITIONS}); repeat for "
            "each SKU and disposition.",
        ),
    ],
    refund_shipping: Annotated[
        bool,
        typer.Option(help="Refund the order's shipping too (once per order)."),
    ] = False,
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Receive an approved return: restock or write off each unit, and refund the return.

    Restocked units are on hand again; written-off units are recorded in the stock ledger
    with no stock change. The order's lines count them as returned, and the return is
    refunded once, at the prices the order captured (plus its shipping with
    --refund-shipping), through the payment provider (recorded at once under the manual
    provider). With --dry-run, shows the refund it would make. With --json: {"applied",
    "return": {..., "refunds": [...]}}.

    \b
    Example:
      orderly returns receive 0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f \\
        --line MUG-01:1:restock --line MUG-01:1:write_off
    """
    receipt = ReturnReceipt(
        return_id, tuple(_line(text) for text in lines), refund_shipping, if_version
    )
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    received = run_idempotent_use_case(
        lambda deps: receive_return(deps, ctx, receipt), as_json=as_json
    )
    return_views.show_receipt(
        received, applied=ctx.applies_changes, done="received", as_json=as_json
    )

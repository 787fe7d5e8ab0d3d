"""How returns are shown: rich tables for people, JSON for scripts.

A return in JSON has the members of the HTTP API's resource (``return_view``), with
timestamps in RFC 3339 UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from orderly_cli import output
from orderly_cli.commands import payment_views
from orderly_core.returns.model import Return, return_view
from orderly_core.returns.steps import ReturnReceived
from orderly_core.shared.paging import Page


def return_json(ret: Return) -> dict[str, Any]:
    return output.json_view(return_view(ret))


def received_json(received: ReturnReceived) -> dict[str, Any]:
    refunds = [payment_views.refund_json(refund) for refund in received.refunds]
    return return_json(received.ret) | {"refunds": refunds}


def show_return(ret: Return, *, title: str) -> None:
    out = output.console()
    rows = (
        ("ID", str(ret.id)),
        ("Order", str(ret.order_id)),
        ("Status", ret.status.value),
        ("Requested by", Text(ret.requested_by)),
        ("Note", Text(ret.note or "-")),
        ("Shipping refunded", "yes" if ret.refund_shipping else "no"),
        ("Version", str(ret.version)),
        ("Created", output.rfc3339(ret.created_at)),
        ("Updated", output.rfc3339(ret.updated_at)),
    )
    out.print(output.fields_table(title, rows))
    lines = Table(title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for heading in ("SKU", "Qty", "Reason", "Restocked", "Written off"):
        lines.add_column(heading, overflow="fold")
    for line in ret.lines:
        lines.add_row(
            line.sku,
            str(line.quantity),
            Text(line.reason),
            str(line.restocked),
            str(line.written_off),
        )
    out.print(lines)


def show_received(received: ReturnReceived, *, title: str) -> None:
    show_return(received.ret, title=title)
    payment_views.show_refunds(received.refunds, title="Refunds")


show_written: output.WriteOutcome[Return] = output.WriteOutcome(
    "return", lambda ret: f"Return {ret.id}", return_json, show_return
)
"""The return a write produced."""

show_receipt: output.WriteOutcome[ReturnReceived] = output.WriteOutcome(
    "return", lambda received: f"Return {received.ret.id}", received_json, show_received
)
"""A received return and its refunds."""


def show_returns(returns: Sequence[Return], *, title: str) -> None:
    out = output.console()
    if not returns:
        out.print(f"{title}: none.")
        return
    table = output.list_table(title)
    for heading in ("ID", "Order", "Status", "Units", "Created"):
        table.add_column(heading, overflow="fold")
    for ret in returns:
        table.add_row(
            str(ret.id),
            str(ret.order_id),
            ret.status.value,
            str(sum(line.quantity for line in ret.lines)),
            output.rfc3339(ret.created_at),
        )
    out.print(table)


def show_page(page: Page[Return]) -> None:
    show_returns(page.items, title="Returns, newest first")
    if page.next_cursor:
        output.console().print(f"Older returns follow: --cursor {page.next_cursor}")

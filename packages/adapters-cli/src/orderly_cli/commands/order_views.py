"""How ``orderly orders`` shows orders: rich tables for people, JSON for scripts.

An order in JSON has the members of the HTTP API's order resource (``order_view``), with
timestamps in RFC 3339 UTC, so a script can read either.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from orderly_cli import output
from orderly_core.orders.address import Address
from orderly_core.orders.model import Order, OrderStatus, Placement, order_view
from orderly_core.orders.steps import ExpiryReport
from orderly_core.shared.money import Money
from orderly_core.shared.paging import Page


def order_json(order: Order) -> dict[str, Any]:
    """An order as the HTTP API shows one."""
    return output.json_view(order_view(order))


def money_text(money: Money) -> str:
    return f"{money.format_major()} {money.currency}"


def address_text(address: Address | None) -> Text:
    if address is None:
        return Text("-")
    parts = (
        address.name,
        address.line1,
        address.line2,
        " ".join(part for part in (address.postal_code, address.city) if part),
        address.region,
        address.country,
        address.phone or "",
    )
    return Text("\n".join(part for part in parts if part))


def show_order(order: Order, *, title: str) -> None:
    out = output.console()
    rows = (
        ("ID", str(order.id)),
        ("Customer", Text(order.customer_id)),
        ("Email", Text(order.email or "-")),
        ("Status", order.status.value),
        ("Cancel reason", Text(order.cancel_reason or "-")),
        ("Ship to", address_text(order.shipping_address)),
        ("Shipping method", Text(order.shipping_method or "-")),
        ("Subtotal", money_text(order.subtotal)),
        ("Shipping", money_text(order.shipping)),
        ("Total", money_text(order.total)),
        ("Version", str(order.version)),
        ("Created", output.rfc3339(order.placed_at)),
        ("Updated", output.rfc3339(order.updated_at)),
        (
            "Expires",
            output.rfc3339(order.expires_at) if order.status is OrderStatus.PLACED else "-",
        ),
    )
    out.print(output.fields_table(title, rows))
    lines = Table(title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    lines.add_column("SKU", no_wrap=True)
    for heading in ("Quantity", "Unit price", "Subtotal"):
        lines.add_column(heading, justify="right", no_wrap=True)
    for line in order.lines:
        subtotal = Money(line.subtotal, line.unit_price.currency)
        lines.add_row(
            line.sku, str(line.quantity), money_text(line.unit_price), money_text(subtotal)
        )
    out.print(lines)


show_written: output.WriteOutcome[Order] = output.WriteOutcome(
    "order", lambda order: f"Order {order.id}", order_json, show_order
)
"""The order a write produced."""


def show_quote(placement: Placement, *, as_json: bool) -> None:
    """A dry run of a placement: the order it would be, and the shipping methods available
    for its address with what each would cost."""
    methods = [
        {
            "code": option.code,
            "name": option.name,
            "price": option.price.amount,
            "currency": option.price.currency,
        }
        for option in placement.shipping_methods
    ]
    if as_json:
        order = order_json(placement.order)
        output.print_json({"applied": False, "order": order, "shipping_methods": methods})
        return
    show_written(placement.order, applied=False, done="placed", as_json=False)
    out = output.console()
    if not placement.shipping_methods:
        out.print("No shipping method to choose: this shop charges no shipping.")
        return
    table = output.list_table("Shipping methods")
    for heading in ("Code", "Name", "Price"):
        table.add_column(heading, overflow="fold")
    for option in placement.shipping_methods:
        table.add_row(option.code, Text(option.name), money_text(option.price))
    out.print(table)


def show_page(page: Page[Order], *, wide: bool = False) -> None:
    """Orders, each with its customer's email; ``wide`` adds the customer's id, the number of
    lines and the version, and times in full."""
    out = output.console(wide=wide)
    if not page.items:
        out.print("No orders.")
    else:
        table = output.list_table(f"{len(page.items)} order(s), newest first")
        output.add_id_column(table)
        table.add_column("Status", no_wrap=True)
        table.add_column("Customer", overflow="fold", min_width=12)
        if wide:
            output.add_id_column(table, "Customer ID")
            table.add_column("Lines", justify="right", no_wrap=True)
        table.add_column("Total", justify="right", no_wrap=True)
        if wide:
            table.add_column("Version", justify="right", no_wrap=True)
        table.add_column("Created", no_wrap=True)
        for order in page.items:
            cells: list[str | Text] = [str(order.id), order.status.value, Text(order.email or "-")]
            if wide:
                cells += [order.customer_id, str(len(order.lines))]
            cells.append(money_text(order.total))
            if wide:
                cells.append(str(order.version))
            cells.append(output.table_time(order.placed_at, wide=wide))
            table.add_row(*cells)
        out.print(table)
    if page.next_cursor:
        out.print(f"Older orders follow: --cursor {page.next_cursor}")


def show_expiry(report: ExpiryReport) -> None:
    out = output.console()
    if not report.expired:
        out.print("No unpaid order is past its expiry.")
        return
    if report.applied:
        out.print(f"Expired {len(report.expired)} order(s); their stock is released:")
    else:
        out.print(
            f"[bold]{output.NOT_APPLIED}.[/bold] {len(report.expired)} order(s) would be expired:"
        )
    for order_id in report.expired:
        out.print(str(order_id))

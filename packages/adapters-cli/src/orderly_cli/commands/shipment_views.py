"""How shipments and cancellations are shown: rich tables for people, JSON for scripts.

A shipment in JSON has the members of the HTTP API's resource (``shipment_view``), with
timestamps in RFC 3339 UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from orderly_cli import output
from orderly_core.shipments.model import Shipment, shipment_view


def shipment_json(shipment: Shipment) -> dict[str, Any]:
    return output.json_view(shipment_view(shipment))


def _lines_text(shipment: Shipment) -> Text:
    return Text(", ".join(f"{line.sku} x{line.quantity}" for line in shipment.lines))


def show_shipment(shipment: Shipment, *, title: str) -> None:
    rows = (
        ("ID", str(shipment.id)),
        ("Order", str(shipment.order_id)),
        ("Status", shipment.status.value),
        ("Lines", _lines_text(shipment)),
        ("Carrier", Text(shipment.carrier)),
        ("Tracking number", Text(shipment.tracking_number)),
        ("Tracking URL", Text(shipment.tracking_url or "-")),
        ("Shipped by", Text(shipment.created_by)),
        ("Shipped", output.rfc3339(shipment.created_at)),
        ("Delivered", output.time_text(shipment.delivered_at)),
        ("Version", str(shipment.version)),
    )
    output.console().print(output.fields_table(title, rows))


def show_shipments(shipments: Sequence[Shipment]) -> None:
    out = output.console()
    if not shipments:
        out.print("Shipments: none.")
        return
    table = output.list_table("Shipments, oldest first")
    for heading in ("ID", "Status", "Lines", "Carrier", "Tracking number", "Shipped"):
        table.add_column(heading, overflow="fold")
    for shipment in shipments:
        table.add_row(
            str(shipment.id),
            shipment.status.value,
            _lines_text(shipment),
            Text(shipment.carrier),
            Text(shipment.tracking_number),
            output.rfc3339(shipment.created_at),
        )
    out.print(table)


show_written: output.WriteOutcome[Shipment] = output.WriteOutcome(
    "shipment", lambda shipment: f"Shipment {shipment.id}", shipment_json, show_shipment
)
"""The shipment a write produced."""

"""``orderly shipments``: shipping some of an order's units with tracking, listing an order's
shipments, and delivering one, for operators.

Which units may ship, the stock each shipment takes and the order's status that follows are
the core's; what is checked here is only what the command line itself must make sense of: a
line written ``SKU:QTY``. How shipments are shown is in
:mod:`orderly_cli.commands.shipment_views`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from orderly_cli import output
from orderly_cli.commands import shipment_views
from orderly_cli.options import (
    AsJson,
    DryRun,
    IdempotencyKey,
    command_group,
    if_version_option,
)
from orderly_cli.session import operator_context, run_idempotent_use_case, run_use_case
from orderly_core.shipments.model import ShipmentLine, Tracking
from orderly_core.shipments.use_cases import (
    NewShipment,
    ShipmentStep,
    create_shipment,
    deliver_shipment,
    get_shipment,
    list_shipments,
)

app = command_group(
    "Shipments: ship some of a paid order's remaining units with a carrier and tracking "
    "number, list an order's shipments, show one, and mark one delivered.\n\n"
    "Commands connect with DATABASE_URL and REDIS_URL, or find a running `orderly dev` "
    "in the current directory. They act as the operator (your OS user). Writes take "
    "--dry-run (check everything, show the result, change nothing) and --idempotency-key "
    "KEY; every command takes --json for scripts."
)

OrderId = Annotated[str, typer.Argument(metavar="ORDER_ID", help="The order's id.")]
ShipmentId = Annotated[str, typer.Argument(metavar="SHIPMENT_ID", help="The shipment's id.")]


def unit_line(text: str, option: str = "--line") -> ShipmentLine:
    """``SKU:QTY`` as written on the command line; whether it may ship is the core's."""
    sku, _, quantity = text.rpartition(":")
    try:
        count = int(quantity)
    except ValueError:
        count = None
    if count is None or not sku.strip():
        raise typer.BadParameter(
            f"{text!r} is not SKU:QTY (e.g. MUG-01:2)", param_hint=f"'{option}'"
        )
    return ShipmentLine(sku.strip(), count)


Carrier = Annotated[str, typer.Option(metavar="NAME", help="Who carries it (1-64 characters).")]
TrackingNumber = Annotated[
    str, typer.Option(metavar="NUMBER", help="The carrier's tracking number (1-128 characters).")
]
TrackingUrl = Annotated[
    str | None,
    typer.Option(metavar="URL", help="Where the customer follows it: an http(s) URL."),
]


@app.command("create")
def create_command(
    order_id: OrderId,
    *,
    line: Annotated[
        list[str],
        typer.Option(
            metavar="SKU:QTY",
            help="Units to ship now, at most what remains of the line; repeat per SKU.",
        ),
    ],
    carrier: Carrier,
    tracking_number: TrackingNumber,
    tracking_url: TrackingUrl = None,
    if_version: Annotated[int | None, if_version_option("order")] = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Ship some of a paid or partially shipped order's remaining units.

    The units leave the stock on hand (and the reserved stock); the order becomes
    partially_shipped while units remain to ship, shipped when none do. Asking more than
    remains of a line is refused, naming the line, what was asked and what remains.
    With --json: {"applied", "shipment": {...}}.

    \b
    Example:
      orderly shipments create 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77 --line MUG-1:2 \\
        --carrier DHL --tracking-number JD014600006281230704 \\
        --tracking-url "https://www.dhl.com/track?id=JD014600006281230704"
    """
    lines = tuple(unit_line(text) for text in line)
    new = NewShipment(order_id, lines, Tracking(carrier, tracking_number, tracking_url), if_version)
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    shipment = run_idempotent_use_case(
        lambda deps: create_shipment(deps, ctx, new), as_json=as_json
    )
    shipment_views.show_written(
        shipment, applied=ctx.applies_changes, done="shipped", as_json=as_json
    )


@app.command("list")
def list_command(order_id: OrderId, as_json: AsJson = False) -> None:
    """List an order's shipments, oldest first, with their tracking.

    With --json: {"items": [...]}.

    \b
    Example:
      orderly shipments list 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77
    """
    ctx = operator_context()
    shipments = run_use_case(lambda deps: list_shipments(deps, ctx, order_id), as_json=as_json)
    if as_json:
        output.print_json({"items": [shipment_views.shipment_json(s) for s in shipments]})
        return
    shipment_views.show_shipments(shipments)


@app.command("show")
def show_command(shipment_id: ShipmentId, as_json: AsJson = False) -> None:
    """Show one shipment.

    \b
    Example:
      orderly shipments show 0b6c1a8e-5d2f-4c3b-8e71-6a9d0f4b2c15
    """
    ctx = operator_context()
    shipment = run_use_case(lambda deps: get_shipment(deps, ctx, shipment_id), as_json=as_json)
    if as_json:
        output.print_json(shipment_views.shipment_json(shipment))
        return
    shipment_views.show_shipment(shipment, title=f"Shipment {shipment.id}")


@app.command("deliver")
def deliver_command(
    shipment_id: ShipmentId,
    *,
    if_version: Annotated[int | None, if_version_option("shipment")] = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Mark a shipment delivered.

    Its order becomes delivered once every unit it shipped is delivered and none remains
    to ship. With --json: {"applied", "shipment": {...}}.

    \b
    Example:
      orderly shipments deliver 0b6c1a8e-5d2f-4c3b-8e71-6a9d0f4b2c15
    """
    step = ShipmentStep(shipment_id, if_version)
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    shipment = run_idempotent_use_case(
        lambda deps: deliver_shipment(deps, ctx, step), as_json=as_json
    )
    shipment_views.show_written(
        shipment, applied=ctx.applies_changes, done="delivered", as_json=as_json
    )

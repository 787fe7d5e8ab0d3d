"""``orderly orders``: orders and their lifecycle, for operators.

An operator may act on any order: place one on a customer's behalf, record a payment made by
hand (which pays it once covered), refund it, mark it shipped or delivered, cancel it or what
remains of it, and run the expiry that Orderly's scheduled job runs. Each command
decodes its options, builds the operator's context, runs one order use case and prints the
outcome. The state machine, the stock each step reserves, releases or consumes, and who may
do what all live in the core; what is checked here is only what the command line itself must
make sense of: a line written ``SKU:QTY``, a time in ISO 8601. How orders are shown is in
:mod:`orderly_cli.commands.order_views`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer

from orderly_cli import output
from orderly_cli.commands import order_views, payment_views
from orderly_cli.commands.shipments import unit_line
from orderly_cli.options import (
    AsJson,
    Cursor,
    DryRun,
    IdempotencyKey,
    Limit,
    Wide,
    command_group,
    if_version_option,
    moment,
)
from orderly_cli.session import operator_context, run_idempotent_use_case, run_use_case
from orderly_core.orders.address import Address
from orderly_core.orders.details import OrderDetailsChange, change_order_details
from orderly_core.orders.model import Order, OrderQuery, OrderStatus
from orderly_core.orders.placement import LineRequest, NewOrder, place_order
from orderly_core.orders.reading import get_order, list_orders
from orderly_core.orders.steps import OrderStep, StepError, expire_orders
from orderly_core.payments.manual import ManualPayment, record_manual_payment
from orderly_core.payments.reading import list_payments, list_refunds
from orderly_core.payments.refunds import OrderRefund, refund_order
from orderly_core.platform.idempotency import Idempotent
from orderly_core.shared.context import Context
from orderly_core.shared.errors import InvalidInput
from orderly_core.shared.paging import PAGE_SIZE_DEFAULT
from orderly_core.shipments.model import Tracking
from orderly_core.shipments.steps import (
    RemainderCancellation,
    cancel_order,
    cancel_remainder,
    deliver_order,
    ship_order,
)
from orderly_core.unit_of_work import Dependencies

app = command_group(
    "Orders: place one for a customer, list and show them, move them through their "
    "lifecycle (placed, paid, partially shipped, shipped, delivered; or cancelled), cancel "
    "what remains to ship, expire unpaid ones, record payments made by hand, refund, and "
    "show an order's payments. Shipping some units with tracking: orderly shipments.\n\n"
    "Commands connect with DATABASE_URL and REDIS_URL, or find a running `orderly dev` "
    "in the current directory. They act as the operator (your OS user), who may act on "
    "any order. Writes take --dry-run (check everything, show the result, change nothing) "
    "and --idempotency-key KEY; every command takes --json for scripts."
)

OrderId = Annotated[str, typer.Argument(metavar="ORDER_ID", help="The order's id.")]
IfVersion = Annotated[int | None, if_version_option("order")]


def _line(text: str) -> LineRequest:
    """``SKU:QTY`` as written on the command line; whether it may be ordered is the core's."""
    sku, _, quantity = text.rpartition(":")
    try:
        count = int(quantity)
    except ValueError:
        count = None
    if count is None or not sku.strip():
        raise typer.BadParameter(f"{text!r} is not SKU:QTY (e.g. MUG-01:2)", param_hint="'--line'")
    return LineRequest(sku.strip(), count)


_ADDRESS_FIELDS = ("name", "line1", "line2", "postal_code", "city", "region", "country", "phone")
_ADDRESS_REQUIRED = ("name", "line1", "city", "country")


def _address(text: str | None) -> Address | None:
    """``--address`` as written: a JSON object with the API's address members, each a
    string; whether they make an address is the core's."""
    if text is None:
        return None
    try:
        given: Any = json.loads(text)
    except ValueError:
        given = None
    hint = "'--address'"
    if not isinstance(given, dict):
        raise typer.BadParameter(
            'must be a JSON object, e.g. {"name": "Ann", "line1": "Hauptstr. 1", '
            '"city": "Berlin", "country": "DE"}',
            param_hint=hint,
        )
    unknown = sorted(set(given) - set(_ADDRESS_FIELDS))
    missing = [name for name in _ADDRESS_REQUIRED if name not in given]
    wrong = sorted(name for name, value in given.items() if not isinstance(value, str))
    if unknown or missing or wrong:
        problems = [f"unknown member(s) {', '.join(unknown)}"] if unknown else []
        problems += [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"not text: {', '.join(wrong)}"] if wrong else []
        raise typer.BadParameter("; ".join(problems), param_hint=hint)
    return Address(**given)


AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        metavar="JSON",
        help='The shipping address, a JSON object: "name", "line1", "city" and "country" '
        '(ISO 3166-1 alpha-2) required; "line2", "postal_code", "region", "phone" optional.',
    ),
]
EmailOption = Annotated[
    str | None,
    typer.Option(metavar="EMAIL", help="The order's contact email."),
]


# --- reading -------------------------------------------------------------------------------


@app.command("list")
def list_command(
    *,
    status: Annotated[
        OrderStatus | None,
        typer.Option(case_sensitive=False, help="Only orders with this status."),
    ] = None,
    customer: Annotated[
        str | None, typer.Option(metavar="ID", help="Only this customer's orders.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(metavar="ISO", help="Only orders placed at or after this time.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="ISO", help="Only orders placed before this time.")
    ] = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    cursor: Cursor = None,
    wide: Wide = False,
    as_json: AsJson = False,
) -> None:
    """List orders, newest first, a page at a time: id, status, the customer's email, total
    and when placed (--wide adds the customer's id, lines and version).

    Filters combine; times are ISO 8601 (2031-04-01, 2031-04-01T09:00:00+02:00), read as
    UTC without an offset. When older orders follow, the next page's cursor is printed; pass
    it back with --cursor. With --json: {"items": [...], "next_cursor": ...}.

    \b
    Examples:
      orderly orders list --status placed
      orderly orders list --customer 0b5e4c1e-8d2a-4f57-9c61-3f1f3b2a7d10 --since 2031-04-01
    """
    query = OrderQuery(
        limit=limit,
        cursor=cursor,
        status=status,
        customer_id=customer,
        since=moment(since, "--since"),
        until=moment(until, "--until"),
    )
    ctx = operator_context()
    page = run_use_case(lambda deps: list_orders(deps, ctx, query), as_json=as_json)
    if as_json:
        output.print_json(output.page_json(page, order_views.order_json))
    else:
        order_views.show_page(page, wide=wide)


@app.command("show")
def show_command(order_id: OrderId, as_json: AsJson = False) -> None:
    """Show one order: its status, lines, total, version and when it expires.

    \b
    Example:
      orderly orders show 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77 --json
    """
    ctx = operator_context()
    order = run_use_case(lambda deps: get_order(deps, ctx, order_id), as_json=as_json)
    if as_json:
        output.print_json(order_views.order_json(order))
    else:
        order_views.show_order(order, title=f"Order {order.id}")


# --- writing -------------------------------------------------------------------------------


@app.command("place")
def place_command(
    *,
    customer: Annotated[
        str,
        typer.Option(
            metavar="ID|EMAIL",
            help="The customer the order is placed for: an active customer account, by its "
            "id or its email.",
        ),
    ],
    line: Annotated[
        list[str],
        typer.Option(metavar="SKU:QTY", help="A product and how many of it; repeat for each line."),
    ],
    address: AddressOption = None,
    shipping_method: Annotated[
        str | None,
        typer.Option(metavar="CODE", help="The shipping rate to ship at (see shipping-rates)."),
    ] = None,
    email: Annotated[
        str | None,
        typer.Option(metavar="EMAIL", help="The order's contact email (default: the account's)."),
    ] = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Place an order on a customer's behalf, reserving its stock.

    Every line is reserved, or none is: when any product lacks stock, the order is refused
    with every short SKU and the quantities asked and available. An order has 1-100 lines
    of 1-1000 units (and at most a product's own max per order), each SKU once, of active
    products in one currency; a customer holds at most MAX_OPEN_UNPAID_ORDERS unpaid orders.
    Prices are taken now; an unpaid order is cancelled, and its stock released, once it
    expires. The customer is an active customer account, named by its id or its email;
    anything else is refused. When the shop has shipping rates, --address and
    --shipping-method are required and the rate's price is added to the total. --dry-run
    is the quote: the priced order and the shipping methods available for the address
    (--shipping-method may then be left out); with --json, {"applied": false, "order":
    ..., "shipping_methods": [...]}.

    \b
    Examples:
      orderly orders place --customer 0b5e4c1e-8d2a-4f57-9c61-3f1f3b2a7d10 --line MUG-01:2 --line TEA-1:1
      orderly orders place --customer ann@example.com --line MUG-01:2 --dry-run --address '{"name": "Ann", "line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}'
      orderly orders place --customer ann@example.com --line MUG-01:2 --shipping-method std-eur --address '{"name": "Ann", "line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}'
    """  # noqa: E501
    new = NewOrder(
        tuple(_line(text) for text in line),
        customer_id=customer,
        email=email,
        shipping_address=_address(address),
        shipping_method=shipping_method,
    )
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    placement = run_idempotent_use_case(lambda deps: place_order(deps, ctx, new), as_json=as_json)
    if ctx.applies_changes:
        order_views.show_written(placement.order, applied=True, done="placed", as_json=as_json)
    else:
        order_views.show_quote(placement, as_json=as_json)


@app.command("update")
def update_command(
    order_id: OrderId,
    *,
    address: AddressOption = None,
    email: EmailOption = None,
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Change the shipping address or the contact email of an order not yet shipped.

    The address is given whole (as for `place`); an order placed with a shipping method
    keeps it and its price, so the new address must be in a country its rate serves. The
    order's version goes up and `order.updated` is sent.

    \b
    Example:
      orderly orders update 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77 --email ann@example.org --if-version 1
    """  # noqa: E501
    change = OrderDetailsChange(
        order_id, if_version, email=email, shipping_address=_address(address)
    )
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    order = run_idempotent_use_case(
        lambda deps: change_order_details(deps, ctx, change), as_json=as_json
    )
    order_views.show_written(order, applied=ctx.applies_changes, done="updated", as_json=as_json)


StepUseCase = Callable[
    [Dependencies, Context, OrderStep], Awaitable[Idempotent[Order, StepError | InvalidInput]]
]


def _step(
    use_case: StepUseCase,
    order_id: str,
    *,
    if_version: int | None,
    dry_run: bool,
    idempotency_key: str | None,
    as_json: bool,
    done: str,
) -> None:
    """Run one lifecycle step of an order and show the order it leaves."""
    step = OrderStep(order_id, if_version)
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    order = run_idempotent_use_case(lambda deps: use_case(deps, ctx, step), as_json=as_json)
    order_views.show_written(order, applied=ctx.applies_changes, done=done, as_json=as_json)


def _step_command(
    use_case: StepUseCase, *, done: str
) -> Callable[[Callable[[], None]], Callable[..., None]]:
    """The command of a lifecycle step that takes nothing but the order and the options of
    every write: the function it decorates gives the command its name and, by its docstring,
    its help; the command runs ``use_case`` and shows the order as ``done``."""

    def declare(described: Callable[[], None]) -> Callable[..., None]:
        def command(
            order_id: OrderId,
            if_version: IfVersion = None,
            dry_run: DryRun = False,
            idempotency_key: IdempotencyKey = None,
            as_json: AsJson = False,
        ) -> None:
            _step(
                use_case,
                order_id,
                if_version=if_version,
                dry_run=dry_run,
                idempotency_key=idempotency_key,
                as_json=as_json,
                done=done,
            )

        command.__name__, command.__qualname__ = described.__name__, described.__qualname__
        command.__doc__ = described.__doc__
        return command

    return declare


Amount = Annotated[
    int,
    typer.Option(metavar="MINOR_UNITS", help="In minor units of the order's currency (2500)."),
]


@app.command("pay")
def pay_command(
    order_id: OrderId,
    *,
    amount: Amount,
    reference: Annotated[
        str,
        typer.Option(metavar="TEXT", help="The transfer's reference, the receipt number..."),
    ],
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Record money that arrived for a placed order by hand (bank transfer, cash).

    The amount is at most what the order still owes; once its payments cover its total the
    order is paid and no longer expires. Refused when the shop's payment provider settles
    payments by its own events (Stripe). With --json: {"applied", "payment", "order"}.

    \b
    Example:
      orderly orders pay 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77 --amount 2500 \\
        --reference "SEPA 2031-04-02"
    """
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    request = ManualPayment(order_id, amount, reference)
    recorded = run_idempotent_use_case(
        lambda deps: record_manual_payment(deps, ctx, request), as_json=as_json
    )
    if as_json:
        output.print_json(
            {
                "applied": ctx.applies_changes,
                "payment": payment_views.payment_json(recorded.payment),
                "order": order_views.order_json(recorded.order),
            }
        )
        return
    if not ctx.applies_changes:
        output.not_applied("This payment would be recorded:")
    payment_views.show_payments([recorded.payment], title="Payment recorded")
    order_views.show_order(recorded.order, title=f"Order {recorded.order.id}")


@app.command("refund")
def refund_command(
    order_id: OrderId,
    *,
    amount: Amount,
    reason: Annotated[str, typer.Option(metavar="TEXT", help="Why (kept with the refund).")],
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Give back part or all of what an order's payments took, through their provider.

    The amount is at most what was paid minus what was refunded (pending refunds count);
    it is taken from the newest payments first. A refund the provider cannot take now stays
    pending and is tried again by Orderly's worker. With --dry-run, shows the refunds it
    would make. With --json: {"applied", "refunds": [...]}.

    \b
    Example:
      orderly orders refund 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77 --amount 500 \\
        --reason "damaged in transit"
    """
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    request = OrderRefund(order_id, amount, reason)
    made = run_idempotent_use_case(lambda deps: refund_order(deps, ctx, request), as_json=as_json)
    if as_json:
        refunds = [payment_views.refund_json(r) for r in made.refunds]
        output.print_json({"applied": ctx.applies_changes, "refunds": refunds})
        return
    if not ctx.applies_changes:
        output.not_applied("These refunds would be made:")
    payment_views.show_refunds(made.refunds)


@app.command("payments")
def payments_command(order_id: OrderId, wide: Wide = False, as_json: AsJson = False) -> None:
    """Show an order's payments and refunds, oldest first (--wide adds the payment each
    refund refunds).

    With --json: {"payments": [...], "refunds": [...]}.

    \b
    Example:
      orderly orders payments 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77
    """
    ctx = operator_context()
    payments = run_use_case(lambda deps: list_payments(deps, ctx, order_id), as_json=as_json)
    refunds = run_use_case(lambda deps: list_refunds(deps, ctx, order_id), as_json=as_json)
    if as_json:
        output.print_json(
            {
                "payments": [payment_views.payment_json(p) for p in payments],
                "refunds": [payment_views.refund_json(r) for r in refunds],
            }
        )
        return
    payment_views.show_payments(payments, wide=wide)
    payment_views.show_refunds(refunds, wide=wide)


@app.command("ship")
def ship_command(
    order_id: OrderId,
    *,
    carrier: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Who carries it (1-64 characters; default unspecified)."),
    ] = None,
    tracking_number: Annotated[
        str | None,
        typer.Option(metavar="NUMBER", help="The carrier's tracking number (with --carrier)."),
    ] = None,
    tracking_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Where the customer follows it: an http(s) URL."),
    ] = None,
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Ship everything a paid (or partially shipped) order has left to ship, in one
    shipment: its reserved stock leaves the stock on hand.

    Without --carrier and --tracking-number the shipment's carrier and tracking number are
    "unspecified". To ship some units only: orderly shipments create.

    \b
    Example:
      orderly orders ship 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77 --if-version 2 \\
        --carrier DHL --tracking-number JD014600006281230704
    """
    given = (carrier, tracking_number, tracking_url)
    if any(value is not None for value in given) and (carrier is None or tracking_number is None):
        raise typer.BadParameter(
            "give --carrier and --tracking-number together", param_hint="'--carrier'"
        )
    tracking = None
    if carrier is not None and tracking_number is not None:
        tracking = Tracking(carrier, tracking_number, tracking_url)

    async def ship(
        deps: Dependencies, ctx: Context, step: OrderStep
    ) -> Idempotent[Order, StepError | InvalidInput]:
        return await ship_order(deps, ctx, step, tracking)

    _step(
        ship,
        order_id,
        if_version=if_version,
        dry_run=dry_run,
        idempotency_key=idempotency_key,
        as_json=as_json,
        done="shipped",
    )


@app.command("deliver")
@_step_command(deliver_order, done="delivered")
def deliver_command() -> None:
    """Mark a shipped order delivered.

    \b
    Example:
      orderly orders deliver 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77
    """


@app.command("cancel")
def cancel_command(
    order_id: OrderId,
    *,
    reason: Annotated[
        str, typer.Option(metavar="TEXT", help="Why the order is cancelled (kept with it).")
    ] = "cancelled",
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Cancel a placed or paid order, releasing its reserved stock and refunding what its
    payments took.

    A partially shipped, shipped, delivered or already cancelled order cannot be cancelled
    (what remains of a partially shipped one can: orders cancel-remainder).

    \b
    Example:
      orderly orders cancel 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77 --reason "customer called"
    """

    async def cancel(
        deps: Dependencies, ctx: Context, step: OrderStep
    ) -> Idempotent[Order, StepError | InvalidInput]:
        return await cancel_order(deps, ctx, step, reason)

    _step(
        cancel,
        order_id,
        if_version=if_version,
        dry_run=dry_run,
        idempotency_key=idempotency_key,
        as_json=as_json,
        done="cancelled",
    )


@app.command("cancel-remainder")
def cancel_remainder_command(
    order_id: OrderId,
    *,
    line: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SKU:QTY",
            help="Units no longer to ship, at most what remains of the line; repeat per SKU. "
            "Without it, everything remaining.",
        ),
    ] = None,
    reason: Annotated[
        str, typer.Option(metavar="TEXT", help="Why (kept with the order and its refunds).")
    ] = "cancelled",
    if_version: IfVersion = None,
    dry_run: DryRun = False,
    idempotency_key: IdempotencyKey = None,
    as_json: AsJson = False,
) -> None:
    """Cancel some or all of what a paid or partially shipped order has left to ship.

    The units' reserved stock is released and what they cost is refunded through the
    order's payment provider (the shipping too when nothing of the order shipped); under the
    manual provider the refund records money staff give back by hand. Once nothing remains
    to ship the order is shipped (delivered, if all it shipped was) or, when nothing shipped,
    cancelled. With --json: {"applied", "order": {...}, "refunds": [...]}.

    \b
    Examples:
      orderly orders cancel-remainder 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77 --line MUG-1:1
      orderly orders cancel-remainder 5a0e7c1e-3b1f-4d0a-9e53-0f5e2d1c9a77 --reason "discontinued"
    """
    lines = None if not line else tuple(unit_line(text) for text in line)
    request = RemainderCancellation(order_id, lines, reason, if_version)
    ctx = operator_context(dry_run=dry_run, idempotency_key=idempotency_key)
    done = run_idempotent_use_case(
        lambda deps: cancel_remainder(deps, ctx, request), as_json=as_json
    )
    if as_json:
        output.print_json(
            {
                "applied": ctx.applies_changes,
                "order": order_views.order_json(done.order),
                "refunds": [payment_views.refund_json(r) for r in done.refunds],
            }
        )
        return
    order_views.show_written(done.order, applied=ctx.applies_changes, done="changed", as_json=False)
    payment_views.show_refunds(done.refunds, title="Refunds made")


@app.command("expire")
def expire_command(dry_run: DryRun = False, as_json: AsJson = False) -> None:
    """Cancel every unpaid order past its expiry, releasing its stock.

    This is what Orderly's scheduled job runs; each order is cancelled with reason
    "expired". Prints the orders expired (with --dry-run: those that would be). With
    --json: {"applied": ..., "expired": ["<order id>", ...]}.

    \b
    Examples:
      orderly orders expire --dry-run
      orderly orders expire
    """
    ctx = operator_context(dry_run=dry_run)
    report = run_use_case(lambda deps: expire_orders(deps, ctx), as_json=as_json)
    if as_json:
        output.print_json({"applied": report.applied, "expired": [str(i) for i in report.expired]})
    else:
        order_views.show_expiry(report)

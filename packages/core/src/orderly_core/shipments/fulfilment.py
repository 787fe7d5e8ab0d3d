"""What shipping, delivering and cancelling share: the rules of their input, and their effects
inside the caller's transaction on a locked order: its line counts, its status (which follows
its shipments), its stock, its refunds, its audit trail and its events.

An order's status follows what became of its units:

- units left to ship: ``partially_shipped`` once some shipped, else ``paid``;
- none left: ``cancelled`` when none ever shipped, ``delivered`` when every unit shipped was
  delivered, else ``shipped``.

Its ``delivered_at`` is the time of its last delivery so far (a partially shipped order's
delivered units count their return window from it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from orderly_core.catalogue.ledger import MovementKind
from orderly_core.catalogue.validation import Fields
from orderly_core.orders.effects import EVENT_OF, announce, move_units
from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import MAX_LINES, MAX_QUANTITY, Order, OrderStatus, order_view
from orderly_core.orders.steps import visible_order
from orderly_core.payments.common import actor_ref
from orderly_core.payments.model import Refund
from orderly_core.payments.refunds import record_refunds
from orderly_core.payments.views import refunded_amount, succeeded_amount
from orderly_core.platform.audit import record
from orderly_core.platform.outbox import EventType
from orderly_core.platform.versions import announce_version
from orderly_core.shared.authorization import fulfilment_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict, version_conflict
from orderly_core.shared.validation import FieldErrors
from orderly_core.shipments.errors import ExceedsRemaining, OrderNotFulfillable, RemainingLine
from orderly_core.shipments.model import (
    CARRIER_MAX,
    TRACKING_NUMBER_MAX,
    TRACKING_URL_MAX,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    Tracking,
    shipment_view,
)
from orderly_core.shipments.ports import ShipmentsServices, ShipmentsUnit

FULFILLABLE = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED})

# --- input ------------------------------------------------------------------------------------


def checked_lines(fields: FieldErrors, lines: Sequence[ShipmentLine]) -> tuple[ShipmentLine, ...]:
    """``lines`` with their SKUs normalised, in SKU order: 1-100 lines, one per SKU, each of
    1-1000 units; the errors are collected in ``fields``."""
    rules = Fields()
    if not lines:
        fields.fail("lines", "must name at least one line")
    elif len(lines) > MAX_LINES:
        fields.fail("lines", f"must hold at most {MAX_LINES} lines")
    seen: dict[str, int] = {}
    checked: list[ShipmentLine] = []
    for index, line in enumerate(lines[:MAX_LINES]):
        sku = rules.sku(line.sku, f"lines[{index}].sku")
        if not 1 <= line.quantity <= MAX_QUANTITY:
            fields.fail(f"lines[{index}].quantity", f"must be between 1 and {MAX_QUANTITY}")
        if sku in seen:
            fields.fail(f"lines[{index}].sku", f"repeats lines[{seen[sku]}]")
        seen.setdefault(sku, index)
        checked.append(ShipmentLine(sku, line.quantity))
    fields.errors.extend(rules.errors)
    return tuple(sorted(checked, key=lambda line: line.sku))


def _checked_text(fields: FieldErrors, name: str, raw: str, longest: int) -> str:
    value = raw.strip()
    if fields.text(name, value):
        if not value:
            fields.fail(name, "must not be empty")
        elif len(value) > longest:
            fields.fail(name, f"must be at most {longest} characters")
    return value


def _url_problem(url: str) -> str | None:
    if len(url) > TRACKING_URL_MAX:
        return f"must be at most {TRACKING_URL_MAX} characters"
    if any(c.isspace() for c in url) or not url.isprintable():
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        return "must be an absolute http:// or https:// URL"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an absolute http:// or https:// URL"
    if parts.username is not None or parts.password is not None:
        return "must not hold credentials"
    return None


def checked_tracking(fields: FieldErrors, tracking: Tracking) -> Tracking:
    """``tracking`` with its text trimmed: a carrier (1-64 characters) and a tracking number
    (1-128), single-line text; the tracking URL, when there is one, an absolute ``http(s)://``
    URL of at most 2048 characters, without credentials, spaces or control characters."""
    carrier = _checked_text(fields, "carrier", tracking.carrier, CARRIER_MAX)
    number = _checked_text(fields, "tracking_number", tracking.tracking_number, TRACKING_NUMBER_MAX)
    url = tracking.tracking_url.strip() if tracking.tracking_url is not None else None
    if url == "":
        url = None
    problem = _url_problem(url) if url is not None and fields.text("tracking_url", url) else None
    if problem:
        fields.fail("tracking_url", problem)
    return Tracking(carrier, number, url)


async def order_to_fulfil(
    uow: ShipmentsUnit, ctx: Context, order_id: str, expected_version: int | None, *, action: str
) -> Order | OrderNotFound | Forbidden | VersionConflict | OrderNotFulfillable:
    """The order ``order_id`` names, locked, for the actor to ship or cancel units of (``action``
    says which, in a refusal): not found when the actor may not see it, refused when they may
    not fulfil orders, a conflict when ``expected_version`` is not its version, and not
    fulfillable unless it is paid or partially shipped."""
    order = await visible_order(uow, ctx, order_id, for_update=True)
    if isinstance(order, OrderNotFound):
        return order
    if denied := fulfilment_denied(ctx.actor, action):
        return denied
    subject = ("order", str(order.id))
    if conflict := version_conflict(subject, expected_version, order.version):
        return conflict
    if order.status not in FULFILLABLE:
        return OrderNotFulfillable(str(order.id), order.status.value)
    return order


def remaining_refusal(
    order: Order, lines: Sequence[ShipmentLine]
) -> InvalidInput | ExceedsRemaining | None:
    """Why ``lines`` cannot ship (or be cancelled) from what ``order`` has left to ship: a
    SKU the order does not hold, or more units than remain of a line."""
    remaining = {line.sku: line.unshipped for line in order.lines}
    fields = FieldErrors()
    over: list[RemainingLine] = []
    for index, line in enumerate(lines):
        if line.sku not in remaining:
            fields.fail(f"lines[{index}].sku", f"'{line.sku}' is not a line of this order")
        elif line.quantity > remaining[line.sku]:
            over.append(RemainingLine(line.sku, line.quantity, remaining[line.sku]))
    if fields.errors:
        return InvalidInput(tuple(fields.errors))
    if over:
        return ExceedsRemaining(str(order.id), tuple(over))
    return None


def remainder(order: Order) -> tuple[ShipmentLine, ...]:
    """Every unit ``order`` has left to ship, in SKU order."""
    left = (ShipmentLine(line.sku, line.unshipped) for line in order.lines if line.unshipped)
    return tuple(sorted(left, key=lambda line: line.sku))


# --- effects ----------------------------------------------------------------------------------


def following_status(order: Order) -> OrderStatus:
    """The status ``order`` (paid or later) has given what became of its units."""
    if any(line.unshipped for line in order.lines):
        shipped = any(line.shipped for line in order.lines)
        return OrderStatus.PARTIALLY_SHIPPED if shipped else OrderStatus.PAID
    if not any(line.shipped for line in order.lines):
        return OrderStatus.CANCELLED
    if all(line.delivered == line.shipped for line in order.lines):
        return OrderStatus.DELIVERED
    return OrderStatus.SHIPPED


async def _moved(
    deps: ShipmentsServices,
    uow: ShipmentsUnit,
    ctx: Context,
    order: Order,
    changed: Order,
    *,
    operation: str,
) -> Order:
    """Save ``changed`` (``order`` with new line counts) as the order's next version with the
    status it now follows; audit it and announce a change of status."""
    status = following_status(changed)
    now = deps.clock.now()
    moved = replace(changed, status=status, version=order.version + 1, updated_at=now)
    await uow.orders.save(moved)
    await uow.orders.save_lines(moved)
    subject = ("order", str(order.id))
    if status is not order.status:
        operation = f"order.{status.value}"
    before, after = order_view(order), order_view(moved)
    await record(deps, uow, ctx, operation, target=subject, before=before, after=after)
    if status is not order.status:
        await announce(deps, uow, ctx, EVENT_OF[status], moved)
    return moved


async def _announce_shipment(
    deps: ShipmentsServices,
    uow: ShipmentsUnit,
    ctx: Context,
    event_type: EventType,
    shipment: Shipment,
) -> None:
    await announce_version(
        deps, uow, ctx, event_type, shipment, subject_type="shipment", view=shipment_view
    )


async def ship(
    deps: ShipmentsServices,
    uow: ShipmentsUnit,
    ctx: Context,
    order: Order,
    *,
    lines: tuple[ShipmentLine, ...],
    tracking: Tracking,
) -> tuple[Order, Shipment]:
    """Ship ``lines`` (checked against what remains) of the locked ``order``: one shipment,
    its stock leaving the warehouse (one ledger movement per line, naming the shipment)."""
    now = deps.clock.now()
    shipment = Shipment(
        id=deps.ids.new_id(),
        order_id=order.id,
        lines=lines,
        carrier=tracking.carrier,
        tracking_number=tracking.tracking_number,
        tracking_url=tracking.tracking_url,
        status=ShipmentStatus.SHIPPED,
        created_by=actor_ref(ctx.actor),
        created_at=now,
        updated_at=now,
        version=1,
    )
    await uow.shipments.add(shipment)
    units = shipment.units
    counted = tuple(
        replace(line, shipped=line.shipped + units.get(line.sku, 0)) for line in order.lines
    )
    moved = await _moved(
        deps, uow, ctx, order, replace(order, lines=counted), operation="order.ship"
    )
    reference = str(shipment.id)
    await move_units(deps, uow, ctx, units, kind=MovementKind.SHIPMENT, reference=reference)
    target = ("shipment", str(shipment.id))
    view = shipment_view(shipment)
    await record(deps, uow, ctx, "shipment.create", target=target, before=None, after=view)
    await _announce_shipment(deps, uow, ctx, EventType.SHIPMENT_CREATED, shipment)
    return moved, shipment


async def deliver(
    deps: ShipmentsServices,
    uow: ShipmentsUnit,
    ctx: Context,
    order: Order,
    shipments: Sequence[Shipment],
    *,
    everything: bool = False,
) -> tuple[Order, tuple[Shipment, ...]]:
    """Deliver the locked ``shipments`` (shipped, not yet delivered) of the locked ``order``:
    their lines' units delivered, the order's ``delivered_at`` now. ``everything`` delivers
    every unit the order shipped, those of orders shipped before shipments were kept too."""
    now = deps.clock.now()
    delivered: list[Shipment] = []
    units: dict[str, int] = {}
    for shipment in shipments:
        done = replace(
            shipment,
            status=ShipmentStatus.DELIVERED,
            delivered_at=now,
            updated_at=now,
            version=shipment.version + 1,
        )
        await uow.shipments.save(done)
        target = ("shipment", str(shipment.id))
        before, after = shipment_view(shipment), shipment_view(done)
        await record(deps, uow, ctx, "shipment.deliver", target=target, before=before, after=after)
        await _announce_shipment(deps, uow, ctx, EventType.SHIPMENT_DELIVERED, done)
        for sku, quantity in shipment.units.items():
            units[sku] = units.get(sku, 0) + quantity
        delivered.append(done)
    counted = tuple(
        replace(
            line,
            delivered=line.shipped
            if everything
            else min(line.shipped, line.delivered + units.get(line.sku, 0)),
        )
        for line in order.lines
    )
    changed = replace(order, lines=counted, delivered_at=now)
    return await _moved(deps, uow, ctx, order, changed, operation="order.deliver"), tuple(delivered)


async def cancel_units(
    deps: ShipmentsServices,
    uow: ShipmentsUnit,
    ctx: Context,
    order: Order,
    *,
    lines: Sequence[ShipmentLine],
    reason: str,
) -> tuple[Order, tuple[Refund, ...]]:
    """Cancel ``lines`` (checked against what remains) of the locked ``order``: their stock
    released (one ledger movement per line, naming the order), and what they cost refunded,
    pending until the caller settles the refunds once committed. Shipping is refunded only
    when the whole order is cancelled before anything shipped. The refund is at most what
    the order's payments took and its refunds have not given back already (an unpaid order
    refunds nothing)."""
    units: Mapping[str, int] = {line.sku: line.quantity for line in lines}
    counted = tuple(
        replace(line, cancelled=line.cancelled + units.get(line.sku, 0)) for line in order.lines
    )
    changed = replace(order, lines=counted)
    if following_status(changed) is OrderStatus.CANCELLED:
        changed = replace(changed, cancel_reason=reason)
    moved = await _moved(deps, uow, ctx, order, changed, operation="order.cancel_remainder")
    reference = str(order.id)
    await move_units(deps, uow, ctx, units, kind=MovementKind.RELEASE, reference=reference)
    prices = {line.sku: line.unit_price.amount for line in order.lines}
    amount = sum(prices[sku] * quantity for sku, quantity in units.items())
    if moved.status is OrderStatus.CANCELLED:
        amount += order.shipping_price
    payments = await uow.payments.of_order(order.id)
    refundable = succeeded_amount(payments) - refunded_amount(await uow.refunds.of_order(order.id))
    amount = min(amount, refundable)
    if amount <= 0:
        return moved, ()
    made = await record_refunds(deps, uow, ctx, moved, amount=amount, reason=reason)
    # ``amount`` is within what is refundable, so every refund was recorded.
    return moved, made if isinstance(made, tuple) else ()

"""Shipping some of an order's units, delivering a shipment, and reading an order's shipments.

Staff, admins, operators and Orderly itself ship and deliver; a customer reads the shipments
of their own orders, with their tracking (anyone else's order is not found).
"""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import Order
from orderly_core.orders.reading import order_records
from orderly_core.orders.steps import visible_order
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import fulfilment_denied, may_see_order
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict, version_conflict
from orderly_core.shared.validation import FieldErrors, parse_id
from orderly_core.shipments.errors import (
    ExceedsRemaining,
    OrderNotFulfillable,
    ShipmentAlreadyDelivered,
    ShipmentNotFound,
)
from orderly_core.shipments.fulfilment import (
    checked_lines,
    checked_tracking,
    deliver,
    order_to_fulfil,
    remaining_refusal,
    ship,
)
from orderly_core.shipments.model import Shipment, ShipmentLine, ShipmentStatus, Tracking
from orderly_core.shipments.ports import ShipmentsServices, ShipmentsUnit


@dataclass(frozen=True, slots=True)
class NewShipment:
    order_id: str
    lines: tuple[ShipmentLine, ...]
    tracking: Tracking
    expected_version: int | None = None  # of the order


@dataclass(frozen=True, slots=True)
class ShipmentStep:
    shipment_id: str
    expected_version: int | None = None  # of the shipment


ShipmentError = (
    Forbidden
    | InvalidInput
    | OrderNotFound
    | VersionConflict
    | OrderNotFulfillable
    | ExceedsRemaining
)
DeliveryError = Forbidden | ShipmentNotFound | VersionConflict | ShipmentAlreadyDelivered

_SHIPMENT_OUTCOMES = (OrderNotFound, VersionConflict, OrderNotFulfillable, ExceedsRemaining)
_DELIVERY_OUTCOMES = (ShipmentNotFound, VersionConflict, ShipmentAlreadyDelivered)


def _checked(new: NewShipment) -> NewShipment | InvalidInput:
    fields = FieldErrors()
    lines = checked_lines(fields, new.lines)
    tracking = checked_tracking(fields, new.tracking)
    if fields.errors:
        return InvalidInput(tuple(fields.errors))
    return NewShipment(new.order_id, lines, tracking, new.expected_version)


async def create_shipment(
    deps: ShipmentsServices, ctx: Context, new: NewShipment
) -> Idempotent[Shipment, ShipmentError]:
    """Ship some of a paid or partially shipped order's remaining units (staff, admins,
    operators): ``lines`` (1-100, one per SKU, 1-1000 units each, at most what remains of
    the line: ``exceeds_remaining`` otherwise, naming each line's SKU, what was asked and
    what remains), a ``carrier`` and ``tracking_number`` and an optional ``tracking_url``.

    The units leave the warehouse (``on_hand`` and ``reserved`` fall; one ledger movement
    per line, naming the shipment); the order becomes ``partially_shipped`` while units
    remain to ship, ``shipped`` when none do. Announces ``shipment.created`` (with its
    tracking) and the order's change of status (``order.partially_shipped``,
    ``order.shipped``). ``expected_version`` (the order's) refuses a stale copy."""
    checked = _checked(new)
    if isinstance(checked, InvalidInput):
        return Failure(checked)

    async def work(uow: ShipmentsUnit) -> Result[Shipment, ShipmentError]:
        order = await order_to_fulfil(
            uow, ctx, checked.order_id, checked.expected_version, action="ship orders"
        )
        if not isinstance(order, Order):
            return Failure(order)
        if refusal := remaining_refusal(order, checked.lines):
            return Failure(refusal)
        _, shipment = await ship(
            deps, uow, ctx, order, lines=checked.lines, tracking=checked.tracking
        )
        return Success(shipment)

    async def replay_refusal(uow: ShipmentsUnit) -> ShipmentError | None:
        order = await visible_order(uow, ctx, checked.order_id, for_update=False)
        if isinstance(order, OrderNotFound):
            return order
        return fulfilment_denied(ctx.actor, "ship orders")

    operation = Operation("shipment.create", checked, Shipment, _SHIPMENT_OUTCOMES)
    return await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )


async def _visible_shipment(
    uow: ShipmentsUnit, ctx: Context, shipment_id: str, *, for_update: bool
) -> Shipment | ShipmentNotFound:
    """The shipment ``shipment_id`` names, if its order is one the actor may see."""
    wanted = parse_id(shipment_id)
    shipment = await uow.shipments.get(wanted, for_update=for_update) if wanted else None
    order = await uow.orders.get(shipment.order_id) if shipment else None
    if shipment is None or order is None or not may_see_order(ctx.actor, order.customer_id):
        return ShipmentNotFound(shipment_id)
    return shipment


async def deliver_shipment(
    deps: ShipmentsServices, ctx: Context, step: ShipmentStep
) -> Idempotent[Shipment, DeliveryError]:
    """Mark a shipment delivered (staff, admins, operators): its units count as delivered
    and its order's ``delivered_at`` is now. When every unit the order shipped is delivered
    and none remains to ship, the order becomes ``delivered`` (``order.delivered``); a
    partially shipped order stays so. Announces ``shipment.delivered``; a shipment delivered
    already is ``shipment_already_delivered``. ``expected_version`` is the shipment's."""

    async def work(uow: ShipmentsUnit) -> Result[Shipment, DeliveryError]:
        found = await _visible_shipment(uow, ctx, step.shipment_id, for_update=False)
        if isinstance(found, ShipmentNotFound):
            return Failure(found)
        if denied := fulfilment_denied(ctx.actor, "deliver shipments"):
            return Failure(denied)
        order = await uow.orders.get(found.order_id, for_update=True)  # the order first
        shipment = await uow.shipments.get(found.id, for_update=True)
        if order is None or shipment is None:
            return Failure(ShipmentNotFound(step.shipment_id))
        subject = ("shipment", str(shipment.id))
        if conflict := version_conflict(subject, step.expected_version, shipment.version):
            return Failure(conflict)
        if shipment.status is ShipmentStatus.DELIVERED:
            return Failure(ShipmentAlreadyDelivered(str(shipment.id)))
        _, delivered = await deliver(deps, uow, ctx, order, (shipment,))
        return Success(delivered[0])

    async def replay_refusal(uow: ShipmentsUnit) -> DeliveryError | None:
        found = await _visible_shipment(uow, ctx, step.shipment_id, for_update=False)
        if isinstance(found, ShipmentNotFound):
            return found
        return fulfilment_denied(ctx.actor, "deliver shipments")

    operation = Operation("shipment.deliver", step, Shipment, _DELIVERY_OUTCOMES)
    return await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )


async def list_shipments(
    deps: ShipmentsServices, ctx: Context, order_id: str
) -> Result[tuple[Shipment, ...], OrderNotFound]:
    """An order's shipments, oldest first, with their tracking. Customers see their own
    orders' only: anyone else's order is not found."""
    return await order_records(
        deps, ctx, order_id, lambda uow, wanted: uow.shipments.of_order(wanted)
    )


async def get_shipment(
    deps: ShipmentsServices, ctx: Context, shipment_id: str
) -> Result[Shipment, ShipmentNotFound]:
    """One shipment. Customers see their own orders' only: anyone else's is not found."""

    async def work(uow: ShipmentsUnit) -> Result[Shipment, ShipmentNotFound]:
        found = await _visible_shipment(uow, ctx, shipment_id, for_update=False)
        return Failure(found) if isinstance(found, ShipmentNotFound) else Success(found)

    return await in_transaction(deps, ctx, work)

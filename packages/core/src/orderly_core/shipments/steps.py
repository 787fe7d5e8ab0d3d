"""The order's own steps, as its shipments make them: ship everything remaining, deliver
everything shipped, cancel the whole order, and cancel what remains to ship of a paid order.

Cancelling gives back what the cancelled units cost (and the shipping, when the whole order
is cancelled before anything shipped) through the provider the order's payments went
through: the refunds are recorded with the cancellation, then asked of the provider once it
is committed (Orderly's follow-ups retry any the provider could not take yet). Under the
``manual`` provider a refund is recorded as given back at once: staff give the money back by
hand (a bank transfer, cash) and the refund records that they did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import Order, OrderStatus
from orderly_core.orders.steps import (
    CANCELLED_REASON,
    STEP_OUTCOMES,
    OrderStep,
    StepError,
    reason_problem,
    step_refusal,
    visible_order,
)
from orderly_core.payments.model import Refund
from orderly_core.payments.refunds import settle_refund, with_refunds_settled
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.transaction import in_idempotent_transaction
from orderly_core.shared.authorization import fulfilment_denied, order_move_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict
from orderly_core.shared.validation import FieldErrors
from orderly_core.shipments.errors import ExceedsRemaining, OrderNotFulfillable
from orderly_core.shipments.fulfilment import (
    cancel_units,
    checked_lines,
    checked_tracking,
    deliver,
    order_to_fulfil,
    remainder,
    remaining_refusal,
    ship,
)
from orderly_core.shipments.model import UNSPECIFIED, ShipmentLine, ShipmentStatus, Tracking
from orderly_core.shipments.ports import ShipmentsServices, ShipmentsUnit

type _Work[T, E] = Callable[[ShipmentsUnit], Awaitable[Result[T, E]]]

# What the ship shortcut records when it is given no tracking.
NO_TRACKING = Tracking(UNSPECIFIED, UNSPECIFIED)


async def ship_order(
    deps: ShipmentsServices, ctx: Context, step: OrderStep, tracking: Tracking | None = None
) -> Idempotent[Order, StepError | InvalidInput]:
    """Ship everything a paid or partially shipped order has left to ship (staff), in one
    shipment: the order becomes ``shipped``. Without ``tracking`` the shipment's carrier and
    tracking number are ``unspecified``."""
    fields = FieldErrors()
    tracking = NO_TRACKING if tracking is None else checked_tracking(fields, tracking)
    if invalid := fields.invalid():
        return invalid

    async def work(uow: ShipmentsUnit) -> Result[Order, StepError | InvalidInput]:
        order = await visible_order(uow, ctx, step.order_id, for_update=True)
        if isinstance(order, OrderNotFound):
            return Failure(order)
        if refusal := step_refusal(ctx, step, order, OrderStatus.SHIPPED):
            return Failure(refusal)
        shipped, _ = await ship(deps, uow, ctx, order, lines=remainder(order), tracking=tracking)
        return Success(shipped)

    return await _order_step(
        deps, ctx, step, OrderStatus.SHIPPED, work=work, request={"tracking": tracking}
    )


async def deliver_order(
    deps: ShipmentsServices, ctx: Context, step: OrderStep
) -> Idempotent[Order, StepError]:
    """Deliver every shipment of a shipped order not yet delivered (staff): the order
    becomes ``delivered``. A partially shipped order's shipments are delivered one by one."""

    async def work(uow: ShipmentsUnit) -> Result[Order, StepError]:
        order = await visible_order(uow, ctx, step.order_id, for_update=True)
        if isinstance(order, OrderNotFound):
            return Failure(order)
        if refusal := step_refusal(ctx, step, order, OrderStatus.DELIVERED):
            return Failure(refusal)
        pending = [
            locked
            for shipment in await uow.shipments.of_order(order.id)
            if shipment.status is ShipmentStatus.SHIPPED
            and (locked := await uow.shipments.get(shipment.id, for_update=True)) is not None
        ]
        delivered, _ = await deliver(deps, uow, ctx, order, pending, everything=True)
        return Success(delivered)

    return await _order_step(deps, ctx, step, OrderStatus.DELIVERED, work=work, request={})


async def cancel_order(
    deps: ShipmentsServices, ctx: Context, step: OrderStep, reason: str = CANCELLED_REASON
) -> Idempotent[Order, StepError | InvalidInput]:
    """Cancel a placed or paid order (its owner, or staff) with a reason of at most 255
    characters: its stock is released, and what its payments took is refunded (all of it:
    nothing shipped). Shipped orders cannot be cancelled; a partially shipped order's
    remainder can (see :func:`cancel_remainder`)."""
    if problem := reason_problem(reason):
        return Failure(InvalidInput.single("reason", problem))
    reason = reason.strip() or CANCELLED_REASON
    made: list[Refund] = []

    async def work(uow: ShipmentsUnit) -> Result[Order, StepError | InvalidInput]:
        made.clear()
        order = await visible_order(uow, ctx, step.order_id, for_update=True)
        if isinstance(order, OrderNotFound):
            return Failure(order)
        if refusal := step_refusal(ctx, step, order, OrderStatus.CANCELLED):
            return Failure(refusal)
        cancelled, refunds = await cancel_units(
            deps, uow, ctx, order, lines=remainder(order), reason=reason
        )
        made.extend(refunds)
        return Success(cancelled)

    result = await _order_step(
        deps, ctx, step, OrderStatus.CANCELLED, work=work, request={"reason": reason}
    )
    if isinstance(result, Success) and ctx.applies_changes:
        for refund in made:
            await settle_refund(deps, ctx, refund.id)
    return result


async def _order_step[E](
    deps: ShipmentsServices,
    ctx: Context,
    step: OrderStep,
    target: OrderStatus,
    *,
    work: _Work[Order, E],
    request: dict[str, object],
) -> Idempotent[Order, E | StepError]:
    """Run one of the order's steps to ``target``: idempotent, its replays answering only
    an actor who may still see the order and make the step."""

    async def replay_refusal(uow: ShipmentsUnit) -> StepError | None:
        """Today's answer to an actor who may no longer see the order or make the step."""
        order = await visible_order(uow, ctx, step.order_id, for_update=False)
        if isinstance(order, OrderNotFound):
            return order
        return order_move_denied(ctx.actor, target)

    operation = Operation(f"order.{target.value}", {"step": step} | request, Order, STEP_OUTCOMES)
    result: Idempotent[Order, E | StepError] = await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )
    return result


# --- cancelling what remains ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RemainderCancellation:
    order_id: str
    lines: tuple[ShipmentLine, ...] | None = None  # ``None``: everything remaining
    reason: str = CANCELLED_REASON
    expected_version: int | None = None  # of the order


@dataclass(frozen=True, slots=True)
class Cancellation:
    """The order once its remainder (or some of it) is cancelled, and the refunds of what
    the cancelled units cost (none when nothing was paid)."""

    order: Order
    refunds: tuple[Refund, ...]


CancellationError = (
    Forbidden
    | InvalidInput
    | OrderNotFound
    | VersionConflict
    | OrderNotFulfillable
    | ExceedsRemaining
)
_CANCELLATION_OUTCOMES = (OrderNotFound, VersionConflict, OrderNotFulfillable, ExceedsRemaining)


def _checked_cancellation(request: RemainderCancellation) -> RemainderCancellation | InvalidInput:
    fields = FieldErrors()
    lines = None if request.lines is None else checked_lines(fields, request.lines)
    if problem := reason_problem(request.reason):
        fields.fail("reason", problem)
    if fields.errors:
        return InvalidInput(tuple(fields.errors))
    reason = request.reason.strip() or CANCELLED_REASON
    return RemainderCancellation(request.order_id, lines, reason, request.expected_version)


async def cancel_remainder(
    deps: ShipmentsServices, ctx: Context, request: RemainderCancellation
) -> Idempotent[Cancellation, CancellationError]:
    """Cancel some or all of what a paid or partially shipped order has left to ship (staff,
    admins, operators): ``lines`` (each at most what remains of its line:
    ``exceeds_remaining`` otherwise; absent, everything remaining), with a ``reason``.

    The cancelled units' stock is released (one ledger movement per line) and what they
    cost is refunded (the shipping too when the whole order is cancelled before anything
    shipped), at most what the order's payments took and its refunds have not given back
    already. The order's status follows: unchanged while units remain to ship; once none
    do, ``shipped`` (or ``delivered``, when all it shipped was delivered) if any shipped,
    ``cancelled`` if none did. The refunds are asked of the provider once the cancellation
    is committed; the answer holds them as they then are. A dry run asks the provider
    nothing."""
    checked = _checked_cancellation(request)
    if isinstance(checked, InvalidInput):
        return Failure(checked)

    async def work(uow: ShipmentsUnit) -> Result[Cancellation, CancellationError]:
        action = "cancel what remains of orders"
        order = await order_to_fulfil(
            uow, ctx, checked.order_id, checked.expected_version, action=action
        )
        if not isinstance(order, Order):
            return Failure(order)
        lines = remainder(order) if checked.lines is None else checked.lines
        if refusal := remaining_refusal(order, lines):
            return Failure(refusal)
        cancelled, refunds = await cancel_units(
            deps, uow, ctx, order, lines=lines, reason=checked.reason
        )
        return Success(Cancellation(cancelled, refunds))

    async def replay_refusal(uow: ShipmentsUnit) -> CancellationError | None:
        order = await visible_order(uow, ctx, checked.order_id, for_update=False)
        if isinstance(order, OrderNotFound):
            return order
        return fulfilment_denied(ctx.actor, "cancel what remains of orders")

    operation = Operation("order.cancel_remainder", checked, Cancellation, _CANCELLATION_OUTCOMES)
    recorded = await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )
    return await with_refunds_settled(deps, ctx, recorded)

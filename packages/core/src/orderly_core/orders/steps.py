"""The steps of an order's lifecycle: ship, deliver, cancel, and the expiry of unpaid orders.
Each step locks its order, checks who may take it and from which status, moves the order's
stock where the step does (see :mod:`orderly_core.orders.effects`), and is audited and
announced in its own transaction.

An order becomes paid only through its payments (:mod:`orderly_core.payments`), which call
:func:`mark_paid` in their own transaction once the order's succeeded payments cover its
total."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from returns.result import Failure, Result, Success

from orderly_core.catalogue.ledger import MovementKind
from orderly_core.orders.effects import EVENT_OF, announce, move_stock
from orderly_core.orders.errors import IllegalTransition, OrderNotFound
from orderly_core.orders.model import Order, OrderLine, OrderStatus, may_move, order_view
from orderly_core.orders.ports import OrdersServices, OrdersUnit
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.ports import Services
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import may_see_order, operations_denied, order_move_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput, VersionConflict, version_conflict
from orderly_core.shared.validation import parse_id, text_problem


@dataclass(frozen=True, slots=True)
class OrderStep:
    order_id: str
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    expired: tuple[uuid.UUID, ...]
    applied: bool


StepError = Forbidden | OrderNotFound | IllegalTransition | VersionConflict

# The refusals that are outcomes of a request, replayed to its retries like a success.
_STEP_OUTCOMES = (OrderNotFound, IllegalTransition, VersionConflict)

_STOCK_EFFECT = {
    OrderStatus.SHIPPED: MovementKind.SHIPMENT,
    OrderStatus.CANCELLED: MovementKind.RELEASE,
}


def _counted(lines: tuple[OrderLine, ...], target: OrderStatus) -> tuple[OrderLine, ...] | None:
    """The lines' counts after a step to ``target`` (``None`` when they do not change):
    shipping ships every unit still to ship, delivering delivers every unit shipped."""
    if target is OrderStatus.SHIPPED:
        return tuple(replace(line, shipped=line.shipped + line.unshipped) for line in lines)
    if target is OrderStatus.DELIVERED:
        return tuple(replace(line, delivered=line.shipped) for line in lines)
    return None


async def _visible_order(
    uow: OrdersUnit, ctx: Context, order_id: str, *, for_update: bool
) -> Order | OrderNotFound:
    """The order ``order_id`` names, if the actor may see it; anyone else's is not found."""
    wanted = parse_id(order_id)
    order = await uow.orders.get(wanted, for_update=for_update) if wanted else None
    if order is None or not may_see_order(ctx.actor, order.customer_id):
        return OrderNotFound(order_id)
    return order


def _step_refusal(
    ctx: Context, step: OrderStep, order: Order, target: OrderStatus
) -> StepError | None:
    """Why ``ctx``'s actor may not move ``order`` to ``target`` now, if they may not."""
    if denied := order_move_denied(ctx.actor, target):
        return denied
    subject = ("order", str(order.id))
    if conflict := version_conflict(subject, step.expected_version, order.version):
        return conflict
    if not may_move(order.status, target):
        return IllegalTransition(str(order.id), order.status.value, target.value)
    return None


async def _step(
    deps: OrdersServices,
    ctx: Context,
    step: OrderStep,
    target: OrderStatus,
    *,
    reason: str | None = None,
    expiring: bool = False,
) -> Idempotent[Order, StepError]:
    async def work(uow: OrdersUnit) -> Result[Order, StepError]:
        order = await _visible_order(uow, ctx, step.order_id, for_update=True)
        if isinstance(order, OrderNotFound):
            return Failure(order)
        if refusal := _step_refusal(ctx, step, order, target):
            return Failure(refusal)
        now = deps.clock.now()
        moved = replace(
            order,
            status=target,
            cancel_reason=reason if target is OrderStatus.CANCELLED else order.cancel_reason,
            version=order.version + 1,
            updated_at=now,
            delivered_at=now if target is OrderStatus.DELIVERED else order.delivered_at,
        )
        await uow.orders.save(moved)
        if (counted := _counted(order.lines, target)) is not None:
            moved = replace(moved, lines=counted)
            await uow.orders.save_lines(moved)
        if (kind := _STOCK_EFFECT.get(target)) is not None:
            await move_stock(deps, uow, ctx, order, kind=kind)
        operation = "order.expire" if expiring else f"order.{target.value}"
        before, after = order_view(order), order_view(moved)
        subject = ("order", str(order.id))
        await record(deps, uow, ctx, operation, target=subject, before=before, after=after)
        await announce(deps, uow, ctx, EVENT_OF[target], moved)
        return Success(moved)

    async def replay_refusal(uow: OrdersUnit) -> StepError | None:
        """Today's answer to an actor who may no longer see the order or make the step."""
        order = await _visible_order(uow, ctx, step.order_id, for_update=False)
        if isinstance(order, OrderNotFound):
            return order
        return order_move_denied(ctx.actor, target)

    if expiring:  # one sweep expires many orders: its key names the sweep, not a step
        return await in_transaction(deps, ctx, work)
    request = {"step": step, "reason": reason}
    operation = Operation(f"order.{target.value}", request, Order, _STEP_OUTCOMES)
    return await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )


async def mark_paid(
    deps: Services[OrdersUnit],
    uow: OrdersUnit,
    ctx: Context,
    order: Order,
    payment: Mapping[str, Any],
) -> Order:
    """Move a placed order, locked by the caller, to paid, inside the caller's transaction:
    audited (``order.paid``) and announced with the payment that completed it (``order.paid``
    carries the order and ``payment``). Only payments call this, once the order's succeeded
    payments cover its total; an order in any other status is returned unchanged."""
    if not may_move(order.status, OrderStatus.PAID):
        return order
    paid = replace(
        order, status=OrderStatus.PAID, version=order.version + 1, updated_at=deps.clock.now()
    )
    await uow.orders.save(paid)
    subject = ("order", str(order.id))
    before, after = order_view(order), order_view(paid)
    await record(deps, uow, ctx, "order.paid", target=subject, before=before, after=after)
    await announce(deps, uow, ctx, EVENT_OF[OrderStatus.PAID], paid, extra={"payment": payment})
    return paid


async def ship_order(
    deps: OrdersServices, ctx: Context, step: OrderStep
) -> Idempotent[Order, StepError]:
    """Mark a paid order shipped (staff): its reserved stock leaves the warehouse."""
    return await _step(deps, ctx, step, OrderStatus.SHIPPED)


async def deliver_order(
    deps: OrdersServices, ctx: Context, step: OrderStep
) -> Idempotent[Order, StepError]:
    """Mark a shipped order delivered (staff)."""
    return await _step(deps, ctx, step, OrderStatus.DELIVERED)


REASON_MAX = 255


async def cancel_order(
    deps: OrdersServices, ctx: Context, step: OrderStep, reason: str = "cancelled"
) -> Idempotent[Order, StepError | InvalidInput]:
    """Cancel a placed or paid order (its owner, or staff), releasing its stock, with a reason
    of at most 255 characters. Shipped orders cannot be cancelled."""
    if problem := text_problem(reason, multiline=True):
        return Failure(InvalidInput.single("reason", problem))
    reason = reason.strip() or "cancelled"
    if len(reason) > REASON_MAX:
        return Failure(InvalidInput.single("reason", f"must be at most {REASON_MAX} characters"))
    return await _step(deps, ctx, step, OrderStatus.CANCELLED, reason=reason)


async def expire_orders(
    deps: OrdersServices, ctx: Context, *, limit: int = 500
) -> Result[ExpiryReport, Forbidden]:
    """Cancel unpaid orders past their expiry with reason ``expired``, releasing their stock.
    Operators and Orderly's scheduled job run it; each order is expired in its own step."""
    if denied := operations_denied(ctx.actor, "expire orders"):
        return Failure(denied)

    async def work(uow: OrdersUnit) -> Result[ExpiryReport, Forbidden]:
        due = await uow.orders.due_for_expiry(deps.clock.now(), limit)
        return Success(ExpiryReport(tuple(due), applied=False))

    found = await in_transaction(deps, ctx, work)
    if not isinstance(found, Success):
        return found
    expired: list[uuid.UUID] = []
    for order_id in found.unwrap().expired:
        result = await _step(
            deps,
            ctx,
            OrderStep(str(order_id)),
            OrderStatus.CANCELLED,
            reason="expired",
            expiring=True,
        )
        if isinstance(result, Success):
            expired.append(order_id)
    return Success(ExpiryReport(tuple(expired), applied=ctx.applies_changes))

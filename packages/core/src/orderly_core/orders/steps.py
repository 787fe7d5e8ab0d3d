"""What the steps of an order's lifecycle share (finding the order, who may move it where),
becoming paid, and the expiry of unpaid orders. Shipping, delivering and cancelling move an
order's units, its stock and its money, and live with its shipments
(:mod:`orderly_core.shipments`).

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
from orderly_core.orders.effects import EVENT_OF, announce, move_units
from orderly_core.orders.errors import IllegalTransition, OrderNotFound
from orderly_core.orders.model import Order, OrderStatus, may_move, order_view
from orderly_core.orders.ports import OrdersServices, OrdersUnit
from orderly_core.platform.audit import record
from orderly_core.platform.ports import Services
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import may_see_order, operations_denied, order_move_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, VersionConflict, version_conflict
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
STEP_OUTCOMES = (OrderNotFound, IllegalTransition, VersionConflict)

CANCELLED_REASON = "cancelled"  # a cancellation's reason when none is given
REASON_MAX = 255


def reason_problem(reason: str) -> str | None:
    """What is wrong with ``reason`` as the reason of a cancellation (at most 255
    characters of multi-line text; blank is the default reason), or ``None``."""
    if problem := text_problem(reason, multiline=True):
        return problem
    if len(reason.strip()) > REASON_MAX:
        return f"must be at most {REASON_MAX} characters"
    return None


async def visible_order(
    uow: OrdersUnit, ctx: Context, order_id: str, *, for_update: bool
) -> Order | OrderNotFound:
    """The order ``order_id`` names, if the actor may see it; anyone else's is not found."""
    wanted = parse_id(order_id)
    order = await uow.orders.get(wanted, for_update=for_update) if wanted else None
    if order is None or not may_see_order(ctx.actor, order.customer_id):
        return OrderNotFound(order_id)
    return order


def step_refusal(
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


async def _expire(deps: OrdersServices, ctx: Context, order_id: uuid.UUID) -> bool:
    """Cancel one unpaid order past its expiry (reason ``expired``), releasing its stock,
    in its own transaction; whether it was expired."""

    async def work(uow: OrdersUnit) -> Result[Order, StepError]:
        order = await uow.orders.get(order_id, for_update=True)
        if order is None:
            return Failure(OrderNotFound(str(order_id)))
        if refusal := step_refusal(ctx, OrderStep(str(order_id)), order, OrderStatus.CANCELLED):
            return Failure(refusal)
        if order.status is not OrderStatus.PLACED:
            return Failure(IllegalTransition(str(order.id), order.status.value, "expired"))
        lines = tuple(replace(line, cancelled=line.quantity - line.shipped) for line in order.lines)
        moved = replace(
            order,
            status=OrderStatus.CANCELLED,
            cancel_reason="expired",
            version=order.version + 1,
            updated_at=deps.clock.now(),
            lines=lines,
        )
        await uow.orders.save(moved)
        await uow.orders.save_lines(moved)
        units = {line.sku: line.unshipped for line in order.lines}
        await move_units(deps, uow, ctx, units, kind=MovementKind.RELEASE, reference=str(order.id))
        before, after = order_view(order), order_view(moved)
        subject = ("order", str(order.id))
        await record(deps, uow, ctx, "order.expire", target=subject, before=before, after=after)
        await announce(deps, uow, ctx, EVENT_OF[OrderStatus.CANCELLED], moved)
        return Success(moved)

    return isinstance(await in_transaction(deps, ctx, work), Success)


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
    due = found.unwrap().expired
    expired = [order_id for order_id in due if await _expire(deps, ctx, order_id)]
    return Success(ExpiryReport(tuple(expired), applied=ctx.applies_changes))

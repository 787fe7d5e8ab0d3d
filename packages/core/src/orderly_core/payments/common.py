"""What the payments' use cases share: making a pending refund, saving a payment or a refund
as a new version, announcing it, and settling an order once its payments cover it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from orderly_core.orders.model import Order
from orderly_core.orders.steps import mark_paid
from orderly_core.payments.model import Payment, PaymentStatus, Refund, RefundStatus
from orderly_core.payments.ports import PaymentsServices, PaymentsUnit
from orderly_core.payments.views import payment_view, refund_view, succeeded_amount
from orderly_core.platform.audit import record
from orderly_core.platform.outbox import EventType
from orderly_core.platform.versions import announce_version, save_version
from orderly_core.shared.context import Actor, Context
from orderly_core.shared.money import Money

# A provider call that could not be made is tried again later, each time waiting twice as
# long (1, 2, 4... minutes, at most an hour); after this many tries it has failed for good.
MAX_ATTEMPTS = 8
_FIRST_DELAY = timedelta(minutes=1)
_LONGEST_DELAY = timedelta(hours=1)

REASON_MAX = 255  # a failure reason or a refund's reason, as PostgreSQL keeps it


def next_try(now: datetime, attempts: int) -> datetime:
    """When a provider call tried ``attempts`` times is due again."""
    delay: timedelta = min(_FIRST_DELAY * 2 ** max(attempts - 1, 0), _LONGEST_DELAY)
    return now + delay


def clipped(reason: str) -> str:
    """A provider's reason, as long as Orderly keeps one."""
    return reason[:REASON_MAX]


def actor_ref(actor: Actor) -> str:
    """Who started, recorded or asked for a payment or refund: ``<kind>:<id>``."""
    return f"{actor.kind.value}:{actor.id}"


def provider_key(kind: str, record_id: uuid.UUID) -> str:
    """The idempotency key the provider is given for one of Orderly's payments or refunds:
    asking the provider twice for it does the work once."""
    return f"orderly-{kind}-{record_id}"


def pending_refund(
    deps: PaymentsServices,
    ctx: Context,
    payment: Payment,
    amount: Money,
    reason: str,
    *,
    now: datetime,
    return_id: uuid.UUID | None = None,
) -> Refund:
    """A new refund of ``amount`` of what ``payment`` took, asked for by this context's actor,
    pending until its provider gives the money back."""
    return Refund(
        id=deps.ids.new_id(),
        payment_id=payment.id,
        order_id=payment.order_id,
        amount=amount,
        reason=reason,
        status=RefundStatus.PENDING,
        created_by=actor_ref(ctx.actor),
        created_at=now,
        updated_at=now,
        version=1,
        return_id=return_id,
    )


async def add_refund(
    deps: PaymentsServices, uow: PaymentsUnit, ctx: Context, refund: Refund
) -> None:
    """Add a new refund, audited (``refund.create``)."""
    await uow.refunds.add(refund)
    target = ("refund", str(refund.id))
    view = refund_view(refund)
    await record(deps, uow, ctx, "refund.create", target=target, before=None, after=view)


async def save_payment(
    deps: PaymentsServices,
    uow: PaymentsUnit,
    ctx: Context,
    payment: Payment,
    operation: str,
    **changes: Any,
) -> Payment:
    """``payment`` (locked) with ``changes`` as its next version, saved and audited."""
    return await save_version(
        deps,
        uow,
        ctx,
        payment,
        operation,
        save=uow.payments.save,
        target_type="payment",
        view=payment_view,
        changes=changes,
    )


async def save_refund(
    deps: PaymentsServices,
    uow: PaymentsUnit,
    ctx: Context,
    refund: Refund,
    operation: str,
    **changes: Any,
) -> Refund:
    """``refund`` (locked) with ``changes`` as its next version, saved and audited."""
    return await save_version(
        deps,
        uow,
        ctx,
        refund,
        operation,
        save=uow.refunds.save,
        target_type="refund",
        view=refund_view,
        changes=changes,
    )


async def announce_payment(
    deps: PaymentsServices,
    uow: PaymentsUnit,
    ctx: Context,
    event_type: EventType,
    payment: Payment,
    *,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """A payment's event: the payment as it now is, its version ordering its events."""
    await announce_version(
        deps, uow, ctx, event_type, payment, subject_type="payment", view=payment_view, extra=extra
    )


async def announce_refund(
    deps: PaymentsServices, uow: PaymentsUnit, ctx: Context, event_type: EventType, refund: Refund
) -> None:
    await announce_version(
        deps, uow, ctx, event_type, refund, subject_type="refund", view=refund_view
    )


async def settle_order(
    deps: PaymentsServices,
    uow: PaymentsUnit,
    ctx: Context,
    order: Order,
    payments: Sequence[Payment],
    *,
    paying: Payment,
) -> Order:
    """The order (locked) once ``paying`` succeeded: paid when its succeeded ``payments``
    cover its total (``order.paid`` carries ``paying``), its other pending payments then
    left to be cancelled at their provider (see :mod:`orderly_core.payments.followups`)."""
    if succeeded_amount(payments) < order.total.amount:
        return order
    paid = await mark_paid(deps, uow, ctx, order, payment_view(paying))
    for payment in payments:
        if payment.status is PaymentStatus.PENDING and not payment.cancel_due:
            await save_payment(deps, uow, ctx, payment, "payment.cancel_due", cancel_due=True)
    return paid

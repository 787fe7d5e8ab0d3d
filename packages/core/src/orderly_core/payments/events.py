"""What a payment provider tells Orderly: verified events applied once each (see
:func:`receive_provider_event`), and the success of a payment however Orderly learns of it
(:func:`apply_success`, shared with reconciliation)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.orders.model import OrderStatus
from orderly_core.payments.common import (
    add_refund,
    announce_payment,
    clipped,
    pending_refund,
    save_payment,
    settle_order,
)
from orderly_core.payments.errors import ProviderNotInUse
from orderly_core.payments.model import Payment, PaymentStatus, Refund
from orderly_core.payments.ports import (
    InboundNotification,
    NotificationRefused,
    PaymentsServices,
    PaymentsUnit,
    ProviderEvent,
    ProviderEventKind,
)
from orderly_core.payments.views import refund_view
from orderly_core.platform.outbox import EventType
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.context import Actor, Context
from orderly_core.shared.money import Money

EVENT_ID_MAX = 255  # as the handled events are kept
ORPHANED_REASON = "orphaned"  # the reason of the refund of a payment its order no longer needed


def provider_actor(provider: str) -> Actor:
    """Who acts when a provider's event changes something: Orderly itself, on the word of
    ``provider`` (``system:payments-stripe`` in the audit trail)."""
    return Actor.system(f"payments-{provider}")


class Outcome(enum.StrEnum):
    """What an event, or a success found by reconciliation, did."""

    SUCCEEDED = "succeeded"  # the payment succeeded; its order is not yet covered
    PAID = "paid"  # the payment succeeded and its order is now paid
    ORPHANED = "orphaned"  # succeeded for an order no longer awaiting it: refunded
    FAILED = "failed"  # the payment failed; its order stays placed until it expires
    MISMATCH = "mismatch"  # another amount or currency than the payment's: nothing changed
    ALREADY_APPLIED = "already_applied"  # the payment was already in that state
    IGNORED = "ignored"  # out of place (a failure after a success) or of no interest
    UNKNOWN_PAYMENT = "unknown_payment"  # no payment of Orderly's: recorded, ignored
    DUPLICATE = "duplicate"  # the event was handled before: nothing changed


@dataclass(frozen=True, slots=True)
class EventReceipt:
    """What became of a provider event."""

    event_id: str
    type: str
    outcome: Outcome
    payment_id: uuid.UUID | None = None


class _Duplicate(Exception):  # noqa: N818 - a control-flow marker, caught right below
    pass


async def _payment_of(
    uow: PaymentsUnit,
    provider: str,
    reference: str | None,
    payment_id: uuid.UUID | None,
) -> Payment | None:
    """The payment a provider's report is about, by the provider's reference or by the id
    Orderly gave the provider (a report may come before the reference is kept)."""
    found = await uow.payments.by_reference(provider, reference) if reference else None
    if found is None and payment_id is not None:
        found = await uow.payments.get(payment_id)
        if found is not None and (
            found.provider != provider or found.provider_reference not in (None, reference)
        ):
            found = None
    return found


async def apply_success(
    deps: PaymentsServices,
    uow: PaymentsUnit,
    ctx: Context,
    *,
    provider: str,
    reference: str | None,
    amount: Money | None,
    payment_id: uuid.UUID | None,
) -> tuple[Outcome, Payment | None]:
    """A provider's word that a payment succeeded, applied in the caller's transaction.

    For the payment's own amount and currency: the payment succeeds (``payment.succeeded``,
    even after a failure or a cancellation: the money was taken), and its order becomes paid
    once covered (``order.paid`` with the payment). An order no longer awaiting payment
    (cancelled, expired, or paid another way) stays as it is: the payment gets a pending
    refund (reason ``orphaned``), given back by the follow-ups, and ``payment.orphaned`` is
    announced. Another amount or currency changes nothing and announces ``payment.mismatch``
    for staff."""
    found = await _payment_of(uow, provider, reference, payment_id)
    if found is None:
        return Outcome.UNKNOWN_PAYMENT, None
    order = await uow.orders.get(found.order_id, for_update=True)
    payment = await uow.payments.get(found.id, for_update=True)
    if order is None or payment is None:  # pragma: no cover - neither is ever deleted
        return Outcome.UNKNOWN_PAYMENT, None
    if payment.status is PaymentStatus.SUCCEEDED:
        return Outcome.ALREADY_APPLIED, payment
    if amount is not None and amount != payment.amount:
        reported = {"amount": amount.amount, "currency": amount.currency}
        await announce_payment(
            deps, uow, ctx, EventType.PAYMENT_MISMATCH, payment, extra={"reported": reported}
        )
        return Outcome.MISMATCH, payment
    changes: dict[str, object] = {"status": PaymentStatus.SUCCEEDED, "cancel_due": False}
    if payment.provider_reference is None and reference:
        changes["provider_reference"] = reference
    succeeded = await save_payment(deps, uow, ctx, payment, "payment.succeed", **changes)
    await announce_payment(deps, uow, ctx, EventType.PAYMENT_SUCCEEDED, succeeded)
    if order.status is OrderStatus.PLACED:
        payments = await uow.payments.of_order(order.id, for_update=True)
        settled = await settle_order(deps, uow, ctx, order, payments, paying=succeeded)
        paid = settled.status is OrderStatus.PAID
        return (Outcome.PAID if paid else Outcome.SUCCEEDED), succeeded
    refund = await _orphan_refund(deps, uow, ctx, succeeded)
    await announce_payment(
        deps,
        uow,
        ctx,
        EventType.PAYMENT_ORPHANED,
        succeeded,
        extra={"order_status": order.status.value, "refund": refund_view(refund)},
    )
    return Outcome.ORPHANED, succeeded


async def _orphan_refund(
    deps: PaymentsServices, uow: PaymentsUnit, ctx: Context, payment: Payment
) -> Refund:
    now = deps.clock.now()
    refund = pending_refund(deps, ctx, payment, payment.amount, ORPHANED_REASON, now=now)
    await add_refund(deps, uow, ctx, refund)
    return refund


async def _apply_failure(
    deps: PaymentsServices, uow: PaymentsUnit, ctx: Context, provider: str, event: ProviderEvent
) -> tuple[Outcome, Payment | None]:
    """A failed attempt: a pending payment fails (``payment.failed``); its order stays placed
    until it expires. A failure after a success, or of a payment already ended, is ignored."""
    found = await _payment_of(uow, provider, event.reference, event.payment_id)
    if found is None:
        return Outcome.UNKNOWN_PAYMENT, None
    await uow.orders.get(found.order_id, for_update=True)
    payment = await uow.payments.get(found.id, for_update=True)
    if payment is None:  # pragma: no cover - payments are never deleted
        return Outcome.UNKNOWN_PAYMENT, None
    if payment.status is PaymentStatus.FAILED:
        return Outcome.ALREADY_APPLIED, payment
    if payment.status is not PaymentStatus.PENDING:
        return Outcome.IGNORED, payment
    changes: dict[str, object] = {
        "status": PaymentStatus.FAILED,
        "failure_reason": clipped(event.failure_reason or "declined"),
    }
    if payment.provider_reference is None and event.reference:
        changes["provider_reference"] = event.reference
    failed = await save_payment(deps, uow, ctx, payment, "payment.fail", **changes)
    await announce_payment(deps, uow, ctx, EventType.PAYMENT_FAILED, failed)
    return Outcome.FAILED, failed


async def receive_provider_event(
    deps: PaymentsServices,
    ctx: Context,
    notification: InboundNotification,
    *,
    addressed_to: str | None = None,
) -> Result[EventReceipt, NotificationRefused | ProviderNotInUse]:
    """Apply a notification the payment provider posted, once.

    The provider verifies it first (its signature, its age): a refused notification changes
    nothing (``notification_refused``). A verified event is recorded by its id in the
    transaction of its effect, so a redelivered one changes nothing (outcome ``duplicate``).
    A success is applied as :func:`apply_success` says; a failure fails a pending payment
    (a failure after a success is ignored); an event about no payment of Orderly's, or of a
    kind Orderly does not act on, is recorded and ignored. The outcome is answered, for the
    provider's log and Orderly's. ``ctx`` names the provider as actor (:func:`provider_actor`).
    ``addressed_to`` names the provider the notification was sent for (by the URL it was
    posted to): when the shop uses another, it is refused unread (``payment_provider_not_in_use``).
    """
    provider = deps.payment_provider
    if addressed_to is not None and addressed_to != provider.name:
        return Failure(ProviderNotInUse(addressed_to))
    event = provider.verify(notification, deps.clock.now())
    if isinstance(event, NotificationRefused):
        return Failure(event)
    if not 1 <= len(event.event_id) <= EVENT_ID_MAX:
        return Failure(NotificationRefused("the event's id is not one Orderly can keep"))

    async def work(uow: PaymentsUnit) -> Result[EventReceipt, _Duplicate]:
        outcome, payment = Outcome.IGNORED, None
        if event.kind is ProviderEventKind.PAYMENT_SUCCEEDED:
            outcome, payment = await apply_success(
                deps,
                uow,
                ctx,
                provider=provider.name,
                reference=event.reference,
                amount=event.amount,
                payment_id=event.payment_id,
            )
        elif event.kind is ProviderEventKind.PAYMENT_FAILED:
            outcome, payment = await _apply_failure(deps, uow, ctx, provider.name, event)
        added = await uow.provider_events.add(
            provider.name, event.event_id, event.type[:64], outcome.value, deps.clock.now()
        )
        if not added:  # handled before (perhaps at this very moment): undo this run
            return Failure(_Duplicate())
        return Success(
            EventReceipt(event.event_id, event.type, outcome, payment.id if payment else None)
        )

    handled = await in_transaction(deps, ctx, work)
    if isinstance(handled, Success):
        return Success(handled.unwrap())
    return Success(EventReceipt(event.event_id, event.type, Outcome.DUPLICATE))

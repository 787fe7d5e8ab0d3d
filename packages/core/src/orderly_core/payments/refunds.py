"""Refunding an order through the provider its payments went through (see
:func:`refund_order`), and settling a pending refund with the provider (:func:`settle_refund`,
shared with the follow-ups)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from returns.result import Failure, Result, Success

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import Order
from orderly_core.orders.steps import visible_order
from orderly_core.payments.common import (
    MAX_ATTEMPTS,
    REASON_MAX,
    add_refund,
    announce_refund,
    clipped,
    next_try,
    pending_refund,
    provider_key,
    save_refund,
)
from orderly_core.payments.errors import RefundExceedsRefundable
from orderly_core.payments.manual import checked_amount
from orderly_core.payments.model import Payment, PaymentStatus, Refund, RefundStatus
from orderly_core.payments.ports import (
    PaymentsServices,
    PaymentsUnit,
    ProviderError,
    ProviderRefund,
    ProviderRefundStatus,
    ProviderRefused,
    ProviderUnavailable,
    RefundRequest,
)
from orderly_core.payments.views import refunded_amount
from orderly_core.platform.idempotency import Idempotent, Operation, Replayed
from orderly_core.platform.outbox import EventType
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.authorization import money_handling_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.money import Money
from orderly_core.shared.validation import FieldErrors

if TYPE_CHECKING:
    from dataclasses import Field


@dataclass(frozen=True, slots=True)
class OrderRefund:
    order_id: str
    amount: int  # minor units, in the order's currency
    reason: str


@dataclass(frozen=True, slots=True)
class Refunds:
    """The refunds one request made: one per payment it gives money back from, newest
    payment first."""

    refunds: tuple[Refund, ...]


RefundError = Forbidden | InvalidInput | OrderNotFound | RefundExceedsRefundable

_REFUND_OUTCOMES = (OrderNotFound, RefundExceedsRefundable)


def _checked(request: OrderRefund) -> OrderRefund | InvalidInput:
    fields = FieldErrors()
    checked_amount(fields, request.amount)
    reason = request.reason.strip()
    if fields.text("reason", reason, multiline=True):
        if not reason:
            fields.fail("reason", "must not be empty")
        elif len(reason) > REASON_MAX:
            fields.fail("reason", f"must be at most {REASON_MAX} characters")
    if fields.errors:
        return InvalidInput(tuple(fields.errors))
    return OrderRefund(request.order_id, request.amount, reason)


def _split(
    deps: PaymentsServices,
    ctx: Context,
    request: OrderRefund,
    payments: list[Payment],
    refunds: list[Refund],
    *,
    return_id: uuid.UUID | None,
) -> list[Refund]:
    """Refunds of ``request.amount`` against the succeeded payments, newest first, each
    taking at most what its payment has left."""
    now = deps.clock.now()
    left = request.amount
    made: list[Refund] = []
    succeeded = [p for p in payments if p.status is PaymentStatus.SUCCEEDED]
    for payment in sorted(succeeded, key=lambda p: (p.created_at, p.id), reverse=True):
        room = payment.amount.amount - refunded_amount(refunds, payment)
        take = min(room, left)
        if take <= 0:
            continue
        amount = Money(take, payment.amount.currency)
        made.append(
            pending_refund(deps, ctx, payment, amount, request.reason, now=now, return_id=return_id)
        )
        left -= take
        if left == 0:
            break
    return made


def _verdict(
    answer: ProviderRefund | ProviderError, attempts: int, reference: str | None
) -> tuple[RefundStatus, str | None, str | None]:
    """What the provider's answer to the ``attempts``-th try makes of a refund: its status
    (``pending``: to try again later), why it failed, and the provider's reference."""
    if isinstance(answer, ProviderUnavailable):
        if attempts < MAX_ATTEMPTS:
            return RefundStatus.PENDING, None, reference
        return RefundStatus.FAILED, clipped(answer.reason), reference
    if isinstance(answer, ProviderRefused):
        return RefundStatus.FAILED, clipped(answer.reason), reference
    reference = answer.reference or reference
    if answer.status is ProviderRefundStatus.PENDING:  # the provider is still at it
        return RefundStatus.PENDING, None, reference
    if answer.status is ProviderRefundStatus.SUCCEEDED:
        return RefundStatus.SUCCEEDED, None, reference
    return RefundStatus.FAILED, clipped(answer.failure_reason or "refused"), reference


async def settle_refund(
    deps: PaymentsServices, ctx: Context, refund_id: uuid.UUID
) -> Refund | None:
    """Ask the provider to give back a pending refund, outside any transaction (with an
    idempotency key derived from the refund's id: asking again refunds nothing twice), then
    record its answer: succeeded (``refund.succeeded``), refused or failed for good
    (``refund.failed``), still pending at the provider or the provider unreachable (tried
    again later, waiting longer each time; failed after :data:`MAX_ATTEMPTS` tries). The
    refund as it now is; ``None`` when there is no such refund."""

    async def read(uow: PaymentsUnit) -> Result[tuple[Refund, Payment] | None, None]:
        refund = await uow.refunds.get(refund_id)
        payment = await uow.payments.get(refund.payment_id) if refund else None
        return Success((refund, payment) if refund and payment else None)

    found = (await in_transaction(deps, ctx, read)).value_or(None)
    if found is None:
        return None
    refund, payment = found
    waiting = refund.retry_at is not None and refund.retry_at > deps.clock.now()
    if refund.status is not RefundStatus.PENDING or waiting or not ctx.applies_changes:
        return refund
    answer = await deps.payment_provider.refund(
        RefundRequest(
            refund_id=refund.id,
            payment_reference=payment.provider_reference,
            amount=refund.amount,
            reason=refund.reason,
            idempotency_key=provider_key("refund", refund.id),
        )
    )

    async def keep(uow: PaymentsUnit) -> Result[Refund, None]:
        locked = await uow.refunds.get(refund_id, for_update=True)
        if locked is None or locked.status is not RefundStatus.PENDING:
            return Success(locked or refund)  # settled meanwhile by another run
        attempts = locked.attempts + 1
        status, failure, reference = _verdict(answer, attempts, locked.provider_reference)
        if status is RefundStatus.PENDING:
            retry_at = next_try(deps.clock.now(), attempts)
            changes = {"attempts": attempts, "retry_at": retry_at, "provider_reference": reference}
            return Success(await save_refund(deps, uow, ctx, locked, "refund.retry", **changes))
        settled = await save_refund(
            deps,
            uow,
            ctx,
            locked,
            f"refund.{status.value}",
            status=status,
            attempts=attempts,
            retry_at=None,
            failure_reason=failure,
            provider_reference=reference,
        )
        succeeded = status is RefundStatus.SUCCEEDED
        event = EventType.REFUND_SUCCEEDED if succeeded else EventType.REFUND_FAILED
        await announce_refund(deps, uow, ctx, event, settled)
        return Success(settled)

    return (await in_transaction(deps, ctx, keep)).value_or(refund)


async def record_refunds(
    deps: PaymentsServices,
    uow: PaymentsUnit,
    ctx: Context,
    order: Order,
    *,
    amount: int,
    reason: str,
    return_id: uuid.UUID | None = None,
) -> tuple[Refund, ...] | RefundExceedsRefundable:
    """Record, inside the caller's transaction, pending refunds of ``amount`` (minor units) of
    what ``order``'s payments took, with ``reason``, audited (``refund.create``), each naming
    ``return_id`` when a return gave rise to it: split across the order's succeeded payments,
    newest first. ``amount`` is at most what they took minus what its refunds gave back or are
    giving back (pending ones count). The caller, once committed, asks the provider for each
    with :func:`settle_refund` (the follow-ups retry any left pending)."""
    payments = await uow.payments.of_order(order.id, for_update=True)
    refunds = await uow.refunds.of_order(order.id)
    paid = sum(p.amount.amount for p in payments if p.status is PaymentStatus.SUCCEEDED)
    refundable = paid - refunded_amount(refunds)
    if amount > refundable:
        return RefundExceedsRefundable(str(order.id), amount, refundable, order.total.currency)
    request = OrderRefund(str(order.id), amount, reason)
    made = _split(deps, ctx, request, payments, refunds, return_id=return_id)
    for refund in made:
        await add_refund(deps, uow, ctx, refund)
    return tuple(made)


async def refund_order(
    deps: PaymentsServices, ctx: Context, request: OrderRefund
) -> Idempotent[Refunds, RefundError]:
    """Give back ``amount`` (minor units) of what an order's payments took (staff, admins and
    operators), with a ``reason`` (1-255 characters).

    The amount is at most what the order's succeeded payments took minus what its refunds
    gave back or are giving back (pending refunds count): ``refund_exceeds_refundable``
    otherwise. The refund is recorded first, split across the order's payments newest first
    when one does not hold enough (one refund per payment), then each is asked of the
    payment's provider outside the transaction and its outcome recorded (``refund.succeeded``
    or ``refund.failed``); one the provider could not take yet stays pending and is tried
    again by Orderly's follow-ups. The answer holds the refunds as they then are. A dry run
    shows the refunds it would make and asks the provider nothing.
    """
    if denied := money_handling_denied(ctx.actor, "refund orders"):
        return Failure(denied)
    checked = _checked(request)
    if isinstance(checked, InvalidInput):
        return Failure(checked)

    async def work(uow: PaymentsUnit) -> Result[Refunds, RefundError]:
        order = await visible_order(uow, ctx, checked.order_id, for_update=True)
        if isinstance(order, OrderNotFound):
            return Failure(order)
        made = await record_refunds(
            deps, uow, ctx, order, amount=checked.amount, reason=checked.reason
        )
        if isinstance(made, RefundExceedsRefundable):
            return Failure(made)
        return Success(Refunds(made))

    async def replay_refusal(uow: PaymentsUnit) -> RefundError | None:
        order = await visible_order(uow, ctx, checked.order_id, for_update=False)
        return order if isinstance(order, OrderNotFound) else None

    operation = Operation("order.refund", checked, Refunds, _REFUND_OUTCOMES)
    recorded = await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )
    return await with_refunds_settled(deps, ctx, recorded)


class WithRefunds(Protocol):
    """An answer (a frozen dataclass) holding the refunds a write recorded."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def refunds(self) -> tuple[Refund, ...]: ...


async def with_refunds_settled[T: WithRefunds, E](
    deps: PaymentsServices, ctx: Context, recorded: Idempotent[T, E]
) -> Idempotent[T, E]:
    """A committed write's answer once its pending refunds were asked of their provider
    (:func:`settle_refund`), each as it then is; a replay settles what is still pending too.
    A failure, a dry run or a write that asks the provider nothing is answered as it was."""
    if not isinstance(recorded, Success) or not ctx.applies_changes:
        return recorded
    first = recorded.unwrap()
    planned = first.original if isinstance(first, Replayed) else first
    settled = [await settle_refund(deps, ctx, r.id) or r for r in planned.refunds]
    value = replace(planned, refunds=tuple(settled))
    if isinstance(first, Replayed):
        return Success(Replayed(value, first.request_id))
    return Success(value)

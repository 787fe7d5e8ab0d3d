"""What Orderly finishes with the payment provider on its own schedule (see
:func:`settle_payments`): refunds still pending, and pending payments whose order ended."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.payments.common import MAX_ATTEMPTS, clipped, next_try, save_payment
from orderly_core.payments.model import Payment, PaymentStatus, RefundStatus
from orderly_core.payments.ports import PaymentsServices, PaymentsUnit, ProviderUnavailable
from orderly_core.payments.refunds import settle_refund
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import operations_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden

FOLLOW_UP_BATCH = 100  # refunds, and payments to cancel, taken per run


@dataclass(frozen=True, slots=True)
class FollowUpReport:
    refunded: tuple[uuid.UUID, ...]  # refunds the provider confirmed
    refunds_failed: tuple[uuid.UUID, ...]  # refunds refused, or given up on
    refunds_waiting: tuple[uuid.UUID, ...]  # refunds to try again later
    cancelled: tuple[uuid.UUID, ...]  # payments cancelled at their provider
    cancels_waiting: tuple[uuid.UUID, ...]  # payments whose cancelling is tried again later
    applied: bool


async def _cancel(deps: PaymentsServices, ctx: Context, payment: Payment) -> Payment | None:
    """Cancel one pending payment at the provider (nothing to ask when it never reached
    the provider), then record the outcome: cancelled; failed when the provider refuses for
    good (a success the provider then reports is refunded as orphaned); tried again later
    when it could not be reached, failed after :data:`MAX_ATTEMPTS` tries."""
    answer = None
    if payment.provider_reference is not None and payment.provider == deps.payment_provider.name:
        answer = await deps.payment_provider.cancel(payment.provider_reference)

    async def keep(uow: PaymentsUnit) -> Result[Payment | None, None]:
        await uow.orders.get(payment.order_id, for_update=True)
        locked = await uow.payments.get(payment.id, for_update=True)
        if locked is None or locked.status is not PaymentStatus.PENDING:
            return Success(locked)  # settled meanwhile
        attempts = locked.attempts + 1
        if answer is None:
            changed = await save_payment(
                deps,
                uow,
                ctx,
                locked,
                "payment.cancel",
                status=PaymentStatus.CANCELLED,
                cancel_due=False,
                attempts=attempts,
                retry_at=None,
            )
        elif isinstance(answer, ProviderUnavailable) and attempts < MAX_ATTEMPTS:
            retry_at = next_try(deps.clock.now(), attempts)
            changed = await save_payment(
                deps, uow, ctx, locked, "payment.cancel_retry", attempts=attempts, retry_at=retry_at
            )
        else:
            changed = await save_payment(
                deps,
                uow,
                ctx,
                locked,
                "payment.fail",
                status=PaymentStatus.FAILED,
                failure_reason=clipped(f"could not be cancelled: {answer.reason}"),
                cancel_due=False,
                attempts=attempts,
                retry_at=None,
            )
        return Success(changed)

    return (await in_transaction(deps, ctx, keep)).value_or(None)


async def settle_payments(
    deps: PaymentsServices, ctx: Context, *, limit: int = FOLLOW_UP_BATCH
) -> Result[FollowUpReport, Forbidden]:
    """Finish what the payment provider still owes Orderly (operators, and Orderly's
    scheduled job every minute): each pending refund that is due is asked of the provider
    (see :func:`~orderly_core.payments.refunds.settle_refund`), orphaned payments' refunds
    included; each pending payment whose order was cancelled or expired, or that another
    payment made needless, is cancelled at its provider, tried again on failure. A dry run
    lists what is due and asks the provider nothing."""
    if denied := operations_denied(ctx.actor, "settle payments"):
        return Failure(denied)

    async def due(uow: PaymentsUnit) -> Result[tuple[list[uuid.UUID], list[Payment]], Forbidden]:
        now = deps.clock.now()
        refunds = [r.id for r in await uow.refunds.due(now, limit)]
        return Success((refunds, await uow.payments.cancels_due(now, limit)))

    found = await in_transaction(deps, ctx, due)
    if not isinstance(found, Success):
        return Failure(found.failure())
    refund_ids, payments = found.unwrap()
    if not ctx.applies_changes:
        ids = tuple(p.id for p in payments)
        return Success(FollowUpReport((), (), tuple(refund_ids), (), ids, applied=False))
    refunded: list[uuid.UUID] = []
    failed: list[uuid.UUID] = []
    waiting: list[uuid.UUID] = []
    for refund_id in refund_ids:
        refund = await settle_refund(deps, ctx, refund_id)
        if refund is None:
            continue
        {RefundStatus.SUCCEEDED: refunded, RefundStatus.FAILED: failed}.get(
            refund.status, waiting
        ).append(refund_id)
    cancelled: list[uuid.UUID] = []
    cancels_waiting: list[uuid.UUID] = []
    for payment in payments:
        after = await _cancel(deps, ctx, payment)
        if after is not None and after.status is PaymentStatus.CANCELLED:
            cancelled.append(payment.id)
        elif after is not None and after.status is PaymentStatus.PENDING:
            cancels_waiting.append(payment.id)
    return Success(
        FollowUpReport(
            tuple(refunded),
            tuple(failed),
            tuple(waiting),
            tuple(cancelled),
            tuple(cancels_waiting),
            applied=True,
        )
    )

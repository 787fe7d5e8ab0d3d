"""Comparing the provider's payments with Orderly's, and applying what Orderly missed (see
:func:`reconcile_payments`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from returns.result import Failure, Result, Success

from orderly_core.payments.events import Outcome, apply_success
from orderly_core.payments.model import PaymentStatus
from orderly_core.payments.ports import (
    PaymentsServices,
    PaymentsUnit,
    ProviderPaymentState,
    ProviderRefused,
    ProviderUnavailable,
)
from orderly_core.platform.transaction import in_transaction
from orderly_core.shared.authorization import operations_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.validation import FieldErrors


@dataclass(frozen=True, slots=True)
class MissedPayment:
    """A success at the provider that Orderly had not recorded, and what applying it did
    (or would do, in a dry run)."""

    reference: str
    amount: int
    currency: str
    payment_id: uuid.UUID | None
    order_id: uuid.UUID | None
    outcome: str


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    since: datetime
    checked: int  # the provider's payments looked at
    missed: tuple[MissedPayment, ...]
    applied: bool


ReconcileError = Forbidden | InvalidInput | ProviderUnavailable | ProviderRefused


async def _missed(
    deps: PaymentsServices, ctx: Context, state: ProviderPaymentState
) -> MissedPayment | None:
    """Apply one provider success, if Orderly missed it, in its own transaction (rolled back
    in a dry run, which then tells what it would have done)."""
    provider = deps.payment_provider.name

    async def work(uow: PaymentsUnit) -> Result[MissedPayment | None, None]:
        known = await uow.payments.by_reference(provider, state.reference)
        if known is not None and known.status is PaymentStatus.SUCCEEDED:
            return Success(None)
        outcome, _ = await apply_success(
            deps,
            uow,
            ctx,
            provider=provider,
            reference=state.reference,
            amount=state.amount,
            payment_id=state.payment_id,
        )
        if outcome is Outcome.ALREADY_APPLIED:
            return Success(None)
        return Success(
            MissedPayment(
                state.reference,
                state.amount.amount,
                state.amount.currency,
                state.payment_id,
                state.order_id,
                outcome.value,
            )
        )

    return (await in_transaction(deps, ctx, work)).value_or(None)


async def reconcile_payments(
    deps: PaymentsServices, ctx: Context, since: datetime
) -> Result[ReconcileReport, ReconcileError]:
    """Compare the provider's payments created since ``since`` with Orderly's (operators,
    and Orderly's daily job). A success at the provider whose payment Orderly has not
    recorded as succeeded (its event never arrived) is applied exactly as that event would
    have been: the payment succeeds, its order is paid when covered, or it is refunded as
    orphaned. A dry run reports what it would apply and changes nothing."""
    if denied := operations_denied(ctx.actor, "reconcile payments"):
        return Failure(denied)
    fields = FieldErrors()
    fields.time("since", since)
    if invalid := fields.invalid():
        return invalid
    states = await deps.payment_provider.payments_since(since)
    if isinstance(states, ProviderUnavailable | ProviderRefused):
        return Failure(states)
    looked = [await _missed(deps, ctx, state) for state in states if state.succeeded]
    missed = [found for found in looked if found is not None]
    return Success(ReconcileReport(since, len(states), tuple(missed), ctx.applies_changes))

"""Starting a payment of an order through the shop's payment provider (see
:func:`start_payment`)."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import OrderStatus
from orderly_core.orders.steps import visible_order
from orderly_core.payments.common import (
    actor_ref,
    announce_payment,
    clipped,
    provider_key,
    save_payment,
)
from orderly_core.payments.errors import OrderNotPayable
from orderly_core.payments.model import Payment, PaymentStatus
from orderly_core.payments.ports import (
    PaymentRequest,
    PaymentsServices,
    PaymentsUnit,
    ProviderRefused,
    ProviderUnavailable,
    StartedPayment,
)
from orderly_core.payments.views import payment_view, succeeded_amount
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation, Replayed
from orderly_core.platform.outbox import EventType
from orderly_core.platform.transaction import in_idempotent_transaction, in_transaction
from orderly_core.shared.context import Context
from orderly_core.shared.money import Money


@dataclass(frozen=True, slots=True)
class PaymentStart:
    order_id: str


@dataclass(frozen=True, slots=True)
class PaymentStarted:
    """A started payment, and what the customer's client needs to pay it: Stripe's client
    secret or the manual provider's instructions. ``client_action`` is answered to the
    request only: it is never stored, audited, logged or announced."""

    payment: Payment
    client_action: str | None


StartPaymentError = OrderNotFound | OrderNotPayable | ProviderUnavailable | ProviderRefused

# The refusals that are outcomes of a request, replayed to its retries like a success.
_START_OUTCOMES = (OrderNotFound, OrderNotPayable)


async def _pending_payment(
    deps: PaymentsServices, uow: PaymentsUnit, ctx: Context, order_id: str
) -> Result[Payment, OrderNotFound | OrderNotPayable]:
    """The order's pending payment at the shop's provider for what it owes: the one already
    started, or a new one."""
    order = await visible_order(uow, ctx, order_id, for_update=True)
    if isinstance(order, OrderNotFound):
        return Failure(order)
    now = deps.clock.now()
    if order.status is not OrderStatus.PLACED:
        return Failure(OrderNotPayable(str(order.id), order.status.value))
    if order.expires_at <= now:
        return Failure(OrderNotPayable(str(order.id), "expired"))
    provider = deps.payment_provider.name
    payments = await uow.payments.of_order(order.id, for_update=True)
    due = order.total.amount - succeeded_amount(payments)
    for payment in payments:
        if payment.status is not PaymentStatus.PENDING or payment.cancel_due:
            continue
        if payment.provider == provider and payment.amount.amount == due:
            return Success(payment)  # one pending payment per order: it is continued
        # Asked for another amount (the order was partly paid since) or at another provider.
        await save_payment(deps, uow, ctx, payment, "payment.cancel_due", cancel_due=True)
    payment = Payment(
        id=deps.ids.new_id(),
        order_id=order.id,
        provider=provider,
        provider_reference=None,
        amount=Money(due, order.total.currency),
        status=PaymentStatus.PENDING,
        created_by=actor_ref(ctx.actor),
        created_at=now,
        updated_at=now,
        version=1,
    )
    await uow.payments.add(payment)
    target = ("payment", str(payment.id))
    await record(
        deps, uow, ctx, "payment.start", target=target, before=None, after=payment_view(payment)
    )
    return Success(payment)


async def _current(deps: PaymentsServices, ctx: Context, payment: Payment) -> Payment:
    """``payment`` as it is now (a replayed request's may have moved on since)."""

    async def read(uow: PaymentsUnit) -> Result[Payment | None, None]:
        return Success(await uow.payments.get(payment.id))

    return (await in_transaction(deps, ctx, read)).value_or(None) or payment


async def _at_provider(
    deps: PaymentsServices, ctx: Context, payment: Payment
) -> Result[PaymentStarted, ProviderUnavailable | ProviderRefused]:
    """Ask the provider for ``payment`` (or for its client action again, when it was asked
    before), outside any transaction, then keep the provider's reference."""

    now_ = await _current(deps, ctx, payment)
    if now_.status is not PaymentStatus.PENDING:
        return Success(PaymentStarted(now_, None))  # settled since: nothing left to pay
    provider = deps.payment_provider
    if now_.provider_reference is not None:
        started = await provider.resume(now_.provider_reference)
    else:
        key = provider_key("payment", now_.id)
        started = await provider.start(
            PaymentRequest(now_.id, now_.order_id, now_.amount, idempotency_key=key)
        )
    if isinstance(started, ProviderUnavailable):
        return Failure(started)

    async def keep(uow: PaymentsUnit) -> Result[PaymentStarted, ProviderRefused]:
        locked = await uow.payments.get(payment.id, for_update=True)
        if locked is None:  # pragma: no cover - payments are never deleted
            return Success(PaymentStarted(now_, None))
        if isinstance(started, ProviderRefused):
            if locked.status is PaymentStatus.PENDING:
                failed = await save_payment(
                    deps,
                    uow,
                    ctx,
                    locked,
                    "payment.fail",
                    status=PaymentStatus.FAILED,
                    failure_reason=clipped(started.reason),
                )
                await announce_payment(deps, uow, ctx, EventType.PAYMENT_FAILED, failed)
            return Failure(started)
        return Success(
            PaymentStarted(await _referenced(uow, locked, started), started.client_action)
        )

    async def _referenced(uow: PaymentsUnit, locked: Payment, started: StartedPayment) -> Payment:
        if started.reference is None or locked.provider_reference is not None:
            return locked
        return await save_payment(
            deps, uow, ctx, locked, "payment.start", provider_reference=started.reference
        )

    return await in_transaction(deps, ctx, keep, keep_on_failure=(ProviderRefused,))


async def start_payment(
    deps: PaymentsServices, ctx: Context, request: PaymentStart
) -> Idempotent[PaymentStarted, StartPaymentError]:
    """Start paying an order (its owner, or staff) through the shop's payment provider.

    The order must be placed and not expired; the payment asks for what it still owes (its
    total minus its succeeded payments). An order has one pending payment at a time: starting
    again while one is pending for that amount continues it (the same payment, the provider's
    client action again); one pending for another amount is left to be cancelled at the
    provider. The payment is recorded first, then the provider is asked (with an idempotency
    key derived from the payment's id, so asking again starts nothing new) and its reference
    kept. When the provider cannot be reached the payment stays pending and the answer is
    ``payment_provider_unavailable``: a retry continues it. The answer carries the provider's
    client action (Stripe's client secret, the manual provider's instructions), which Orderly
    never stores. A dry run checks and shows the payment, and asks the provider nothing.
    """

    async def work(uow: PaymentsUnit) -> Result[Payment, OrderNotFound | OrderNotPayable]:
        return await _pending_payment(deps, uow, ctx, request.order_id)

    async def replay_refusal(uow: PaymentsUnit) -> OrderNotFound | OrderNotPayable | None:
        """Today's answer to an actor who may no longer see the order."""
        order = await visible_order(uow, ctx, request.order_id, for_update=False)
        return order if isinstance(order, OrderNotFound) else None

    operation = Operation("payment.start", request, Payment, _START_OUTCOMES)
    recorded = await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )
    if not isinstance(recorded, Success):
        return Failure(recorded.failure())
    first = recorded.unwrap()
    payment = first.original if isinstance(first, Replayed) else first
    if not ctx.applies_changes:
        return Success(PaymentStarted(payment, None))
    started = await _at_provider(deps, ctx, payment)
    if not isinstance(started, Success):
        return Failure(started.failure())
    value = started.unwrap()
    if isinstance(first, Replayed):
        return Success(Replayed(value, first.request_id))
    return Success(value)

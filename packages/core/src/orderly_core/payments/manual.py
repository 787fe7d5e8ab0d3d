"""Recording by hand that money arrived for an order: a bank transfer, cash on delivery (see
:func:`record_manual_payment`)."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import Order, OrderStatus
from orderly_core.orders.steps import visible_order
from orderly_core.payments.common import (
    REASON_MAX,
    actor_ref,
    announce_payment,
    settle_order,
)
from orderly_core.payments.errors import ManualPaymentRefused, OrderNotPayable, PaymentExceedsDue
from orderly_core.payments.model import Payment, PaymentStatus
from orderly_core.payments.ports import PaymentsServices, PaymentsUnit
from orderly_core.payments.views import payment_view, succeeded_amount
from orderly_core.platform.audit import record
from orderly_core.platform.idempotency import Idempotent, Operation
from orderly_core.platform.outbox import EventType
from orderly_core.platform.transaction import in_idempotent_transaction
from orderly_core.shared.authorization import money_handling_denied
from orderly_core.shared.context import Context
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.money import MAX_MINOR_UNITS, Money
from orderly_core.shared.validation import FieldErrors

MANUAL_PROVIDER = "manual"  # what a payment recorded by hand names as its provider


@dataclass(frozen=True, slots=True)
class ManualPayment:
    order_id: str
    amount: int  # minor units, in the order's currency
    reference: str  # the bank transfer's reference, the receipt number...


@dataclass(frozen=True, slots=True)
class PaymentRecorded:
    """The payment recorded, and its order afterwards (paid when it is now covered)."""

    payment: Payment
    order: Order


RecordPaymentError = (
    Forbidden
    | InvalidInput
    | ManualPaymentRefused
    | OrderNotFound
    | OrderNotPayable
    | PaymentExceedsDue
)

_RECORD_OUTCOMES = (OrderNotFound, OrderNotPayable, PaymentExceedsDue)


def checked_amount(fields: FieldErrors, amount: int) -> None:
    """An amount of money Orderly moves: 1 to :data:`MAX_MINOR_UNITS` minor units."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        fields.fail("amount", "must be a whole number of minor units")
    elif not 1 <= amount <= MAX_MINOR_UNITS:
        fields.fail("amount", f"must be 1-{MAX_MINOR_UNITS} minor units")


def _checked(request: ManualPayment) -> ManualPayment | InvalidInput:
    fields = FieldErrors()
    checked_amount(fields, request.amount)
    reference = request.reference.strip()
    if fields.text("reference", reference):
        if not reference:
            fields.fail("reference", "must not be empty")
        elif len(reference) > REASON_MAX:
            fields.fail("reference", f"must be at most {REASON_MAX} characters")
    if fields.errors:
        return InvalidInput(tuple(fields.errors))
    return ManualPayment(request.order_id, request.amount, reference)


async def record_manual_payment(
    deps: PaymentsServices, ctx: Context, request: ManualPayment
) -> Idempotent[PaymentRecorded, RecordPaymentError]:
    """Record that money arrived for a placed order by hand (staff, admins and operators):
    a succeeded payment of ``amount`` (minor units, in the order's currency, at most what it
    still owes) with its ``reference`` (1-255 characters), provider ``manual``. When the
    order's succeeded payments now cover its total the order becomes paid (``order.paid``,
    with this payment) and its other pending payments are cancelled at their provider.
    A shop whose provider settles payments by its own events (Stripe) records nothing by
    hand: ``manual_payment_refused``. Customers may not: 403.
    """
    if denied := money_handling_denied(ctx.actor, "record payments"):
        return Failure(denied)
    checked = _checked(request)
    if isinstance(checked, InvalidInput):
        return Failure(checked)
    if deps.payment_provider.settles_by_event:
        return Failure(ManualPaymentRefused(deps.payment_provider.name))

    async def work(uow: PaymentsUnit) -> Result[PaymentRecorded, RecordPaymentError]:
        order = await visible_order(uow, ctx, checked.order_id, for_update=True)
        if isinstance(order, OrderNotFound):
            return Failure(order)
        if order.status is not OrderStatus.PLACED:
            return Failure(OrderNotPayable(str(order.id), order.status.value))
        payments = await uow.payments.of_order(order.id, for_update=True)
        due = order.total.amount - succeeded_amount(payments)
        if checked.amount > due:
            currency = order.total.currency
            return Failure(PaymentExceedsDue(str(order.id), checked.amount, due, currency))
        now = deps.clock.now()
        payment = Payment(
            id=deps.ids.new_id(),
            order_id=order.id,
            provider=MANUAL_PROVIDER,
            provider_reference=checked.reference,
            amount=Money(checked.amount, order.total.currency),
            status=PaymentStatus.SUCCEEDED,
            created_by=actor_ref(ctx.actor),
            created_at=now,
            updated_at=now,
            version=1,
        )
        await uow.payments.add(payment)
        target = ("payment", str(payment.id))
        view = payment_view(payment)
        await record(deps, uow, ctx, "payment.record", target=target, before=None, after=view)
        await announce_payment(deps, uow, ctx, EventType.PAYMENT_SUCCEEDED, payment)
        order = await settle_order(deps, uow, ctx, order, [*payments, payment], paying=payment)
        return Success(PaymentRecorded(payment, order))

    async def replay_refusal(uow: PaymentsUnit) -> RecordPaymentError | None:
        order = await visible_order(uow, ctx, checked.order_id, for_update=False)
        return order if isinstance(order, OrderNotFound) else None

    operation = Operation("payment.record", checked, PaymentRecorded, _RECORD_OUTCOMES)
    return await in_idempotent_transaction(
        deps, ctx, operation, work, replay_refusal=replay_refusal
    )

"""Reconciliation: a success at the provider whose event never arrived is applied as the
event would have been; a dry run only reports it; a second run finds nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from orderly_core.orders.model import OrderStatus
from orderly_core.payments.model import Payment, PaymentStatus
from orderly_core.payments.ports import ProviderPaymentState, ProviderUnavailable
from orderly_core.payments.reconcile import reconcile_payments
from orderly_core.payments.starting import PaymentStart, start_payment
from orderly_core.shared.context import Mode
from orderly_core.shared.errors import Forbidden
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, STAFF, ctx, err, fresh, ok
from tests.core.payments.helpers import keyed, order_now, payments_of, placed, shop


def state(
    reference: str, payment: Payment, *, succeeded: bool, at: datetime
) -> ProviderPaymentState:
    """The provider's view of a payment; only the first names Orderly's payment and order."""
    ours = reference == "pi_1"
    return ProviderPaymentState(
        reference,
        payment.amount,
        succeeded,
        at,
        payment.id if ours else None,
        payment.order_id if ours else None,
    )


async def test_a_missed_success_is_reported_then_applied_once(deps: Dependencies) -> None:
    deps, provider, clock = shop(deps)
    order = await placed(deps)
    payment = fresh(await start_payment(deps, keyed(ANN, "p"), PaymentStart(str(order.id)))).payment
    unpaid = await placed(deps)
    fresh(await start_payment(deps, keyed(ANN, "q"), PaymentStart(str(unpaid.id))))
    provider.payments = [
        state("pi_1", payment, succeeded=True, at=clock.now()),
        state("pi_2", payment, succeeded=False, at=clock.now()),
        state("pi_old", payment, succeeded=True, at=clock.now() - timedelta(days=9)),
    ]
    since = clock.now() - timedelta(days=2)

    dry = ok(await reconcile_payments(deps, ctx(mode=Mode.DRY_RUN), since))
    assert (await order_now(deps, order.id)).status is OrderStatus.PLACED
    applied = ok(await reconcile_payments(deps, ctx(), since))
    again = ok(await reconcile_payments(deps, ctx(), since))

    assert (dry.checked, [m.outcome for m in dry.missed], dry.applied) == (2, ["paid"], False)
    assert [(m.reference, m.outcome) for m in applied.missed] == [("pi_1", "paid")]
    assert again.missed == ()
    assert (await order_now(deps, order.id)).status is OrderStatus.PAID
    [after] = await payments_of(deps, order.id)
    assert after.status is PaymentStatus.SUCCEEDED


async def test_an_unreachable_provider_and_a_staff_member_are_refused(deps: Dependencies) -> None:
    deps, provider, clock = shop(deps)
    provider.payments = ProviderUnavailable("down")

    assert err(await reconcile_payments(deps, ctx(), clock.now())) == ProviderUnavailable("down")
    assert err(await reconcile_payments(deps, ctx(STAFF), clock.now())) == Forbidden(
        "reconcile payments"
    )

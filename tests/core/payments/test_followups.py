"""Follow-ups: the pending payments of cancelled or expired orders are cancelled at the
provider, tried again when it cannot be reached; only operators and Orderly run them."""

from __future__ import annotations

from datetime import timedelta

from orderly_core.orders.steps import OrderStep, expire_orders
from orderly_core.payments.followups import settle_payments
from orderly_core.payments.model import Payment, PaymentStatus
from orderly_core.payments.ports import ProviderRefused, ProviderUnavailable
from orderly_core.payments.starting import PaymentStart, start_payment
from orderly_core.shared.context import Mode
from orderly_core.shared.errors import Forbidden
from orderly_core.shipments.steps import cancel_order
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, STAFF, ctx, err, fresh, ok
from tests.core.payments.helpers import keyed, payments_of, placed, shop


async def started(deps: Dependencies) -> Payment:
    order = await placed(deps)
    key = keyed(ANN, f"pay-{order.id}")
    return fresh(await start_payment(deps, key, PaymentStart(str(order.id)))).payment


async def test_the_pending_payment_of_a_cancelled_order_is_cancelled_at_the_provider(
    deps: Dependencies,
) -> None:
    deps, provider, _ = shop(deps)
    payment = await started(deps)
    fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(payment.order_id))))

    dry = ok(await settle_payments(deps, ctx(mode=Mode.DRY_RUN)))
    report = ok(await settle_payments(deps, ctx()))
    again = ok(await settle_payments(deps, ctx()))

    assert (dry.cancels_waiting, provider.cancelled[:0]) == ((payment.id,), [])
    assert report.cancelled == (payment.id,)
    assert again.cancelled == ()
    assert provider.cancelled == ["pi_1"]
    [after] = await payments_of(deps, payment.order_id)
    assert after.status is PaymentStatus.CANCELLED


async def test_expiry_leaves_the_payment_to_cancel_and_an_outage_is_tried_again(
    deps: Dependencies,
) -> None:
    deps, provider, clock = shop(deps, cancel_answer=ProviderUnavailable("down"))
    payment = await started(deps)
    clock.advance(timedelta(minutes=31))
    ok(await expire_orders(deps, ctx()))

    first = ok(await settle_payments(deps, ctx()))
    [waiting] = await payments_of(deps, payment.order_id)
    provider.cancel_answer = None
    too_soon = ok(await settle_payments(deps, ctx()))
    assert waiting.retry_at is not None
    clock.advance(waiting.retry_at - clock.now())
    later = ok(await settle_payments(deps, ctx()))

    assert first.cancels_waiting == (payment.id,)
    assert (waiting.status, waiting.attempts) == (PaymentStatus.PENDING, 1)
    assert too_soon.cancelled == ()
    assert later.cancelled == (payment.id,)
    assert provider.cancelled == ["pi_1", "pi_1"]


async def test_a_payment_the_provider_will_not_cancel_fails(deps: Dependencies) -> None:
    deps, _, _ = shop(deps, cancel_answer=ProviderRefused("already captured"))
    payment = await started(deps)
    fresh(await cancel_order(deps, ctx(STAFF), OrderStep(str(payment.order_id))))

    ok(await settle_payments(deps, ctx()))

    [after] = await payments_of(deps, payment.order_id)
    assert after.status is PaymentStatus.FAILED
    assert after.failure_reason == "could not be cancelled: already captured"


async def test_a_payment_that_never_reached_the_provider_is_simply_cancelled(
    deps: Dependencies,
) -> None:
    deps, provider, _ = shop(deps, start_answer=ProviderUnavailable("down"))
    order = await placed(deps)
    err(await start_payment(deps, ctx(ANN), PaymentStart(str(order.id))))
    fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(order.id))))

    report = ok(await settle_payments(deps, ctx()))

    assert len(report.cancelled) == 1
    assert provider.cancelled == []


async def test_only_operators_and_orderly_settle_payments(deps: Dependencies) -> None:
    assert err(await settle_payments(deps, ctx(STAFF))) == Forbidden("settle payments")

"""Provider events: verified, applied once each, in any order, never a crash: a success pays
the order, a failure after a success changes nothing, a success for an ended order is
refunded, a wrong amount changes nothing and tells staff, anything else is recorded and
ignored."""

from __future__ import annotations

from dataclasses import replace

from orderly_core.orders.model import OrderStatus
from orderly_core.orders.steps import OrderStep
from orderly_core.payments.errors import ProviderNotInUse
from orderly_core.payments.events import Outcome, provider_actor, receive_provider_event
from orderly_core.payments.followups import settle_payments
from orderly_core.payments.model import Payment, PaymentStatus, RefundStatus
from orderly_core.payments.ports import NotificationRefused, ProviderEvent, ProviderEventKind
from orderly_core.payments.starting import PaymentStart, start_payment
from orderly_core.shared.context import Context
from orderly_core.shared.money import Money
from orderly_core.shipments.steps import cancel_order
from orderly_core.testing.payments import FakePaymentProvider
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, ctx, err, fresh, ok
from tests.core.payments.helpers import (
    event_types,
    events,
    failed,
    keyed,
    order_now,
    payments_of,
    placed,
    refunds_of,
    shop,
    succeeded,
)

PROVIDER = Context(provider_actor("fake"), "req-event")


async def started(deps: Dependencies) -> Payment:
    order = await placed(deps)
    key = keyed(ANN, f"pay-{order.id}")
    return fresh(await start_payment(deps, key, PaymentStart(str(order.id)))).payment


async def deliver(
    deps: Dependencies, provider: FakePaymentProvider, event: ProviderEvent
) -> Outcome:
    return ok(await receive_provider_event(deps, PROVIDER, provider.notification(event))).outcome


async def test_a_success_pays_the_order_once_however_often_it_is_delivered(
    deps: Dependencies,
) -> None:
    deps, provider, _ = shop(deps)
    payment = await started(deps)

    first = await deliver(deps, provider, succeeded(payment))
    again = await deliver(deps, provider, succeeded(payment))

    assert (first, again) == (Outcome.PAID, Outcome.DUPLICATE)
    assert (await order_now(deps, payment.order_id)).status is OrderStatus.PAID
    types = await event_types(deps)
    assert (types.count("payment.succeeded"), types.count("order.paid")) == (1, 1)
    paid = next(e for e in await events(deps) if e.type.value == "order.paid")
    assert paid.data["payment"]["provider_reference"] == "pi_1"


async def test_a_failure_fails_the_payment_and_leaves_the_order_placed(
    deps: Dependencies,
) -> None:
    deps, provider, _ = shop(deps)
    payment = await started(deps)

    outcome = await deliver(deps, provider, failed(payment))

    assert outcome is Outcome.FAILED
    [after] = await payments_of(deps, payment.order_id)
    assert (after.status, after.failure_reason) == (PaymentStatus.FAILED, "card declined")
    assert (await order_now(deps, payment.order_id)).status is OrderStatus.PLACED
    assert (await event_types(deps))[-1] == "payment.failed"


async def test_a_failure_after_a_success_is_ignored_and_a_later_success_still_counts(
    deps: Dependencies,
) -> None:
    deps, provider, _ = shop(deps)
    payment = await started(deps)
    retried = await started(deps)  # another order: declined first, then paid

    outcomes = [
        await deliver(deps, provider, succeeded(payment, "evt_a")),
        await deliver(deps, provider, failed(payment, "evt_b")),
        await deliver(deps, provider, failed(retried, "evt_c")),
        await deliver(deps, provider, succeeded(retried, "evt_d")),
    ]

    assert outcomes == [Outcome.PAID, Outcome.IGNORED, Outcome.FAILED, Outcome.PAID]
    [kept] = await payments_of(deps, payment.order_id)
    assert kept.status is PaymentStatus.SUCCEEDED


async def test_a_success_for_a_cancelled_order_is_refunded(deps: Dependencies) -> None:
    deps, provider, _ = shop(deps)
    payment = await started(deps)
    fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(payment.order_id))))

    outcome = await deliver(deps, provider, succeeded(payment))
    report = ok(await settle_payments(deps, ctx()))

    assert outcome is Outcome.ORPHANED
    assert (await order_now(deps, payment.order_id)).status is OrderStatus.CANCELLED
    [after] = await payments_of(deps, payment.order_id)
    assert after.status is PaymentStatus.SUCCEEDED
    [refund] = await refunds_of(deps, payment.order_id)
    assert (refund.amount, refund.reason, refund.status) == (
        payment.amount,
        "orphaned",
        RefundStatus.SUCCEEDED,
    )
    assert report.refunded == (refund.id,)
    assert [r.payment_reference for r in provider.refunds] == ["pi_1"]
    types = await event_types(deps)
    assert types[-3:] == ["payment.succeeded", "payment.orphaned", "refund.succeeded"]


async def test_another_amount_or_currency_changes_nothing_and_tells_staff(
    deps: Dependencies,
) -> None:
    deps, provider, _ = shop(deps)
    payment = await started(deps)

    short = await deliver(deps, provider, succeeded(payment, "evt_a", Money(100, "EUR")))
    dollars = await deliver(deps, provider, succeeded(payment, "evt_b", Money(2500, "USD")))

    assert (short, dollars) == (Outcome.MISMATCH, Outcome.MISMATCH)
    [after] = await payments_of(deps, payment.order_id)
    assert after.status is PaymentStatus.PENDING
    assert (await order_now(deps, payment.order_id)).status is OrderStatus.PLACED
    mismatches = [e for e in await events(deps) if e.type.value == "payment.mismatch"]
    assert [e.data["reported"] for e in mismatches] == [
        {"amount": 100, "currency": "EUR"},
        {"amount": 2500, "currency": "USD"},
    ]


async def test_unknown_payments_and_kinds_are_recorded_and_ignored(deps: Dependencies) -> None:
    deps, provider, _ = shop(deps)
    payment = await started(deps)
    stranger = replace(succeeded(payment, "evt_x"), reference="pi_999", payment_id=None)
    other = ProviderEvent("evt_y", "charge.dispute.created", ProviderEventKind.OTHER)

    outcomes = [
        await deliver(deps, provider, stranger),
        await deliver(deps, provider, other),
        await deliver(deps, provider, other),
    ]

    assert outcomes == [Outcome.UNKNOWN_PAYMENT, Outcome.IGNORED, Outcome.DUPLICATE]
    [after] = await payments_of(deps, payment.order_id)
    assert after.status is PaymentStatus.PENDING


async def test_a_forged_notification_changes_nothing(deps: Dependencies) -> None:
    deps, provider, _ = shop(deps)
    payment = await started(deps)
    before = await event_types(deps)
    forged = provider.notification(succeeded(payment), signature="t=1,v1=forged")

    refused = err(await receive_provider_event(deps, PROVIDER, forged))
    genuine = await deliver(deps, provider, succeeded(payment))  # the same event, signed

    assert refused == NotificationRefused("the signature does not match")
    assert (await event_types(deps))[: len(before)] == before
    assert genuine is Outcome.PAID


async def test_a_notification_for_a_provider_the_shop_does_not_use_is_refused_unread(
    deps: Dependencies,
) -> None:
    deps, provider, _ = shop(deps)
    payment = await started(deps)
    before = await event_types(deps)
    notification = provider.notification(succeeded(payment))  # genuine, but for "fake"

    refused = err(await receive_provider_event(deps, PROVIDER, notification, addressed_to="stripe"))
    addressed = ok(await receive_provider_event(deps, PROVIDER, notification, addressed_to="fake"))

    assert refused == ProviderNotInUse("stripe")
    assert refused.code == "payment_provider_not_in_use"
    assert addressed.outcome is Outcome.PAID  # the first time it was read at all
    assert (await event_types(deps))[: len(before)] == before


async def test_a_success_before_the_reference_was_kept_is_found_by_its_payment_id(
    deps: Dependencies,
) -> None:
    deps, provider, _ = shop(deps)
    payment = await started(deps)
    order_id = payment.order_id
    early = replace(succeeded(payment), reference="pi_early")
    async with deps.unit_of_work() as uow:  # as if the reference were not kept yet
        await uow.payments.save(replace(payment, provider_reference=None))
        await uow.commit()

    outcome = await deliver(deps, provider, early)

    assert outcome is Outcome.PAID
    [after] = await payments_of(deps, order_id)
    assert (after.status, after.provider_reference) == (PaymentStatus.SUCCEEDED, "pi_early")

"""Refunds: staff give back at most what was paid minus what was refunded (pending refunds
count), newest payment first; the provider asked outside the transaction; a refund it cannot
take now is tried again later, and fails after enough tries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orderly_core.orders.errors import OrderNotFound
from orderly_core.payments.common import MAX_ATTEMPTS
from orderly_core.payments.errors import RefundExceedsRefundable
from orderly_core.payments.followups import settle_payments
from orderly_core.payments.manual import ManualPayment, record_manual_payment
from orderly_core.payments.model import RefundStatus
from orderly_core.payments.ports import (
    ProviderRefund,
    ProviderRefundStatus,
    ProviderRefused,
    ProviderUnavailable,
)
from orderly_core.payments.refunds import OrderRefund, refund_order
from orderly_core.platform.idempotency import Replayed
from orderly_core.shared.context import Mode
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.testing import FixedClock
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, STAFF, ctx, err, fresh, ok
from tests.core.payments.helpers import event_types, keyed, placed, refunds_of, shop


async def paid_in_two(deps: Dependencies) -> str:
    """An order of 25.00 EUR paid 10.00 then 15.00 by hand."""
    order = await placed(deps)
    for amount, reference in ((1000, "first"), (1500, "second")):
        payment = ManualPayment(str(order.id), amount, reference)
        fresh(await record_manual_payment(deps, ctx(STAFF), payment))
        assert isinstance(deps.clock, FixedClock)
        deps.clock.advance(timedelta(seconds=1))
    return str(order.id)


async def test_a_refund_takes_from_the_newest_payment_first(deps: Dependencies) -> None:
    deps, provider, _ = shop(deps, by_event=False)
    order_id = await paid_in_two(deps)

    made = fresh(await refund_order(deps, keyed(STAFF, "r-1"), OrderRefund(order_id, 2000, "late")))

    assert [(r.amount.amount, r.status) for r in made.refunds] == [
        (1500, RefundStatus.SUCCEEDED),
        (500, RefundStatus.SUCCEEDED),
    ]
    assert [r.payment_reference for r in provider.refunds] == ["second", "first"]
    assert {r.idempotency_key for r in provider.refunds} == {
        f"orderly-refund-{r.id}" for r in made.refunds
    }
    assert (await event_types(deps)).count("refund.succeeded") == 2


async def test_what_was_refunded_or_is_being_refunded_cannot_be_refunded_again(
    deps: Dependencies,
) -> None:
    deps, provider, _ = shop(deps, by_event=False)
    order_id = await paid_in_two(deps)
    provider.refund_answer = ProviderUnavailable("down")
    pending = fresh(await refund_order(deps, ctx(STAFF), OrderRefund(order_id, 2000, "a")))

    too_much = err(await refund_order(deps, ctx(STAFF), OrderRefund(order_id, 501, "b")))
    rest = fresh(await refund_order(deps, ctx(STAFF), OrderRefund(order_id, 500, "c")))
    nothing_left = err(await refund_order(deps, ctx(STAFF), OrderRefund(order_id, 1, "d")))

    assert {r.status for r in pending.refunds} == {RefundStatus.PENDING}
    assert too_much == RefundExceedsRefundable(order_id, 501, 500, "EUR")
    assert [r.amount.amount for r in rest.refunds] == [500]
    assert nothing_left == RefundExceedsRefundable(order_id, 1, 0, "EUR")


async def test_a_refused_refund_gives_its_amount_back_to_what_may_be_refunded(
    deps: Dependencies,
) -> None:
    deps, provider, _ = shop(deps, by_event=False, refund_answer=ProviderRefused("too old"))
    order_id = await paid_in_two(deps)

    refused = fresh(await refund_order(deps, ctx(STAFF), OrderRefund(order_id, 2500, "all")))
    provider.refund_answer = None
    again = fresh(await refund_order(deps, ctx(STAFF), OrderRefund(order_id, 2500, "all")))

    assert {(r.status, r.failure_reason) for r in refused.refunds} == {
        (RefundStatus.FAILED, "too old")
    }
    assert {r.status for r in again.refunds} == {RefundStatus.SUCCEEDED}
    assert (await event_types(deps)).count("refund.failed") == 2


async def test_an_unreachable_provider_is_tried_again_later_until_it_gives_up(
    deps: Dependencies,
) -> None:
    deps, provider, clock = shop(deps, by_event=False, refund_answer=ProviderUnavailable("x"))
    order = await placed(deps, quantity=1)
    fresh(await record_manual_payment(deps, ctx(STAFF), ManualPayment(str(order.id), 1250, "r")))
    [refund] = fresh(
        await refund_order(deps, ctx(STAFF), OrderRefund(str(order.id), 1250, "broken"))
    ).refunds
    assert (refund.status, refund.attempts) == (RefundStatus.PENDING, 1)
    assert refund.retry_at is not None

    not_yet = ok(await settle_payments(deps, ctx()))
    asked = len(provider.refunds)
    for _ in range(MAX_ATTEMPTS - 1):
        [now_] = await refunds_of(deps, order.id)
        assert now_.retry_at is not None
        clock.advance(now_.retry_at - clock.now())
        ok(await settle_payments(deps, ctx()))

    [given_up] = await refunds_of(deps, order.id)
    assert not_yet.refunds_waiting == ()  # not due yet: the provider was not asked
    assert asked == 1
    assert (given_up.status, given_up.attempts) == (RefundStatus.FAILED, MAX_ATTEMPTS)
    assert (await event_types(deps))[-1] == "refund.failed"


async def test_a_pending_refund_settles_once_the_provider_answers(deps: Dependencies) -> None:
    pending_answer = ProviderRefund("re_9", ProviderRefundStatus.PENDING)
    deps, provider, clock = shop(deps, by_event=False, refund_answer=pending_answer)
    order_id = await paid_in_two(deps)
    [refund] = fresh(await refund_order(deps, ctx(STAFF), OrderRefund(order_id, 100, "x"))).refunds
    assert refund.retry_at is not None
    provider.refund_answer = ProviderRefund("re_9", ProviderRefundStatus.SUCCEEDED)

    clock.advance(refund.retry_at - clock.now())
    report = ok(await settle_payments(deps, ctx()))

    assert report.refunded == (refund.id,)
    [done] = [r for r in await refunds_of(deps, refund.order_id) if r.id == refund.id]
    assert (done.status, done.provider_reference) == (RefundStatus.SUCCEEDED, "re_9")


async def test_a_retried_refund_refunds_once_and_a_dry_run_nothing(deps: Dependencies) -> None:
    deps, provider, _ = shop(deps, by_event=False)
    order_id = await paid_in_two(deps)
    request = OrderRefund(order_id, 700, "scratched")

    dry = fresh(await refund_order(deps, keyed(STAFF, None, Mode.DRY_RUN), request))
    assert [r.amount.amount for r in dry.refunds] == [700]
    assert (provider.refunds, await refunds_of(deps, dry.refunds[0].order_id)) == ([], [])
    first = fresh(await refund_order(deps, keyed(STAFF, "r-1"), request))
    again = ok(await refund_order(deps, keyed(STAFF, "r-1"), request))

    assert isinstance(again, Replayed)
    assert again.original == first
    assert len(provider.refunds) == 1
    assert len(await refunds_of(deps, first.refunds[0].order_id)) == 1


@pytest.mark.parametrize(
    ("amount", "reason", "fields"),
    [
        (0, "x", ["amount"]),
        (10**16, "x", ["amount"]),
        (100, "", ["reason"]),
        (100, "bad\x00", ["reason"]),
        (100, "r" * 256, ["reason"]),
    ],
)
async def test_an_amount_and_a_reason_are_checked(
    deps: Dependencies, amount: int, reason: str, fields: list[str]
) -> None:
    deps, _, _ = shop(deps, by_event=False)
    order_id = await paid_in_two(deps)

    refused = err(await refund_order(deps, ctx(STAFF), OrderRefund(order_id, amount, reason)))

    assert isinstance(refused, InvalidInput)
    assert [e.field for e in refused.errors] == fields


async def test_customers_refund_nothing_and_unknown_orders_are_not_found(
    deps: Dependencies,
) -> None:
    deps, _, _ = shop(deps, by_event=False)
    order_id = await paid_in_two(deps)

    by_customer = err(await refund_order(deps, ctx(ANN), OrderRefund(order_id, 100, "mine")))
    unknown = err(await refund_order(deps, ctx(STAFF), OrderRefund("nope", 100, "x")))

    assert by_customer == Forbidden("refund orders")
    assert unknown == OrderNotFound("nope")

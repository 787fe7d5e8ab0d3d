"""Payments recorded by hand: only staff, admins and operators; never more than is owed; the
order paid once its payments cover its total; refused when a provider settles payments."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.model import OrderStatus
from orderly_core.orders.steps import OrderStep
from orderly_core.payments.errors import ManualPaymentRefused, OrderNotPayable, PaymentExceedsDue
from orderly_core.payments.manual import ManualPayment, record_manual_payment
from orderly_core.payments.model import PaymentStatus
from orderly_core.platform.idempotency import Replayed
from orderly_core.shared.context import Mode
from orderly_core.shared.errors import Forbidden, InvalidInput
from orderly_core.shared.money import MAX_MINOR_UNITS
from orderly_core.shipments.steps import cancel_order
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, BOB, OPERATOR, STAFF, ctx, err, fresh, ok
from tests.core.payments.helpers import (
    audit_entries,
    event_types,
    events,
    keyed,
    order_now,
    payments_of,
    placed,
    shop,
)


async def test_partial_payments_pay_the_order_once_they_cover_its_total(
    deps: Dependencies,
) -> None:
    deps, _, clock = shop(deps, by_event=False)
    order = await placed(deps)  # 25.00 EUR

    first = fresh(
        await record_manual_payment(deps, ctx(STAFF), ManualPayment(str(order.id), 1000, "cash"))
    )
    clock.advance(timedelta(seconds=1))  # payments are listed oldest first
    second = fresh(
        await record_manual_payment(
            deps, ctx(OPERATOR), ManualPayment(str(order.id), 1500, "  SEPA 77  ")
        )
    )

    assert first.order.status is OrderStatus.PLACED
    assert second.order.status is OrderStatus.PAID
    assert second.payment.provider_reference == "SEPA 77"  # trimmed
    payments = await payments_of(deps, order.id)
    assert [(p.provider, p.status, p.amount.amount) for p in payments] == [
        ("manual", PaymentStatus.SUCCEEDED, 1000),
        ("manual", PaymentStatus.SUCCEEDED, 1500),
    ]
    assert (await event_types(deps))[-3:] == [
        "payment.succeeded",
        "payment.succeeded",
        "order.paid",
    ]
    paid_event = (await events(deps))[-1]
    assert paid_event.data["payment"]["id"] == str(second.payment.id)
    assert paid_event.data["status"] == "paid"
    assert [e.operation for e in await audit_entries(deps, "payment")] == [
        "payment.record",
        "payment.record",
    ]
    order_entries = sorted(e.operation for e in await audit_entries(deps, "order"))
    assert order_entries == ["order.paid", "order.place"]


async def test_customers_may_not_record_payments_even_of_their_own_orders(
    deps: Dependencies,
) -> None:
    deps, _, _ = shop(deps, by_event=False)
    order = await placed(deps)
    payment = ManualPayment(str(order.id), 2500, "I paid, trust me")

    assert err(await record_manual_payment(deps, ctx(ANN), payment)) == Forbidden("record payments")
    assert err(await record_manual_payment(deps, ctx(BOB), payment)) == Forbidden("record payments")
    assert (await order_now(deps, order.id)).status is OrderStatus.PLACED
    assert await payments_of(deps, order.id) == []


async def test_no_more_than_the_order_owes_is_recorded(deps: Dependencies) -> None:
    deps, _, _ = shop(deps, by_event=False)
    order = await placed(deps)
    fresh(await record_manual_payment(deps, ctx(STAFF), ManualPayment(str(order.id), 2000, "a")))

    refused = err(
        await record_manual_payment(deps, ctx(STAFF), ManualPayment(str(order.id), 501, "b"))
    )

    assert refused == PaymentExceedsDue(str(order.id), 501, 500, "EUR")
    assert len(await payments_of(deps, order.id)) == 1


@pytest.mark.parametrize(
    ("amount", "reference", "fields"),
    [
        (0, "ref", ["amount"]),
        (-5, "ref", ["amount"]),
        (MAX_MINOR_UNITS + 1, "ref", ["amount"]),
        (True, "ref", ["amount"]),
        (100, "", ["reference"]),
        (100, "   ", ["reference"]),
        (100, "a\x00b", ["reference"]),
        (100, "line\nbreak", ["reference"]),
        (100, "r" * 256, ["reference"]),
        (0, "\ud800", ["amount", "reference"]),
    ],
)
async def test_an_amount_and_a_reference_are_checked(
    deps: Dependencies, amount: int, reference: str, fields: list[str]
) -> None:
    deps, _, _ = shop(deps, by_event=False)
    order = await placed(deps)

    refused = err(
        await record_manual_payment(
            deps, ctx(STAFF), ManualPayment(str(order.id), amount, reference)
        )
    )

    assert isinstance(refused, InvalidInput)
    assert [e.field for e in refused.errors] == fields


async def test_a_provider_that_settles_by_its_events_takes_no_payment_by_hand(
    deps: Dependencies,
) -> None:
    deps, _, _ = shop(deps, by_event=True)
    order = await placed(deps)

    refused = err(
        await record_manual_payment(deps, ctx(STAFF), ManualPayment(str(order.id), 2500, "x"))
    )

    assert refused == ManualPaymentRefused("fake")
    assert "verified provider event" in refused.detail


async def test_only_a_placed_order_takes_a_payment(deps: Dependencies) -> None:
    deps, _, _ = shop(deps, by_event=False)
    paid = await placed(deps)
    fresh(await record_manual_payment(deps, ctx(STAFF), ManualPayment(str(paid.id), 2500, "a")))
    cancelled = await placed(deps)
    fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(cancelled.id))))

    again = err(await record_manual_payment(deps, ctx(STAFF), ManualPayment(str(paid.id), 1, "b")))
    late = err(
        await record_manual_payment(deps, ctx(STAFF), ManualPayment(str(cancelled.id), 1, "c"))
    )
    nowhere = err(await record_manual_payment(deps, ctx(STAFF), ManualPayment("not-an-id", 1, "d")))

    assert again == OrderNotPayable(str(paid.id), "paid")
    assert late == OrderNotPayable(str(cancelled.id), "cancelled")
    assert nowhere == OrderNotFound("not-an-id")


async def test_a_retried_recording_records_once_and_a_dry_run_nothing(
    deps: Dependencies,
) -> None:
    deps, _, _ = shop(deps, by_event=False)
    order = await placed(deps)
    payment = ManualPayment(str(order.id), 2500, "SEPA 1")
    dry = fresh(await record_manual_payment(deps, keyed(STAFF, None, Mode.DRY_RUN), payment))
    assert dry.order.status is OrderStatus.PAID  # what it would do
    assert await payments_of(deps, order.id) == []

    first = fresh(await record_manual_payment(deps, keyed(STAFF, "pay-1"), payment))
    again = ok(await record_manual_payment(deps, keyed(STAFF, "pay-1"), payment))

    assert again == Replayed(first)
    assert len(await payments_of(deps, order.id)) == 1
    assert (await event_types(deps)).count("order.paid") == 1

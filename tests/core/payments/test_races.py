"""Payments that race, on PostgreSQL (the fakes run one transaction at a time): refunds of one
order lock it, so two that together exceed what was paid cannot both be made; a provider
event delivered twice at once is applied once."""

from __future__ import annotations

import asyncio

import pytest
from returns.pipeline import is_successful

from orderly_core.orders.model import OrderStatus
from orderly_core.payments.errors import RefundExceedsRefundable
from orderly_core.payments.events import Outcome, provider_actor, receive_provider_event
from orderly_core.payments.manual import ManualPayment, record_manual_payment
from orderly_core.payments.refunds import OrderRefund, refund_order
from orderly_core.payments.starting import PaymentStart, start_payment
from orderly_core.shared.context import Context
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, STAFF, ctx, fresh, ok
from tests.core.payments.helpers import (
    event_types,
    keyed,
    order_now,
    placed,
    refunds_of,
    shop,
    succeeded,
)

pytestmark = pytest.mark.postgres
ROUNDS = 8


async def test_of_two_refunds_that_together_exceed_what_was_paid_one_is_refused(
    pg_deps: Dependencies,
) -> None:
    deps, _, _ = shop(pg_deps, by_event=False)
    for _ in range(ROUNDS):
        order = await placed(deps)
        payment = ManualPayment(str(order.id), 2500, "SEPA")
        fresh(await record_manual_payment(deps, ctx(STAFF), payment))
        request = OrderRefund(str(order.id), 1500, "damaged")

        results = await asyncio.gather(
            refund_order(deps, ctx(STAFF), request),
            refund_order(deps, ctx(STAFF), request),
        )

        assert sum(is_successful(r) for r in results) == 1
        [refused] = [r.failure() for r in results if not is_successful(r)]
        assert refused == RefundExceedsRefundable(str(order.id), 1500, 1000, "EUR")
        assert sum(r.amount.amount for r in await refunds_of(deps, order.id)) == 1500


async def test_an_event_delivered_twice_at_once_is_applied_once(pg_deps: Dependencies) -> None:
    deps, provider, _ = shop(pg_deps)
    receiver = Context(provider_actor(provider.name), "req-event")
    for round_ in range(ROUNDS):
        order = await placed(deps)
        start = keyed(ANN, f"pay-{round_}")
        payment = fresh(await start_payment(deps, start, PaymentStart(str(order.id)))).payment
        event = succeeded(payment, f"evt_{round_}")

        results = await asyncio.gather(
            receive_provider_event(deps, receiver, provider.notification(event)),
            receive_provider_event(deps, receiver, provider.notification(event)),
        )

        outcomes = sorted(ok(r).outcome.value for r in results)
        assert outcomes == sorted([Outcome.PAID.value, Outcome.DUPLICATE.value])
        assert (await order_now(deps, order.id)).status is OrderStatus.PAID
    types = await event_types(deps)
    assert (types.count("order.paid"), types.count("payment.succeeded")) == (ROUNDS, ROUNDS)

"""Starting a payment: one pending payment per order, for what it owes; the provider asked
outside any transaction with a key derived from the payment; its client action answered,
never kept; an unreachable provider leaves a payment a retry continues."""

from __future__ import annotations

import json
from datetime import timedelta

from orderly_core.orders.errors import OrderNotFound
from orderly_core.orders.steps import OrderStep
from orderly_core.payments.errors import OrderNotPayable
from orderly_core.payments.manual import ManualPayment, record_manual_payment
from orderly_core.payments.model import PaymentStatus
from orderly_core.payments.ports import ProviderRefused, ProviderUnavailable
from orderly_core.payments.starting import PaymentStart, start_payment
from orderly_core.platform.idempotency import Replayed
from orderly_core.shared.context import Mode
from orderly_core.shipments.steps import cancel_order
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, BOB, STAFF, ctx, err, fresh, ok
from tests.core.payments.helpers import (
    audit_entries,
    event_types,
    events,
    keyed,
    payments_of,
    placed,
    shop,
)


async def test_a_customer_starts_paying_their_order_for_its_total(deps: Dependencies) -> None:
    deps, provider, _ = shop(deps)
    order = await placed(deps)

    started = fresh(await start_payment(deps, keyed(ANN, "pay-1"), PaymentStart(str(order.id))))

    payment = started.payment
    assert (payment.status, payment.amount.amount, payment.provider) == (
        PaymentStatus.PENDING,
        2500,
        "fake",
    )
    assert (payment.provider_reference, started.client_action) == ("pi_1", "secret_1")
    [request] = provider.started
    assert request.idempotency_key == f"orderly-payment-{payment.id}"
    assert (request.payment_id, request.order_id, request.amount) == (
        payment.id,
        order.id,
        payment.amount,
    )
    assert [p.provider_reference for p in await payments_of(deps, order.id)] == ["pi_1"]


async def test_the_client_action_is_stored_audited_and_announced_nowhere(
    deps: Dependencies,
) -> None:
    deps, _, _ = shop(deps)
    order = await placed(deps)

    fresh(await start_payment(deps, keyed(ANN, "pay-1"), PaymentStart(str(order.id))))

    kept = [dict(e.changes) for e in await audit_entries(deps, "payment")]
    kept += [dict(e.data) for e in await events(deps)]
    assert kept
    assert "secret_" not in json.dumps(kept, default=str)


async def test_starting_again_continues_the_pending_payment(deps: Dependencies) -> None:
    deps, provider, _ = shop(deps)
    order = await placed(deps)
    first = fresh(await start_payment(deps, keyed(ANN, "pay-1"), PaymentStart(str(order.id))))

    replayed = ok(await start_payment(deps, keyed(ANN, "pay-1"), PaymentStart(str(order.id))))
    by_staff = fresh(await start_payment(deps, keyed(STAFF, "x"), PaymentStart(str(order.id))))

    assert isinstance(replayed, Replayed)
    assert replayed.original.payment.id == first.payment.id
    assert replayed.original.client_action == "secret_1"  # asked of the provider again
    assert by_staff.payment.id == first.payment.id
    assert provider.resumed == ["pi_1", "pi_1"]
    assert len(provider.started) == 1
    assert len(await payments_of(deps, order.id)) == 1


async def test_an_unreachable_provider_leaves_a_payment_a_retry_continues(
    deps: Dependencies,
) -> None:
    deps, provider, _ = shop(deps, start_answer=ProviderUnavailable("timed out"))
    order = await placed(deps)

    down = err(await start_payment(deps, keyed(ANN, "pay-1"), PaymentStart(str(order.id))))
    [waiting] = await payments_of(deps, order.id)
    provider.start_answer = None
    retried = ok(await start_payment(deps, keyed(ANN, "pay-1"), PaymentStart(str(order.id))))

    assert down == ProviderUnavailable("timed out")
    assert (waiting.status, waiting.provider_reference) == (PaymentStatus.PENDING, None)
    assert isinstance(retried, Replayed)
    assert retried.original.payment.id == waiting.id
    assert retried.original.payment.provider_reference is not None
    keys = {r.idempotency_key for r in provider.started}
    assert keys == {f"orderly-payment-{waiting.id}"}  # the provider starts it once
    [kept] = await payments_of(deps, order.id)
    assert kept.provider_reference == retried.original.payment.provider_reference


async def test_a_refusal_by_the_provider_fails_the_payment(deps: Dependencies) -> None:
    deps, _, _ = shop(deps, start_answer=ProviderRefused("amount too small"))
    order = await placed(deps)

    refused = err(await start_payment(deps, keyed(ANN, "pay-1"), PaymentStart(str(order.id))))

    assert refused == ProviderRefused("amount too small")
    [payment] = await payments_of(deps, order.id)
    assert (payment.status, payment.failure_reason) == (PaymentStatus.FAILED, "amount too small")
    assert (await event_types(deps))[-1] == "payment.failed"


async def test_a_partly_paid_order_is_asked_for_the_rest(deps: Dependencies) -> None:
    deps, _, _ = shop(deps, by_event=False)
    order = await placed(deps)
    first = fresh(await start_payment(deps, keyed(ANN, "pay-1"), PaymentStart(str(order.id))))
    fresh(await record_manual_payment(deps, ctx(STAFF), ManualPayment(str(order.id), 1000, "c")))

    rest = fresh(await start_payment(deps, keyed(ANN, "pay-2"), PaymentStart(str(order.id))))

    assert rest.payment.amount.amount == 1500
    assert rest.payment.id != first.payment.id
    before = {p.id: p for p in await payments_of(deps, order.id)}
    assert before[first.payment.id].cancel_due  # left to be cancelled at the provider


async def test_only_a_placed_unexpired_order_of_ones_own_is_paid(deps: Dependencies) -> None:
    deps, _, clock = shop(deps)
    cancelled = await placed(deps)
    fresh(await cancel_order(deps, ctx(ANN), OrderStep(str(cancelled.id))))
    expiring = await placed(deps)

    on_cancelled = err(await start_payment(deps, ctx(ANN), PaymentStart(str(cancelled.id))))
    by_someone_else = err(await start_payment(deps, ctx(BOB), PaymentStart(str(expiring.id))))
    clock.advance(timedelta(minutes=30))
    on_expired = err(await start_payment(deps, ctx(ANN), PaymentStart(str(expiring.id))))

    assert on_cancelled == OrderNotPayable(str(cancelled.id), "cancelled")
    assert by_someone_else == OrderNotFound(str(expiring.id))
    assert on_expired == OrderNotPayable(str(expiring.id), "expired")


async def test_a_dry_run_asks_the_provider_nothing(deps: Dependencies) -> None:
    deps, provider, _ = shop(deps)
    order = await placed(deps)

    dry = fresh(
        await start_payment(deps, keyed(ANN, None, Mode.DRY_RUN), PaymentStart(str(order.id)))
    )

    assert (dry.payment.amount.amount, dry.client_action) == (2500, None)
    assert provider.started == []
    assert await payments_of(deps, order.id) == []

"""Builders shared by the payments' tests: a shop with a scripted payment provider, placed
orders, and the events that provider would post."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from orderly_core.orders.model import Order
from orderly_core.orders.placement import place_order
from orderly_core.payments.model import Payment, Refund
from orderly_core.payments.ports import ProviderEvent, ProviderEventKind
from orderly_core.platform.audit import AuditEntry, AuditQuery
from orderly_core.platform.outbox import Event
from orderly_core.shared.context import Actor, Context, Mode
from orderly_core.shared.money import Money
from orderly_core.testing import FixedClock
from orderly_core.testing.payments import FakePaymentProvider
from orderly_core.unit_of_work import Dependencies
from tests.core.helpers import ANN, fresh, make_product, order


def keyed(actor: Actor, key: str | None = None, mode: Mode = Mode.EXECUTE) -> Context:
    return Context(actor=actor, request_id=f"req-{key}", idempotency_key=key, mode=mode)


def shop(
    deps: Dependencies, *, by_event: bool = True, **answers: Any
) -> tuple[Dependencies, FakePaymentProvider, FixedClock]:
    """``deps`` with a fixed clock and a scripted provider (Stripe-like unless ``by_event``
    is false: a shop whose staff record payments by hand)."""
    provider = FakePaymentProvider(settles_by_event=by_event, **answers)
    clock = FixedClock()
    return replace(deps, payment_provider=provider, clock=clock), provider, clock


async def placed(deps: Dependencies, quantity: int = 2, customer: Actor = ANN) -> Order:
    """An order of ``quantity`` mugs at 12.50 EUR each."""
    async with deps.unit_of_work() as uow:
        known = await uow.products.get("MUG-1")
    if known is None:
        await make_product(deps, "MUG-1", on_hand=100, unit_price=1250)
    return fresh(await place_order(deps, keyed(customer), order(("MUG-1", quantity)))).order


def succeeded(
    payment: Payment, event_id: str = "evt_1", amount: Money | None = None
) -> ProviderEvent:
    return ProviderEvent(
        event_id=event_id,
        type="payment_intent.succeeded",
        kind=ProviderEventKind.PAYMENT_SUCCEEDED,
        reference=payment.provider_reference,
        amount=amount or payment.amount,
        payment_id=payment.id,
        order_id=payment.order_id,
    )


def failed(payment: Payment, event_id: str = "evt_2") -> ProviderEvent:
    return ProviderEvent(
        event_id=event_id,
        type="payment_intent.payment_failed",
        kind=ProviderEventKind.PAYMENT_FAILED,
        reference=payment.provider_reference,
        amount=payment.amount,
        payment_id=payment.id,
        order_id=payment.order_id,
        failure_reason="card declined",
    )


async def payments_of(deps: Dependencies, order_id: uuid.UUID) -> list[Payment]:
    async with deps.unit_of_work() as uow:
        return await uow.payments.of_order(order_id)


async def refunds_of(deps: Dependencies, order_id: uuid.UUID) -> list[Refund]:
    async with deps.unit_of_work() as uow:
        return await uow.refunds.of_order(order_id)


async def order_now(deps: Dependencies, order_id: uuid.UUID) -> Order:
    async with deps.unit_of_work() as uow:
        found = await uow.orders.get(order_id)
    assert found is not None
    return found


async def events(deps: Dependencies) -> list[Event]:
    """Every event not yet dispatched, oldest first."""
    async with deps.unit_of_work() as uow:
        return await uow.outbox.claim(10_000)


async def event_types(deps: Dependencies) -> list[str]:
    return [e.type.value for e in await events(deps)]


async def audit_entries(deps: Dependencies, target_type: str) -> list[AuditEntry]:
    async with deps.unit_of_work() as uow:
        query = AuditQuery(target_type=target_type)
        found = await uow.audit.list(after=None, limit=1000, query=query)
    return sorted(found, key=lambda e: (e.at, e.id))

"""Checkout through Stripe end to end: the API configured with PAYMENT_PROVIDER=stripe, served
by uvicorn on 127.0.0.1, in front of localstripe (a stateful Stripe stand-in, its own process),
which posts its signed events to the API's event URL as Stripe would. A storefront pays with
a card through Stripe's SDK, exactly as Stripe.js would in the customer's browser.

Each event is also received by the tests' own receiver (registered for every event), which
keeps the body and the signature as posted: replaying them proves a redelivery changes
nothing. The CLI (`orderly payments settle|reconcile`) runs in-process, in a thread, with the
same Stripe settings.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from orderly_cli.main import app as cli_app
from orderly_core.orders.steps import expire_orders
from orderly_core.shared.context import Actor, Context
from orderly_core.testing.platform import FixedClock
from orderly_db.tables import audit_entries, idempotency_keys, outbox, payments, provider_events
from orderly_http.routes.provider_events import MAX_EVENT_BYTES, STRIPE_EVENTS_PATH
from tests.core.helpers import ok
from tests.http.helpers import assert_problem
from tests.http.stripe_shop import (
    ORDERS,
    SUCCEEDED,
    Shop,
    eventually,
    keyed,
    order_id,
    order_of,
    outbox_types,
    payments_of,
    start,
)
from tests.payments_fixtures import (
    CARD_DECLINED,
    WEBHOOK_SECRET,
    Delivery,
)

pytestmark = pytest.mark.postgres

OPERATOR = Context(Actor.operator("test"), "req-stripe-tests")


# --- helpers ---------------------------------------------------------------------------------


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, at: float | None = None) -> str:
    """A ``Stripe-Signature`` of ``payload`` as Stripe writes it."""
    timestamp = int(time.time() if at is None else at)
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


async def an_order(shop: Shop, quantity: int = 2) -> str:
    """An order of ``quantity`` mugs (10.00 EUR each) placed by the customer; its URL."""
    body = {"lines": [{"sku": "MUG-1", "quantity": quantity}]}
    placed = await shop.client.post(ORDERS, json=body, headers=keyed(shop.customer))
    assert placed.status_code == 201, placed.text
    location: str = placed.headers["location"]
    return location


async def post_event(
    shop: Shop, payload: bytes, signature: str | bytes | None, **headers: str
) -> httpx.Response:
    sent = {b"Content-Type": b"application/json; charset=utf-8"}
    sent |= {name.encode(): value.encode() for name, value in headers.items()}
    if signature is not None:
        sent[b"Stripe-Signature"] = signature.encode() if isinstance(signature, str) else signature
    return await shop.client.post(STRIPE_EVENTS_PATH, content=payload, headers=sent)


async def count(engine: AsyncEngine, table: Any, *where: Any) -> int:
    async with engine.connect() as connection:
        found = await connection.scalar(select(func.count()).select_from(table).where(*where))
    return int(found or 0)


async def stored_text(shop: Shop) -> str:
    """Everything Orderly keeps that could leak a secret: audit entries, outbox events,
    stored idempotent answers, payments and the handled provider events."""
    texts: list[str] = []
    async with shop.engine.connect() as connection:
        for table in (audit_entries, outbox, idempotency_keys, payments, provider_events):
            rows = await connection.execute(select(table))
            texts.extend(json.dumps(dict(row._mapping), default=str) for row in rows)
    return "\n".join(texts)


def cli(environment: dict[str, str], *args: str) -> Result:
    """`orderly ...` in-process, with the shop's Stripe settings (run it in a thread: the
    command runs its own event loop)."""
    return CliRunner().invoke(cli_app, list(args), env=environment)


async def run_cli(environment: dict[str, str], *args: str) -> dict[str, Any]:
    result = await asyncio.to_thread(cli, environment, *args, "--json")
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    return body


# --- a card payment ----------------------------------------------------------------------------


@pytest.mark.usefixtures("orderly_receives_events")
async def test_a_card_payment_pays_the_order_exactly_once(
    shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    at = await an_order(shop)
    payment = await start(shop, at, key="checkout-1")
    again = await start(shop, at, key="checkout-1")  # a retried request: the same payment
    intent = payment["provider_reference"]
    secret = payment["client_secret"]

    assert (payment["provider"], payment["status"], payment["amount"]) == (
        "stripe",
        "pending",
        2000,
    )
    assert (payment["currency"], payment["instructions"]) == ("EUR", None)
    assert intent.startswith("pi_")
    assert secret.startswith(f"{intent}_secret_")
    assert (again["id"], again["client_secret"]) == (payment["id"], secret)
    at_stripe = shop.stripe().v1.payment_intents.retrieve(intent)
    assert (at_stripe.amount, at_stripe.currency, at_stripe.status) == (
        2000,
        "eur",
        "requires_payment_method",
    )
    assert at_stripe.metadata.to_dict() == {"order_id": order_id(at), "payment_id": payment["id"]}

    assert await shop.localstripe.storefront.pay(intent) == "succeeded"
    await eventually(shop, at, "succeeded")
    delivery = await shop.events.wait_for(SUCCEEDED, intent)
    replayed = await post_event(shop, delivery.payload, delivery.signature)

    assert (await order_of(shop, at))["status"] == "paid"
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {
        "event_id": delivery.body["id"],
        "type": SUCCEEDED,
        "outcome": "duplicate",
        "payment_id": None,
    }
    [paid] = await payments_of(shop, at)
    assert (paid["id"], paid["status"], paid["provider_reference"]) == (
        payment["id"],
        "succeeded",
        intent,
    )
    types = await outbox_types(shop)
    assert types.count("order.paid") == 1
    assert types.count("payment.succeeded") == 1
    assert await count(shop.engine, provider_events) == 1
    # The client secret was answered to the customer, and kept nowhere else.
    assert secret not in await stored_text(shop)
    assert "_secret_" not in await stored_text(shop)
    written = capsys.readouterr()
    assert '"event": "request"' in written.err  # the API's log lines were captured
    assert secret not in written.out + written.err
    assert "_secret_" not in written.out + written.err


@pytest.mark.usefixtures("orderly_receives_events")
async def test_a_declined_card_fails_the_payment_and_another_card_pays(shop: Shop) -> None:
    at = await an_order(shop)
    first = await start(shop, at)

    assert await shop.localstripe.storefront.pay(first["provider_reference"], CARD_DECLINED) == (
        "declined"
    )
    await eventually(shop, at, "failed")
    [failed] = await payments_of(shop, at)

    assert failed["failure_reason"] == "Your card was declined."
    assert (await order_of(shop, at))["status"] == "placed"
    assert (await outbox_types(shop)).count("payment.failed") == 1

    second = await start(shop, at)  # the customer tries again: a new PaymentIntent
    assert second["provider_reference"] != first["provider_reference"]
    assert await shop.localstripe.storefront.pay(second["provider_reference"]) == "succeeded"
    await eventually(shop, at, "succeeded")

    assert (await order_of(shop, at))["status"] == "paid"
    assert [p["status"] for p in await payments_of(shop, at)] == ["failed", "succeeded"]
    assert (await outbox_types(shop)).count("order.paid") == 1


# --- events that are not Stripe's ---------------------------------------------------------------


def succeeded_event(payment: dict[str, Any], at: str, amount: int = 2000) -> bytes:
    """A ``payment_intent.succeeded`` for the payment, as Stripe would write it."""
    intent = {
        "id": payment["provider_reference"],
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": "eur",
        "status": "succeeded",
        "metadata": {"order_id": order_id(at), "payment_id": payment["id"]},
    }
    return json.dumps(
        {"id": f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": SUCCEEDED,
         "created": int(time.time()), "data": {"object": intent}}
    ).encode()  # fmt: skip


async def test_an_event_without_stripes_signature_is_refused_and_changes_nothing(
    shop: Shop,
) -> None:
    at = await an_order(shop)
    payment = await start(shop, at)
    payload = succeeded_event(payment, at)
    tampered = payload.replace(b'"amount": 2000', b'"amount": 1')
    stale = time.time() - 6 * 60
    before = await outbox_types(shop)

    refused = {
        "forged": await post_event(shop, payload, sign(payload, "whsec_somebodyelse")),
        "missing": await post_event(shop, payload, None),
        "empty": await post_event(shop, payload, ""),
        "stale": await post_event(shop, payload, sign(payload, at=stale)),
        "from the future": await post_event(shop, payload, sign(payload, at=time.time() + 600)),
        "another body": await post_event(shop, tampered, sign(payload)),
        "not json": await post_event(shop, b"\xff\xfe\x00", sign(b"\xff\xfe\x00")),
        "a json array": await post_event(shop, b"[1]", sign(b"[1]")),
        "garbage header": await post_event(shop, payload, "t=\xe9,v1=\xff".encode("latin-1")),
        "a bearer token instead": await post_event(
            shop, payload, None, Authorization=shop.staff["Authorization"]
        ),
        "an invalid bearer token": await post_event(
            shop, payload, sign(payload, "whsec_x"), Authorization="Bearer not-a-token"
        ),
    }
    too_large = await post_event(shop, b" " * (MAX_EVENT_BYTES + 1), sign(payload))

    for case, response in refused.items():
        body = assert_problem(response, 400, "notification_refused")
        assert "ignature" in body["detail"] or "not a Stripe event" in body["detail"], case
    assert_problem(too_large, 413, "payload_too_large")
    assert (await order_of(shop, at))["status"] == "placed"
    assert [p["status"] for p in await payments_of(shop, at)] == ["pending"]
    assert await outbox_types(shop) == before
    assert await count(shop.engine, provider_events) == 0

    # The same event, signed with the endpoint's secret, is applied: only the signature
    # made the difference.
    signed = await post_event(shop, payload, sign(payload))
    assert signed.status_code == 200, signed.text
    assert signed.json()["outcome"] == "paid"
    assert signed.json()["payment_id"] == payment["id"]


async def test_an_event_of_no_interest_is_acknowledged_and_ignored(shop: Shop) -> None:
    payload = json.dumps(
        {"id": "evt_customer_1", "object": "event", "type": "customer.created",
         "created": int(time.time()), "data": {"object": {"id": "cus_1", "object": "customer"}}}
    ).encode()  # fmt: skip

    first = await post_event(shop, payload, sign(payload))
    again = await post_event(shop, payload, sign(payload))

    assert first.status_code == 200, first.text
    assert first.json()["outcome"] == "ignored"
    assert again.json()["outcome"] == "duplicate"
    assert await count(shop.engine, provider_events) == 1


# --- what only staff do, and what nobody does under Stripe ----------------------------------------


async def test_nobody_marks_an_order_paid_by_hand_under_stripe(shop: Shop) -> None:
    at = await an_order(shop)
    pay = {"amount": 2000, "reference": "SEPA 1"}

    by_customer = await shop.client.post(f"{at}/pay", json=pay, headers=keyed(shop.customer))
    by_staff = await shop.client.post(f"{at}/pay", json=pay, headers=keyed(shop.staff))

    assert_problem(by_customer, 403, "forbidden")
    body = assert_problem(by_staff, 409, "manual_payment_refused")
    assert body["provider"] == "stripe"
    assert (await order_of(shop, at))["status"] == "placed"


@pytest.mark.usefixtures("orderly_receives_events")
async def test_staff_refund_in_parts_up_to_what_stripe_took(shop: Shop) -> None:
    at = await an_order(shop)
    payment = await start(shop, at)
    intent = payment["provider_reference"]
    assert await shop.localstripe.storefront.pay(intent) == "succeeded"
    await eventually(shop, at, "succeeded")
    refund = {"amount": 800, "reason": "one mug arrived broken"}

    by_customer = await shop.client.post(f"{at}/refunds", json=refund, headers=keyed(shop.customer))
    part = await shop.client.post(f"{at}/refunds", json=refund, headers=keyed(shop.staff))
    rest = await shop.client.post(
        f"{at}/refunds", json={"amount": 1200, "reason": "all"}, headers=keyed(shop.staff)
    )
    beyond = await shop.client.post(
        f"{at}/refunds", json={"amount": 1, "reason": "more"}, headers=keyed(shop.staff)
    )

    assert_problem(by_customer, 403, "forbidden")
    assert part.status_code == 201, part.text
    assert rest.status_code == 201, rest.text
    made = [part.json()["items"][0], rest.json()["items"][0]]
    assert [(r["amount"], r["status"]) for r in made] == [(800, "succeeded"), (1200, "succeeded")]
    body = assert_problem(beyond, 409, "refund_exceeds_refundable")
    assert body["refundable"] == 0
    at_stripe = [shop.stripe().v1.refunds.retrieve(r["provider_reference"]) for r in made]
    assert [(r.amount, r.payment_intent, r.status) for r in at_stripe] == [
        (800, intent, "succeeded"),
        (1200, intent, "succeeded"),
    ]
    assert [r.metadata.to_dict() if r.metadata else None for r in at_stripe] == [
        {"refund_id": r["id"]} for r in made
    ]
    assert (await outbox_types(shop)).count("refund.succeeded") == 2


# --- follow-ups: expiry, reconciliation ----------------------------------------------------


async def test_an_expired_orders_payment_intent_is_cancelled_at_stripe(
    shop: Shop, cli_environment: dict[str, str]
) -> None:
    at = await an_order(shop)
    payment = await start(shop, at)
    later = FixedClock(datetime.now(UTC) + timedelta(hours=2))
    expired = ok(await expire_orders(replace(shop.deps, clock=later), OPERATOR))
    assert [str(order) for order in expired.expired] == [order_id(at)]

    dry = await run_cli(cli_environment, "payments", "settle", "--dry-run")
    assert shop.stripe().v1.payment_intents.retrieve(payment["provider_reference"]).status == (
        "requires_payment_method"
    )
    settled = await run_cli(cli_environment, "payments", "settle")
    again = await run_cli(cli_environment, "payments", "settle")

    assert (dry["applied"], dry["cancels_waiting"]) == (False, [payment["id"]])
    assert (settled["applied"], settled["cancelled"]) == (True, [payment["id"]])
    assert again["cancelled"] == []
    intent = shop.stripe().v1.payment_intents.retrieve(payment["provider_reference"])
    assert intent.status == "canceled"
    assert [p["status"] for p in await payments_of(shop, at)] == ["cancelled"]
    order = await order_of(shop, at)
    assert (order["status"], order["cancel_reason"]) == ("cancelled", "expired")


async def test_a_success_whose_event_never_arrived_is_applied_by_reconciliation(
    shop: Shop, cli_environment: dict[str, str]
) -> None:
    at = await an_order(shop)
    payment = await start(shop, at)
    intent = payment["provider_reference"]
    assert await shop.localstripe.storefront.pay(intent) == "succeeded"
    delivery: Delivery = await shop.events.wait_for(SUCCEEDED, intent)  # posted, not to Orderly

    dry = await run_cli(cli_environment, "payments", "reconcile", "--dry-run")
    assert (await order_of(shop, at))["status"] == "placed"
    applied = await run_cli(cli_environment, "payments", "reconcile")
    again = await run_cli(cli_environment, "payments", "reconcile")
    late = await post_event(shop, delivery.payload, delivery.signature)  # the event, at last

    missed = {"reference": intent, "amount": 2000, "currency": "EUR", "outcome": "paid"}
    assert dry["applied"] is False
    assert [{k: m[k] for k in missed} for m in dry["missed"]] == [missed]
    assert applied["applied"] is True
    assert [{k: m[k] for k in missed} for m in applied["missed"]] == [missed]
    assert applied["missed"][0]["payment_id"] == payment["id"]
    assert again["missed"] == []
    assert (await order_of(shop, at))["status"] == "paid"
    assert late.status_code == 200, late.text
    assert late.json()["outcome"] == "already_applied"
    assert (await outbox_types(shop)).count("order.paid") == 1

"""Payments and refunds over HTTP, on the manual provider (the default): customers start
paying and read their orders' payments; only staff record money that arrived and refund;
nothing beyond what was paid is refunded."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import httpx
import pytest

from orderly_core.payments.ports import ProviderUnavailable
from orderly_core.shared.context import Role
from orderly_core.testing.payments import FakePaymentProvider
from orderly_core.unit_of_work import Dependencies
from orderly_http.app import create_app
from orderly_http.settings import HttpSettings
from orderly_payments.settings import DEFAULT_INSTRUCTIONS
from tests.http.accounts import signed_in
from tests.http.helpers import assert_problem, seed, serving

pytestmark = pytest.mark.postgres

ORDERS = "/api/v1/orders"
STRIPE_EVENTS = "/api/v1/payments/stripe/events"
PAYMENT_FIELDS = {
    "id", "order_id", "provider", "provider_reference", "status", "amount", "currency",
    "failure_reason", "version", "created_at", "updated_at",
}  # fmt: skip


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return headers | {"Idempotency-Key": key or uuid.uuid4().hex}


async def an_order(client: httpx.AsyncClient, customer: dict[str, str], quantity: int = 2) -> str:
    """An order of ``quantity`` mugs at 10.00 EUR; its URL."""
    body = {"lines": [{"sku": "MUG-1", "quantity": quantity}]}
    placed = await client.post(ORDERS, json=body, headers=keyed(customer))
    assert placed.status_code == 201, placed.text
    location: str = placed.headers["location"]
    return location


async def shop(
    client: httpx.AsyncClient, deps: Dependencies
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    await seed(deps, "MUG-1", unit_price=1000, on_hand=50)
    _, ann = await signed_in(client, deps, "ann@example.com")
    _, bob = await signed_in(client, deps, "bob@example.com")
    _, staff = await signed_in(client, deps, "stan@example.com", Role.STAFF)
    return ann, bob, staff


def pay(amount: int, reference: str = "SEPA 2031-04-02") -> dict[str, Any]:
    return {"amount": amount, "reference": reference}


async def test_a_customers_pay_is_refused_and_staff_record_the_money(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    ann, _, staff = await shop(client, pg_deps)
    at = await an_order(client, ann)

    refused = await client.post(f"{at}/pay", json=pay(2000), headers=keyed(ann))
    part = await client.post(f"{at}/pay", json=pay(500), headers=keyed(staff))
    rest = await client.post(f"{at}/pay", json=pay(1500), headers=keyed(staff))
    more = await client.post(f"{at}/pay", json=pay(1), headers=keyed(staff))

    assert_problem(refused, 403, "forbidden")
    assert part.status_code == 201, part.text
    assert part.json()["order"]["status"] == "placed"
    assert set(part.json()["payment"]) == PAYMENT_FIELDS
    assert (rest.status_code, rest.json()["order"]["status"]) == (201, "paid")
    assert rest.json()["payment"]["provider"] == "manual"
    assert_problem(more, 409, "order_not_payable")
    assert (await client.get(at, headers=ann)).json()["status"] == "paid"


async def test_a_recording_needs_a_key_and_a_sound_amount(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    ann, _, staff = await shop(client, pg_deps)
    at = await an_order(client, ann)

    no_key = await client.post(f"{at}/pay", json=pay(100), headers=staff)
    too_much = await client.post(f"{at}/pay", json=pay(2001), headers=keyed(staff))
    zero = await client.post(f"{at}/pay", json=pay(0), headers=keyed(staff))
    nul = await client.post(f"{at}/pay", json=pay(1, "a\u0000b"), headers=keyed(staff))
    huge = await client.post(f"{at}/pay", json=pay(10**30), headers=keyed(staff))
    dry = await client.post(f"{at}/pay", params={"mode": "dry_run"}, json=pay(2000), headers=staff)

    assert_problem(no_key, 400, "idempotency_key_required")
    body = assert_problem(too_much, 409, "payment_exceeds_due")
    assert (body["due"], body["amount"]) == (2000, 2001)
    assert_problem(zero, 422, "invalid_input")
    assert_problem(nul, 422, "invalid_input")
    assert_problem(huge, 422, "invalid_input")
    assert (dry.status_code, dry.json()["order"]["status"]) == (200, "paid")
    assert (await client.get(at, headers=ann)).json()["status"] == "placed"


async def test_a_customer_starts_a_payment_and_is_told_how_to_pay(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    ann, bob, _ = await shop(client, pg_deps)
    at = await an_order(client, ann)
    headers = keyed(ann, "pay-order-1")

    started = await client.post(f"{at}/payments", headers=headers)
    again = await client.post(f"{at}/payments", headers=headers)
    no_key = await client.post(f"{at}/payments", headers=ann)
    not_bobs = await client.post(f"{at}/payments", headers=keyed(bob))
    listed = await client.get(f"{at}/payments", headers=ann)

    assert started.status_code == 201, started.text
    body = started.json()
    assert (body["status"], body["amount"], body["provider"]) == ("pending", 2000, "manual")
    assert (body["instructions"], body["client_secret"]) == (DEFAULT_INSTRUCTIONS, None)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == body["id"]
    assert_problem(no_key, 400, "idempotency_key_required")
    assert_problem(not_bobs, 404, "order_not_found")
    assert [p["id"] for p in listed.json()["items"]] == [body["id"]]
    assert "instructions" not in listed.json()["items"][0]
    assert_problem(await client.get(f"{at}/payments", headers=bob), 404, "order_not_found")


async def test_staff_refund_no_more_than_was_paid(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    ann, _, staff = await shop(client, pg_deps)
    at = await an_order(client, ann)
    unpaid = await an_order(client, ann, 1)
    assert (await client.post(f"{at}/pay", json=pay(2000), headers=keyed(staff))).is_success
    refund = {"amount": 800, "reason": "one mug arrived broken"}

    by_customer = await client.post(f"{at}/refunds", json=refund, headers=keyed(ann))
    dry = await client.post(f"{at}/refunds", params={"mode": "dry_run"}, json=refund, headers=staff)
    made = await client.post(f"{at}/refunds", json=refund, headers=keyed(staff))
    beyond = await client.post(
        f"{at}/refunds", json=refund | {"amount": 1201}, headers=keyed(staff)
    )
    nothing_paid = await client.post(f"{unpaid}/refunds", json=refund, headers=keyed(staff))
    listed = await client.get(f"{at}/refunds", headers=ann)

    assert_problem(by_customer, 403, "forbidden")
    assert (dry.status_code, dry.headers["orderly-mode"]) == (200, "dry_run")
    assert made.status_code == 201, made.text
    [item] = made.json()["items"]
    assert (item["amount"], item["status"], item["reason"]) == (
        800,
        "succeeded",
        "one mug arrived broken",
    )
    body = assert_problem(beyond, 409, "refund_exceeds_refundable")
    assert body["refundable"] == 1200
    assert_problem(nothing_paid, 409, "refund_exceeds_refundable")
    assert [r["id"] for r in listed.json()["items"]] == [item["id"]]


async def test_an_unreachable_provider_is_503_with_retry_after_and_a_retry_continues(
    http_settings: HttpSettings, pg_deps: Dependencies
) -> None:
    provider = FakePaymentProvider(start_answer=ProviderUnavailable("connection refused"))
    deps = replace(pg_deps, payment_provider=provider)
    async with serving(create_app(http_settings, dependencies=deps)) as client:
        ann, _, _ = await shop(client, deps)
        at = await an_order(client, ann)
        headers = keyed(ann, "pay-1")

        down = await client.post(f"{at}/payments", headers=headers)
        provider.start_answer = None
        retried = await client.post(f"{at}/payments", headers=headers)
        listed = await client.get(f"{at}/payments", headers=ann)

    body = assert_problem(down, 503, "payment_provider_unavailable")
    assert down.headers["retry-after"] == "5"
    assert "connection refused" in body["detail"]
    assert retried.status_code == 201, retried.text
    assert (retried.json()["client_secret"], retried.json()["instructions"]) == ("secret_1", None)
    assert [p["provider_reference"] for p in listed.json()["items"]] == ["pi_1"]


async def test_stripes_event_url_is_not_in_use_on_the_manual_provider(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    ann, _, _ = await shop(client, pg_deps)
    event = b'{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}'
    signature = {"Stripe-Signature": "t=1,v1=00"}

    posted = await client.post(STRIPE_EVENTS, content=event, headers=signature)
    signed_in_too = await client.post(STRIPE_EVENTS, content=event, headers=signature | ann)
    too_large = await client.post(STRIPE_EVENTS, content=b" " * (256 * 1024 + 1))

    body = assert_problem(posted, 404, "payment_provider_not_in_use")
    assert body["provider"] == "stripe"
    assert_problem(signed_in_too, 404, "payment_provider_not_in_use")
    assert_problem(too_large, 413, "payload_too_large")

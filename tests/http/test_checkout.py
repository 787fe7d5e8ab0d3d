"""Checkout over HTTP: shipping rates and who may write them, the quote, placing with an
address and a method, changing an order's address, and the limit of unpaid orders."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from orderly_http.app import create_app
from orderly_http.settings import HttpSettings
from tests.http.accounts import signed_in
from tests.http.helpers import assert_problem, seed, serving

RATES = "/api/v1/shipping-rates"
ORDERS = "/api/v1/orders"
STANDARD = {
    "code": "std",
    "name": "Standard",
    "countries": ["DE", "FR"],
    "price": 490,
    "currency": "EUR",
    "free_above": 5000,
}
BERLIN = {"name": "Ann Example", "line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}
RATE_FIELDS = [
    "code", "name", "countries", "price", "currency", "free_above", "active", "version",
    "created_at", "updated_at",
]  # fmt: skip


def keyed(headers: dict[str, str]) -> dict[str, str]:
    return headers | {"Idempotency-Key": uuid.uuid4().hex}


def mugs(quantity: int = 2, **checkout: Any) -> dict[str, Any]:
    return {"lines": [{"sku": "MUG-1", "quantity": quantity}], **checkout}


async def test_admins_write_rates_and_anyone_signed_in_reads_the_active_ones(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, admin = await signed_in(client, pg_deps, "admin@example.com", Role.ADMIN)
    _, staff = await signed_in(client, pg_deps, "staff@example.com", Role.STAFF)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")

    by_staff = await client.post(RATES, json=STANDARD, headers=staff)
    anonymous = await client.get(RATES)
    created = await client.post(RATES, json=STANDARD, headers=keyed(admin))
    again = await client.post(RATES, json=STANDARD, headers=keyed(admin))

    assert_problem(by_staff, 403, "forbidden")
    assert_problem(anonymous, 401, "not_signed_in")
    assert created.status_code == 201, created.text
    assert list(created.json()) == RATE_FIELDS
    assert (created.headers["location"], created.headers["etag"]) == (f"{RATES}/std", '"1"')
    assert_problem(again, 409, "duplicate_shipping_rate")
    listed = await client.get(RATES, headers=ann)
    assert listed.json() == {"items": [created.json()], "next_cursor": None}

    no_if_match = await client.patch(f"{RATES}/STD", json={"price": 590}, headers=admin)
    changed = await client.patch(
        f"{RATES}/STD", json={"price": 590}, headers=admin | {"If-Match": '"1"'}
    )
    stale = await client.patch(
        f"{RATES}/std", json={"price": 690}, headers=admin | {"If-Match": '"1"'}
    )
    retired = await client.delete(f"{RATES}/std", headers=admin)

    assert_problem(no_if_match, 428, "precondition_required")
    assert (changed.status_code, changed.json()["price"], changed.headers["etag"]) == (
        200,
        590,
        '"2"',
    )
    assert_problem(stale, 412, "version_conflict")
    assert (retired.status_code, retired.json()["active"]) == (200, False)
    assert_problem(await client.get(f"{RATES}/std", headers=ann), 404, "shipping_rate_not_found")
    assert (await client.get(f"{RATES}/std", headers=staff)).json()["active"] is False
    assert (await client.get(RATES, headers=ann)).json()["items"] == []


async def test_a_rates_fields_are_checked(client: httpx.AsyncClient, pg_deps: Dependencies) -> None:
    _, admin = await signed_in(client, pg_deps, "admin@example.com", Role.ADMIN)

    refused = await client.post(
        RATES,
        json=STANDARD | {"code": "-x", "countries": ["DE", "XX"], "price": -1},
        headers=admin,
    )
    null = await client.post(RATES, json=STANDARD | {"free_above": None}, headers=admin)

    body = assert_problem(refused, 422, "invalid_input")
    assert sorted(e["field"] for e in body["errors"]) == ["code", "countries.1", "price"]
    assert_problem(null, 422, "invalid_input")


async def test_the_quote_then_the_order_with_its_shipping(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", unit_price=1250, on_hand=10)
    _, admin = await signed_in(client, pg_deps, "admin@example.com", Role.ADMIN)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    await client.post(RATES, json=STANDARD, headers=admin)
    await client.post(
        RATES, json={"code": "express", "name": "Express", "price": 1500, "currency": "EUR"},
        headers=admin,
    )  # fmt: skip

    quote = await client.post(
        f"{ORDERS}?mode=dry_run", json=mugs(shipping_address=BERLIN), headers=ann
    )
    missing = await client.post(ORDERS, json=mugs(), headers=keyed(ann))
    elsewhere = await client.post(
        ORDERS,
        json=mugs(shipping_address=BERLIN | {"country": "US"}, shipping_method="std"),
        headers=keyed(ann),
    )
    placed = await client.post(
        ORDERS,
        json=mugs(shipping_address=BERLIN, shipping_method="std", email="Orders@Example.com"),
        headers=keyed(ann),
    )

    assert quote.status_code == 200, quote.text
    assert quote.json()["shipping_methods"] == [
        {"code": "express", "name": "Express", "price": 1500, "currency": "EUR"},
        {"code": "std", "name": "Standard", "price": 490, "currency": "EUR"},
    ]
    missing_fields = assert_problem(missing, 422, "invalid_input")["errors"]
    assert [e["field"] for e in missing_fields] == ["shipping_address", "shipping_method"]
    assert assert_problem(elsewhere, 422, "shipping_method_unavailable")["field"] == (
        "shipping_method"
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert (order["subtotal"], order["shipping"], order["total"]) == (2500, 490, 2990)
    assert (order["shipping_method"], order["email"]) == ("std", "orders@example.com")
    assert order["shipping_address"] == BERLIN | {
        "line2": "",
        "postal_code": "",
        "region": "",
        "phone": None,
    }


async def test_the_address_changes_until_the_order_ships(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", unit_price=1250, on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, bob = await signed_in(client, pg_deps, "bob@example.com")
    _, staff = await signed_in(client, pg_deps, "staff@example.com", Role.STAFF)
    placed = (await client.post(ORDERS, json=mugs(), headers=keyed(ann))).json()
    url = f"{ORDERS}/{placed['id']}"
    paris = BERLIN | {"line1": "1 rue de Rivoli", "city": "Paris", "country": "FR"}

    by_bob = await client.patch(
        url, json={"shipping_address": paris}, headers=bob | {"If-Match": '"1"'}
    )
    by_ann = await client.patch(
        url, json={"shipping_address": paris}, headers=ann | {"If-Match": '"1"'}
    )
    by_staff = await client.patch(
        url, json={"email": "ann@example.org"}, headers=staff | {"If-Match": '"2"'}
    )
    paid = await client.post(
        f"{url}/pay", json={"amount": 2500, "reference": "SEPA 1"}, headers=keyed(staff)
    )
    shipping = await client.post(f"{url}/ship", headers=staff)
    shipped = await client.patch(
        url, json={"shipping_address": BERLIN}, headers=staff | {"If-Match": "*"}
    )

    assert_problem(by_bob, 404, "order_not_found")
    assert by_ann.status_code == 200, by_ann.text
    assert (by_ann.json()["shipping_address"]["city"], by_ann.headers["etag"]) == ("Paris", '"2"')
    assert (by_staff.json()["email"], by_staff.json()["version"]) == ("ann@example.org", 3)
    assert paid.status_code == 201, paid.text
    assert shipping.json()["status"] == "shipped"
    assert_problem(shipped, 409, "order_not_changeable")


async def test_the_sixth_unpaid_order_is_refused_with_the_limit_at_five(
    http_settings: HttpSettings, pg_deps: Dependencies
) -> None:
    app: FastAPI = create_app(http_settings.model_copy(update={"max_open_unpaid_orders": 5}))
    await seed(pg_deps, "MUG-1", unit_price=1250, on_hand=100)
    async with serving(app) as client:
        _, ann = await signed_in(client, pg_deps, "ann@example.com")
        answers = [await client.post(ORDERS, json=mugs(1), headers=keyed(ann)) for _ in range(6)]

        assert [answer.status_code for answer in answers[:5]] == [201] * 5
        sixth = assert_problem(answers[5], 409, "too_many_open_orders")
        assert sixth["limit"] == 5
        first = answers[0].json()
        await client.post(f"{ORDERS}/{first['id']}/cancel", headers=ann)
        assert (await client.post(ORDERS, json=mugs(1), headers=keyed(ann))).status_code == 201


async def test_a_line_over_the_products_own_limit_is_refused(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    _, staff = await signed_in(client, pg_deps, "staff@example.com", Role.STAFF)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    created = await client.post(
        "/api/v1/products",
        json={"sku": "MUG-1", "name": "Mug", "unit_price": 100, "currency": "EUR",
              "on_hand": 50, "max_per_order": 2},
        headers=staff,
    )  # fmt: skip

    over = await client.post(ORDERS, json=mugs(3), headers=keyed(ann))

    assert created.json()["max_per_order"] == 2
    body = assert_problem(over, 409, "max_per_order_exceeded")
    assert body["lines"] == [{"sku": "MUG-1", "requested": 3, "max_per_order": 2}]
    lifted = await client.patch(
        "/api/v1/products/MUG-1", json={"max_per_order": 0}, headers=staff | {"If-Match": '"1"'}
    )
    assert lifted.json()["max_per_order"] is None

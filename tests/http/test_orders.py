"""Orders over HTTP with real accounts, tokens and PostgreSQL: placing with an idempotency key,
reading, the lifecycle with If-Match, dry runs, replays byte for byte, and races over real
sockets that must neither oversell nor deadlock."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from orderly_core.platform.idempotency import KeyScope
from orderly_core.shared.context import Actor, Role
from orderly_core.unit_of_work import Dependencies
from orderly_http.app import create_app
from orderly_http.settings import HttpSettings
from tests.http.accounts import signed_in
from tests.http.helpers import assert_problem, listening, seed

pytestmark = pytest.mark.postgres

ORDERS = "/api/v1/orders"
NONE_YET = {"shipped": 0, "delivered": 0, "returned": 0, "cancelled": 0}
ORDER_FIELDS = [
    "id", "status", "customer_id", "lines", "subtotal", "shipping", "total", "currency",
    "email", "shipping_address", "shipping_method", "expires_at", "cancel_reason",
    "delivered_at", "version", "created_at", "updated_at",
]  # fmt: skip


def lines(*pairs: tuple[str, int]) -> dict[str, Any]:
    return {"lines": [{"sku": sku, "quantity": quantity} for sku, quantity in pairs]}


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return headers | {"Idempotency-Key": key or uuid.uuid4().hex}


async def stock_of(client: httpx.AsyncClient, sku: str) -> tuple[int, int]:
    product = (await client.get(f"/api/v1/products/{sku}")).json()
    return product["on_hand"], product["reserved"]


# --- placing, reading, the lifecycle --------------------------------------------------------


async def test_a_customer_places_sees_and_cancels_an_order(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", unit_price=1250, on_hand=10)
    await seed(pg_deps, "TEA-1", unit_price=400, on_hand=5)
    ann, headers = await signed_in(client, pg_deps, "ann@example.com")

    placed = await client.post(
        ORDERS, json=lines(("mug-1", 2), ("TEA-1", 1)), headers=keyed(headers)
    )

    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert list(order) == ORDER_FIELDS
    assert placed.headers["location"] == f"{ORDERS}/{order['id']}"
    assert placed.headers["etag"] == '"1"'
    assert (order["status"], order["customer_id"], order["total"]) == ("placed", str(ann.id), 2900)
    # A shop without shipping rates: no address needed, no shipping charged; the account's
    # email is the order's.
    assert (order["subtotal"], order["shipping"], order["email"]) == (2900, 0, "ann@example.com")
    assert (order["shipping_address"], order["shipping_method"]) == (None, None)
    assert order["lines"] == [
        {"sku": "MUG-1", "quantity": 2, "unit_price": 1250, "currency": "EUR"} | NONE_YET,
        {"sku": "TEA-1", "quantity": 1, "unit_price": 400, "currency": "EUR"} | NONE_YET,
    ]
    assert await stock_of(client, "MUG-1") == (10, 2)
    shown = await client.get(placed.headers["location"], headers=headers)
    assert (shown.status_code, shown.json()) == (200, order)
    listed = await client.get(ORDERS, headers=headers)
    assert listed.json() == {"items": [order], "next_cursor": None}

    cancelled = await client.post(
        f"{ORDERS}/{order['id']}/cancel",
        json={"reason": "changed mind"},
        headers=headers | {"If-Match": '"1"'},
    )

    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["cancel_reason"]) == (
        "cancelled",
        "changed mind",
    )
    assert cancelled.headers["etag"] == '"2"'
    assert await stock_of(client, "MUG-1") == (10, 0)


async def test_customers_see_only_their_own_orders_and_staff_see_all(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    bob_user, bob = await signed_in(client, pg_deps, "bob@example.com")
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    anns = (await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=keyed(ann))).json()
    bobs = (await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=keyed(bob))).json()

    assert_problem(await client.get(f"{ORDERS}/{anns['id']}", headers=bob), 404, "order_not_found")
    assert_problem(
        await client.post(f"{ORDERS}/{anns['id']}/cancel", headers=bob), 404, "order_not_found"
    )
    assert [o["id"] for o in (await client.get(ORDERS, headers=bob)).json()["items"]] == [
        bobs["id"]
    ]
    everyone = (await client.get(ORDERS, headers=staff)).json()["items"]
    assert [o["id"] for o in everyone] == [bobs["id"], anns["id"]]
    only_bob = await client.get(ORDERS, params={"customer_id": str(bob_user.id)}, headers=staff)
    assert [o["id"] for o in only_bob.json()["items"]] == [bobs["id"]]
    assert_problem(await client.get(ORDERS), 401, "not_signed_in")
    assert_problem(await client.post(ORDERS, json=lines(("MUG-1", 1))), 401, "not_signed_in")


async def test_the_lifecycle_over_http_with_if_match_and_roles(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    order = (await client.post(ORDERS, json=lines(("MUG-1", 3)), headers=keyed(ann))).json()
    at = f"{ORDERS}/{order['id']}"

    stale = assert_problem(
        await client.post(f"{at}/cancel", headers=ann | {"If-Match": '"7"'}),
        412,
        "version_conflict",
    )
    assert (stale["order_id"], stale["target_type"], stale["target_id"]) == (
        order["id"],
        "order",
        order["id"],
    )
    assert_problem(await client.post(f"{at}/ship", headers=staff), 409, "illegal_transition")
    pay = {"amount": 3000, "reference": "SEPA 1"}
    assert_problem(await client.post(f"{at}/pay", json=pay, headers=keyed(ann)), 403, "forbidden")
    paid = await client.post(f"{at}/pay", json=pay, headers=keyed(staff))
    assert (paid.status_code, paid.json()["order"]["status"]) == (201, "paid")
    assert_problem(await client.post(f"{at}/ship", headers=ann), 403, "forbidden")
    shipped = await client.post(f"{at}/ship", headers=staff)
    assert (shipped.status_code, shipped.json()["status"]) == (200, "shipped")
    assert await stock_of(client, "MUG-1") == (7, 0)
    assert_problem(await client.post(f"{at}/cancel", headers=ann), 409, "illegal_transition")
    delivered = await client.post(f"{at}/deliver", headers=staff | {"If-Match": '"3"'})
    assert (delivered.status_code, delivered.json()["version"]) == (200, 4)


async def test_placing_refusals_are_typed_problems(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=1)
    await seed(pg_deps, "YEN-1", currency="JPY", on_hand=5)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")

    short = await client.post(ORDERS, json=lines(("MUG-1", 3)), headers=keyed(ann))
    assert assert_problem(short, 409, "out_of_stock")["lines"] == [
        {"sku": "MUG-1", "requested": 3, "available": 1}
    ]
    assert_problem(await client.post(ORDERS, json=lines(("MUG-1", 1))), 401, "not_signed_in")
    missing = await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=ann)
    assert assert_problem(missing, 400, "idempotency_key_required")["header"] == "Idempotency-Key"
    bad_key = await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=keyed(ann, " x"))
    assert_problem(bad_key, 422, "invalid_input")
    mixed = await client.post(ORDERS, json=lines(("MUG-1", 1), ("YEN-1", 1)), headers=keyed(ann))
    assert_problem(mixed, 422, "mixed_currencies")
    unknown = await client.post(ORDERS, json=lines(("NOPE-1", 1)), headers=keyed(ann))
    assert assert_problem(unknown, 422, "products_unavailable")["skus"] == ["NOPE-1"]
    invalid = await client.post(ORDERS, json=lines(("MUG-1", 0), ("mug-1", 1)), headers=keyed(ann))
    fields = {e["field"] for e in assert_problem(invalid, 422, "invalid_input")["errors"]}
    assert fields == {"lines.0.quantity", "lines.1.sku"}
    assert await stock_of(client, "MUG-1") == (1, 0)


async def test_a_dry_run_prices_the_order_and_stores_nothing(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", unit_price=1250, on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")

    preview = await client.post(f"{ORDERS}?mode=dry_run", json=lines(("MUG-1", 4)), headers=ann)

    assert preview.status_code == 200, preview.text
    assert preview.headers["orderly-mode"] == "dry_run"
    assert "location" not in preview.headers
    body = preview.json()
    assert (body["total"], body["status"]) == (5000, "placed")
    assert body["availability"] == [{"sku": "MUG-1", "requested": 4, "available": 10}]
    assert (await client.get(ORDERS, headers=ann)).json()["items"] == []
    assert await stock_of(client, "MUG-1") == (10, 0)
    refused = await client.post(f"{ORDERS}?mode=dry_run", json=lines(("MUG-1", 11)), headers=ann)
    assert_problem(refused, 409, "out_of_stock")
    assert refused.headers["orderly-mode"] == "dry_run"  # a refusal is a dry run's answer too


# --- idempotency ------------------------------------------------------------------------------


async def test_a_retry_gets_the_first_answer_byte_for_byte(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    headers = keyed(ann, "checkout-5521")
    first = await client.post(ORDERS, json=lines(("MUG-1", 2)), headers=headers)
    payment = {"amount": 2000, "reference": "cash"}  # the order moves on: paid
    await client.post(f"{first.headers['location']}/pay", json=payment, headers=keyed(staff))

    retry = await client.post(ORDERS, json=lines(("MUG-1", 2)), headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["x-request-id"] != first.headers["x-request-id"]
    assert len((await client.get(ORDERS, headers=ann)).json()["items"]) == 1
    assert await stock_of(client, "MUG-1") == (10, 2)


async def test_the_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    headers = keyed(ann, "checkout-5522")
    await client.post(ORDERS, json=lines(("MUG-1", 2)), headers=headers)

    other = await client.post(ORDERS, json=lines(("MUG-1", 3)), headers=headers)

    assert_problem(other, 422, "idempotency_key_reused")
    assert await stock_of(client, "MUG-1") == (10, 2)


async def test_a_refusal_is_replayed_too(client: httpx.AsyncClient, pg_deps: Dependencies) -> None:
    await seed(pg_deps, "MUG-1", on_hand=1)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    headers = keyed(ann, "checkout-5523")
    first = await client.post(ORDERS, json=lines(("MUG-1", 2)), headers=headers)
    adjusted = await client.post(
        "/api/v1/products/MUG-1/stock-adjustments",
        json={"delta": 5, "reason": "delivery"},
        headers=staff,
    )
    assert adjusted.status_code == 200, adjusted.text

    retry = await client.post(ORDERS, json=lines(("MUG-1", 2)), headers=headers)

    assert_problem(first, 409, "out_of_stock")
    assert retry.status_code == 409
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert (await client.get(ORDERS, headers=ann)).json()["items"] == []


async def test_keys_of_different_customers_never_collide(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, bob = await signed_in(client, pg_deps, "bob@example.com")

    anns = await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=keyed(ann, "cart-1"))
    bobs = await client.post(ORDERS, json=lines(("MUG-1", 2)), headers=keyed(bob, "cart-1"))

    assert (anns.status_code, bobs.status_code) == (201, 201)
    assert "idempotent-replayed" not in bobs.headers
    assert anns.json()["id"] != bobs.json()["id"]
    assert await stock_of(client, "MUG-1") == (10, 3)


async def test_a_retry_while_the_first_request_runs_is_409_with_retry_after(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    ann_user, ann = await signed_in(client, pg_deps, "ann@example.com")
    actor = Actor.user(str(ann_user.id), Role.CUSTOMER)

    async with pg_deps.unit_of_work() as first_request:
        assert await first_request.idempotency.claim(KeyScope.of(actor, "order.place", "k-9"))
        retry = await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=keyed(ann, "k-9"))

    assert_problem(retry, 409, "request_in_flight")
    assert retry.headers["retry-after"] == "1"
    after = await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=keyed(ann, "k-9"))
    assert after.status_code == 201


async def test_steps_take_keys_and_writes_are_audited_with_them(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, admin = await signed_in(client, pg_deps, "ada@example.com", Role.ADMIN)
    placed = await client.post(
        ORDERS,
        json=lines(("MUG-1", 1)),
        headers=keyed(ann, "place-1") | {"X-Request-ID": "req-place-1"},
    )
    cancel = f"{placed.headers['location']}/cancel"
    cancelled = await client.post(cancel, headers=keyed(ann, "cancel-1") | {"If-Match": '"1"'})
    again = await client.post(cancel, headers=keyed(ann, "cancel-1") | {"If-Match": '"1"'})

    assert (cancelled.status_code, again.status_code) == (200, 200)
    assert again.content == cancelled.content
    assert again.headers["idempotent-replayed"] == "true"
    audit = await client.get(
        "/api/v1/audit", params={"target_id": placed.json()["id"]}, headers=admin
    )
    entries = audit.json()["items"]
    assert [(e["operation"], e["idempotency_key"], e["mode"]) for e in entries] == [
        ("order.cancelled", "cancel-1", "execute"),
        ("order.place", "place-1", "execute"),
    ]
    assert entries[1]["request_id"] == "req-place-1"
    assert entries[1]["actor"]["role"] == "customer"


# --- races over real sockets -------------------------------------------------------------------


def many_unpaid_orders(settings: HttpSettings) -> FastAPI:
    """An API whose customers may hold as many unpaid orders as these races place."""
    return create_app(settings.model_copy(update={"max_open_unpaid_orders": 1000}))


async def test_200_concurrent_placements_for_50_units_make_exactly_50_orders(
    http_settings: HttpSettings, pg_deps: Dependencies
) -> None:
    app = many_unpaid_orders(http_settings)
    await seed(pg_deps, "MUG-1", on_hand=50)
    async with listening(app) as client:
        customers = [(await signed_in(client, pg_deps, f"c{n}@example.com"))[1] for n in range(4)]

        answers = await asyncio.gather(
            *(
                client.post(ORDERS, json=lines(("MUG-1", 1)), headers=keyed(customers[n % 4]))
                for n in range(200)
            )
        )

        statuses = Counter(answer.status_code for answer in answers)
        assert statuses == {201: 50, 409: 150}, statuses
        for answer in answers:
            if answer.status_code == 409:
                assert_problem(answer, 409, "out_of_stock")
        assert await stock_of(client, "MUG-1") == (50, 50)


async def test_orders_over_shared_skus_in_opposite_orders_never_deadlock(
    http_settings: HttpSettings, pg_deps: Dependencies
) -> None:
    app = many_unpaid_orders(http_settings)
    skus = ["A-1", "B-1", "C-1"]
    for sku in skus:
        await seed(pg_deps, sku, on_hand=1000)
    async with listening(app) as client:
        _, ann = await signed_in(client, pg_deps, "ann@example.com")

        answers = await asyncio.gather(
            *(
                client.post(
                    ORDERS,
                    json=lines(*((sku, 1) for sku in (skus if n % 2 else reversed(skus)))),
                    headers=keyed(ann),
                )
                for n in range(60)
            )
        )

        assert Counter(a.status_code for a in answers) == {201: 60}
        for sku in skus:
            assert await stock_of(client, sku) == (1000, 60)


async def test_20_concurrent_requests_with_one_key_make_one_order(
    app: FastAPI, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=100)
    async with listening(app) as client:
        _, ann = await signed_in(client, pg_deps, "ann@example.com")
        headers = keyed(ann, "double-click")

        answers = await asyncio.gather(
            *(client.post(ORDERS, json=lines(("MUG-1", 1)), headers=headers) for _ in range(20))
        )

        created = [a for a in answers if a.status_code == 201]
        first = [a for a in created if "idempotent-replayed" not in a.headers]
        assert len(first) == 1
        for answer in answers:
            if answer.status_code == 201:
                assert answer.content == first[0].content
            else:
                assert_problem(answer, 409, "request_in_flight")
        assert len((await client.get(ORDERS, headers=ann)).json()["items"]) == 1
        assert await stock_of(client, "MUG-1") == (100, 1)


async def test_a_key_sent_as_a_structured_field_string_is_the_same_key(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")

    bare = await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=keyed(ann, "cart-7"))
    quoted = await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=keyed(ann, '"cart-7"'))

    assert quoted.content == bare.content
    assert quoted.headers["idempotent-replayed"] == "true"
    empty = await client.post(ORDERS, json=lines(("MUG-1", 1)), headers=keyed(ann, '""'))
    assert_problem(empty, 422, "invalid_input")

"""Returns over HTTP, on the manual provider (the default): a customer asks to return units
of their delivered order, staff approve and receive them (restock or write-off) and the
refund is recorded at once; who may do what; the window and quantity rules as problems."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from orderly_core.shared.context import Role
from orderly_core.unit_of_work import Dependencies
from tests.http.accounts import signed_in
from tests.http.helpers import assert_problem, seed

pytestmark = pytest.mark.postgres

ORDERS = "/api/v1/orders"
RETURNS = "/api/v1/returns"
RETURN_FIELDS = [
    "id", "order_id", "status", "lines", "note", "refund_shipping", "requested_by", "version",
    "created_at", "updated_at",
]  # fmt: skip


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return headers | {"Idempotency-Key": key or uuid.uuid4().hex}


async def delivered_order(
    client: httpx.AsyncClient, customer: dict[str, str], staff: dict[str, str], quantity: int = 3
) -> str:
    """An order of ``quantity`` mugs at 10.00 EUR, paid by hand, shipped and delivered: its id."""
    body = {"lines": [{"sku": "MUG-1", "quantity": quantity}]}
    placed = await client.post(ORDERS, json=body, headers=keyed(customer))
    assert placed.status_code == 201, placed.text
    order_id: str = placed.json()["id"]
    paid = await client.post(
        f"{ORDERS}/{order_id}/pay",
        json={"amount": 1000 * quantity, "reference": "SEPA"},
        headers=keyed(staff),
    )
    assert paid.status_code == 201, paid.text
    for step in ("ship", "deliver"):
        moved = await client.post(f"{ORDERS}/{order_id}/{step}", headers=staff)
        assert moved.status_code == 200, moved.text
    return order_id


def asked(quantity: int = 1, reason: str = "too small") -> dict[str, Any]:
    return {"lines": [{"sku": "MUG-1", "quantity": quantity, "reason": reason}]}


async def test_a_return_is_requested_approved_received_and_refunded(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", unit_price=1000, on_hand=50)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    order_id = await delivered_order(client, ann, staff)

    no_key = await client.post(f"{ORDERS}/{order_id}/returns", json=asked(), headers=ann)
    requested = await client.post(
        f"{ORDERS}/{order_id}/returns", json=asked(2), headers=keyed(ann, "ret-1")
    )
    replayed = await client.post(
        f"{ORDERS}/{order_id}/returns", json=asked(2), headers=keyed(ann, "ret-1")
    )

    assert_problem(no_key, 400, "idempotency_key_required")
    assert requested.status_code == 201, requested.text
    ret = requested.json()
    assert list(ret) == RETURN_FIELDS
    assert (ret["status"], requested.headers["etag"]) == ("requested", '"1"')
    assert requested.headers["location"] == f"{RETURNS}/{ret['id']}"
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == ret
    url = f"{RETURNS}/{ret['id']}"

    by_customer = await client.post(f"{url}/approve", headers=ann)
    stale = await client.post(f"{url}/approve", headers=staff | {"If-Match": '"7"'})
    approved = await client.post(
        f"{url}/approve", json={"note": "ok"}, headers=staff | {"If-Match": '"1"'}
    )
    assert_problem(by_customer, 403, "forbidden")
    assert_problem(stale, 412, "version_conflict")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["note"]) == ("approved", "ok")

    receipt = {
        "lines": [
            {"sku": "MUG-1", "quantity": 1, "disposition": "restock"},
            {"sku": "MUG-1", "quantity": 1, "disposition": "write_off"},
        ]
    }
    too_many = await client.post(
        f"{url}/receive",
        json={"lines": [{"sku": "MUG-1", "quantity": 3, "disposition": "restock"}]},
        headers=keyed(staff),
    )
    bad_disposition = await client.post(
        f"{url}/receive",
        json={"lines": [{"sku": "MUG-1", "quantity": 1, "disposition": "burn"}]},
        headers=keyed(staff),
    )
    received = await client.post(f"{url}/receive", json=receipt, headers=keyed(staff, "rcv"))
    again = await client.post(f"{url}/receive", json=receipt, headers=keyed(staff))

    assert_problem(too_many, 409, "receipt_exceeds_return")
    assert_problem(bad_disposition, 422, "invalid_input")
    assert received.status_code == 200, received.text
    body = received.json()
    assert body["status"] == "received"
    assert body["lines"][0] | {"reason": "-"} == {
        "sku": "MUG-1", "quantity": 2, "reason": "-", "restocked": 1, "written_off": 1,
    }  # fmt: skip
    [refund] = body["refunds"]
    assert (refund["amount"], refund["status"], refund["return_id"]) == (
        2000,
        "succeeded",
        ret["id"],
    )
    assert_problem(again, 409, "illegal_return_transition")

    history = await client.get("/api/v1/products/MUG-1/stock-movements", headers=staff)
    kinds = [m["kind"] for m in history.json()["items"]]
    assert {"restock", "write_off"} <= set(kinds), history.text
    product = await client.get("/api/v1/products/MUG-1")
    assert product.json()["on_hand"] == 50 - 3 + 1
    listed = await client.get(f"{ORDERS}/{order_id}/returns", headers=ann)
    assert [r["status"] for r in listed.json()["items"]] == ["received"]
    mine = await client.get(url, headers=ann)
    assert (mine.status_code, mine.headers["etag"]) == (200, '"3"')


async def test_returns_are_refused_as_problems(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", unit_price=1000, on_hand=50)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, bob = await signed_in(client, pg_deps, "bob@example.com")
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    order_id = await delivered_order(client, ann, staff, quantity=1)
    unpaid = await client.post(
        ORDERS, json={"lines": [{"sku": "MUG-1", "quantity": 1}]}, headers=keyed(ann)
    )
    post = f"{ORDERS}/{order_id}/returns"

    not_hers = await client.post(post, json=asked(), headers=keyed(bob))
    too_many = await client.post(post, json=asked(2), headers=keyed(ann))
    nul = await client.post(post, json=asked(reason="a\u0000b"), headers=keyed(ann))
    undelivered = await client.post(
        f"{ORDERS}/{unpaid.json()['id']}/returns", json=asked(), headers=keyed(ann)
    )
    listing = await client.get(RETURNS, headers=ann)
    by_staff = await client.get(RETURNS, params={"status": "requested"}, headers=staff)
    bad_status = await client.get(RETURNS, params={"status": "lost"}, headers=staff)
    unknown = await client.get(f"{RETURNS}/{uuid.uuid4()}", headers=staff)

    assert_problem(not_hers, 404, "order_not_found")
    assert_problem(too_many, 409, "return_exceeds_delivered")
    assert too_many.json()["lines"] == [{"sku": "MUG-1", "requested": 2, "allowed": 1}]
    assert_problem(nul, 422, "invalid_input")
    assert_problem(undelivered, 409, "nothing_delivered")
    assert_problem(listing, 403, "forbidden")
    assert (by_staff.status_code, by_staff.json()) == (200, {"items": [], "next_cursor": None})
    assert_problem(bad_status, 422, "invalid_input")
    assert_problem(unknown, 404, "return_not_found")

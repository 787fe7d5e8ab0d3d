"""Shipments over HTTP with real accounts, tokens and PostgreSQL: an order paid for 3 units
ships 2 now with tracking (shown to its customer) and 1 later; shipments are delivered one by
one; what remains of an order is cancelled and refunded; each refusal is a typed problem."""

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
SHIPMENT_FIELDS = [
    "id", "order_id", "status", "lines", "carrier", "tracking_number", "tracking_url",
    "created_by", "created_at", "delivered_at", "updated_at", "version",
]  # fmt: skip
TRACKING = {
    "carrier": "DHL",
    "tracking_number": "JD014600006281230704",
    "tracking_url": "https://www.dhl.com/track?id=JD014600006281230704",
}


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return headers | {"Idempotency-Key": key or uuid.uuid4().hex}


def shipment(*pairs: tuple[str, int], **tracking: Any) -> dict[str, Any]:
    lines = [{"sku": sku, "quantity": quantity} for sku, quantity in pairs]
    return {"lines": lines, **TRACKING, **tracking}


async def stock_of(client: httpx.AsyncClient, sku: str) -> tuple[int, int]:
    product = (await client.get(f"/api/v1/products/{sku}")).json()
    return product["on_hand"], product["reserved"]


async def paid_order(
    client: httpx.AsyncClient, customer: dict[str, str], staff: dict[str, str], quantity: int
) -> str:
    body = {"lines": [{"sku": "MUG-1", "quantity": quantity}]}
    order = (await client.post(ORDERS, json=body, headers=keyed(customer))).json()
    pay = {"amount": order["total"], "reference": "SEPA 1"}
    paid = await client.post(f"{ORDERS}/{order['id']}/pay", json=pay, headers=keyed(staff))
    assert paid.status_code == 201, paid.text
    return str(order["id"])


async def test_three_units_ship_two_now_with_tracking_and_one_later(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, bob = await signed_in(client, pg_deps, "bob@example.com")
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    order_id = await paid_order(client, ann, staff, 3)
    at = f"{ORDERS}/{order_id}"

    by_customer = await client.post(
        f"{at}/shipments", json=shipment(("MUG-1", 2)), headers=keyed(ann)
    )
    first = await client.post(f"{at}/shipments", json=shipment(("MUG-1", 2)), headers=keyed(staff))
    partly = (await client.get(at, headers=ann)).json()
    seen = await client.get(f"{at}/shipments", headers=ann)
    by_others = await client.get(f"{at}/shipments", headers=bob)
    too_many = await client.post(
        f"{at}/shipments", json=shipment(("MUG-1", 2)), headers=keyed(staff)
    )
    rest = await client.post(f"{at}/shipments", json=shipment(("MUG-1", 1)), headers=keyed(staff))
    shipped = (await client.get(at, headers=ann)).json()

    assert_problem(by_customer, 403, "forbidden")
    assert first.status_code == 201, first.text
    made = first.json()
    assert list(made) == SHIPMENT_FIELDS
    assert first.headers["location"] == f"/api/v1/shipments/{made['id']}"
    assert first.headers["etag"] == '"1"'
    assert (made["status"], made["lines"]) == ("shipped", [{"sku": "MUG-1", "quantity": 2}])
    assert (partly["status"], partly["lines"][0]["shipped"]) == ("partially_shipped", 2)
    assert seen.status_code == 200
    assert [s["tracking_url"] for s in seen.json()["items"]] == [TRACKING["tracking_url"]]
    assert_problem(by_others, 404, "order_not_found")
    problem = assert_problem(too_many, 409, "exceeds_remaining")
    assert problem["lines"] == [{"sku": "MUG-1", "asked": 2, "remaining": 1}]
    assert rest.status_code == 201, rest.text
    assert (shipped["status"], shipped["lines"][0]["shipped"]) == ("shipped", 3)
    assert await stock_of(client, "MUG-1") == (7, 0)

    shipment_at = f"/api/v1/shipments/{made['id']}"
    assert (await client.get(shipment_at, headers=ann)).json() == made
    assert_problem(await client.get(shipment_at, headers=bob), 404, "shipment_not_found")
    stale = await client.post(f"{shipment_at}/deliver", headers=staff | {"If-Match": '"9"'})
    assert_problem(stale, 412, "version_conflict")
    delivered = await client.post(f"{shipment_at}/deliver", headers=staff | {"If-Match": '"1"'})
    assert (delivered.status_code, delivered.json()["status"]) == (200, "delivered")
    assert delivered.headers["etag"] == '"2"'
    again = await client.post(f"{shipment_at}/deliver", headers=staff)
    assert_problem(again, 409, "shipment_already_delivered")
    assert (await client.get(at, headers=ann)).json()["status"] == "shipped"
    await client.post(f"/api/v1/shipments/{rest.json()['id']}/deliver", headers=staff)
    done = (await client.get(at, headers=ann)).json()
    assert (done["status"], done["lines"][0]["delivered"]) == ("delivered", 3)
    assert done["delivered_at"] is not None


async def test_malformed_shipments_are_422_naming_the_field(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    at = f"{ORDERS}/{await paid_order(client, ann, staff, 3)}/shipments"

    for body, field in (
        (shipment(("MUG-1", 1), tracking_url="javascript:alert(1)"), "tracking_url"),
        (shipment(("MUG-1", 1), tracking_url="https://user:pw@evil.example/"), "tracking_url"),
        (shipment(("MUG-1", 1), carrier="D\u0000HL"), "carrier"),
        (shipment(("MUG-1", 1), tracking_number=""), "tracking_number"),
        (shipment(("MUG-1", 1), ("MUG-1", 1)), "lines[1].sku"),
        (shipment(("OTHER-1", 1)), "lines[0].sku"),
    ):
        refused = assert_problem(
            await client.post(at, json=body, headers=keyed(staff)), 422, "invalid_input"
        )
        assert field in [e["field"] for e in refused["errors"]], (body, refused)
    missing_key = await client.post(at, json=shipment(("MUG-1", 1)), headers=staff)
    assert_problem(missing_key, 400, "idempotency_key_required")
    assert await stock_of(client, "MUG-1") == (10, 3)


async def test_the_ship_shortcut_takes_tracking_and_ships_everything_remaining(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    at = f"{ORDERS}/{await paid_order(client, ann, staff, 3)}"
    await client.post(f"{at}/shipments", json=shipment(("MUG-1", 1)), headers=keyed(staff))

    shipped = await client.post(
        f"{at}/ship", json={"carrier": "UPS", "tracking_number": "1Z9"}, headers=staff
    )

    assert (shipped.status_code, shipped.json()["status"]) == (200, "shipped"), shipped.text
    items = (await client.get(f"{at}/shipments", headers=ann)).json()["items"]
    assert [(s["carrier"], s["lines"][0]["quantity"]) for s in items] == [("DHL", 1), ("UPS", 2)]
    delivered = await client.post(f"{at}/deliver", headers=staff)
    assert delivered.json()["status"] == "delivered"


async def test_what_remains_is_cancelled_and_refunded(
    client: httpx.AsyncClient, pg_deps: Dependencies
) -> None:
    await seed(pg_deps, "MUG-1", on_hand=10, unit_price=1000)
    _, ann = await signed_in(client, pg_deps, "ann@example.com")
    _, staff = await signed_in(client, pg_deps, "stan@example.com", Role.STAFF)
    at = f"{ORDERS}/{await paid_order(client, ann, staff, 3)}"
    await client.post(f"{at}/shipments", json=shipment(("MUG-1", 1)), headers=keyed(staff))
    some = {"lines": [{"sku": "MUG-1", "quantity": 1}], "reason": "broken in the warehouse"}

    by_customer = await client.post(f"{at}/cancellations", json=some, headers=keyed(ann))
    dry = await client.post(f"{at}/cancellations?mode=dry_run", json=some, headers=staff)
    first = await client.post(f"{at}/cancellations", json=some, headers=keyed(staff, "c-1"))
    replayed = await client.post(f"{at}/cancellations", json=some, headers=keyed(staff, "c-1"))
    rest = await client.post(f"{at}/cancellations", headers=keyed(staff))

    assert_problem(by_customer, 403, "forbidden")
    assert dry.status_code == 200, dry.text
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["order"]["status"], body["order"]["lines"][0]["cancelled"]) == (
        "partially_shipped",
        1,
    )
    assert [(r["amount"], r["status"]) for r in body["refunds"]] == [(1000, "succeeded")]
    assert replayed.headers["idempotent-replayed"] == "true"
    assert rest.json()["order"]["status"] == "shipped"
    refunds = (await client.get(f"{at}/refunds", headers=staff)).json()["items"]
    assert [r["amount"] for r in refunds] == [1000, 1000]
    assert await stock_of(client, "MUG-1") == (9, 0)
    assert_problem(
        await client.post(f"{at}/cancellations", headers=keyed(staff)), 409, "order_not_fulfillable"
    )

"""An order from checkout to a return, end to end, on Stripe (localstripe): a customer who
signed up over HTTP pays 3 mugs by card; staff ship 2 now with tracking (`orderly shipments
create`, a real process on the same database) and the last one over HTTP, deliver one
shipment from the CLI and the other over HTTP; the customer returns a mug, staff approve it
over HTTP and receive it as restock from the CLI, and the refund goes through Stripe. The
stock ledger and the audit trail then explain every step.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
from dataclasses import replace
from typing import Any

import pytest

from tests.cli.processes import ORDERLY, SERVER_VARIABLES
from tests.http.accounts import bearer, sign_in
from tests.http.stripe_shop import (
    ORDERS,
    Shop,
    eventually,
    keyed,
    order_of,
    outbox_types,
    start,
)

pytestmark = pytest.mark.postgres

UNIT_PRICE = 1000  # the shop's mug, 10.00 EUR
OPENING = 50  # mugs on hand before the order
TRACKING = "https://www.dhl.com/track?id=JD0146000062"


async def orderly(environment: dict[str, str], *args: str) -> dict[str, Any]:
    """`orderly ... --json` as a process of its own, as an operator runs it; what it printed."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
    process = await asyncio.create_subprocess_exec(
        ORDERLY,
        *args,
        "--json",
        env=env | environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, (args, out.decode(), err.decode())
    printed: dict[str, Any] = json.loads(out)
    return printed


async def signed_up(shop: Shop, email: str) -> tuple[str, dict[str, str]]:
    """A customer signs up and signs in over HTTP: her id and ``Authorization`` header."""
    password = "a long password"
    body = {"email": email, "password": password, "display_name": "Bea"}
    created = await shop.client.post("/api/v1/users", json=body)
    assert created.status_code == 201, created.text
    tokens = await sign_in(shop.client, email, password)
    return created.json()["id"], bearer(tokens["access_token"])


async def every_movement(shop: Shop, sku: str) -> list[dict[str, Any]]:
    """The product's whole stock ledger, oldest first."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = await shop.client.get(
            f"/api/v1/products/{sku}/stock-movements", params=params, headers=shop.staff
        )
        assert page.status_code == 200, page.text
        items.extend(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return list(reversed(items))


@pytest.mark.usefixtures("orderly_receives_events")
async def test_an_order_is_paid_shipped_in_two_delivered_and_one_unit_returned_and_refunded(
    shop: Shop, cli_environment: dict[str, str]
) -> None:
    # 1. A customer signs up, orders 3 mugs and pays them by card through Stripe.
    bea_id, bea = await signed_up(shop, "bea@example.com")
    shop = replace(shop, customer=bea)
    placed = await shop.client.post(
        ORDERS, json={"lines": [{"sku": "MUG-1", "quantity": 3}]}, headers=keyed(bea)
    )
    assert placed.status_code == 201, placed.text
    at: str = placed.headers["location"]
    order_id: str = placed.json()["id"]
    assert placed.json()["total"] == 3 * UNIT_PRICE
    payment = await start(shop, at)
    intent = payment["provider_reference"]
    assert (payment["provider"], payment["amount"]) == ("stripe", 3 * UNIT_PRICE)
    assert await shop.localstripe.storefront.pay(intent) == "succeeded"
    await eventually(shop, at, "succeeded")  # localstripe's signed event reached the API
    assert (await order_of(shop, at))["status"] == "paid"

    # 2. Staff ship 2 now with tracking, from the CLI; the customer sees the tracking.
    first = (
        await orderly(
            cli_environment, "shipments", "create", order_id, "--line", "MUG-1:2",
            "--carrier", "DHL", "--tracking-number", "JD0146000062", "--tracking-url", TRACKING,
        )
    )["shipment"]  # fmt: skip
    seen = await shop.client.get(f"{at}/shipments", headers=bea)
    assert seen.status_code == 200, seen.text
    [parcel] = seen.json()["items"]
    assert parcel["id"] == first["id"]
    assert (parcel["carrier"], parcel["tracking_number"], parcel["tracking_url"]) == (
        "DHL",
        "JD0146000062",
        TRACKING,
    )
    assert (parcel["status"], parcel["lines"]) == ("shipped", [{"sku": "MUG-1", "quantity": 2}])
    assert (await order_of(shop, at))["status"] == "partially_shipped"

    # 3. The last mug ships over HTTP; one shipment is delivered from the CLI, one over HTTP.
    shipped = await shop.client.post(
        f"{at}/shipments",
        json={"lines": [{"sku": "MUG-1", "quantity": 1}], "carrier": "UPS",
              "tracking_number": "1Z999AA10123456784",
              "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784"},
        headers=keyed(shop.staff),
    )  # fmt: skip
    assert shipped.status_code == 201, shipped.text
    second = shipped.json()
    assert (await order_of(shop, at))["status"] == "shipped"
    by_cli = (await orderly(cli_environment, "shipments", "deliver", first["id"]))["shipment"]
    assert by_cli["status"] == "delivered"
    assert (await order_of(shop, at))["status"] == "shipped"  # one parcel is still on its way
    by_http = await shop.client.post(
        f"/api/v1/shipments/{second['id']}/deliver", headers=keyed(shop.staff)
    )
    assert by_http.status_code == 200, by_http.text
    assert by_http.json()["status"] == "delivered"
    order = await order_of(shop, at)
    assert order["status"] == "delivered"

    # 4. The customer returns one mug; staff approve over HTTP, receive it from the CLI.
    asked = await shop.client.post(
        f"{at}/returns",
        json={"lines": [{"sku": "MUG-1", "quantity": 1, "reason": "chipped rim"}]},
        headers=keyed(bea),
    )
    assert asked.status_code == 201, asked.text
    return_id: str = asked.json()["id"]
    assert asked.json()["status"] == "requested"
    approved = await shop.client.post(
        f"/api/v1/returns/{return_id}/approve",
        json={"note": "photo received"},
        headers=shop.staff | {"If-Match": asked.headers["etag"]},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    received = (
        await orderly(cli_environment, "returns", "receive", return_id, "--line", "MUG-1:1:restock")
    )["return"]
    assert received["status"] == "received"

    # 5. The mug is back on the shelf and Stripe refunded its price.
    product = (await shop.client.get("/api/v1/products/MUG-1")).json()
    assert (product["on_hand"], product["reserved"]) == (OPENING - 3 + 1, 0)
    refunds = await shop.client.get(f"{at}/refunds", headers=shop.staff)
    assert refunds.status_code == 200, refunds.text
    [refund] = refunds.json()["items"]
    assert (refund["amount"], refund["status"], refund["return_id"]) == (
        UNIT_PRICE,
        "succeeded",
        return_id,
    )
    assert refund["payment_id"] == payment["id"]
    assert [r["id"] for r in received["refunds"]] == [refund["id"]]
    assert (await outbox_types(shop)).count("refund.succeeded") == 1
    at_stripe = shop.stripe().v1.refunds.list(params={"payment_intent": intent}).data
    assert [(r.id, r.amount, r.status) for r in at_stripe] == [
        (refund["provider_reference"], UNIT_PRICE, "succeeded")
    ]
    line = (await order_of(shop, at))["lines"][0]
    assert (line["quantity"], line["shipped"], line["delivered"], line["returned"]) == (3, 3, 3, 1)

    # 6. The ledger explains every unit, and the audit trail every step.
    movements = await every_movement(shop, "MUG-1")
    assert [
        (m["kind"], m["on_hand_delta"], m["reserved_delta"], m["reference"]) for m in movements
    ] == [
        ("opening", OPENING, 0, None),
        ("reservation", 0, 3, order_id),
        ("shipment", -2, -2, first["id"]),
        ("shipment", -1, -1, second["id"]),
        ("restock", 1, 0, return_id),
    ]
    assert sum(m["on_hand_delta"] for m in movements) == product["on_hand"]
    assert sum(m["reserved_delta"] for m in movements) == product["reserved"]

    events = await outbox_types(shop)
    for announced, times in [
        ("order.paid", 1), ("payment.succeeded", 1), ("shipment.created", 2),
        ("order.partially_shipped", 1), ("order.shipped", 1), ("shipment.delivered", 2),
        ("order.delivered", 1), ("return.requested", 1), ("return.approved", 1),
        ("return.received", 1), ("refund.succeeded", 1),
    ]:  # fmt: skip
        assert events.count(announced) == times, (announced, events)

    trail = (await orderly(cli_environment, "audit", "list", "--limit", "100"))["items"]
    me = await shop.client.get("/api/v1/users/me", headers=shop.staff)
    customer = {"kind": "user", "id": bea_id, "role": "customer"}
    staff = {"kind": "user", "id": me.json()["id"], "role": "staff"}
    operator = {"kind": "operator", "id": getpass.getuser(), "role": None}
    stripe = {"kind": "system", "id": "payments-stripe", "role": None}
    pay, ship, give_back = payment["id"], (first["id"], second["id"]), refund["id"]
    steps = [(e["operation"], e["target"]["id"], e["actor"]) for e in reversed(trail)]
    assert [step[0] for step in steps[:3]] == ["product.create", "user.create", "user.create"]
    assert steps[3:] == [
        ("user.register", bea_id, {"kind": "anonymous", "id": "anonymous", "role": None}),
        ("order.place", order_id, customer),
        ("payment.start", pay, customer),  # the payment, then Stripe's PaymentIntent for it
        ("payment.start", pay, customer),
        ("payment.succeed", pay, stripe),  # Stripe's signed event
        ("order.paid", order_id, stripe),
        ("order.partially_shipped", order_id, operator),  # 2 mugs, from the CLI
        ("shipment.create", ship[0], operator),
        ("order.shipped", order_id, staff),  # the last one, over HTTP
        ("shipment.create", ship[1], staff),
        ("shipment.deliver", ship[0], operator),  # from the CLI
        ("order.deliver", order_id, operator),  # 2 of 3 delivered: still shipped
        ("shipment.deliver", ship[1], staff),  # over HTTP
        ("order.delivered", order_id, staff),
        ("return.request", return_id, customer),
        ("return.approve", return_id, staff),
        ("refund.create", give_back, operator),  # the receipt asks Stripe for the refund
        ("return.receive", return_id, operator),
        ("refund.succeeded", give_back, operator),
    ]

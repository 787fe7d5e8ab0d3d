"""`orderly orders ...` through Typer's runner, on real PostgreSQL.

Products are made with `orderly products create` and orders placed with `orderly orders
place`, as an operator does for a customer; stock levels are read back with `orderly
products show --json`. Only the customers' accounts (which customers make themselves, over
the API) and making an order due for expiry go around Orderly: accounts are written, and
`expires_at` moved into the past, over a connection of the test's own.
"""

from __future__ import annotations

import getpass
import uuid
from datetime import datetime
from typing import Any

import pytest

from orderly_db.settings import InfraSettings
from tests.cli.conftest import Cli
from tests.cli.helpers import ok_json
from tests.cli.test_stock import sql

pytestmark = [pytest.mark.postgres]

NONE_YET = {"shipped": 0, "delivered": 0, "returned": 0, "cancelled": 0}
ORDER_KEYS = [
    "id",
    "status",
    "customer_id",
    "lines",
    "subtotal",
    "shipping",
    "total",
    "currency",
    "email",
    "shipping_address",
    "shipping_method",
    "expires_at",
    "cancel_reason",
    "delivered_at",
    "version",
    "created_at",
    "updated_at",
]


def create(cli: Cli, sku: str, price: str, on_hand: int) -> None:
    args = ("--name", sku, "--price", price, "--currency", "EUR", "--on-hand", str(on_hand))
    result = cli("products", "create", "--sku", sku, *args)
    assert result.exit_code == 0, result.output


def stock(cli: Cli, sku: str) -> tuple[int, int]:
    """(on hand, reserved) as `orderly products show` reports them."""
    product = ok_json(cli("products", "show", sku, "--json"))
    assert product["available"] == product["on_hand"] - product["reserved"]
    return product["on_hand"], product["reserved"]


CUSTOMERS = ("cust-1", "cust-7", "ann", "bob", "c")


def customer_id(name: str) -> str:
    """The id of the customer account ``name``, whose email is ``<name>@example.com``."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://example.com/customers/{name}"))


def add_account(
    settings: InfraSettings, name: str, *, role: str = "customer", active: bool = True
) -> str:
    """An account ``<name>@example.com`` of ``role``, as signing up leaves one; its id."""
    sql(
        settings,
        "INSERT INTO users (id, email, display_name, password_hash, role, active, created_at,"
        " updated_at) VALUES (:id, :email, :name, 'not-a-hash', :role, :active, now(), now())",
        id=uuid.UUID(customer_id(name)),
        email=f"{name}@example.com",
        name=name,
        role=role,
        active=active,
    )
    return customer_id(name)


def place(cli: Cli, *lines: str, customer: str = "cust-1", extra: tuple[str, ...] = ()) -> Any:
    """An order placed for the customer account ``customer``, named by its email."""
    args = [arg for line in lines for arg in ("--line", line)]
    email = f"{customer}@example.com"
    written = ok_json(cli("orders", "place", "--customer", email, *args, *extra, "--json"))
    assert written["applied"] is ("--dry-run" not in extra)
    return written["order"]


def pay(cli: Cli, order: dict[str, Any], *extra: str) -> Any:
    """`orderly orders pay` of the order's whole total, as staff record a bank transfer."""
    amount = ("--amount", str(order["total"]), "--reference", "SEPA transfer")
    return cli("orders", "pay", order["id"], *amount, *extra)


@pytest.fixture
def shop(cli: Cli, infra_settings: InfraSettings) -> Cli:
    """MUG-01 (12.50 EUR, 40 on hand) and TEA-1 (4.00 EUR, 9 on hand); the customers'
    accounts."""
    create(cli, "MUG-01", "12.50", 40)
    create(cli, "TEA-1", "4.00", 9)
    for name in CUSTOMERS:
        add_account(infra_settings, name)
    return cli


def moment(text: str) -> datetime:
    assert text.endswith("Z")
    return datetime.fromisoformat(text)


# --- place, show, list ---------------------------------------------------------------------


def test_place_reserves_stock_and_show_and_list_return_the_order(shop: Cli) -> None:
    order = place(shop, "mug-01:2", "TEA-1:3", customer="cust-7")
    assert list(order) == ORDER_KEYS
    uuid.UUID(order["id"])
    assert {k: order[k] for k in ORDER_KEYS if k not in {"id", "expires_at", "updated_at"}} == {
        "status": "placed",
        "customer_id": customer_id("cust-7"),
        "lines": [
            {"sku": "MUG-01", "quantity": 2, "unit_price": 1250, "currency": "EUR"} | NONE_YET,
            {"sku": "TEA-1", "quantity": 3, "unit_price": 400, "currency": "EUR"} | NONE_YET,
        ],
        "subtotal": 3700,
        "shipping": 0,
        "total": 3700,
        "currency": "EUR",
        "email": "cust-7@example.com",
        "shipping_address": None,
        "shipping_method": None,
        "cancel_reason": None,
        "delivered_at": None,
        "version": 1,
        "created_at": order["updated_at"],
    }
    assert (moment(order["expires_at"]) - moment(order["created_at"])).total_seconds() == 1800
    assert stock(shop, "MUG-01") == (40, 2)
    assert stock(shop, "TEA-1") == (9, 3)

    assert ok_json(shop("orders", "show", order["id"], "--json")) == order
    human = shop("orders", "show", order["id"])
    assert human.exit_code == 0, human.output
    assert order["id"] in human.stdout
    assert customer_id("cust-7") in human.stdout
    assert "37.00 EUR" in human.stdout  # the total
    mug = next(line for line in human.stdout.splitlines() if "MUG-01" in line)
    assert mug.split() == ["MUG-01", "2", "12.50", "EUR", "25.00", "EUR"]

    assert ok_json(shop("orders", "list", "--json")) == {"items": [order], "next_cursor": None}
    listed = shop("orders", "list")
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if order["id"] in line)
    assert row.split()[:5] == [order["id"], "placed", "cust-7@example.com", "37.00", "EUR"]


def test_list_filters_and_pages(shop: Cli) -> None:
    first = place(shop, "MUG-01:1", customer="ann")
    second = place(shop, "MUG-01:1", customer="bob")
    third = place(shop, "TEA-1:1", customer="ann")
    ok_json(pay(shop, second, "--json"))

    def ids(*options: str) -> list[str]:
        page = ok_json(shop("orders", "list", *options, "--json"))
        return [item["id"] for item in page["items"]]

    assert ids() == [third["id"], second["id"], first["id"]]  # newest first
    assert ids("--customer", customer_id("ann")) == [third["id"], first["id"]]
    assert ids("--status", "paid") == [second["id"]]
    assert ids("--status", "PLACED", "--customer", customer_id("bob")) == []
    assert ids("--since", second["created_at"]) == [third["id"], second["id"]]
    assert ids("--until", second["created_at"]) == [first["id"]]
    assert ids("--since", "2000-01-01", "--until", "2000-01-02") == []
    assert "No orders." in shop("orders", "list", "--customer", "nobody").stdout

    page = ok_json(shop("orders", "list", "--limit", "2", "--json"))
    assert [item["id"] for item in page["items"]] == [third["id"], second["id"]]
    cursor = page["next_cursor"]
    assert isinstance(cursor, str)
    assert f"--cursor {cursor}" in shop("orders", "list", "--limit", "2").stdout
    assert ids("--limit", "2", "--cursor", cursor) == [first["id"]]


def test_reading_refusals_and_usage_errors(shop: Cli) -> None:
    missing = str(uuid.uuid4())
    unknown = shop("orders", "show", missing)
    assert unknown.exit_code == 1, unknown.output
    assert unknown.stderr.strip() == f"error: No order is known as '{missing}'."
    refused = ok_json(shop("orders", "show", "not-an-id", "--json"), exit_code=1)
    assert refused["error"]["code"] == "order_not_found"
    too_few = ok_json(shop("orders", "list", "--limit", "0", "--json"), exit_code=2)
    assert too_few["error"]["code"] == "usage_error"
    assert "'--limit'" in too_few["error"]["detail"]
    bad = ok_json(shop("orders", "list", "--cursor", "not-a-cursor", "--json"), exit_code=2)
    assert bad["error"]["code"] == "invalid_input"
    assert shop("orders", "list", "--since", "yesterday").exit_code == 2
    assert shop("orders", "list", "--status", "lost").exit_code == 2
    for line in ("MUG-01", "MUG-01:two", ":2"):
        usage = shop("orders", "place", "--customer", "c@example.com", "--line", line)
        assert usage.exit_code == 2, usage.output
        assert "SKU:QTY" in usage.stderr
    assert shop("orders", "place", "--line", "MUG-01:1").exit_code == 2  # no customer
    assert stock(shop, "MUG-01") == (40, 0)


# --- placement refused ---------------------------------------------------------------------


def test_out_of_stock_names_every_short_line_and_reserves_nothing(shop: Cli) -> None:
    refused = shop("orders", "place", "--customer", "c@example.com", "--line", "MUG-01:41",
                   "--line", "TEA-1:10")  # fmt: skip
    assert refused.exit_code == 1, refused.output
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "error: Not enough stock: MUG-01 (41 asked, 40 available), TEA-1 (10 asked, 9 available)."
    ]
    as_json = ok_json(
        shop("orders", "place", "--customer", "c@example.com", "--line", "TEA-1:10", "--json"),
        exit_code=1,
    )
    assert as_json["error"]["code"] == "out_of_stock"
    assert "TEA-1 (10 asked, 9 available)" in as_json["error"]["detail"]

    partly = shop(
        "orders", "place", "--customer", "c@example.com", "--line", "MUG-01:5", "--line", "TEA-1:10"
    )
    assert partly.exit_code == 1, partly.output
    assert "MUG-01" not in partly.stderr  # only the short line is named
    assert stock(shop, "MUG-01") == (40, 0)  # all or nothing
    assert stock(shop, "TEA-1") == (9, 0)
    assert ok_json(shop("orders", "list", "--json"))["items"] == []

    other = ok_json(
        shop("orders", "place", "--customer", "c@example.com", "--line", "NOPE:1", "--json"), 1
    )
    assert other["error"]["code"] == "products_unavailable"
    invalid = ok_json(
        shop("orders", "place", "--customer", "c@example.com", "--line", "MUG-01:0", "--json"), 2
    )
    assert invalid["error"]["code"] == "invalid_input"
    assert invalid["error"]["errors"][0]["field"] == "lines.0.quantity"  # for scripts, as is
    told = shop("orders", "place", "--customer", "c@example.com", "--line", "TEA-1:0")
    assert told.exit_code == 2, told.output
    assert told.stderr.strip() == "error: line 1: quantity must be 1-1000"


@pytest.mark.parametrize(
    "customer",
    [str(uuid.UUID(int=7)), "not-a-uuid", "nobody@example.com", "gus@example.com", "sam"],
    ids=["unknown id", "not an id", "unknown email", "deactivated", "staff"],
)
def test_a_customer_that_is_no_active_customer_account_is_refused_in_one_line(
    shop: Cli, infra_settings: InfraSettings, customer: str
) -> None:
    add_account(infra_settings, "gus", active=False)
    add_account(infra_settings, "sam", role="staff")
    if customer == "sam":
        customer = customer_id("sam")
    reason = f"error: '{customer}' is neither the id nor the email of an active customer account."

    for extra in ((), ("--dry-run",)):
        refused = shop("orders", "place", "--customer", customer, "--line", "MUG-01:2", *extra)
        assert refused.exit_code == 1, refused.output
        assert (refused.stdout, refused.stderr.splitlines()) == ("", [reason])
    as_json = shop("orders", "place", "--customer", customer, "--line", "MUG-01:2", "--json")

    assert ok_json(as_json, exit_code=1) == {
        "error": {
            "code": "customer_not_found",
            "detail": reason.removeprefix("error: "),
            "customer": customer,
            "field": "customer_id",
        }
    }
    assert stock(shop, "MUG-01") == (40, 0)
    assert ok_json(shop("orders", "list", "--json"))["items"] == []


def test_a_customer_is_named_by_id_or_by_email_in_any_case(shop: Cli) -> None:
    by_id = ok_json(
        shop("orders", "place", "--customer", customer_id("ann"), "--line", "MUG-01:1", "--json")
    )
    by_email = ok_json(
        shop("orders", "place", "--customer", "ANN@Example.com", "--line", "MUG-01:1", "--json")
    )

    assert by_id["order"]["customer_id"] == by_email["order"]["customer_id"] == customer_id("ann")
    assert stock(shop, "MUG-01") == (40, 2)


# --- lifecycle -----------------------------------------------------------------------------


def test_pay_ship_deliver_move_stock_and_versions(shop: Cli) -> None:
    order = place(shop, "MUG-01:2", "TEA-1:3")
    assert stock(shop, "MUG-01") == (40, 2)

    paid = ok_json(pay(shop, order, "--json"))
    assert paid["applied"] is True
    assert (paid["order"]["status"], paid["order"]["version"]) == ("paid", 2)
    assert stock(shop, "MUG-01") == (40, 2)  # still reserved

    shipped = shop("orders", "ship", order["id"], "--if-version", "2")
    assert shipped.exit_code == 0, shipped.output
    assert f"Order {order['id']} shipped" in shipped.stdout
    assert stock(shop, "MUG-01") == (38, 0)  # consumed
    assert stock(shop, "TEA-1") == (6, 0)

    delivered = ok_json(shop("orders", "deliver", order["id"], "--json"))["order"]
    assert (delivered["status"], delivered["version"]) == ("delivered", 4)
    assert stock(shop, "MUG-01") == (38, 0)
    assert ok_json(shop("orders", "show", order["id"], "--json")) == delivered

    history = ok_json(shop("stock", "history", "MUG-01", "--json"))["items"]
    (shipment,) = ok_json(shop("shipments", "list", order["id"], "--json"))["items"]
    assert [(m["kind"], m["reference"]) for m in history[:2]] == [
        ("shipment", shipment["id"]),  # the shipment that carried the units
        ("reservation", order["id"]),
    ]


def test_an_illegal_step_is_refused_and_changes_nothing(shop: Cli) -> None:
    order = place(shop, "MUG-01:2")
    early = shop("orders", "ship", order["id"])  # not paid yet
    assert early.exit_code == 1, early.output
    assert early.stderr.strip() == (
        f"error: Order {order['id']} is placed: it cannot become shipped."
    )
    ok_json(pay(shop, order, "--json"))
    ok_json(shop("orders", "ship", order["id"], "--json"))
    late = ok_json(shop("orders", "cancel", order["id"], "--json"), exit_code=1)
    assert late["error"] == {
        "code": "illegal_transition",
        "detail": f"Order {order['id']} is shipped: it cannot become cancelled.",
        "order_id": order["id"],
        "current": "shipped",
        "wanted": "cancelled",
    }
    after = ok_json(shop("orders", "show", order["id"], "--json"))
    assert (after["status"], after["version"]) == ("shipped", 3)
    assert stock(shop, "MUG-01") == (38, 0)


def test_cancel_releases_the_stock_and_keeps_the_reason(shop: Cli) -> None:
    order = place(shop, "MUG-01:2", "TEA-1:9")
    other = place(shop, "MUG-01:5")
    ok_json(pay(shop, order, "--json"))
    cancelled = ok_json(
        shop("orders", "cancel", order["id"], "--reason", "customer called", "--json")
    )["order"]
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "customer called")
    assert stock(shop, "MUG-01") == (40, 5)  # the other order keeps its reservation
    assert stock(shop, "TEA-1") == (9, 0)
    assert ok_json(shop("orders", "cancel", other["id"], "--json"))["order"]["cancel_reason"] == (
        "cancelled"
    )
    assert stock(shop, "MUG-01") == (40, 0)
    again = shop("orders", "cancel", order["id"])
    assert again.exit_code == 1, again.output
    assert "is cancelled: it cannot become cancelled" in again.stderr
    assert stock(shop, "TEA-1") == (9, 0)  # not released twice


def test_a_stale_if_version_is_refused(shop: Cli) -> None:
    order = place(shop, "MUG-01:2")
    ok_json(pay(shop, order, "--json"))
    stale = shop("orders", "cancel", order["id"], "--if-version", "1")
    assert stale.exit_code == 1, stale.output
    assert stale.stderr.strip() == (
        f"error: Order {order['id']} is at version 2, not 1: reload it and try again."
    )
    as_json = ok_json(shop("orders", "ship", order["id"], "--if-version", "1", "--json"), 1)
    assert as_json["error"]["code"] == "version_conflict"
    assert ok_json(shop("orders", "show", order["id"], "--json"))["status"] == "paid"
    assert stock(shop, "MUG-01") == (40, 2)
    assert shop("orders", "ship", order["id"], "--if-version", "0").exit_code == 2


def test_dry_runs_show_the_result_and_change_nothing(shop: Cli) -> None:
    preview = place(shop, "MUG-01:4", extra=("--dry-run",))
    assert (preview["status"], preview["total"]) == ("placed", 5000)
    assert stock(shop, "MUG-01") == (40, 0)
    assert ok_json(shop("orders", "list", "--json"))["items"] == []
    assert ok_json(shop("orders", "show", preview["id"], "--json"), 1)["error"]["code"] == (
        "order_not_found"
    )

    order = place(shop, "MUG-01:4")
    payment = ("pay", "--amount", "5000", "--reference", "cash")
    for step in (payment, ("cancel", "--reason", "test")):
        rehearsed = ok_json(shop("orders", *step, order["id"], "--dry-run", "--json"))
        assert rehearsed["applied"] is False
        assert rehearsed["order"]["version"] == 2
    human = shop("orders", "cancel", order["id"], "--dry-run")
    assert human.exit_code == 0, human.output
    assert "dry run: nothing was changed" in human.stdout
    assert f"Order {order['id']} would be cancelled" in human.stdout
    assert ok_json(shop("orders", "show", order["id"], "--json")) == order
    assert stock(shop, "MUG-01") == (40, 4)
    refused = shop("orders", "ship", order["id"], "--dry-run")  # a refusal is rehearsed too
    assert refused.exit_code == 1, refused.output
    entries = ok_json(shop("audit", "list", "--target-type", "order", "--json"))["items"]
    assert [e["operation"] for e in entries] == ["order.place"]


def test_writes_are_audited_with_the_operator_and_key(shop: Cli) -> None:
    order = place(shop, "MUG-01:1", extra=("--idempotency-key", "place-2031-04"))
    ok_json(pay(shop, order, "--idempotency-key", "pay-2031-04", "--json"))
    entries = ok_json(shop("audit", "list", "--target-id", order["id"], "--json"))["items"]
    assert [(e["operation"], e["idempotency_key"]) for e in entries] == [
        ("order.paid", "pay-2031-04"),
        ("order.place", "place-2031-04"),
    ]
    assert {e["actor"]["id"] for e in entries} == {getpass.getuser()}
    assert pay(shop, order, "--idempotency-key", " bad").exit_code == 2


# --- expiry --------------------------------------------------------------------------------


def test_expire_cancels_only_due_orders_and_releases_their_stock(
    shop: Cli, infra_settings: InfraSettings
) -> None:
    due = place(shop, "MUG-01:3", "TEA-1:2")
    fresh = place(shop, "MUG-01:1")
    paid = place(shop, "TEA-1:1")
    ok_json(pay(shop, paid, "--json"))

    assert ok_json(shop("orders", "expire", "--dry-run", "--json")) == {
        "applied": False,
        "expired": [],
    }
    nothing = shop("orders", "expire", "--dry-run")
    assert nothing.exit_code == 0, nothing.output
    assert "No unpaid order is past its expiry." in nothing.stdout

    for order_id in (due["id"], paid["id"]):  # a paid order never expires
        sql(
            infra_settings,
            "UPDATE orders SET expires_at = now() - interval '1 minute' WHERE id = :id",
            id=uuid.UUID(order_id),
        )
    rehearsal = shop("orders", "expire", "--dry-run")
    assert rehearsal.exit_code == 0, rehearsal.output
    assert "dry run: nothing was changed" in rehearsal.stdout
    assert due["id"] in rehearsal.stdout
    assert ok_json(shop("orders", "expire", "--dry-run", "--json")) == {
        "applied": False,
        "expired": [due["id"]],
    }
    assert ok_json(shop("orders", "show", due["id"], "--json"))["status"] == "placed"
    assert stock(shop, "MUG-01") == (40, 4)

    assert ok_json(shop("orders", "expire", "--json")) == {
        "applied": True,
        "expired": [due["id"]],
    }
    expired = ok_json(shop("orders", "show", due["id"], "--json"))
    assert (expired["status"], expired["cancel_reason"]) == ("cancelled", "expired")
    assert ok_json(shop("orders", "show", fresh["id"], "--json"))["status"] == "placed"
    assert ok_json(shop("orders", "show", paid["id"], "--json"))["status"] == "paid"
    assert stock(shop, "MUG-01") == (40, 1)  # only the fresh order's unit
    assert stock(shop, "TEA-1") == (9, 1)  # only the paid order's unit

    assert ok_json(shop("orders", "expire", "--json"))["expired"] == []
    entries = ok_json(shop("audit", "list", "--operation", "order.expire", "--json"))["items"]
    assert [e["target"]["id"] for e in entries] == [due["id"]]


# --- idempotency keys ----------------------------------------------------------------------


def test_a_retried_command_with_its_key_places_one_order(shop: Cli) -> None:
    key = ("--idempotency-key", "phone-order-17")
    first = place(shop, "MUG-01:2", extra=key)
    retried = shop(
        "orders", "place", "--customer", "cust-1@example.com", "--line", "MUG-01:2", *key, "--json"
    )
    other = shop("orders", "place", "--customer", "cust-1@example.com", "--line", "MUG-01:3", *key)

    assert ok_json(retried)["order"] == first
    assert "an earlier run with this idempotency key" in retried.stderr
    assert stock(shop, "MUG-01") == (40, 2)
    assert other.exit_code == 1
    assert "already used for a different order.place request" in other.stderr


def test_a_refusal_is_replayed_to_the_retry_and_keys_are_purged(shop: Cli) -> None:
    key = ("--idempotency-key", "phone-order-18")
    line = ("--customer", "cust-1@example.com", "--line", "TEA-1:10", "--json")
    refused = ok_json(shop("orders", "place", *line, *key), exit_code=1)
    assert (
        shop("products", "adjust-stock", "TEA-1", "--delta=5", "--reason", "found").exit_code == 0
    )
    retried = shop("orders", "place", *line, *key)

    assert ok_json(retried, exit_code=1) == refused
    assert refused["error"]["code"] == "out_of_stock"
    purge = ok_json(shop("db", "purge-keys", "--dry-run", "--json"))
    assert purge == {"applied": False, "purged": 0}  # nothing is a day old yet

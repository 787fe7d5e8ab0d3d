"""`orderly shipments` and `orderly orders cancel-remainder` against PostgreSQL: an order of 3
ships 2 with tracking, then the rest; shipments are delivered; what remains is cancelled and
refunded."""

from __future__ import annotations

import pytest

from orderly_db.settings import InfraSettings
from tests.cli.conftest import Cli
from tests.cli.helpers import ok_json
from tests.cli.test_orders import add_account, create

pytestmark = pytest.mark.postgres


@pytest.fixture
def shop(cli: Cli, infra_settings: InfraSettings) -> Cli:
    """MUG-01 (12.50 EUR, 40 on hand) and the customer ann@example.com."""
    create(cli, "MUG-01", "12.50", 40)
    add_account(infra_settings, "ann")
    return cli


def paid_order(shop: Cli, quantity: int) -> str:
    placed = ok_json(
        shop(
            "orders",
            "place",
            "--customer",
            "ann@example.com",
            "--line",
            f"MUG-01:{quantity}",
            "--json",
        )
    )
    order_id = str(placed["order"]["id"])
    paid = shop(
        "orders",
        "pay",
        order_id,
        "--amount",
        str(placed["order"]["total"]),
        "--reference",
        "SEPA",
        "--json",
    )
    assert paid.exit_code == 0, paid.output
    return order_id


def stock(shop: Cli) -> tuple[int, int]:
    product = ok_json(shop("products", "show", "MUG-01", "--json"))
    return product["on_hand"], product["reserved"]


def test_an_order_ships_two_with_tracking_then_the_rest(shop: Cli) -> None:
    order_id = paid_order(shop, 3)

    first = ok_json(
        shop(
            "shipments", "create", order_id, "--line", "MUG-01:2", "--carrier", "DHL",
            "--tracking-number", "JD0001", "--tracking-url", "https://track.example/JD0001",
            "--json",
        )
    )["shipment"]  # fmt: skip
    too_many = ok_json(
        shop(
            "shipments",
            "create",
            order_id,
            "--line",
            "MUG-01:2",
            "--carrier",
            "DHL",
            "--tracking-number",
            "JD2",
            "--json",
        ),
        exit_code=1,
    )
    partly = ok_json(shop("orders", "show", order_id, "--json"))
    rest = shop(
        "shipments",
        "create",
        order_id,
        "--line",
        "MUG-01:1",
        "--carrier",
        "UPS",
        "--tracking-number",
        "1Z",
    )
    listed = ok_json(shop("shipments", "list", order_id, "--json"))["items"]
    delivered = ok_json(shop("shipments", "deliver", first["id"], "--json"))["shipment"]
    shown = shop("shipments", "show", first["id"])

    assert (first["lines"], first["tracking_url"]) == (
        [{"sku": "MUG-01", "quantity": 2}],
        "https://track.example/JD0001",
    )
    assert too_many["error"]["code"] == "exceeds_remaining"
    assert too_many["error"]["lines"] == [{"sku": "MUG-01", "asked": 2, "remaining": 1}]
    assert partly["status"] == "partially_shipped"
    assert rest.exit_code == 0, rest.output
    assert "shipped" in rest.stdout
    assert [s["carrier"] for s in listed] == ["DHL", "UPS"]
    assert delivered["status"] == "delivered"
    assert "JD0001" in shown.stdout
    assert stock(shop) == (37, 0)
    bad_line = shop(
        "shipments",
        "create",
        order_id,
        "--line",
        "MUG-01",
        "--carrier",
        "D",
        "--tracking-number",
        "1",
    )
    assert bad_line.exit_code == 2, bad_line.output


def test_what_remains_is_cancelled_and_refunded(shop: Cli) -> None:
    order_id = paid_order(shop, 3)
    ok_json(shop("orders", "ship", order_id, "--dry-run", "--json"))
    ok_json(
        shop(
            "shipments",
            "create",
            order_id,
            "--line",
            "MUG-01:1",
            "--carrier",
            "DHL",
            "--tracking-number",
            "JD1",
            "--json",
        )
    )

    dry = ok_json(
        shop("orders", "cancel-remainder", order_id, "--line", "MUG-01:1", "--dry-run", "--json")
    )
    some = ok_json(shop("orders", "cancel-remainder", order_id, "--line", "MUG-01:1", "--json"))
    rest = shop("orders", "cancel-remainder", order_id, "--reason", "discontinued")

    assert dry["applied"] is False
    assert (some["order"]["status"], some["order"]["lines"][0]["cancelled"]) == (
        "partially_shipped",
        1,
    )
    assert [(r["amount"], r["status"]) for r in some["refunds"]] == [(1250, "succeeded")]
    assert rest.exit_code == 0, rest.output
    assert "Refunds made" in rest.stdout
    assert ok_json(shop("orders", "show", order_id, "--json"))["status"] == "shipped"
    assert stock(shop) == (39, 0)

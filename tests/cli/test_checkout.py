"""`orderly shipping-rates ...`, and orders placed and changed with an address and a shipping
method, through Typer's runner on real PostgreSQL."""

from __future__ import annotations

import json

import pytest

from orderly_db.settings import InfraSettings
from tests.cli.conftest import Cli
from tests.cli.helpers import ok_json
from tests.cli.test_orders import add_account, create

pytestmark = [pytest.mark.postgres]

BERLIN = json.dumps({"name": "Ann", "line1": "Hauptstr. 1", "city": "Berlin", "country": "de"})
PARIS = json.dumps({"name": "Ann", "line1": "1 rue de Rivoli", "city": "Paris", "country": "FR"})


@pytest.fixture
def shop(cli: Cli, infra_settings: InfraSettings) -> Cli:
    """MUG-01 at 12.50 EUR, ann's account, and a standard rate to Germany and France."""
    create(cli, "MUG-01", "12.50", 40)
    add_account(infra_settings, "ann")
    rate = cli(
        "shipping-rates", "create", "--code", "STD-EUR", "--name", "Standard", "--price", "4.90",
        "--currency", "EUR", "--country", "DE", "--country", "fr", "--free-above", "50", "--json",
    )  # fmt: skip
    created = ok_json(rate)["shipping_rate"]
    assert (created["code"], created["countries"], created["price"]) == (
        "std-eur",
        ["DE", "FR"],
        490,
    )
    assert created["free_above"] == 5000
    return cli


def test_rates_are_listed_changed_and_retired(shop: Cli) -> None:
    listed = ok_json(shop("shipping-rates", "list", "--json"))
    changed = ok_json(
        shop(
            "shipping-rates",
            "update",
            "std-eur",
            "--price",
            "5.90",
            "--currency",
            "EUR",
            "--never-free",
            "--if-version",
            "1",
            "--json",
        )
    )["shipping_rate"]
    stale = shop("shipping-rates", "update", "std-eur", "--name", "Slow", "--if-version", "1")
    retired = ok_json(shop("shipping-rates", "delete", "std-eur", "--json"))["shipping_rate"]
    human = shop("shipping-rates", "show", "std-eur")
    usage = shop("shipping-rates", "update", "std-eur", "--price", "1")

    assert [rate["code"] for rate in listed["items"]] == ["std-eur"]
    assert (changed["price"], changed["free_above"], changed["version"]) == (590, None, 2)
    assert stale.exit_code == 1, stale.output
    assert (retired["active"], retired["version"]) == (False, 3)
    assert human.exit_code == 0, human.output
    assert "no (retired)" in human.stdout
    assert usage.exit_code == 2


def test_the_quote_the_order_and_its_new_address(shop: Cli) -> None:
    base = ("orders", "place", "--customer", "ann@example.com", "--line", "MUG-01:2")

    quote = ok_json(shop(*base, "--address", BERLIN, "--dry-run", "--json"))
    human_quote = shop(*base, "--address", BERLIN, "--dry-run")
    missing = ok_json(shop(*base, "--json"), 2)
    placed = ok_json(shop(*base, "--address", BERLIN, "--shipping-method", "std-eur", "--json"))[
        "order"
    ]
    bad_json = shop(*base, "--address", "{not json", "--shipping-method", "std-eur")
    moved = ok_json(
        shop("orders", "update", placed["id"], "--address", PARIS, "--if-version", "1", "--json")
    )["order"]

    assert quote["applied"] is False
    assert quote["shipping_methods"] == [
        {"code": "std-eur", "name": "Standard", "price": 490, "currency": "EUR"}
    ]
    assert human_quote.exit_code == 0, human_quote.output
    assert "Shipping methods" in human_quote.stdout
    assert "4.90 EUR" in human_quote.stdout
    assert missing["error"]["code"] == "invalid_input"
    assert (placed["subtotal"], placed["shipping"], placed["total"]) == (2500, 490, 2990)
    assert (placed["email"], placed["shipping_address"]["country"]) == ("ann@example.com", "DE")
    assert bad_json.exit_code == 2
    assert (moved["shipping_address"]["city"], moved["version"]) == ("Paris", 2)
    shown = shop("orders", "show", placed["id"])
    assert "Paris" in shown.stdout
    assert "4.90 EUR" in shown.stdout


def test_a_products_own_limit_is_set_and_kept(shop: Cli) -> None:
    limited = ok_json(shop("products", "update", "MUG-01", "--max-per-order", "3", "--json"))
    over = ok_json(
        shop(
            "orders",
            "place",
            "--customer",
            "ann@example.com",
            "--line",
            "MUG-01:4",
            "--address",
            BERLIN,
            "--shipping-method",
            "std-eur",
            "--json",
        ),
        1,
    )

    assert limited["product"]["max_per_order"] == 3
    assert over["error"]["code"] == "max_per_order_exceeded"
    assert over["error"]["lines"] == [{"sku": "MUG-01", "requested": 4, "max_per_order": 3}]

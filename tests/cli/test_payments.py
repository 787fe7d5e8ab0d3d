"""`orderly orders pay|refund|payments` and `orderly payments reconcile|settle` through Typer's
runner, on real PostgreSQL, with the manual provider (the default)."""

from __future__ import annotations

from typing import Any

import pytest

from orderly_db.settings import InfraSettings
from tests.cli.conftest import Cli
from tests.cli.helpers import ok_json
from tests.cli.test_orders import add_account, create, place

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def shop(cli: Cli, infra_settings: InfraSettings) -> Cli:
    create(cli, "MUG-01", "12.50", 40)
    add_account(infra_settings, "cust-1")
    return cli


def paid_order(shop: Cli) -> Any:
    order = place(shop, "MUG-01:2")  # 25.00 EUR
    for amount in ("1000", "1500"):
        paying = ("--amount", amount, "--reference", f"SEPA {amount}", "--json")
        ok_json(shop("orders", "pay", order["id"], *paying))
    return order


def test_payments_by_hand_pay_the_order_and_are_listed(shop: Cli) -> None:
    order = place(shop, "MUG-01:2")

    first = ok_json(
        shop("orders", "pay", order["id"], "--amount", "1000", "--reference", "a", "--json")
    )
    rest = shop("orders", "pay", order["id"], "--amount", "1500", "--reference", "b")
    too_much = ok_json(
        shop("orders", "pay", order["id"], "--amount", "1", "--reference", "c", "--json"), 1
    )
    listed = ok_json(shop("orders", "payments", order["id"], "--json"))

    assert (first["applied"], first["order"]["status"]) == (True, "placed")
    assert first["payment"]["provider"] == "manual"
    assert rest.exit_code == 0, rest.output
    assert "paid" in rest.stdout
    assert too_much["error"]["code"] == "order_not_payable"
    assert [(p["amount"], p["status"]) for p in listed["payments"]] == [
        (1000, "succeeded"),
        (1500, "succeeded"),
    ]
    assert listed["refunds"] == []


def test_a_refund_is_limited_to_what_was_paid(shop: Cli) -> None:
    order = paid_order(shop)

    dry = ok_json(
        shop(
            "orders",
            "refund",
            order["id"],
            "--amount",
            "2000",
            "--reason",
            "late",
            "--dry-run",
            "--json",
        )
    )
    made = ok_json(
        shop("orders", "refund", order["id"], "--amount", "2000", "--reason", "late", "--json")
    )
    beyond = ok_json(
        shop("orders", "refund", order["id"], "--amount", "501", "--reason", "more", "--json"), 1
    )
    human = shop("orders", "payments", order["id"])

    assert dry["applied"] is False
    assert [r["amount"] for r in dry["refunds"]] == [1500, 500]  # newest payment first
    assert [(r["amount"], r["status"]) for r in made["refunds"]] == [
        (1500, "succeeded"),
        (500, "succeeded"),
    ]
    assert (beyond["error"]["code"], beyond["error"]["refundable"]) == (
        "refund_exceeds_refundable",
        500,
    )
    assert human.exit_code == 0, human.output
    assert "late" in human.stdout


def test_reconcile_and_settle_run_by_hand(shop: Cli) -> None:
    reconciled = ok_json(shop("payments", "reconcile", "--since", "2031-01-01", "--json"))
    settled = ok_json(shop("payments", "settle", "--dry-run", "--json"))
    human = shop("payments", "reconcile", "--dry-run")

    assert (reconciled["checked"], reconciled["missed"]) == (0, [])
    assert reconciled["since"].startswith("2031-01-01")
    assert settled["applied"] is False
    assert human.exit_code == 0, human.output
    assert "missed no success" in human.stdout

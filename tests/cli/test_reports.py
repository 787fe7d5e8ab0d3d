"""``orderly reports``: making a day's sales summary and reading a range, on PostgreSQL."""

from __future__ import annotations

import json

import pytest

from orderly_db.settings import InfraSettings
from tests.cli.conftest import Cli
from tests.cli.test_orders import add_account

pytestmark = [pytest.mark.postgres]


def test_a_day_is_summarised_and_read_back(cli: Cli, infra_settings: InfraSettings) -> None:
    created = cli(
        "products", "create", "--sku", "MUG-1", "--name", "Mug", "--price", "12.50",
        "--currency", "EUR", "--on-hand", "10",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    add_account(infra_settings, "c-1")
    placed = cli("orders", "place", "--customer", "c-1@example.com", "--line", "MUG-1:2", "--json")
    order_id = json.loads(placed.stdout)["order"]["id"]
    day = json.loads(placed.stdout)["order"]["created_at"][:10]
    paying = ("--amount", "2500", "--reference", "SEPA transfer")
    assert cli("orders", "pay", order_id, *paying).exit_code == 0

    preview = cli("reports", "summarise", "--day", day, "--dry-run", "--json")
    made = cli("reports", "summarise", "--day", day, "--json")
    report = cli("reports", "sales", "--from", day, "--to", day, "--json")
    table = cli("reports", "sales", "--from", day, "--to", day)

    assert json.loads(preview.stdout)["applied"] is False
    summary = json.loads(made.stdout)["summary"]
    assert (summary["orders"], summary["revenue"], summary["top_skus"]) == (
        1,
        [{"currency": "EUR", "amount": 2500}],
        [{"sku": "MUG-1", "units": 2}],
    )
    assert json.loads(report.stdout)["days"] == [summary]
    assert "25.00 EUR" in table.stdout
    assert "MUG-1 (2)" in table.stdout
    bad = cli("reports", "sales", "--from", "yesterday", "--to", day)
    assert bad.exit_code == 2

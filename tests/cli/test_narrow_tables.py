"""Every listing at a 100-column terminal: no column is cut, so that every id can be copied
from the table whole; customers are named by their email."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from orderly_core.jobs.model import JobStatus
from orderly_db.settings import InfraSettings
from tests.cli.conftest import Cli
from tests.cli.helpers import ok_json
from tests.cli.test_jobs import ran
from tests.cli.test_orders import add_account, create, pay, place
from tests.cli.test_webhooks import add, replay

pytestmark = [pytest.mark.postgres]

WIDTH = 100


@pytest.fixture
def narrow(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    return cli


@pytest.fixture
def shop(narrow: Cli, infra_settings: InfraSettings) -> dict[str, Any]:
    """A shop with a bit of everything: products, a customer with a long email, orders
    placed, paid and shipped, a webhook endpoint with deliveries, jobs with real ids."""
    create(narrow, "MUG-01", "12.50", 40)
    create(narrow, "TEA-LONG-NAME-1", "4.00", 9)
    add_account(infra_settings, "annabelle.longname-customer")
    customer = "annabelle.longname-customer"
    endpoint = add(narrow, events=("order.placed", "order.paid"))["endpoint"]
    first = place(narrow, "MUG-01:2", "TEA-LONG-NAME-1:1", customer=customer)
    second = place(narrow, "MUG-01:1", customer=customer)
    assert pay(narrow, first, "--json").exit_code == 0
    deliveries = replay(narrow, endpoint["id"])["delivery_ids"]
    import_id = "import:" + hashlib.sha256(b"alice\0spring-2031").hexdigest()
    ran(infra_settings, import_id, JobStatus.DEAD, minute=1)
    webhook_job = f"webhook:{deliveries[0]}:{deliveries[1]}:1:1922518800000"
    ran(infra_settings, webhook_job, JobStatus.DEAD, minute=2, name="deliver_webhook")
    return {
        "orders": [first["id"], second["id"]],
        "customer": f"{customer}@example.com",
        "endpoint": endpoint["id"],
        "deliveries": deliveries,
        "jobs": [import_id, webhook_job],
    }


def _fits(result: Any, *whole: str) -> str:
    """The command's output: it succeeded, no line is wider than the terminal, and each of
    ``whole`` (ids, emails) is in it unbroken."""
    assert result.exit_code == 0, result.output
    too_wide = [line for line in result.stdout.splitlines() if len(line) > WIDTH]
    assert too_wide == [], too_wide
    for text in whole:
        assert text in result.stdout, (text, result.stdout)
    assert "…" not in result.stdout  # nothing cut
    return str(result.stdout)


def test_orders_show_their_ids_whole_and_customers_by_email(
    narrow: Cli, shop: dict[str, Any]
) -> None:
    listing = _fits(narrow("orders", "list"), *shop["orders"])
    assert "Customer" in listing
    assert "annabelle" in listing
    assert shop["customer"] in narrow("orders", "list", "--wide").stdout  # as wide as it needs
    payments = ok_json(narrow("orders", "payments", shop["orders"][0], "--json"))["payments"]
    _fits(narrow("orders", "payments", shop["orders"][0]), payments[0]["id"])


def test_users_show_their_ids_and_emails_whole(narrow: Cli, shop: dict[str, Any]) -> None:
    [user] = ok_json(narrow("users", "list", "--json"))["items"]

    _fits(narrow("users", "list"), user["id"], shop["customer"])
    assert user["display_name"] in narrow("users", "list", "--wide").stdout


def test_stock_history_shows_the_orders_it_refers_to_whole(
    narrow: Cli, shop: dict[str, Any]
) -> None:
    history = _fits(narrow("stock", "history", "MUG-01"), *shop["orders"])
    assert "reservation" in history
    assert "cli-" in narrow("stock", "history", "MUG-01", "--wide").stdout  # the requests


def test_audit_shows_its_targets_whole(narrow: Cli, shop: dict[str, Any]) -> None:
    _fits(
        narrow("audit", "list"),
        *(f"order:{order}" for order in shop["orders"]),
        f"webhook:{shop['endpoint']}",
    )


def test_webhook_deliveries_show_their_ids_whole(narrow: Cli, shop: dict[str, Any]) -> None:
    _fits(narrow("webhooks", "list"), shop["endpoint"])
    _fits(narrow("webhooks", "deliveries", shop["endpoint"]), *shop["deliveries"])
    wide = narrow("webhooks", "deliveries", shop["endpoint"], "--wide").stdout
    events = ok_json(narrow("webhooks", "deliveries", shop["endpoint"], "--json"))["items"]
    for delivery in events:
        assert delivery["event_id"] in wide


def test_jobs_show_their_ids_whole_on_a_line_of_their_own(
    narrow: Cli, shop: dict[str, Any]
) -> None:
    for command in ("list", "dead"):
        listing = _fits(narrow("jobs", command), *shop["jobs"])
        lines = listing.splitlines()
        for job_id in shop["jobs"]:
            assert job_id in lines  # the whole line: copied with a triple click
        assert "import_products, dead, 1 attempt, queued 2031-04-01 09:01" in listing
    assert shop["jobs"][0] in narrow("jobs", "list", "--wide").stdout


def test_times_are_in_full_with_wide_and_json(narrow: Cli, shop: dict[str, Any]) -> None:
    [order, _] = ok_json(narrow("orders", "list", "--json"))["items"]

    assert order["created_at"] not in narrow("orders", "list").stdout
    assert order["created_at"] in narrow("orders", "list", "--wide").stdout

"""`orderly webhooks ...` through Typer's runner, on real PostgreSQL.

Endpoints are registered with `orderly webhooks add`; events come from orders placed with
`orderly orders place`, and deliveries from `orderly webhooks replay`. Only the attempts of
a delivery, which Orderly's worker records, are written through the core's port.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderly_core.webhooks.model import Attempt, DeliveryState
from orderly_db.engine import create_engine
from orderly_db.settings import InfraSettings
from orderly_db.unit_of_work import sql_dependencies
from tests.cli.conftest import Cli
from tests.cli.helpers import ok_json
from tests.cli.test_orders import add_account

pytestmark = [pytest.mark.postgres]

HOOK = "https://hooks.example.com/orderly"
ENDPOINT_KEYS = [
    "id", "url", "event_types", "active", "disabled_reason", "failing_since",
    "secret_rotating_until", "version", "created_at", "updated_at",
]  # fmt: skip


def add(cli: Cli, *extra: str, url: str = HOOK, events: tuple[str, ...] = ("order.placed",)) -> Any:
    args = [arg for event in events for arg in ("--event", event)]
    return ok_json(cli("webhooks", "add", "--url", url, *args, *extra, "--json"))


def place_orders(cli: Cli, settings: InfraSettings, count: int) -> None:
    """``count`` orders placed for a customer: one ``order.placed`` event each."""
    created = cli(
        "products", "create", "--sku", "MUG-1", "--name", "Mug", "--price", "12.50",
        "--currency", "EUR", "--on-hand", "50",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    add_account(settings, "cust-1")
    for _ in range(count):
        placed = cli(
            "orders", "place", "--customer", "cust-1@example.com", "--line", "MUG-1:1", "--json"
        )
        assert placed.exit_code == 0, placed.output


def today() -> tuple[str, str]:
    now = datetime.now(UTC)
    return (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=1)).isoformat()


def replay(cli: Cli, endpoint_id: str, *extra: str) -> Any:
    since, until = today()
    return ok_json(
        cli(
            "webhooks", "replay", endpoint_id, "--event", "order.placed",
            "--since", since, "--until", until, *extra, "--json",
        )
    )  # fmt: skip


# --- endpoints -----------------------------------------------------------------------------


def test_add_prints_the_secret_once_and_list_never_shows_it(cli: Cli) -> None:
    human = cli("webhooks", "add", "--url", HOOK, "--event", "order.placed", "--event", "stock.low")

    assert human.exit_code == 0, human.output
    [secret] = [word for word in human.stdout.split() if word.startswith("whsec_")]
    assert "will not show it again" in human.stdout
    assert HOOK in human.stdout
    assert "order.placed, stock.low" in human.stdout

    written = add(cli, url=f"{HOOK}/2")

    assert written["applied"] is True
    assert list(written["endpoint"]) == ENDPOINT_KEYS
    assert written["secret"].startswith("whsec_")
    assert written["secret"] != secret
    listed = cli("webhooks", "list", "--json")
    as_json = ok_json(listed)
    assert [e["url"] for e in as_json["items"]] == [HOOK, f"{HOOK}/2"]
    assert as_json["items"][1] == written["endpoint"]
    table = cli("webhooks", "list")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if f"{HOOK}/2" in line)
    assert row.split()[:5] == [written["endpoint"]["id"], f"{HOOK}/2", "order.placed", "yes", "1"]
    for output in (listed.stdout, table.stdout):
        assert "whsec_" not in output


def test_the_json_of_add_warns_on_stderr_that_the_secret_is_shown_once(cli: Cli) -> None:
    result = cli("webhooks", "add", "--url", HOOK, "--event", "order.placed", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["secret"].startswith("whsec_")
    assert result.stderr.startswith("warning: Keep this signing secret now")


def test_add_refuses_bad_urls_and_event_types_with_every_reason(cli: Cli) -> None:
    result = cli("webhooks", "add", "--url", "http://127.0.0.1/hook", "--event", "order.lost")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: url: must be an absolute https:// URL")
    assert "event type 1: is not an event type" in result.stderr
    refused = ok_json(
        cli("webhooks", "add", "--url", "https://10.0.0.1/", "--event", "order.placed", "--json"),
        exit_code=2,
    )
    assert refused["error"]["code"] == "invalid_input"
    assert refused["error"]["errors"][0]["field"] == "url"
    missing = cli("webhooks", "add", "--url", HOOK)
    assert missing.exit_code == 2
    assert "--event" in missing.stderr
    assert ok_json(cli("webhooks", "list", "--json")) == {"items": []}


def test_the_policy_comes_from_the_environment(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP", "true")
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "true")

    written = add(cli, url="http://127.0.0.1:9000/hook")

    assert written["endpoint"]["url"] == "http://127.0.0.1:9000/hook"


def test_dry_runs_and_idempotency_keys(cli: Cli) -> None:
    preview = add(cli, "--dry-run")

    assert (preview["applied"], preview["secret"]) == (False, None)
    assert ok_json(cli("webhooks", "list", "--json")) == {"items": []}
    human = cli("webhooks", "add", "--url", HOOK, "--event", "order.placed", "--dry-run")
    assert "dry run: nothing was changed" in human.stdout
    assert "whsec_" not in human.stdout

    first = add(cli, "--idempotency-key", "hook-1")
    again = cli(
        "webhooks", "add", "--url", HOOK, "--event", "order.placed",
        "--idempotency-key", "hook-1", "--json",
    )  # fmt: skip

    assert ok_json(again) == first
    assert "an earlier run with this idempotency key did this" in again.stderr
    assert len(ok_json(cli("webhooks", "list", "--json"))["items"]) == 1
    bad_key = cli(
        "webhooks", "add", "--url", HOOK, "--event", "order.placed", "--idempotency-key", " x"
    )
    assert bad_key.exit_code == 2


def test_disable_enable_and_remove(cli: Cli) -> None:
    endpoint = add(cli)["endpoint"]
    endpoint_id = endpoint["id"]

    disabled = ok_json(cli("webhooks", "disable", endpoint_id, "--if-version", "1", "--json"))
    stale = ok_json(cli("webhooks", "enable", endpoint_id, "--if-version", "1", "--json"), 1)
    preview = ok_json(cli("webhooks", "enable", endpoint_id, "--dry-run", "--json"))
    enabled = cli("webhooks", "enable", endpoint_id)

    assert (disabled["applied"], disabled["endpoint"]["active"]) == (True, False)
    assert disabled["endpoint"]["version"] == 2
    assert stale["error"]["code"] == "version_conflict"
    assert (preview["applied"], preview["endpoint"]["active"]) == (False, True)
    assert enabled.exit_code == 0, enabled.output
    assert f"Webhook endpoint {endpoint_id} enabled" in enabled.stdout
    assert ok_json(cli("webhooks", "list", "--json"))["items"][0]["version"] == 3

    dry = cli("webhooks", "remove", endpoint_id, "--dry-run")
    assert "would be removed" in dry.stdout
    assert len(ok_json(cli("webhooks", "list", "--json"))["items"]) == 1
    removed = cli("webhooks", "remove", endpoint_id)
    assert removed.exit_code == 0, removed.output
    assert f"Removed webhook endpoint {endpoint_id}" in removed.stdout
    assert ok_json(cli("webhooks", "list", "--json")) == {"items": []}
    gone = cli("webhooks", "disable", endpoint_id)
    assert gone.exit_code == 1
    assert gone.stderr == f"error: No webhook endpoint is known as '{endpoint_id}'.\n"


def test_rotate_secret_prints_the_new_secret_and_when_the_old_one_stops(cli: Cli) -> None:
    written = add(cli)
    endpoint_id = written["endpoint"]["id"]

    rotated = ok_json(cli("webhooks", "rotate-secret", endpoint_id, "--json"))
    human = cli("webhooks", "rotate-secret", endpoint_id)

    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != written["secret"]
    assert rotated["endpoint"]["version"] == 2
    assert rotated["endpoint"]["secret_rotating_until"] is not None
    assert human.exit_code == 0, human.output
    assert "Old secret signs until" in human.stdout
    [third] = [word for word in human.stdout.split() if word.startswith("whsec_")]
    assert third not in (written["secret"], rotated["secret"])
    dry = ok_json(cli("webhooks", "rotate-secret", endpoint_id, "--dry-run", "--json"))
    assert (dry["applied"], dry["secret"], dry["endpoint"]["version"]) == (False, None, 4)
    said = cli("webhooks", "rotate-secret", endpoint_id, "--dry-run").stdout
    assert f"Webhook endpoint {endpoint_id} would get a new signing secret" in said
    assert "whsec_" not in said
    assert ok_json(cli("webhooks", "list", "--json"))["items"][0]["version"] == 3


# --- deliveries ----------------------------------------------------------------------------


def test_replay_deliveries_and_redeliver(cli: Cli, infra_settings: InfraSettings) -> None:
    endpoint_id = add(cli)["endpoint"]["id"]
    place_orders(cli, infra_settings, 3)

    preview = replay(cli, endpoint_id, "--dry-run")
    report = replay(cli, endpoint_id)

    assert (preview["applied"], preview["count"]) == (False, 3)
    assert (report["applied"], report["count"]) == (True, 3)
    page = ok_json(cli("webhooks", "deliveries", endpoint_id, "--limit", "2", "--json"))
    rest = ok_json(
        cli("webhooks", "deliveries", endpoint_id, "--cursor", page["next_cursor"], "--json")
    )
    listed = page["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert sorted(d["id"] for d in listed) == sorted(report["delivery_ids"])
    assert {(d["state"], d["attempts"], d["event_type"]) for d in listed} == {
        ("pending", 0, "order.placed")
    }
    table = cli("webhooks", "deliveries", endpoint_id, "--limit", "2")
    assert f"--cursor {page['next_cursor']}" in table.stdout

    delivery_id = report["delivery_ids"][0]
    _record_two_failures(infra_settings, delivery_id)
    shown = ok_json(cli("webhooks", "show-delivery", delivery_id, "--json"))
    assert (shown["state"], shown["attempts"]) == ("dead", 2)
    assert [(a["number"], a["status"], a["error"]) for a in shown["attempt_log"]] == [
        (1, None, "connection refused"),
        (2, 503, "HTTP 503"),
    ]
    human = cli("webhooks", "show-delivery", delivery_id)
    assert "connection refused" in human.stdout
    assert "503" in human.stdout

    again = ok_json(cli("webhooks", "redeliver", delivery_id, "--json"))
    assert again["applied"] is True
    assert (again["delivery"]["event_id"], again["delivery"]["state"]) == (
        shown["event_id"],
        "pending",
    )
    assert again["delivery"]["id"] != delivery_id
    said = cli("webhooks", "redeliver", delivery_id, "--dry-run")
    assert "would be sent again" in said.stdout
    assert len(ok_json(cli("webhooks", "deliveries", endpoint_id, "--json"))["items"]) == 4


def _record_two_failures(settings: InfraSettings, delivery_id: str) -> None:
    """Two failed attempts and a dead delivery, as Orderly's worker records them, through the
    core's port on an engine of the test's own, away from the session's event loop."""
    wanted = uuid.UUID(delivery_id)

    async def record() -> None:
        engine = create_engine(settings, application_name="orderly-tests-webhooks-cli")
        try:
            async with sql_dependencies(engine).unit_of_work() as uow:
                delivery = await uow.deliveries.get(wanted, for_update=True)
                assert delivery is not None
                at = delivery.created_at
                await uow.deliveries.add_attempt(
                    Attempt(wanted, 1, at, 9, None, "connection refused")
                )
                await uow.deliveries.add_attempt(Attempt(wanted, 2, at, 30, 503, "HTTP 503"))
                dead = replace(
                    delivery,
                    state=DeliveryState.DEAD,
                    attempts=2,
                    last_status=503,
                    next_attempt_at=None,
                )
                await uow.deliveries.save(dead)
                await uow.commit()
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, record()).result()


def test_replay_and_redeliver_refusals(cli: Cli) -> None:
    endpoint_id = add(cli)["endpoint"]["id"]
    since, until = today()

    unsubscribed = cli(
        "webhooks", "replay", endpoint_id, "--event", "order.paid",
        "--since", since, "--until", until,
    )  # fmt: skip
    backwards = cli(
        "webhooks", "replay", endpoint_id, "--event", "order.placed",
        "--since", until, "--until", since,
    )  # fmt: skip
    unreadable = cli(
        "webhooks", "replay", endpoint_id, "--event", "order.placed",
        "--since", "yesterday", "--until", until,
    )  # fmt: skip
    unknown = cli("webhooks", "redeliver", str(uuid.uuid4()))

    assert unsubscribed.exit_code == 2  # invalid input: a bad option
    assert unsubscribed.stderr == (
        "error: event type 1: the endpoint does not subscribe to order.paid\n"
    )
    assert (backwards.exit_code, backwards.stderr) == (2, "error: until: must be after since\n")
    assert unreadable.exit_code == 2
    assert "'--since'" in unreadable.stderr
    assert unknown.exit_code == 1
    assert "No webhook delivery is known as" in unknown.stderr
    ok_json(cli("webhooks", "disable", endpoint_id, "--json"))
    disabled = cli(
        "webhooks", "replay", endpoint_id, "--event", "order.placed",
        "--since", since, "--until", until,
    )  # fmt: skip
    assert disabled.exit_code == 1
    assert "is disabled: enable it" in disabled.stderr


@pytest.mark.parametrize(
    "command",
    [
        "list", "add", "disable", "enable", "remove", "rotate-secret", "deliveries",
        "show-delivery", "redeliver", "replay",
    ],
)  # fmt: skip
def test_every_command_explains_itself_with_an_example(cli: Cli, command: str) -> None:
    result = cli("webhooks", command, "--help")

    assert result.exit_code == 0, result.output
    assert "orderly webhooks " + command in result.stdout
    assert "Example" in result.stdout

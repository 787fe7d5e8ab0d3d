"""`orderly stock history` and `orderly stock verify` through Typer's runner, on real PostgreSQL.

Stock is moved with `orderly products ...`; drift is made the way a bug or a hand-edit would
make it, by writing the products table directly. What a command claims is checked against
the database over a connection of the test's own.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import pytest
from sqlalchemy import text
from typer.testing import Result

from orderly_db.engine import create_engine
from orderly_db.settings import InfraSettings
from tests.cli.conftest import Cli
from tests.cli.helpers import ok_json

pytestmark = [pytest.mark.postgres]

MOVEMENT_KEYS = {
    "id",
    "sku",
    "at",
    "kind",
    "on_hand_delta",
    "reserved_delta",
    "note",
    "reference",
    "actor_id",
    "request_id",
}


class Orderly(Protocol):
    def __call__(self, *args: str) -> Result: ...


@pytest.fixture
def orderly(cli: Cli) -> Orderly:
    """`orderly ...` (see the ``cli`` fixture)."""
    return cli


def sql(settings: InfraSettings, statement: str, **params: Any) -> list[Any]:
    """Run one statement in a transaction of the test's own; its rows, if any."""

    async def run() -> list[Any]:
        engine = create_engine(settings, application_name="orderly-tests-stock-cli")
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(statement), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    def in_loop() -> Coroutine[Any, Any, list[Any]]:
        return run()

    with ThreadPoolExecutor(max_workers=1) as pool:  # away from the session's event loop
        return pool.submit(lambda: asyncio.run(in_loop())).result()


def levels(settings: InfraSettings, sku: str) -> tuple[int, int, int]:
    (row,) = sql(
        settings, "SELECT on_hand, reserved, version FROM products WHERE sku = :sku", sku=sku
    )
    return row.on_hand, row.reserved, row.version


def create(orderly: Orderly, sku: str, on_hand: int) -> None:
    args = ("--name", sku, "--price", "1.00", "--currency", "EUR", "--on-hand", str(on_hand))
    result = orderly("products", "create", "--sku", sku, *args)
    assert result.exit_code == 0, result.output


def adjust(orderly: Orderly, sku: str, delta: int, reason: str, *extra: str) -> None:
    result = orderly(
        "products", "adjust-stock", sku, f"--delta={delta}", "--reason", reason, *extra
    )
    assert result.exit_code == 0, result.output


# --- history -------------------------------------------------------------------------------


def test_history_shows_every_movement_with_its_reason_newest_first(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    create(orderly, "MUG-01", 40)
    adjust(orderly, "MUG-01", -3, "broken in storage")
    adjust(orderly, "MUG-01", 24, "delivery [batch 7]")
    adjust(orderly, "MUG-01", 5, "not applied", "--dry-run")
    create(orderly, "TEA-1", 9)

    page = ok_json(orderly("stock", "history", "mug-01", "--json"))
    assert page["next_cursor"] is None
    items = page["items"]
    assert all(set(item) == MOVEMENT_KEYS for item in items)
    assert [(m["kind"], m["on_hand_delta"], m["reserved_delta"], m["note"]) for m in items] == [
        ("adjustment", 24, 0, "delivery [batch 7]"),
        ("adjustment", -3, 0, "broken in storage"),
        ("opening", 40, 0, "opening stock"),
    ]
    assert {m["sku"] for m in items} == {"MUG-01"}
    assert {m["actor_id"] for m in items} == {getpass.getuser()}
    assert all(m["request_id"].startswith("cli-") for m in items)
    assert len({m["request_id"] for m in items}) == 3  # one invocation, one request
    assert sum(m["on_hand_delta"] for m in items) == levels(infra_settings, "MUG-01")[0] == 61

    human = orderly("stock", "history", "MUG-01")
    assert human.exit_code == 0, human.output
    rows = [line for line in human.stdout.splitlines() if "adjustment" in line or "opening" in line]
    assert len(rows) == 3
    assert "+24" in rows[0]
    assert "delivery [batch 7]" in rows[0]  # brackets are text, not markup
    assert "-3" in rows[1]
    assert "broken in storage" in rows[1]
    assert "opening stock" in rows[2]
    assert "TEA-1" not in human.stdout


def test_history_pages_follow_the_printed_cursor(orderly: Orderly) -> None:
    create(orderly, "MUG-01", 1)
    for delta in (2, 3, 4):
        adjust(orderly, "MUG-01", delta, f"count {delta}")
    first = ok_json(orderly("stock", "history", "MUG-01", "--limit", "2", "--json"))
    assert [m["on_hand_delta"] for m in first["items"]] == [4, 3]
    cursor = first["next_cursor"]
    assert isinstance(cursor, str)
    assert f"--cursor {cursor}" in orderly("stock", "history", "MUG-01", "--limit", "2").stdout
    rest = ok_json(
        orderly("stock", "history", "MUG-01", "--limit", "2", "--cursor", cursor, "--json")
    )
    assert ([m["on_hand_delta"] for m in rest["items"]], rest["next_cursor"]) == ([2, 1], None)


def test_history_refuses_an_unknown_sku_and_bad_paging(orderly: Orderly) -> None:
    create(orderly, "MUG-01", 1)
    unknown = orderly("stock", "history", "NOPE-1")
    assert unknown.exit_code == 1, unknown.output
    assert unknown.stderr.strip() == "error: No product has SKU 'NOPE-1'."
    as_json = ok_json(orderly("stock", "history", "NOPE-1", "--json"), exit_code=1)
    assert as_json["error"]["code"] == "product_not_found"
    for limit in ("0", "201"):
        refused = ok_json(orderly("stock", "history", "MUG-01", "--limit", limit, "--json"), 2)
        assert refused["error"]["code"] == "usage_error"
    cursor = ("--cursor", "not-a-cursor", "--json")
    refused = ok_json(orderly("stock", "history", "MUG-01", *cursor), exit_code=2)
    assert refused["error"]["code"] == "invalid_input"
    assert refused["error"]["errors"][0]["field"] == "cursor"


# --- verify --------------------------------------------------------------------------------


def test_verify_exits_0_when_levels_match_the_ledger(orderly: Orderly) -> None:
    create(orderly, "MUG-01", 40)
    adjust(orderly, "MUG-01", -40, "sold out at the fair")  # back to zero on hand
    create(orderly, "EMPTY-1", 0)  # no movement at all: its levels are the ledger's zero
    report = ok_json(orderly("stock", "verify", "--json"))
    assert report == {"applied": True, "repaired": False, "drifts": []}
    human = orderly("stock", "verify")
    assert human.exit_code == 0, human.output
    assert "match the ledger" in human.stdout


def drift_mug(orderly: Orderly, settings: InfraSettings) -> None:
    """MUG-01 with 37 on hand by the ledger but 99 on hand and 2 reserved in its row."""
    create(orderly, "MUG-01", 40)
    adjust(orderly, "MUG-01", -3, "broken")
    create(orderly, "TEA-1", 5)
    sql(settings, "UPDATE products SET on_hand = 99, reserved = 2 WHERE sku = 'MUG-01'")


MUG_DRIFT = {
    "sku": "MUG-01",
    "on_hand": 99,
    "reserved": 2,
    "ledger_on_hand": 37,
    "ledger_reserved": 0,
}


def test_verify_reports_drift_and_exits_1(orderly: Orderly, infra_settings: InfraSettings) -> None:
    drift_mug(orderly, infra_settings)
    report = ok_json(orderly("stock", "verify", "--json"), exit_code=1)
    assert report == {"applied": True, "repaired": False, "drifts": [MUG_DRIFT]}

    human = orderly("stock", "verify")
    assert human.exit_code == 1, human.output
    row = next(line for line in human.stdout.splitlines() if "MUG-01" in line)
    assert row.split() == ["MUG-01", "99", "37", "2", "0"]
    assert "TEA-1" not in human.stdout
    assert "--repair" in human.stdout
    assert levels(infra_settings, "MUG-01") == (99, 2, 2)  # reported, not touched


def test_repair_dry_run_shows_the_fix_and_changes_nothing(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    drift_mug(orderly, infra_settings)
    before = levels(infra_settings, "MUG-01")
    report = ok_json(orderly("stock", "verify", "--repair", "--dry-run", "--json"))
    assert report == {"applied": False, "repaired": False, "drifts": [MUG_DRIFT]}
    human = orderly("stock", "verify", "--repair", "--dry-run")
    assert human.exit_code == 0, human.output
    assert "dry run: nothing was changed" in human.stdout
    assert "would be set" in human.stdout

    assert levels(infra_settings, "MUG-01") == before
    entries = ok_json(orderly("audit", "list", "--operation", "stock.repair", "--json"))
    assert entries["items"] == []
    assert orderly("stock", "verify").exit_code == 1  # the drift is still there


def test_repair_sets_the_ledger_levels_and_audits_each_fix(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    drift_mug(orderly, infra_settings)
    sql(infra_settings, "UPDATE products SET on_hand = 1 WHERE sku = 'TEA-1'")
    report = ok_json(orderly("stock", "verify", "--repair", "--json"))
    assert report["applied"] is True
    assert report["repaired"] is True
    assert [d["sku"] for d in report["drifts"]] == ["MUG-01", "TEA-1"]

    assert levels(infra_settings, "MUG-01")[:2] == (37, 0)
    assert levels(infra_settings, "TEA-1")[:2] == (5, 0)
    assert ok_json(orderly("stock", "verify", "--json")) == {
        "applied": True,
        "repaired": False,
        "drifts": [],
    }

    entries = ok_json(orderly("audit", "list", "--operation", "stock.repair", "--json"))
    by_target = {e["target"]["id"]: e for e in entries["items"]}
    assert set(by_target) == {"MUG-01", "TEA-1"}
    mug = by_target["MUG-01"]
    assert mug["target"]["type"] == "product"
    assert mug["actor"] == {"kind": "operator", "id": getpass.getuser(), "role": None}
    assert mug["mode"] == "execute"
    assert mug["changes"]["on_hand"] == {"before": 99, "after": 37}
    assert mug["changes"]["reserved"] == {"before": 2, "after": 0}
    assert by_target["TEA-1"]["changes"]["on_hand"] == {"before": 1, "after": 5}

    repaired = orderly("stock", "verify", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "match the ledger" in repaired.stdout  # nothing left to repair

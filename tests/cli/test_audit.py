"""`orderly audit list` and `orderly audit tail` against the real PostgreSQL.

Entries are written by real commands (`orderly products ...`); `tail -f` runs as a real
process that is stopped with Ctrl-C (SIGINT), as an operator would stop it.
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderly_cli.commands.audit import FOLLOW_LOOKBACK, Followed
from orderly_core.platform.audit import AuditEntry
from orderly_db.settings import InfraSettings
from tests.cli.conftest import Cli
from tests.cli.helpers import ok_json
from tests.cli.processes import ORDERLY, kill_session, wait_until
from tests.cli.test_stock import Orderly, adjust, create, sql

pytestmark = [pytest.mark.postgres]

ENTRY_KEYS = {
    "id",
    "at",
    "actor",
    "operation",
    "target",
    "request_id",
    "idempotency_key",
    "mode",
    "changes",
}


@pytest.fixture
def orderly(cli: Cli) -> Orderly:
    """`orderly ...` (see the ``cli`` fixture)."""
    return cli


def listed(orderly: Orderly, *filters: str) -> list[dict[str, Any]]:
    page = ok_json(orderly("audit", "list", *filters, "--json"))
    items: list[dict[str, Any]] = page["items"]
    return items


def summary(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["operation"], e["target"]["id"]) for e in entries]


# --- list ----------------------------------------------------------------------------------


def test_every_write_leaves_one_entry_naming_its_actor_request_key_and_mode(
    orderly: Orderly,
) -> None:
    create(orderly, "MUG-01", 40)
    adjust(orderly, "MUG-01", -3, "broken", "--idempotency-key", "count-2031-04")
    renamed = orderly("products", "update", "MUG-01", "--name", "Red mug", "--dry-run")
    assert renamed.exit_code == 0, renamed.output  # a dry run leaves no entry
    assert orderly("products", "update", "MUG-01", "--name", "Red mug").exit_code == 0

    entries = listed(orderly)
    assert all(set(e) == ENTRY_KEYS for e in entries)
    assert summary(entries) == [
        ("product.update", "MUG-01"),
        ("product.adjust_stock", "MUG-01"),
        ("product.create", "MUG-01"),
    ]
    moments = [datetime.fromisoformat(e["at"]) for e in entries]
    assert moments == sorted(moments, reverse=True)
    assert all(e["at"].endswith("Z") for e in entries)
    for entry in entries:
        assert entry["actor"] == {"kind": "operator", "id": getpass.getuser(), "role": None}
        assert entry["target"]["type"] == "product"
        assert entry["mode"] == "execute"
        assert entry["request_id"].startswith("cli-")
    assert [e["idempotency_key"] for e in entries] == [None, "count-2031-04", None]
    assert entries[0]["changes"]["name"] == {"before": "MUG-01", "after": "Red mug"}
    assert entries[1]["changes"]["on_hand"] == {"before": 40, "after": 37}
    assert entries[2]["changes"]["on_hand"] == {"before": None, "after": 40}

    human = orderly("audit", "list", "--wide")  # with the changes, request and key
    assert human.exit_code == 0, human.output
    update_row = next(line for line in human.stdout.splitlines() if "product.update" in line)
    assert 'name: "MUG-01" → "Red mug"' in update_row
    assert f"operator:{getpass.getuser()}" in update_row
    assert "count-2031-04" in human.stdout


def test_filters_combine_and_pages_follow_the_cursor(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    create(orderly, "MUG-01", 40)
    create(orderly, "TEA-1", 5)
    adjust(orderly, "MUG-01", 2, "found two")
    adjust(orderly, "TEA-1", 1, "found one")
    everything = listed(orderly)
    assert len(everything) == 4

    assert summary(listed(orderly, "--target-id", "MUG-01")) == [
        ("product.adjust_stock", "MUG-01"),
        ("product.create", "MUG-01"),
    ]
    by_operation = listed(orderly, "--operation", "product.create", "--target-type", "product")
    assert summary(by_operation) == [("product.create", "TEA-1"), ("product.create", "MUG-01")]
    assert summary(
        listed(orderly, "--operation", "product.adjust_stock", "--target-id", "TEA-1")
    ) == [("product.adjust_stock", "TEA-1")]
    assert listed(orderly, "--target-type", "user") == []
    assert listed(orderly, "--actor", "someone-else") == []
    assert len(listed(orderly, "--actor", getpass.getuser())) == 4

    # [since, until): the second-oldest entry starts the range, the newest ends it
    since, until = everything[2]["at"], everything[0]["at"]
    assert summary(listed(orderly, "--since", since, "--until", until)) == summary(everything[1:3])
    naive = datetime.fromisoformat(since).astimezone(UTC).replace(tzinfo=None).isoformat()
    assert listed(orderly, "--since", naive) == everything[:3]  # no offset: read as UTC
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert listed(orderly, "--since", tomorrow) == []

    first = ok_json(orderly("audit", "list", "--limit", "3", "--json"))
    assert first["items"] == everything[:3]
    cursor = first["next_cursor"]
    assert f"--cursor {cursor}" in orderly("audit", "list", "--limit", "3").stdout
    rest = ok_json(orderly("audit", "list", "--limit", "3", "--cursor", cursor, "--json"))
    assert (rest["items"], rest["next_cursor"]) == (everything[3:], None)


def test_bad_filters_are_refused(orderly: Orderly) -> None:
    for option in ("--since", "--until"):
        result = orderly("audit", "list", option, "last tuesday")
        assert result.exit_code == 2, result.output
        assert f"'{option}'" in result.stderr
    backwards = orderly("audit", "list", "--since", "2031-04-02", "--until", "2031-04-01")
    assert backwards.exit_code == 2, backwards.output
    assert backwards.stderr.strip() == "error: until: must be after since"
    error = ok_json(orderly("audit", "list", "--limit", "0", "--json"), exit_code=2)["error"]
    assert error["code"] == "usage_error"
    error = ok_json(orderly("audit", "list", "--cursor", "nonsense", "--json"), 2)["error"]
    assert error["code"] == "invalid_input"
    assert error["errors"][0]["field"] == "cursor"


# --- tail ----------------------------------------------------------------------------------


def test_tail_prints_the_newest_entries_oldest_first(orderly: Orderly) -> None:
    create(orderly, "A-1", 1)
    create(orderly, "B-2", 2)
    create(orderly, "C-3", 3)

    lines = [
        json.loads(line)
        for line in orderly("audit", "tail", "--limit", "2", "--json").stdout.splitlines()
    ]
    assert [e["target"]["id"] for e in lines] == ["B-2", "C-3"]
    assert lines == list(reversed(listed(orderly, "--limit", "2")))

    human = orderly("audit", "tail")
    assert human.exit_code == 0, human.output
    rows = human.stdout.splitlines()
    assert [row.split()[1:3] for row in rows] == [
        ["product.create", "product:A-1"],
        ["product.create", "product:B-2"],
        ["product.create", "product:C-3"],
    ]
    assert all(f"operator:{getpass.getuser()}" in row for row in rows)
    assert "on_hand: null → 3" in rows[2]


def test_tail_of_an_empty_trail_prints_nothing(orderly: Orderly) -> None:
    result = orderly("audit", "tail")
    assert (result.exit_code, result.stdout) == (0, "")


def test_tail_stops_quietly_when_its_reader_goes_away(
    orderly: Orderly, database_url: str, redis_url: str
) -> None:
    """`orderly audit tail | head -1`: a closed pipe is not a server that cannot be reached."""
    create(orderly, "A-1", 1)
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    try:
        finished = subprocess.run(
            [ORDERLY, "audit", "tail"], env=env, stdout=write_end, stderr=subprocess.PIPE,
            timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert finished.returncode == 0, finished.stderr.decode()
    assert finished.stderr.decode() == ""


def _entry(at: datetime) -> AuditEntry:
    return AuditEntry(
        uuid.uuid4(), at, "operator", "ada", None, "product.create", "product", "X", "r", None,
        "execute", {},
    )  # fmt: skip


def test_following_reports_each_entry_once_and_late_commits_within_the_lookback() -> None:
    now = datetime(2031, 4, 1, 12, tzinfo=UTC)
    shown = [_entry(now - timedelta(seconds=2)), _entry(now)]
    followed = Followed(floor=(shown[0].at, shown[0].id))
    assert followed.news(reversed(shown)) == shown
    older = _entry(now - timedelta(seconds=3))  # older than the first page: history, not news
    late = _entry(now - timedelta(seconds=1))  # written earlier, committed later
    newer = _entry(now + timedelta(seconds=1))
    assert followed.since() == now - FOLLOW_LOOKBACK
    assert followed.news([newer, late, *shown, older]) == [late, newer]
    assert followed.news([newer, late, *shown, older]) == []
    assert followed.since() == newer.at - FOLLOW_LOOKBACK


def test_tail_follow_prints_new_entries_until_ctrl_c(
    orderly: Orderly, infra_settings: InfraSettings, database_url: str, redis_url: str
) -> None:
    create(orderly, "A-1", 1)
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    process = subprocess.Popen(
        [ORDERLY, "audit", "tail", "-f", "--interval", "0.05", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    printed: list[dict[str, Any]] = []

    def read() -> None:
        assert process.stdout is not None
        printed.extend(json.loads(line) for line in process.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: len(printed) == 1, 30), process.stderr
        create(orderly, "B-2", 2)
        adjust(orderly, "B-2", 3, "delivery")
        assert wait_until(lambda: len(printed) >= 3, 30)
        # an entry stamped before the newest one printed, committed after it was printed
        sql(
            infra_settings,
            "INSERT INTO audit_entries (id, at, actor_kind, actor_id, operation, target_type,"
            " target_id, request_id, mode, changes) VALUES (gen_random_uuid(),"
            " now() - interval '5 seconds', 'system', 'importer', 'product.import', 'product',"
            " 'LATE-1', 'job-1', 'execute', '{}')",
        )
        assert wait_until(lambda: len(printed) >= 4, 30)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        reader.join(timeout=10)
    finally:
        kill_session(process)
        assert process.stderr is not None
        errors = process.stderr.read().decode()
        process.stdout and process.stdout.close()
        process.stderr.close()

    assert "Traceback" not in errors
    assert "Aborted" not in errors
    assert [(e["operation"], e["target"]["id"]) for e in printed] == [
        ("product.create", "A-1"),
        ("product.create", "B-2"),
        ("product.adjust_stock", "B-2"),
        ("product.import", "LATE-1"),
    ]
    assert printed[:3] == list(reversed(listed(orderly, "--actor", getpass.getuser())))

"""`orderly products ...` through Typer's runner, against the real PostgreSQL and Redis.

Each command runs `asyncio.run` itself, so these tests are plain functions. What a command
claims to have done is checked against the database over a connection of the test's own.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
import redis
from returns.pipeline import is_successful
from sqlalchemy import text
from typer.testing import Result

from orderly_cli.commands.product_import import MAX_IMPORT_BYTES
from orderly_core.catalogue.model import Product, ProductQuery
from orderly_core.catalogue.use_cases import get_product, list_products
from orderly_core.jobs.imports import import_job_id
from orderly_core.jobs.payloads import IMPORT_PRODUCTS
from orderly_core.shared.context import Actor, Context
from orderly_core.unit_of_work import Dependencies
from orderly_db.engine import create_engine
from orderly_db.settings import InfraSettings
from orderly_db.unit_of_work import sql_dependencies
from tests.cli.conftest import Cli
from tests.cli.helpers import in_thread, ok_json, queued_ids, queued_job

pytestmark = [pytest.mark.postgres]

PRODUCT_KEYS = {
    "sku",
    "name",
    "description",
    "unit_price",
    "currency",
    "active",
    "on_hand",
    "reserved",
    "available",
    "low_stock_threshold",
    "max_per_order",
    "version",
    "created_at",
    "updated_at",
}
HEADER = "sku,name,description,price,currency,on_hand\n"
READER = Context(Actor.anonymous(), "test-products-cli")


class Orderly(Protocol):
    def __call__(self, *args: str, input: str | None = None) -> Result: ...


@pytest.fixture
def orderly(cli: Cli) -> Orderly:
    """`orderly products ...` (see the ``cli`` fixture)."""

    def invoke(*args: str, input: str | None = None) -> Result:
        return cli("products", *args, input=input)

    return invoke


def _with_db[T](settings: InfraSettings, work: Callable[[Dependencies], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings, application_name="orderly-tests-cli")
        try:
            return await work(sql_dependencies(engine))
        finally:
            await engine.dispose()

    return in_thread(run)


def stored(settings: InfraSettings, sku: str) -> Product | None:
    result = _with_db(settings, lambda deps: get_product(deps, READER, sku))
    return result.unwrap() if is_successful(result) else None


def stored_skus(settings: InfraSettings) -> list[str]:
    page = _with_db(settings, lambda deps: list_products(deps, READER, ProductQuery(limit=200)))
    return [p.sku for p in page.unwrap().items]


def set_reserved(settings: InfraSettings, sku: str, reserved: int) -> None:
    """Open orders do not exist yet: reserve stock the way they will, in the table."""

    async def run() -> None:
        engine = create_engine(settings, application_name="orderly-tests-cli")
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE products SET reserved = :reserved WHERE sku = :sku"),
                    {"reserved": reserved, "sku": sku},
                )
        finally:
            await engine.dispose()

    in_thread(run)


def one_line_error(result: Result, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def create(
    orderly: Orderly, sku: str, *extra: str, price: str = "1", currency: str = "EUR"
) -> Result:
    """Create a product named after its SKU."""
    return orderly(
        "create", "--sku", sku, "--name", sku, "--price", price, "--currency", currency, *extra
    )


def create_mug(orderly: Orderly, *extra: str) -> dict[str, Any]:
    """MUG-01, "Blue mug", 12.50 EUR, 40 on hand, at version 1."""
    args = ("create", "--sku", "mug-01", "--name", "Blue mug", "--price", "12.50")
    document = ok_json(orderly(*args, "--currency", "EUR", "--on-hand", "40", "--json", *extra))
    product: dict[str, Any] = document["product"]
    return product


# --- create, show, list ------------------------------------------------------------------


def test_create_then_show_and_list(orderly: Orderly, infra_settings: InfraSettings) -> None:
    document = ok_json(
        orderly(
            *("create", "--sku", "mug-01", "--name", "Blue mug", "--price", "12.50"),
            *("--currency", "eur", "--description", "Stoneware, 300 ml", "--on-hand", "40"),
            "--json",
        )
    )
    assert set(document) == {"applied", "product"}
    assert document["applied"] is True
    created = document["product"]
    assert set(created) == PRODUCT_KEYS
    assert {k: v for k, v in created.items() if not k.endswith("_at")} == {
        "sku": "MUG-01",
        "name": "Blue mug",
        "description": "Stoneware, 300 ml",
        "unit_price": 1250,
        "currency": "EUR",
        "active": True,
        "on_hand": 40,
        "reserved": 0,
        "available": 40,
        "low_stock_threshold": 0,
        "max_per_order": None,
        "version": 1,
    }
    row = stored(infra_settings, "MUG-01")
    assert row is not None
    for moment, expected in (
        (created["created_at"], row.created_at),
        (created["updated_at"], row.updated_at),
    ):
        assert moment.endswith("Z")
        assert datetime.fromisoformat(moment) == expected

    assert ok_json(orderly("show", "Mug-01", "--json")) == created
    assert ok_json(orderly("list", "--json")) == {"items": [created], "next_cursor": None}

    shown = orderly("show", "mug-01")
    assert shown.exit_code == 0, shown.output
    for words in ("MUG-01", "Blue mug", "Stoneware, 300 ml", "12.50 EUR", "40"):
        assert words in shown.stdout
    listed = orderly("list")
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.stdout.splitlines() if "MUG-01" in line)
    assert line.split() == ["MUG-01", "Blue", "mug", "12.50", "EUR", "40", "0", "40", "yes", "1"]


@pytest.mark.parametrize(
    ("price", "currency", "minor_units"),
    [("12.50", "EUR", 1250), ("1500", "JPY", 1500), ("0.125", "KWD", 125), ("7", "usd", 700)],
)
def test_prices_are_read_in_major_units_of_their_currency(
    orderly: Orderly, infra_settings: InfraSettings, price: str, currency: str, minor_units: int
) -> None:
    assert create(orderly, "P-1", price=price, currency=currency).exit_code == 0
    product = stored(infra_settings, "P-1")
    assert product is not None
    assert (product.price.amount, product.price.currency) == (minor_units, currency.upper())
    listed = orderly("list")
    assert f"{product.price.format_major()} {currency.upper()}" in listed.stdout


@pytest.mark.parametrize(
    ("price", "currency", "option"),
    [
        ("12.505", "EUR", "--price"),
        ("1.5", "JPY", "--price"),
        ("-3", "EUR", "--price"),
        ("12,50", "EUR", "--price"),
        ("12.50", "EURO", "--currency"),
    ],
)
def test_a_price_that_cannot_be_read_exactly_is_a_usage_error(
    orderly: Orderly, infra_settings: InfraSettings, price: str, currency: str, option: str
) -> None:
    result = create(orderly, "P-1", price=price, currency=currency)
    assert result.exit_code == 2, result.output
    assert f"'{option}'" in result.stderr
    assert result.stdout == ""
    assert stored(infra_settings, "P-1") is None


def test_pages_follow_the_printed_cursor(orderly: Orderly) -> None:
    for sku in ("C-3", "A-1", "B-2"):
        assert create(orderly, sku).exit_code == 0
    first = ok_json(orderly("list", "--limit", "2", "--json"))
    assert [p["sku"] for p in first["items"]] == ["A-1", "B-2"]
    cursor = first["next_cursor"]
    assert isinstance(cursor, str)
    assert f"--cursor {cursor}" in orderly("list", "--limit", "2").stdout
    rest = ok_json(orderly("list", "--limit", "2", "--cursor", cursor, "--json"))
    assert ([p["sku"] for p in rest["items"]], rest["next_cursor"]) == (["C-3"], None)
    assert [p["sku"] for p in ok_json(orderly("list", "--search", "b-", "--json"))["items"]] == [
        "B-2"
    ]


# --- refusals ------------------------------------------------------------------------------


def test_a_duplicate_sku_is_refused_in_one_line(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    create_mug(orderly)
    again = ("create", "--sku", "MUG-01", "--name", "Other", "--price", "1", "--currency", "EUR")
    line = one_line_error(orderly(*again), 1)
    assert "MUG-01" in line
    assert "already exists" in line
    as_json = orderly(*again, "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["error"] == {
        "code": "duplicate_sku",
        "detail": "A product with SKU 'MUG-01' already exists.",
        "sku": "MUG-01",
    }
    product = stored(infra_settings, "MUG-01")
    assert product is not None
    assert product.name == "Blue mug"


def test_an_update_based_on_a_stale_version_is_refused(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    create_mug(orderly)
    first = ok_json(orderly("update", "MUG-01", "--name", "Red mug", "--if-version", "1", "--json"))
    assert (first["product"]["name"], first["product"]["version"]) == ("Red mug", 2)

    line = one_line_error(
        orderly("update", "MUG-01", "--name", "Green mug", "--if-version", "1"), 1
    )
    assert "version 2, not 1" in line
    product = stored(infra_settings, "MUG-01")
    assert product is not None
    assert (product.name, product.version) == ("Red mug", 2)


def test_update_changes_only_what_it_is_given(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    create_mug(orderly)
    updated = ok_json(
        orderly(
            "update", "mug-01", "--price", "1500", "--currency", "JPY", "--deactivate", "--json"
        )
    )["product"]
    assert (updated["unit_price"], updated["currency"], updated["active"]) == (1500, "JPY", False)
    assert (updated["name"], updated["on_hand"], updated["version"]) == ("Blue mug", 40, 2)
    product = stored(infra_settings, "MUG-01")
    assert product is not None
    assert (product.price.amount, product.price.currency, product.active) == (1500, "JPY", False)


@pytest.mark.parametrize("given", [("--price", "3.00"), ("--currency", "EUR")])
def test_price_and_currency_go_together(
    orderly: Orderly, infra_settings: InfraSettings, given: tuple[str, str]
) -> None:
    create_mug(orderly)
    result = orderly("update", "MUG-01", *given)
    assert result.exit_code == 2, result.output
    assert f"'{given[0]}'" in result.stderr
    product = stored(infra_settings, "MUG-01")
    assert product is not None
    assert (product.price.amount, product.version) == (1250, 1)


def test_adjust_stock_takes_negative_deltas_but_never_below_reserved(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    create_mug(orderly)
    adjusted = ok_json(
        orderly("adjust-stock", "MUG-01", "--delta", "-3", "--reason", "broken", "--json")
    )
    assert (adjusted["product"]["on_hand"], adjusted["product"]["version"]) == (37, 2)

    set_reserved(infra_settings, "MUG-01", 30)
    line = one_line_error(
        orderly("adjust-stock", "MUG-01", "--delta", "-10", "--reason", "count"), 1
    )
    assert "30 are reserved" in line
    refused = orderly("adjust-stock", "MUG-01", "--delta", "-8", "--reason", "count", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["error"]["code"] == "stock_below_reserved"

    still = ok_json(orderly("adjust-stock", "MUG-01", "--delta=-7", "--reason", "count", "--json"))
    assert (still["product"]["on_hand"], still["product"]["available"]) == (30, 0)
    product = stored(infra_settings, "MUG-01")
    assert product is not None
    assert (product.stock.on_hand, product.stock.reserved, product.version) == (30, 30, 3)


def test_archive_takes_a_product_out_of_sale(
    orderly: Orderly, infra_settings: InfraSettings
) -> None:
    create_mug(orderly)
    assert "version 1, not 7" in one_line_error(
        orderly("archive", "MUG-01", "--if-version", "7"), 1
    )
    archived = ok_json(orderly("archive", "MUG-01", "--if-version", "1", "--json"))
    assert (archived["applied"], archived["product"]["active"]) == (True, False)
    assert ok_json(orderly("list", "--active", "--json"))["items"] == []
    assert [p["sku"] for p in ok_json(orderly("list", "--archived", "--json"))["items"]] == [
        "MUG-01"
    ]
    product = stored(infra_settings, "MUG-01")
    assert product is not None
    assert not product.active


def test_an_unknown_sku_is_refused(orderly: Orderly) -> None:
    line = one_line_error(orderly("show", "NOPE-1"), 1)
    assert line == "error: No product has SKU 'NOPE-1'."
    result = orderly("archive", "nope-1", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "product_not_found"


# --- dry runs ------------------------------------------------------------------------------


def test_dry_run_writes_change_nothing(orderly: Orderly, infra_settings: InfraSettings) -> None:
    would = ok_json(create(orderly, "new-1", "--dry-run", "--json", price="2"))
    assert would["applied"] is False
    assert (would["product"]["sku"], would["product"]["unit_price"]) == ("NEW-1", 200)
    assert stored(infra_settings, "NEW-1") is None

    create_mug(orderly)
    human = orderly("update", "MUG-01", "--name", "Renamed", "--dry-run")
    assert human.exit_code == 0, human.output
    assert "dry run: nothing was changed" in human.stdout
    assert "Renamed" in human.stdout
    update = ok_json(orderly("update", "MUG-01", "--name", "Renamed", "--dry-run", "--json"))
    assert update["applied"] is False
    assert (update["product"]["name"], update["product"]["version"]) == ("Renamed", 2)
    adjust = ok_json(
        orderly("adjust-stock", "MUG-01", "--delta", "5", "--reason", "r", "--dry-run", "--json")
    )
    assert (adjust["applied"], adjust["product"]["on_hand"]) == (False, 45)
    archive = ok_json(orderly("archive", "MUG-01", "--dry-run", "--json"))
    assert (archive["applied"], archive["product"]["active"]) == (False, False)

    product = stored(infra_settings, "MUG-01")
    assert product is not None
    assert (product.name, product.stock.on_hand, product.version) == ("Blue mug", 40, 1)
    assert product.active
    assert stored_skus(infra_settings) == ["MUG-01"]


@pytest.mark.parametrize("key", ["x" * 256, "ключ", " padded", "tab\there", ""])
def test_a_malformed_idempotency_key_is_a_usage_error(
    orderly: Orderly, infra_settings: InfraSettings, key: str
) -> None:
    result = create(orderly, "K-1", "--idempotency-key", key)
    assert result.exit_code == 2, result.output
    assert "'--idempotency-key'" in result.stderr
    assert stored(infra_settings, "K-1") is None
    assert create(orderly, "K-1", "--idempotency-key", "x" * 255).exit_code == 0


# --- import --------------------------------------------------------------------------------


@pytest.fixture
def catalogue(orderly: Orderly, tmp_path: Path) -> Path:
    """MUG-01 unchanged, TEA-1 with a new price and stock, NEW-1 created."""
    create_mug(orderly)
    assert create(orderly, "TEA-1", price="4").exit_code == 0
    path = tmp_path / "catalogue.csv"
    path.write_text(
        HEADER
        + "mug-01,Blue mug,,12.50,EUR,\n"
        + "TEA-1,TEA-1,,4.20,EUR,12\n"
        + 'NEW-1,"Plate, large",Ø 27 cm,9.90,EUR,3\n',
        encoding="utf-8",
    )
    return path


def test_import_creates_updates_and_leaves_unchanged(
    orderly: Orderly, infra_settings: InfraSettings, catalogue: Path
) -> None:
    report = ok_json(orderly("import", str(catalogue), "--json"))
    assert report == {
        "applied": True,
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "rows": [
            {"line": 2, "sku": "MUG-01", "action": "unchanged", "changed": []},
            {"line": 3, "sku": "TEA-1", "action": "updated", "changed": ["price", "on_hand"]},
            {"line": 4, "sku": "NEW-1", "action": "created", "changed": []},
        ],
    }
    new = stored(infra_settings, "NEW-1")
    tea = stored(infra_settings, "TEA-1")
    mug = stored(infra_settings, "MUG-01")
    assert new is not None
    assert tea is not None
    assert mug is not None
    assert (new.name, new.description, new.price.amount, new.stock.on_hand) == (
        "Plate, large",
        "Ø 27 cm",
        990,
        3,
    )
    assert (tea.price.amount, tea.stock.on_hand, tea.version) == (420, 12, 2)
    assert (mug.version, mug.stock.on_hand) == (1, 40)

    again = orderly("import", "-", input=catalogue.read_text(encoding="utf-8"))
    assert again.exit_code == 0, again.output
    assert "dry run" not in again.stdout
    # Only the rows that changed are listed (none here), and the summary comes last.
    assert "3 unchanged row(s) not listed: --verbose lists every row." in again.stdout
    for sku in ("MUG-01", "TEA-1", "NEW-1"):
        assert sku not in again.stdout
    last = [line for line in again.stdout.splitlines() if any(c.isdigit() for c in line)][-1]
    assert last.replace("│", " ").split() == ["0", "0", "3"]
    every = orderly("import", "-", "--verbose", input=catalogue.read_text(encoding="utf-8"))
    assert every.exit_code == 0, every.output
    for sku in ("MUG-01", "TEA-1", "NEW-1"):
        assert sku in every.stdout
    assert every.stdout.index("NEW-1") < every.stdout.index("Import summary")


def test_dry_run_import_shows_what_would_happen_and_changes_nothing(
    orderly: Orderly, infra_settings: InfraSettings, catalogue: Path
) -> None:
    before = {sku: stored(infra_settings, sku) for sku in ("MUG-01", "TEA-1")}
    human = orderly("import", str(catalogue), "--dry-run")
    assert human.exit_code == 0, human.output
    assert "dry run: nothing was changed" in human.stdout
    for shown in (
        "would be created",
        "would be updated",
        "would be unchanged",
        "price, on_hand",
        "NEW-1",
        "1 unchanged row(s) not listed",
    ):
        assert shown in human.stdout
    assert "MUG-01" not in human.stdout  # unchanged: only counted
    assert human.stdout.index("TEA-1") < human.stdout.index("Import summary")
    report = ok_json(orderly("import", str(catalogue), "--dry-run", "--json"))
    assert report["applied"] is False
    assert (report["created"], report["updated"], report["unchanged"]) == (1, 1, 1)
    assert stored_skus(infra_settings) == ["MUG-01", "TEA-1"]
    assert {sku: stored(infra_settings, sku) for sku in before} == before


def test_the_progress_bar_is_drawn_on_terminals_only_and_never_into_json(
    orderly: Orderly, monkeypatch: pytest.MonkeyPatch, catalogue: Path
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats the captured stdout as a terminal
    drawn = orderly("import", str(catalogue), "--dry-run")
    assert drawn.exit_code == 0, drawn.output
    assert "Importing" in drawn.stdout
    assert "3/3" in drawn.stdout
    report = ok_json(orderly("import", str(catalogue), "--dry-run", "--json"))
    assert report["unchanged"] + report["updated"] + report["created"] == 3
    monkeypatch.delenv("FORCE_COLOR")
    plain = orderly("import", str(catalogue), "--dry-run")
    assert "Importing" not in plain.stdout
    assert "\x1b[" not in plain.stdout


def test_an_import_with_bad_rows_lists_every_one_and_writes_nothing(
    orderly: Orderly, infra_settings: InfraSettings, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER
        + "GOOD-1,Fine,,1.00,EUR,1\n"
        + "bad sku,Broken,,12.505,EUR,\n"
        + "GOOD-2,Fine too,,2.00,EUR,\n"
        + "PRICY-1,Pricy,,3.00,XXY,-4\n"
        + "good-1,Repeat,,1.00,EUR,\n"
    )
    result = orderly("import", str(path))
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: the import was rejected")
    assert lines[1:] == [
        "line 3 (bad sku): sku: must be 1-64 characters of A-Z, 0-9, '-', '_' or '.'; "
        "price: EUR has 2 decimal places; '12.505' has more",
        "line 5 (PRICY-1): currency: 'XXY' is not an ISO 4217 currency code; "
        "on_hand: must be empty or a whole number from 0 to 1000000000",
        "line 6 (GOOD-1): sku: repeats the SKU of line 2",
    ]
    as_json = orderly("import", str(path), "--json")
    assert as_json.exit_code == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "import_rejected"
    assert [row["line"] for row in error["rows"]] == [3, 5, 6]
    assert stored_skus(infra_settings) == []


def test_an_import_file_must_be_readable_utf8_and_not_too_large(
    orderly: Orderly, infra_settings: InfraSettings, tmp_path: Path
) -> None:
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes((HEADER + "CAFE-1,Café,,1.00,EUR,\n").encode("latin-1"))
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.write(HEADER.encode())
        handle.truncate(MAX_IMPORT_BYTES + 1)
    for source, reason in (
        (latin1, "is not UTF-8"),
        (huge, "is larger than 20 MiB"),
        (tmp_path / "absent.csv", "No such file"),
    ):
        result = orderly("import", str(source))
        assert result.exit_code == 2, result.output
        assert reason in result.stderr
    assert stored_skus(infra_settings) == []


# --- background imports ----------------------------------------------------------------------


def test_background_import_queues_a_json_job_once_per_key(
    orderly: Orderly, infra_settings: InfraSettings, catalogue: Path, queue: redis.Redis
) -> None:
    key = "spring-import-2031"
    result = ok_json(
        orderly("import", str(catalogue), "--background", "--idempotency-key", key, "--json")
    )
    job_id = import_job_id(Actor.operator(getpass.getuser()), key)
    assert result == {"job_id": job_id, "enqueued": True, "mode": "execute"}

    job = queued_job(queue, job_id)
    assert job is not None
    assert job["f"] == IMPORT_PRODUCTS
    (payload,) = job["a"]
    assert set(payload) == {"csv_text", "request_id", "requested_by", "mode"}
    assert payload["csv_text"] == catalogue.read_text(encoding="utf-8")
    assert payload["requested_by"] == getpass.getuser()
    assert payload["mode"] == "execute"
    assert payload["request_id"].startswith("cli-")
    assert job_id in queued_ids(queue)

    catalogue.write_text(HEADER + "OTHER-1,Other,,1.00,EUR,\n", encoding="utf-8")
    again = orderly("import", str(catalogue), "--background", "--idempotency-key", key)
    assert again.exit_code == 0, again.output
    assert "already enqueued" in again.stdout
    assert queued_job(queue, job_id) == job
    assert stored_skus(infra_settings) == ["MUG-01", "TEA-1"]  # the worker imports, not the CLI


def test_background_import_without_a_key_gets_a_new_job_id(
    orderly: Orderly, catalogue: Path, queue: redis.Redis
) -> None:
    ids = [
        ok_json(orderly("import", str(catalogue), "--background", "--dry-run", "--json"))["job_id"]
        for _ in range(2)
    ]
    assert ids[0] != ids[1]
    for job_id in ids:
        job = queued_job(queue, job_id)
        assert job is not None
        assert job["a"][0]["mode"] == "dry_run"


def test_background_import_refuses_a_malformed_file_before_queueing(
    orderly: Orderly, tmp_path: Path, queue: redis.Redis
) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("code,title\nA,B\n")
    before = queued_ids(queue)
    result = orderly("import", str(path), "--background", "--idempotency-key", "wrong-file")
    assert result.exit_code == 1, result.output
    assert "line 1 (no sku): header: must name the columns" in result.stderr
    assert queued_job(queue, "wrong-file") is None
    assert queued_ids(queue) == before


# --- configuration and servers ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:1/orderly",
        "postgresql+asyncpg://postgres@/orderly?host=/nonexistent/orderly-socket-dir",
    ],
)
def test_an_unreachable_database_exits_3_in_one_line(
    orderly: Orderly, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    for result in (orderly("list"), create(orderly, "A-1")):
        assert one_line_error(result, 3).startswith("error: a server could not be reached:")


def test_an_unreachable_redis_exits_3_for_background_imports(
    orderly: Orderly, monkeypatch: pytest.MonkeyPatch, catalogue: Path
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    line = one_line_error(orderly("import", str(catalogue), "--background"), 3)
    assert line.startswith("error: a server could not be reached:")


def test_a_missing_database_url_exits_2_naming_it(
    orderly: Orderly, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    line = one_line_error(orderly("list"), 2)
    assert "DATABASE_URL" in line

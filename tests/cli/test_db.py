"""`orderly db upgrade|downgrade|current` against a database of their own on the test server."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from orderly_cli.embedded import EmbeddedPostgres, create_database
from orderly_cli.main import app
from orderly_db.migrate import head

DATABASE = "orderly_cli_db_test"
UNUSED_REDIS = "redis://127.0.0.1:1/0"  # required by the settings, never contacted by `db`


@pytest.fixture
def fresh_url(embedded_postgres: EmbeddedPostgres | None) -> str:
    if embedded_postgres is None:
        pytest.skip("creates a scratch database on the embedded test server")
    create_database(embedded_postgres, DATABASE, drop_existing=True)
    return embedded_postgres.url(DATABASE)


def _orderly(*args: str, database_url: str | None = None) -> Result:
    env = {"REDIS_URL": UNUSED_REDIS}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return CliRunner().invoke(app, list(args), env=env)


def _current(database_url: str) -> dict[str, object]:
    result = _orderly("db", "current", "--json", database_url=database_url)
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def _tables(database_url: str) -> set[str]:
    """The tables really present, read over a connection of our own (in a thread, so that
    `asyncio.run` cannot disturb the session's event loop)."""
    dsn = make_url(database_url).set(drivername="postgresql")

    async def read() -> set[str]:
        conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        try:
            rows = await conn.fetch("select tablename from pg_tables where schemaname = 'public'")
            return {row["tablename"] for row in rows}
        finally:
            await conn.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, read()).result()


@pytest.mark.postgres
def test_upgrade_downgrade_and_upgrade_again(workdir: Path, fresh_url: str) -> None:
    newest = head()
    assert newest is not None
    assert _current(fresh_url) == {"revision": None, "head": newest, "up_to_date": False}
    assert "products" not in _tables(fresh_url)

    result = _orderly("db", "upgrade", database_url=fresh_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"database upgraded from none (empty schema) to {newest}"
    assert _current(fresh_url) == {"revision": newest, "head": newest, "up_to_date": True}
    assert {"products", "alembic_version"} <= _tables(fresh_url)

    again = _orderly("db", "upgrade", database_url=fresh_url)
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.stdout

    human = _orderly("db", "current", database_url=fresh_url)
    assert human.exit_code == 0, human.output
    assert human.stdout.strip() == f"database at revision {newest} (up to date)"

    down = _orderly("db", "downgrade", "base", database_url=fresh_url)
    assert down.exit_code == 0, down.output
    assert down.stdout.strip() == f"database downgraded from {newest} to none (empty schema)"
    assert _current(fresh_url)["revision"] is None
    assert "products" not in _tables(fresh_url)
    behind = _orderly("db", "current", database_url=fresh_url)
    assert "behind" in behind.stdout

    assert _orderly("db", "upgrade", database_url=fresh_url).exit_code == 0
    assert _current(fresh_url)["revision"] == newest
    assert "products" in _tables(fresh_url)


@pytest.mark.postgres
def test_downgrade_defaults_to_one_step(workdir: Path, fresh_url: str) -> None:
    assert _orderly("db", "upgrade", database_url=fresh_url).exit_code == 0
    result = _orderly("db", "downgrade", database_url=fresh_url)
    assert result.exit_code == 0, result.output
    assert _current(fresh_url)["revision"] != head()


@pytest.mark.postgres
def test_unknown_revision_is_a_usage_error_and_changes_nothing(
    workdir: Path, fresh_url: str
) -> None:
    assert _orderly("db", "upgrade", database_url=fresh_url).exit_code == 0
    result = _orderly("db", "downgrade", "no-such-revision", database_url=fresh_url)
    assert result.exit_code == 2
    assert "no-such-revision" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _current(fresh_url)["revision"] == head()


@pytest.mark.postgres
def test_commands_find_a_running_dev_stack(workdir: Path, fresh_url: str) -> None:
    state = {"pid": os.getpid(), "database_url": fresh_url, "redis_url": UNUSED_REDIS}
    (workdir / ".orderly").mkdir()
    (workdir / ".orderly" / "dev.json").write_text(json.dumps(state))
    result = CliRunner().invoke(app, ["db", "upgrade"], env={})
    assert result.exit_code == 0, result.output
    assert _current(fresh_url)["revision"] == head()


@pytest.mark.postgres
def test_commands_find_a_dev_stack_running_in_a_folder_above(
    workdir: Path, fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As git finds .git: from any folder below the one where `orderly dev` runs."""
    state = {"pid": os.getpid(), "database_url": fresh_url, "redis_url": UNUSED_REDIS}
    (workdir / ".orderly").mkdir()
    (workdir / ".orderly" / "dev.json").write_text(json.dumps(state))
    below = workdir / "src" / "deep"
    below.mkdir(parents=True)
    # A stale stack nearer (its process is gone) does not hide the running one above.
    (workdir / "src" / ".orderly").mkdir()
    (workdir / "src" / ".orderly" / "dev.json").write_text(json.dumps({"pid": 2**22 + 1}))
    monkeypatch.chdir(below)

    result = CliRunner().invoke(app, ["db", "upgrade"], env={})

    assert result.exit_code == 0, result.output
    assert _current(fresh_url)["revision"] == head()


@pytest.mark.parametrize("pid", [0, -1, "1; rm", None, [1]])
def test_a_dev_json_with_a_bad_pid_names_no_stack(workdir: Path, pid: object) -> None:
    (workdir / ".orderly").mkdir()
    (workdir / ".orderly" / "dev.json").write_text(json.dumps({"pid": pid}))

    result = CliRunner().invoke(app, ["db", "current"], env={})

    assert result.exit_code == 2
    assert "start `orderly dev` in this directory or one above it" in result.stderr


def test_unreachable_database_exits_3(workdir: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+asyncpg://orderly@127.0.0.1:{port}/orderly"
    for command in (["db", "current"], ["db", "upgrade"], ["db", "downgrade"]):
        result = _orderly(*command, database_url=url)
        assert result.exit_code == 3, (command, result.output)
        assert result.stderr.startswith("error: a server could not be reached")
        assert "Traceback" not in result.output


def test_missing_database_url_exits_2_naming_it(workdir: Path) -> None:
    result = _orderly("db", "upgrade")
    assert result.exit_code == 2
    assert "DATABASE_URL" in result.stderr
    assert "orderly dev" in result.stderr  # says how to get a database without configuring one
    assert result.stdout == ""


def test_invalid_database_url_exits_2_naming_it(workdir: Path) -> None:
    result = _orderly("db", "current", database_url="mysql://orderly@localhost/orderly")
    assert result.exit_code == 2
    assert "DATABASE_URL" in result.stderr
    assert "PostgreSQL" in result.stderr

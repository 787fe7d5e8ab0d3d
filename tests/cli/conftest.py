"""The `orderly` command run in-process against the test database, from an empty directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from orderly_cli.main import app
from tests.cli.helpers import queued_ids


class Cli(Protocol):
    def __call__(self, *args: str, input: str | None = None) -> Result: ...


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory: no `.env`, no `.orderly/dev.json`, no server variables."""
    monkeypatch.chdir(tmp_path)
    for variable in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    clean_engine: AsyncEngine,
) -> Cli:
    """``cli("products", "list", input=None)``: `orderly ...` on empty tables, in a directory
    with no `orderly dev` in it, with Argon2id at its cheapest and wide tables."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("PASSWORD_HASH_MEMORY_KIB", "8192")
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input)

    return invoke


@pytest.fixture
def queue(redis_url: str) -> Iterator[redis.Redis]:
    """The Redis arq queues on; the jobs a test enqueued are removed afterwards."""
    client = redis.Redis.from_url(redis_url)
    before = queued_ids(client)
    yield client
    for job_id in queued_ids(client) - before:
        client.delete(f"arq:job:{job_id}")
        client.zrem("arq:queue", job_id)
    client.close()

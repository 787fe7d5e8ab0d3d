"""The worker as its own process: start-up configuration, health check, graceful shutdown."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from arq import ArqRedis, Worker
from arq.worker import get_kwargs
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from orderly_core.jobs import payloads as jobs
from orderly_worker import settings as worker_settings_module
from orderly_worker.runtime import RESOURCES, resources
from orderly_worker.settings import build_worker_settings, load_worker_env
from tests.worker.helpers import REQUEST_ID, WORKER_REDIS_DB, import_payload, stored_products

SETTINGS_PATH = "orderly_worker.settings.WorkerSettings"
ORDERLY_VARIABLES = ("DATABASE_URL", "REDIS_URL", "LOG_FORMAT", "LOG_LEVEL", "WORKER_")


def _bare_environment(**variables: str) -> dict[str, str]:
    """This process's environment without any Orderly variable, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ORDERLY_VARIABLES)}
    return env | variables


def _arq(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "arq", *args]
    return subprocess.run(
        command, check=False, env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_the_environment_is_read_when_the_settings_are_looked_up_not_at_import(
    tmp_path: Path,
) -> None:
    code = "import orderly_worker.settings as s; print('imported', flush=True); s.WorkerSettings"
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        env=_bare_environment(REDIS_URL="redis://127.0.0.1:6379/0"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout == "imported\n"
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "orderly worker: invalid configuration: DATABASE_URL: Field required"
    ]


def test_the_health_check_command_fails_in_one_line_on_a_bad_variable(tmp_path: Path) -> None:
    env = _bare_environment(DATABASE_URL="postgresql://h/db", REDIS_URL="redis://h:6379/zero")
    done = _arq("--check", SETTINGS_PATH, env=env, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    [line] = done.stderr.splitlines()
    assert line.startswith("orderly worker: invalid configuration: REDIS_URL: ")


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"DATABASE_URL": "mysql://h/db"}, "DATABASE_URL"),
        ({"REDIS_URL": "redis://h:6379/zero"}, "REDIS_URL"),
        ({"WORKER_MAX_TRIES": "0"}, "WORKER_MAX_TRIES"),
        ({"WORKER_JOB_TIMEOUT_S": "soon"}, "WORKER_JOB_TIMEOUT_S"),
    ],
)
def test_a_bad_variable_stops_the_worker_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    variables: dict[str, str],
    named: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in {"DATABASE_URL": "postgresql://h/db", "REDIS_URL": "redis://h/0"}.items():
        monkeypatch.setenv(name, variables.get(name, value))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit) as stopped:
        worker_settings_module.__getattr__("WorkerSettings")

    assert stopped.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"orderly worker: invalid configuration: {named}: ")


def test_every_option_reaches_the_queue(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, worker_redis_url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    env = load_worker_env(
        database_url="postgresql://db.example/orderly", redis_url=worker_redis_url
    )
    settings = build_worker_settings(env, setup_logging=False)
    options = {name for name in vars(settings) if not name.startswith("__")}
    # arq silently drops names it does not know: a misspelt option would never take effect.
    assert options <= set(inspect.signature(Worker).parameters)
    kwargs = cast("dict[str, Any]", get_kwargs(settings))
    assert kwargs["job_serializer"] is jobs.serialize
    assert kwargs["job_deserializer"] is jobs.deserialize
    assert [f.name for f in kwargs["functions"]] == [jobs.IMPORT_PRODUCTS]
    assert kwargs["redis_settings"].database == WORKER_REDIS_DB
    assert kwargs["poll_delay"] < 0.5
    assert kwargs["keep_result"] >= 86_400
    assert kwargs["max_tries"] > env.worker_max_tries  # the boundary decides when to give up
    assert kwargs["job_timeout"] > env.worker_job_timeout_s  # the boundary's deadline comes first
    assert kwargs["health_check_interval"] <= 30


@pytest.mark.postgres
@pytest.mark.usefixtures("worker_env")
async def test_shutdown_disposes_of_the_database_pool(
    queue: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_RELAY", "false")  # its listening connection would stay out
    settings = build_worker_settings(load_worker_env(), setup_logging=False)
    ctx: dict[str, object] = {"redis": queue}
    hooks = cast("dict[str, Any]", get_kwargs(settings))
    await hooks["on_startup"](ctx)
    held = resources(ctx)
    engine = held.engine
    async with held.deps.unit_of_work() as uow:
        await uow.products.get("ANY")
    assert isinstance(engine.pool, QueuePool)
    assert engine.pool.checkedin() == 1  # the pool keeps the connection for the next job

    await hooks["on_shutdown"](ctx)

    assert isinstance(engine.pool, QueuePool)
    assert engine.pool.checkedin() == 0
    assert RESOURCES not in ctx


@pytest.fixture
def worker_process(
    tmp_path: Path, database_url: str, worker_redis_url: str, clean_engine: AsyncEngine
) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    env = _bare_environment(
        DATABASE_URL=database_url,
        REDIS_URL=worker_redis_url,
        LOG_FORMAT="json",
        WORKER_SHUTDOWN_GRACE_S="5",
    )
    log = (tmp_path / "worker.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "orderly_worker"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process, env
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)
    log.close()


async def _wait_for(
    condition: Callable[[], Awaitable[object]], what: str, seconds: float = 30
) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.redis
async def test_the_worker_process_runs_jobs_reports_health_and_stops_cleanly(
    worker_process: tuple[subprocess.Popen[str], dict[str, str]],
    tmp_path: Path,
    queue: ArqRedis,
    redis: Redis,
    clean_engine: AsyncEngine,
) -> None:
    process, env = worker_process
    await _wait_for(lambda: redis.exists("arq:queue:health-check"), "the health check")
    assert _arq("--check", SETTINGS_PATH, env=env, cwd=tmp_path).returncode == 0

    csv_text = "sku,name,description,price,currency,on_hand\nMUG-1,Mug,,12.50,EUR,3\n"
    job = await queue.enqueue_job(jobs.IMPORT_PRODUCTS, import_payload(csv_text), _job_id="p-1")
    assert job is not None
    result = await job.result(timeout=30, poll_delay=0.1)
    assert (result["status"], result["created"]) == ("succeeded", 1)
    assert "MUG-1" in await stored_products(clean_engine)

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not await redis.exists("arq:queue:health-check")  # `arq --check` now fails

    lines = [
        json.loads(line)
        for line in (tmp_path / "worker.log").read_text().splitlines()
        if line.startswith("{")
    ]
    # Only the import: a scheduled job may fall due while the worker runs.
    finished = [
        line
        for line in lines
        if line["event"] == "job_finished" and line["job_name"] == jobs.IMPORT_PRODUCTS
    ]
    assert [(line["job_id"], line["request_id"]) for line in finished] == [("p-1", REQUEST_ID)]
    assert {"worker_started", "worker_stopped"} <= {line["event"] for line in lines}

"""`orderly serve`, `orderly worker` and the refusals of `orderly dev`.

`serve` and `worker` replace their own process with the server (so that signals reach it
directly): they run here as real processes, never in the test process.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from orderly_cli.main import app
from tests.cli.processes import (
    ORDERLY,
    env_without_servers,
    free_port,
    health_ok,
    kill_session,
    running,
    wait_until,
)


def _help(*words: str) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_help_describes_how_to_run_orderly() -> None:
    root = _help()
    for command in ("dev", "serve", "worker", "db"):
        assert f"  {command} " in root
    dev = _help("dev")
    for option in ("--host", "--port", "--no-worker", ".orderly"):
        assert option in dev
    assert "[default: 127.0.0.1]" in dev
    assert "[default: 8000" in dev
    serve = _help("serve")
    assert "--workers" in serve
    assert "WEB_CONCURRENCY" in serve
    assert "[default: 0.0.0.0]" in serve
    assert "DATABASE_URL" in _help("worker")
    db = _help("db")
    for command in ("upgrade", "downgrade", "current"):
        assert command in db


def test_version_prints_the_installed_version() -> None:
    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.stdout.strip() == f"orderly {version('orderly-cli')}"


def test_serve_and_worker_check_the_environment_first(tmp_path: Path) -> None:
    """A missing or bad variable is named in one line, exit 2, before any server starts."""
    cases = {
        ("serve", "DATABASE_URL"): env_without_servers(REDIS_URL="redis://127.0.0.1:1/0"),
        ("worker", "DATABASE_URL"): env_without_servers(REDIS_URL="redis://127.0.0.1:1/0"),
        ("serve", "REDIS_URL"): env_without_servers(
            DATABASE_URL="postgresql+asyncpg://o@127.0.0.1:1/o", REDIS_URL="http://nope"
        ),
    }
    started = {
        key: subprocess.Popen(
            [ORDERLY, key[0]],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for key, env in cases.items()
    }
    try:
        for (command, variable), process in started.items():
            out, err = process.communicate(timeout=60)
            assert process.returncode == 2, (command, out, err)
            lines = err.decode().strip().splitlines()
            assert len(lines) == 1, (command, lines)
            assert lines[0].startswith("error: invalid configuration")
            assert variable in lines[0]
            assert out == b""
    finally:
        for process in started.values():
            kill_session(process)


@pytest.mark.parametrize("switch", ["WEBHOOK_ALLOW_HTTP", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES"])
def test_serve_and_worker_refuse_a_development_switch_in_production(
    tmp_path: Path, switch: str
) -> None:
    """With ENVIRONMENT=production, a development-only switch stops each server before it
    starts: exit 2 and one line naming the switch."""
    env = env_without_servers(
        DATABASE_URL="postgresql+asyncpg://o@127.0.0.1:1/o",
        REDIS_URL="redis://127.0.0.1:1/0",
        ENVIRONMENT="production",
        JWT_SECRET="s" * 32,
        **{switch: "true"},
    )
    started = [
        subprocess.Popen(
            [ORDERLY, command],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for command in ("serve", "worker")
    ]
    try:
        for process in started:
            out, err = process.communicate(timeout=60)
            lines = err.decode().strip().splitlines()
            assert (process.returncode, out, len(lines)) == (2, b"", 1), lines
            assert lines[0].startswith("error: invalid configuration")
            assert f"{switch}: " in lines[0]
            assert "development only" in lines[0]
    finally:
        for process in started:
            kill_session(process)


def test_dev_refuses_a_taken_port_before_starting_anything(workdir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["dev", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert f"port {port}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (workdir / ".orderly" / "pg").exists()
    assert not (workdir / ".orderly" / "redis").exists()
    assert not (workdir / ".orderly" / "dev.json").exists()


def test_dev_refuses_while_another_one_runs_here(workdir: Path) -> None:
    state_file = workdir / ".orderly" / "dev.json"
    state_file.parent.mkdir()
    state = {"pid": os.getpid(), "database_url": "x", "redis_url": "y", "api_url": "z"}
    state_file.write_text(json.dumps(state))
    result = CliRunner().invoke(app, ["dev", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    assert (
        result.stderr.strip() == f"error: `orderly dev` is already running here (pid {os.getpid()})"
    )
    assert json.loads(state_file.read_text()) == state  # the other one's file is left alone
    assert not (workdir / ".orderly" / "pg").exists()


def test_dev_refuses_while_another_one_is_starting_here(workdir: Path) -> None:
    """Before it has published dev.json, a starting `orderly dev` is known by its lock."""
    (workdir / ".orderly").mkdir()
    with (workdir / ".orderly" / "dev.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = CliRunner().invoke(app, ["dev", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    assert "already running" in result.stderr
    assert not (workdir / ".orderly" / "pg").exists()


def test_dev_names_a_bad_variable_and_starts_nothing(workdir: Path) -> None:
    env = {
        "DATABASE_URL": "mysql://orderly@localhost/orderly",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = CliRunner().invoke(app, ["dev", "--port", str(free_port())], env=env)
    assert result.exit_code == 2, result.output
    assert "error: invalid configuration: DATABASE_URL" in result.stderr
    assert not (workdir / ".orderly" / "pg").exists()
    assert not (workdir / ".orderly" / "dev.json").exists()


@pytest.mark.redis
def test_dev_with_an_unreachable_database_exits_3(workdir: Path, redis_url: str) -> None:
    """...and stops only what it started itself: not the servers this process already ran."""
    port = free_port()
    env = {
        "DATABASE_URL": f"postgresql+asyncpg://orderly@127.0.0.1:{port}/orderly",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = CliRunner().invoke(app, ["dev", "--port", str(free_port())], env=env)
    assert result.exit_code == 3, result.output
    assert "error: a server could not be reached" in result.stderr
    assert not (workdir / ".orderly" / "dev.json").exists()
    with redis.Redis.from_url(redis_url) as client:
        assert client.ping()


@pytest.fixture
def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    return env_without_servers(DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_FORMAT="json")


@pytest.mark.postgres
@pytest.mark.redis
def test_serve_becomes_a_production_uvicorn(server_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    argv = [ORDERLY, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        argv, cwd=tmp_path, env=server_env, stdout=log, stderr=log, start_new_session=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: health_ok(url) or process.poll() is not None, 90)
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        # Same pid: `orderly serve` exec'd uvicorn instead of running it as a child.
        [me] = running(lambda p: p.pid == process.pid)
        for flag in (
            "-m uvicorn orderly_http.app:create_app --factory",
            "--loop uvloop", "--http httptools", "--no-proxy-headers", "--no-access-log",
            f"--port {port}", "--workers 2",
        ):  # fmt: skip
            assert flag in me.cmdline
        assert wait_until(lambda: len(running(lambda p: p.ppid == process.pid)) >= 2, 60)
        _metrics_cover_every_process(url, process.pid)

        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert wait_until(lambda: not running(lambda p: p.session == process.pid), 10)
    finally:
        kill_session(process)
        log.close()


@pytest.mark.postgres
@pytest.mark.redis
def test_worker_becomes_an_orderly_worker_process(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [ORDERLY, "worker"], cwd=tmp_path, env=server_env, stdout=log, stderr=log,
        start_new_session=True,
    )  # fmt: skip
    try:
        started = wait_until(
            lambda: "worker_started" in log_path.read_text() or process.poll() is not None, 90
        )
        assert process.poll() is None, log_path.read_text()
        assert started, log_path.read_text()
        [me] = running(lambda p: p.pid == process.pid)
        assert "-m orderly_worker" in me.cmdline

        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log_path.read_text()
        assert wait_until(lambda: not running(lambda p: p.session == process.pid), 10)
    finally:
        kill_session(process)
        log.close()


def _health_requests_counted(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5.0, trust_env=False).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "orderly_http_requests_total" and sample.labels == {
                "route": "/health", "method": "GET", "status": "200",
            }:  # fmt: skip
                return sample.value
    return 0.0


def _metrics_cover_every_process(url: str, server_pid: int) -> None:
    """Both API processes write their metrics to the directory `orderly serve` gave them,
    and a scrape, answered by either, counts the requests both answered."""
    workers = {p.pid for p in running(lambda p: p.ppid == server_pid)}  # and their tracker
    environ = Path(f"/proc/{min(workers)}/environ").read_bytes().split(b"\0")
    [directory] = [v.split(b"=", 1)[1].decode() for v in environ if v.startswith(b"PROMETHEUS_")]
    before = _health_requests_counted(url)
    for _ in range(40):  # a new connection each: the kernel hands them to either process
        assert health_ok(url)
    assert _health_requests_counted(url) - before == 40
    writers = {int(f.stem.rsplit("_", 1)[1]) for f in Path(directory).glob("counter_*.db")}
    assert len(writers) == 2
    assert writers <= workers  # (the third child is multiprocessing's resource tracker)

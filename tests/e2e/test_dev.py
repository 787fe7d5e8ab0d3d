"""`orderly dev` end to end: a fresh directory, the real processes, and nothing left behind.

Each test runs `orderly dev` as a subprocess in an empty temporary directory (no `.env`, no
server variables), drives it over HTTP and with other `orderly` commands run in the same
directory, stops it, and checks that every process it started is gone.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from orderly_cli.embedded import EmbeddedPostgres, EmbeddedRedis, create_database
from orderly_core.webhooks.signing import verify
from orderly_db.migrate import head
from tests.cli.processes import (
    ORDERLY,
    ProcessInfo,
    descendants,
    env_without_servers,
    free_port,
    health_ok,
    kill_session,
    running,
    wait_gone,
    wait_until,
)
from tests.worker.receiver import receiving

HEALTH_DEADLINE_S = 30.0
STOP_DEADLINE_S = 20.0


@dataclass
class DevRun:
    process: subprocess.Popen[bytes]
    cwd: Path
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def orderly(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Another `orderly` command in the same directory (by default with no server URLs)."""
        return subprocess.run(
            [ORDERLY, *args], cwd=self.cwd, env=env or env_without_servers(),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def products(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/products", timeout=10, trust_env=False)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        items: list[dict[str, Any]] = page["items"]
        return items

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads((self.cwd / ".orderly" / "dev.json").read_text())
        return state


@pytest.fixture
def project_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: its 0700 base would keep out the postgres system user.
    path = Path(tempfile.mkdtemp(prefix="orderly-dev-e2e-"))
    yield path
    # Whatever a failed test left running; a no-op after a clean stop.
    EmbeddedRedis(path / ".orderly" / "redis", 0, None).stop()
    EmbeddedPostgres(path / ".orderly" / "pg", path / ".orderly" / "pg", 0).stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_dev(project_dir: Path) -> Iterator[Any]:
    runs: list[DevRun] = []

    def start(*args: str, env: dict[str, str] | None = None) -> DevRun:
        port = free_port()
        log = project_dir.parent / f"{project_dir.name}.log"  # outside the project directory
        with log.open("wb") as out:
            process = subprocess.Popen(
                [ORDERLY, "dev", "--port", str(port), *args], cwd=project_dir,
                env=env or env_without_servers(), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        run = DevRun(process, project_dir, f"http://127.0.0.1:{port}", log)
        runs.append(run)
        up = wait_until(lambda: health_ok(run.url) or process.poll() is not None, HEALTH_DEADLINE_S)
        assert process.poll() is None, run.output()
        assert up, f"no answer from /health within {HEALTH_DEADLINE_S} s\n{run.output()}"
        # The worker starts once the API answers; the banner says the whole stack is up.
        started = wait_until(
            lambda: "Press Ctrl-C to stop." in run.output() or process.poll() is not None,
            HEALTH_DEADLINE_S,
        )
        assert started, run.output()
        assert process.poll() is None, run.output()
        return run

    yield start
    for run in runs:
        kill_session(run.process)
        run.log.unlink(missing_ok=True)


def _stack_pids(run: DevRun) -> dict[int, ProcessInfo]:
    """Every process of the running stack: children of `orderly dev`, and the embedded
    servers (which detach from it) with their own children."""
    roots = {run.process.pid}
    for pidfile in (
        run.cwd / ".orderly" / "pg" / "postmaster.pid",
        run.cwd / ".orderly" / "redis" / "redis.pid",
    ):
        if pidfile.exists():
            roots.add(int(pidfile.read_text().split()[0]))
    pids = set(roots)
    for root in roots:
        pids |= descendants(root)
    return {p.pid: p for p in running(lambda p: p.pid in pids)}


def _assert_nothing_left(run: DevRun, stack: dict[int, ProcessInfo]) -> None:
    assert not (run.cwd / ".orderly" / "dev.json").exists()
    survivors = wait_gone(stack, timeout=10)
    assert not survivors, survivors
    here = str(run.cwd)
    leftovers = running(lambda p: here in p.cmdline or p.cwd.startswith(here))
    assert not leftovers, leftovers


def _kinds(stack: dict[int, ProcessInfo]) -> set[str]:
    programs = {
        "uvicorn": "-m uvicorn",
        "worker": "-m orderly_worker",
        "postgres": "postgres -D",
        "redis": "redis-server",
    }
    return {
        name for name, marker in programs.items() for p in stack.values() if marker in p.cmdline
    }


CSV = """sku,name,description,price,currency,on_hand
E2E-MUG,E2E mug (large),,14.00,EUR,
E2E-TEE,E2E tee,Cotton,20.00,EUR,7
"""


@pytest.mark.postgres
@pytest.mark.redis
def test_dev_runs_the_stack_that_other_commands_use_and_stops_on_ctrl_c(
    project_dir: Path, start_dev: Any
) -> None:
    # A dev.json left by a crashed run (its pid is dead) must not block a new one.
    dead = subprocess.Popen(["true"])
    dead.wait()
    (project_dir / ".orderly").mkdir()
    (project_dir / ".orderly" / "dev.json").write_text(json.dumps({"pid": dead.pid}))

    run: DevRun = start_dev()
    assert wait_until(lambda: "Press Ctrl-C to stop." in run.output(), 10), run.output()
    state = run.state()
    assert state["pid"] == run.process.pid
    assert state["api_url"] == run.url
    assert str(project_dir / ".orderly" / "pg") in state["database_url"]
    assert state["redis_url"].startswith("redis://127.0.0.1:")
    assert f"API        {run.url}" in run.output()
    assert f"{run.url}/docs" in run.output()
    readable = f"Database   postgresql+asyncpg://postgres@/orderly?host={project_dir}/.orderly/pg"
    assert readable in run.output()
    assert "Webhooks   receivers on http:// and local addresses allowed" in run.output()
    assert run.products() == []

    created = run.orderly(
        "products", "create", "--sku", "E2E-MUG", "--name", "E2E mug", "--price", "12.50",
        "--currency", "EUR", "--on-hand", "5",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    [mug] = run.products()
    assert (mug["sku"], mug["unit_price"], mug["currency"], mug["on_hand"]) == (
        "E2E-MUG",
        1250,
        "EUR",
        5,
    )

    csv_file = project_dir / "catalogue.csv"
    csv_file.write_text(CSV)
    preview = run.orderly("products", "import", str(csv_file), "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "dry run" in preview.stdout
    assert "E2E-TEE" in preview.stdout
    assert run.products() == [mug]  # nothing changed

    imported = run.orderly("products", "import", str(csv_file), "--json")
    assert imported.returncode == 0, imported.stderr
    report = json.loads(imported.stdout)
    assert (report["applied"], report["created"], report["updated"]) == (True, 1, 1)
    by_sku = {p["sku"]: p for p in run.products()}
    assert set(by_sku) == {"E2E-MUG", "E2E-TEE"}
    assert (by_sku["E2E-MUG"]["unit_price"], by_sku["E2E-MUG"]["on_hand"]) == (1400, 5)
    assert (by_sku["E2E-TEE"]["unit_price"], by_sku["E2E-TEE"]["on_hand"]) == (2000, 7)

    # A customer signs up over the API; a receiver on this machine hears of an order placed
    # for them at the CLI, signed, through the stack's relay and worker (orderly dev allows
    # http:// and loopback receivers).
    account = {"email": "c-1@example.com", "password": "e2e customer pass", "display_name": "C"}
    signed_up = httpx.post(f"{run.url}/api/v1/users", json=account, timeout=10, trust_env=False)
    assert signed_up.status_code == 201, signed_up.text
    with receiving() as receiver:
        added = run.orderly(
            "webhooks", "add", "--url", receiver.url, "--event", "order.placed", "--json"
        )
        assert added.returncode == 0, added.stderr
        secret = json.loads(added.stdout)["secret"]
        placed = run.orderly(
            "orders", "place", "--customer", "c-1@example.com", "--line", "E2E-MUG:1", "--json"
        )
        assert placed.returncode == 0, placed.stderr
        assert wait_until(lambda: len(receiver.received) >= 1, 30), run.output()
        [delivery] = receiver.received
    verify(secret, delivery.headers, delivery.body, now=int(time.time()))
    assert json.loads(delivery.body)["data"]["id"] == json.loads(placed.stdout)["order"]["id"]

    current = run.orderly("db", "current", "--json")
    assert current.returncode == 0, current.stderr
    assert json.loads(current.stdout)["revision"] == head()

    stack = _stack_pids(run)
    assert _kinds(stack) == {"uvicorn", "worker", "postgres", "redis"}
    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(timeout=STOP_DEADLINE_S) == 0, run.output()
    _assert_nothing_left(run, stack)


def _inbox(run: DevRun, count: int) -> list[dict[str, Any]]:
    """``orderly mail inbox --json``'s emails, once there are at least ``count``."""
    found: list[dict[str, Any]] = []

    def enough() -> bool:
        listed = run.orderly("mail", "inbox", "--json")
        assert listed.returncode == 0, listed.stderr
        found[:] = json.loads(listed.stdout)["items"]
        return len(found) >= count

    assert wait_until(enough, 30), run.output()
    return found


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(240)
def test_dev_catches_an_orders_emails_and_a_reset_link_that_works(
    project_dir: Path, start_dev: Any
) -> None:
    """Placing, paying and shipping an order puts three readable emails in the catcher's
    inbox (besides the sign-up's verification link), and a password reset works from the
    email's link."""
    run: DevRun = start_dev()
    assert wait_until(lambda: "Press Ctrl-C to stop." in run.output(), 10), run.output()
    created = run.orderly(
        "products", "create", "--sku", "E2E-MUG", "--name", "E2E mug", "--price", "12.50",
        "--currency", "EUR", "--on-hand", "5",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    account = {"email": "m-1@example.com", "password": "e2e customer pass", "display_name": "M"}
    signed_up = httpx.post(f"{run.url}/api/v1/users", json=account, timeout=10, trust_env=False)
    assert signed_up.status_code == 201, signed_up.text
    placed = run.orderly(
        "orders", "place", "--customer", account["email"], "--line", "E2E-MUG:1", "--json"
    )
    assert placed.returncode == 0, placed.stderr
    order = json.loads(placed.stdout)["order"]
    assert re.search(r"^dev    \| mail +ready in .*smtp://127\.0\.0\.1:\d+", run.output(), re.M)
    assert "Mail       caught at smtp://127.0.0.1:" in run.output()
    paid = run.orderly(
        "orders", "pay", order["id"], "--amount", str(order["total"]), "--reference", "e2e"
    )
    assert paid.returncode == 0, paid.stderr
    shipped = run.orderly(
        "orders", "ship", order["id"], "--carrier", "DHL", "--tracking-number", "JD0001"
    )
    assert shipped.returncode == 0, shipped.stderr
    emails = _inbox(run, 4)
    short = order["id"][:8]
    subjects = sorted(email["subject"] for email in emails)
    assert subjects == sorted([
        "Confirm your email address for Orderly Shop",
        f"Your order {short} is placed",
        f"Payment received for order {short}",
        f"Your order {short} has shipped",
    ])  # fmt: skip
    shipped_mail = next(e for e in emails if e["subject"].endswith("has shipped"))
    full = run.orderly("mail", "inbox", str(shipped_mail["number"]))
    assert full.returncode == 0, full.stderr
    assert "Tracking number: JD0001" in full.stdout
    sent = run.orderly("mail", "list", "--status", "sent", "--json")
    assert sent.returncode == 0, sent.stderr
    assert len(json.loads(sent.stdout)["items"]) == 4

    asked = httpx.post(
        f"{run.url}/api/v1/auth/password-reset",
        json={"email": account["email"]},
        timeout=10,
        trust_env=False,
    )
    assert asked.status_code == 202, asked.text
    reset = next(e for e in _inbox(run, 5) if e["subject"].startswith("Reset your"))
    text = run.orderly("mail", "inbox", str(reset["number"]), "--json")
    [token] = re.findall(r"\?token=([A-Za-z0-9_-]+)", json.loads(text.stdout)["text"])
    new_password = "a brand new e2e passphrase"
    done = httpx.post(
        f"{run.url}/api/v1/auth/password-reset/confirm",
        json={"token": token, "password": new_password},
        timeout=10,
        trust_env=False,
    )
    assert done.status_code == 204, done.text
    form = {"username": account["email"], "password": new_password}
    signed_in = httpx.post(f"{run.url}/api/v1/auth/token", data=form, timeout=10, trust_env=False)
    assert signed_in.status_code == 200, signed_in.text
    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(timeout=STOP_DEADLINE_S) == 0, run.output()


@pytest.fixture
def given_database(embedded_postgres: EmbeddedPostgres | None) -> str:
    if embedded_postgres is None:
        pytest.skip("creates a scratch database on the embedded test server")
    create_database(embedded_postgres, "orderly_dev_e2e", drop_existing=True)
    return embedded_postgres.url("orderly_dev_e2e")


@pytest.mark.postgres
@pytest.mark.redis
def test_dev_uses_the_servers_it_is_given_and_stops_on_sigterm(
    project_dir: Path, start_dev: Any, given_database: str, redis_url: str
) -> None:
    env = env_without_servers(DATABASE_URL=given_database, REDIS_URL=redis_url)
    run: DevRun = start_dev("--no-worker", env=env)
    assert (run.state()["database_url"], run.state()["redis_url"]) == (given_database, redis_url)
    assert not (project_dir / ".orderly" / "pg").exists()
    assert not (project_dir / ".orderly" / "redis").exists()
    migrated = run.orderly("db", "current", "--json")  # found through dev.json
    assert json.loads(migrated.stdout)["revision"] == head(), migrated.stderr
    assert run.products() == []

    stack = _stack_pids(run)
    assert _kinds(stack) == {"uvicorn"}  # --no-worker, and no embedded servers
    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(timeout=STOP_DEADLINE_S) == 0, run.output()
    _assert_nothing_left(run, stack)

    # The given servers are not ours to stop.
    still = run.orderly("db", "current", "--json", env=env)
    assert json.loads(still.stdout)["revision"] == head(), still.stderr
    with redis.Redis.from_url(redis_url) as client:
        assert client.ping()


STEPS = ("PostgreSQL", "Redis", "migrations", "mail", "worker", "API")
LABELS = ("dev    | ", "api    | ", "worker | ")


def _banner(output: str) -> set[str]:
    start = output.index("Orderly is running")
    end = output.index("Press Ctrl-C to stop.") + len("Press Ctrl-C to stop.")
    return set(output[start:end].splitlines())


@pytest.mark.postgres
@pytest.mark.redis
def test_dev_explains_its_start_labels_every_line_and_keeps_tokens_across_restarts(
    project_dir: Path, start_dev: Any
) -> None:
    run: DevRun = start_dev()
    assert wait_until(lambda: "Press Ctrl-C to stop." in run.output(), 10), run.output()
    key_file = project_dir / ".orderly" / "jwt-secret"
    assert key_file.stat().st_mode & 0o777 == 0o600
    dev_env = (project_dir / ".orderly" / "dev.env").read_text()
    assert f"ORDERLY_API_URL={run.url}\n" in dev_env
    assert "REDIS_URL=redis://127.0.0.1:" in dev_env
    account = {"email": "k-1@example.com", "password": "e2e customer pass", "display_name": "K"}
    signed_up = httpx.post(f"{run.url}/api/v1/users", json=account, timeout=10, trust_env=False)
    assert signed_up.status_code == 201, signed_up.text
    form = {"username": account["email"], "password": account["password"]}
    token = httpx.post(
        f"{run.url}/api/v1/auth/token", data=form, timeout=10, trust_env=False
    ).json()["access_token"]
    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(timeout=STOP_DEADLINE_S) == 0, run.output()
    first = run.output()
    assert not (project_dir / ".orderly" / "dev.env").exists()

    # One line per step, with its time, in the order they finish.
    for step in STEPS:
        assert re.search(rf"^dev    \| {step} +\w+ in +\d+\.\d s ", first, re.MULTILINE), step
    # Every line but the banner names its process; uvicorn's first lines are Orderly's format.
    banner = _banner(first)
    unlabelled = [
        line for line in first.splitlines() if line not in banner and not line.startswith(LABELS)
    ]
    assert unlabelled == ["Stopping Orderly..."], unlabelled
    assert re.search(r"^api    \| \S+Z \[info +\] Started server process", first, re.MULTILINE)
    assert "INFO:     " not in first
    assert re.search(r"^worker \| \S+Z \[info +\] worker_started", first, re.MULTILINE)

    again: DevRun = start_dev()
    me = httpx.get(
        f"{again.url}/api/v1/users/me",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
        trust_env=False,
    )
    assert me.status_code == 200, me.text  # signed by the key kept in .orderly/
    assert me.json()["email"] == account["email"]
    assert "migrations  checked in" in again.output()
    # From a folder below, another command finds the stack (as git finds .git).
    below = project_dir / "src" / "app"
    below.mkdir(parents=True)
    current = subprocess.run(
        [ORDERLY, "db", "current", "--json"], cwd=below, env=env_without_servers(),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert current.returncode == 0, current.stderr
    assert json.loads(current.stdout)["revision"] == head()
    # A second stack below the running one is refused, naming where it runs.
    twice = subprocess.run(
        [ORDERLY, "dev", "--port", str(free_port())], cwd=below, env=env_without_servers(),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert twice.returncode == 2
    assert f"already running in {project_dir}" in twice.stderr

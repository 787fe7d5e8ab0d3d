"""Orderly side by side with a bare FastAPI + asyncpg handler: the table and the chart.

Run from the repository root (it is not a test)::

    uv run python bench/run.py              # every scenario, 20 s each (about 9 minutes)
    uv run python bench/run.py --quick      # every scenario, 4 s each (under 3 minutes)
    uv run python bench/run.py --json out.json --scenarios order_place,hot_sku
    uv run python bench/run.py --scale      # 1,000,000 products and orders (about 20 minutes)
    uv run python bench/run.py --scale --quick --products 100000   # a smoke test of it

What runs
    Embedded PostgreSQL and Redis in a fresh directory under ``.bench-tmp/`` (or the servers
    of ``--database-url`` / ``--redis-url``), migrated to head and seeded in bulk with
    ``--products`` products (ample stock), ``--customers`` customer accounts and three "hot"
    products (one each for Orderly, the baseline and pgbench), the tables then frozen and
    written out (``VACUUM (FREEZE, ANALYZE)``, ``CHECKPOINT``) so that no measured run pays for
    the load. Then, all at once:

    - the Orderly API in its production configuration (``orderly serve``'s uvicorn command
      line: uvloop, httptools, no access log, ``ENVIRONMENT=production``,
      ``LOG_LEVEL=WARNING``; ``--server granian`` runs it under granian instead), with
      ``--api-workers`` worker processes;
    - the baseline, ``bench/baseline.py``, under the same server settings;
    - ``--workers`` background workers (``orderly worker``, one by default), which relay the
      outbox as in production (in the development environment: production refuses the
      switches that let them deliver to the receiver on 127.0.0.1).

    With two or more usable cores the split is fixed: both APIs on the first core; the load
    generator, PostgreSQL, Redis and the worker on the last. The results name it.
    ``--no-pin`` lets every process run on any core (to see what a second API process and a
    second worker buy: ``--no-pin --api-workers 2 --workers 2`` against ``--no-pin``).

    ``--scale`` seeds instead, by COPY (``bench/scale.py``), ``--products`` products
    (1,000,000), ``--customers`` customers (a tenth of them) and ``--orders`` delivered orders
    (as many as products) with their lines, stock movements and audit entries, plus one admin.
    Its scenarios are product_get, product_list,
    product_list_deep, order_place, order_list and audit_list; compare them with the same
    command at ``--products 10000``.

What is measured, per scenario, Orderly then the baseline (each after ``VACUUM ANALYZE`` and
an uncounted warm-up)
    ``product_get``   ``GET /api/v1/products/{sku}``, a random SKU of the catalogue;
    ``product_list``  ``GET /api/v1/products?limit=50``;
    ``product_list_deep`` the same with the ``cursor`` of a page 500 products before the end
                      of the catalogue;
    ``order_get``     ``GET /api/v1/orders/{id}`` signed in as a random customer, one of its
                      own orders (every customer holds ``ORDERS_PER_CUSTOMER`` orders of
                      ``LINES_PER_ORDER`` lines, seeded in bulk; with ``--scale``, those of
                      ``bench/scale.py``, of the first ``SCALE_READERS`` customers);
    ``order_list``    ``GET /api/v1/orders?limit=50`` signed in as a random customer: the
                      first page of its own orders (a next page follows);
    ``audit_list``    ``GET /api/v1/audit?limit=50`` as an admin (``--scale`` only: it seeds
                      the admin);
    ``order_place``   ``POST /api/v1/orders`` signed in as a random customer, one line of a
                      random SKU, a new ``Idempotency-Key`` each time;
    ``order_replay``  the same POST resent with a used key and body (orders placed just
                      before, not measured): every answer must be a replay, and the number
                      of orders must not change;
    ``hot_sku``       ``order_place`` on one SKU at ``--hot-connections`` connections; then
                      the hot product's reserved stock must equal the quantity of its order
                      lines, and pgbench runs the same reservation transaction (the SQL of
                      ``bench/pgbench/reserve.sql``) with as many clients, for comparison;
    ``webhook_latency`` orders placed over HTTP at ``--webhook-rate`` per second (open loop)
                      with a receiver on 127.0.0.1 registered for ``order.placed``: the
                      latency from the event's commit to its arrival (Orderly only);
    ``webhook_isolation`` the same, with a second endpoint for ``order.placed`` that accepts
                      connections and never answers: the fast receiver's latency;
    ``webhook_throughput`` ``--backlog`` events committed at once, for one fast receiver:
                      deliveries per second and the worker's CPU per delivery.

    Before each read scenario (the product and order reads) a few of its requests go to
    both APIs, whose answers must be the same: status, ``ETag`` and body, byte for byte (a
    difference is reported as a problem of the scenario).

    The load comes from wrk (Debian's package), one thread, ``--connections`` keep-alive
    connections, with ``bench/wrk/scenario.lua`` making the requests. ``rps`` counts the
    expected answers per second; ``errors`` counts everything else (wrong status, socket
    errors, timeouts); p50/p99 are wrk's, in milliseconds. ``ratio`` is Orderly's rps over the
    baseline's (for ``hot_sku``, over pgbench's transactions per second). ``peak_rss_mb`` is
    the largest peak resident set (``VmHWM``, reset before each measured run) of any process
    of that API during the run. CPU shares are of
    one core, over the measured run.

Output
    A table on stdout, the results as JSON (``--json PATH``, and always
    ``bench/results/latest.json``, or ``quick.json`` for ``--quick``; ``scale-latest.json``
    and ``scale-quick.json`` with ``--scale``) and a PNG chart beside it. Ctrl-C stops
    everything it started and removes its data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import jwt
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orderly_cli.processes import API_FACTORY, api_argv
from orderly_db import migrate
from orderly_db.engine import create_engine
from orderly_db.passwords import Argon2Passwords
from orderly_db.settings import InfraSettings
from orderly_db.tables import order_lines, products, stock_movements, users
from orderly_db.tables import orders as orders_table

if TYPE_CHECKING:  # mypy, run from the repository root, knows bench/orders.py as bench.orders
    from bench import orders, scale, webhooks
else:  # run as a script, bench/ comes first on sys.path
    import orders
    import scale
    import webhooks

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
LUA = BENCH / "wrk" / "scenario.lua"
PGBENCH_SQL = BENCH / "pgbench" / "reserve.sql"
HOST = orders.HOST
THROUGHPUT_SCENARIOS = (
    "product_get",
    "product_list",
    "order_get",
    "order_list",
    "order_place",
    "order_replay",
    "hot_sku",
)
# The reads whose answers must be the same, byte for byte, from Orderly and the baseline.
SAME_ANSWERS = ("product_get", "product_list", "order_get", "order_list")
WEBHOOK_SCENARIOS = ("webhook_latency", "webhook_isolation", "webhook_throughput")
SCALE_SCENARIOS = (
    "product_get",
    "product_list",
    "product_list_deep",
    "order_place",
    "order_list",
    "audit_list",
)
SETTLE_TIMEOUT_S = 300.0  # the longest wait for the workers' backlog before a run
# The webhook scenarios measure the worker, so they come first, before the placements leave
# it tens of thousands of emails to send. Every run also waits until the workers have caught
# up (Run.settle), and the JSON records the work pending at each scenario's start.
DEFAULT_SCENARIOS = (*WEBHOOK_SCENARIOS, *THROUGHPUT_SCENARIOS)
SCENARIOS = (*DEFAULT_SCENARIOS, "product_list_deep", "audit_list")
SCALE_PRODUCTS = 1_000_000
DEEP_PAGE_FROM_END = 500  # product_list_deep resumes this many products before the last
SCALE_READERS = 1000  # --scale: the customers whose orders order_get reads
APPS = ("orderly", "baseline")
REPLAY_ORDERS = 256
ORDERS_PER_CUSTOMER = 60  # more than a page of 50: every customer's first page has a next
LINES_PER_ORDER = 2
READ_ORDERS_PER_CUSTOMER = 5  # of each customer's orders, those order_get reads
STOCK = 1_000_000
HOT_STOCK = 1_000_000_000
TOKEN_TTL = timedelta(hours=6)
WRK_RESULT = "WRK_RESULT "
SETTLE_S = 1.0


@dataclass(frozen=True, slots=True)
class Config:
    quick: bool
    duration_s: int
    warmup_s: int
    connections: int
    hot_connections: int
    products: int
    customers: int
    api_workers: int
    workers: int
    pool_size: int
    server: str
    webhook_rate: float
    backlog: int
    scenarios: tuple[str, ...]
    json_path: Path | None
    database_url: str | None
    redis_url: str | None
    profile_dir: Path | None = None
    scale: bool = False
    orders: int = 0
    pin: bool = True


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        description="Orderly against a bare FastAPI + asyncpg baseline (see the module doc)."
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="4 s per run instead of 20 (under 3 minutes)")
    add("--duration", type=int, help="measured seconds per run (20; quick: 4)")
    add("--warmup", type=int, help="uncounted seconds before each run (3; quick: 1)")
    add("--connections", type=int, default=16, help="wrk connections (16)")
    add("--hot-connections", type=int, default=32, help="connections on the hot SKU (32)")
    add("--products", type=int, help="products to seed (10000; --scale: 1000000)")
    add("--customers", type=int, help="customers to seed (1000; --scale: a tenth of products)")
    add("--orders", type=int, help="--scale: delivered orders to seed (as many as products)")
    add(
        "--scale",
        action="store_true",
        help="seed by COPY a catalogue, customers and order history at scale, and run the "
        f"scale scenarios ({', '.join(SCALE_SCENARIOS)})",
    )
    add("--api-workers", type=int, default=1, help="server worker processes per API (1)")
    add("--workers", type=int, default=1, help="background workers (orderly worker) (1)")
    add(
        "--no-pin",
        action="store_false",
        dest="pin",
        help="no fixed cores: every process may run on any core (to compare replicas)",
    )
    add("--pool-size", type=int, default=5, help="database connections per API process (5)")
    add("--server", choices=("uvicorn", "granian"), default="uvicorn", help="Orderly's server")
    add("--webhook-rate", type=float, default=100.0, help="orders/s for webhook_latency (100)")
    add("--backlog", type=int, default=20_000, help="events for webhook_throughput (20,000)")
    add(
        "--scenarios",
        help=f"comma-separated, in order (default: {','.join(DEFAULT_SCENARIOS)}; with --scale, "
        f"{','.join(SCALE_SCENARIOS)}); also known: {','.join(sorted(set(SCENARIOS)))}",
    )
    add("--json", type=Path, dest="json_path", help="also write the results here")
    add("--database-url", help="an existing PostgreSQL (SQLAlchemy URL) instead of embedded")
    add("--redis-url", help="an existing Redis instead of embedded")
    add("--profile", type=Path, dest="profile_dir", help="py-spy Orderly's API into this dir")
    args = parser.parse_args(argv)
    default = SCALE_SCENARIOS if args.scale else DEFAULT_SCENARIOS
    listed = args.scenarios if args.scenarios is not None else ",".join(default)
    wanted = tuple(name.strip() for name in listed.split(",") if name.strip())
    if unknown := [name for name in wanted if name not in SCENARIOS]:
        parser.error(f"unknown scenarios: {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    if args.orders is not None and not args.scale:
        parser.error("--orders needs --scale")
    if args.products is None:
        args.products = SCALE_PRODUCTS if args.scale else 10_000
    if args.customers is None:
        args.customers = max(1, args.products // 10) if args.scale else 1_000
    if args.orders is None:
        args.orders = args.products if args.scale else 0
    names = ("connections", "hot_connections", "products", "customers", "api_workers", "workers")
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.orders < 0:
        parser.error("--orders must not be negative")
    return Config(
        quick=args.quick,
        duration_s=args.duration or (4 if args.quick else 20),
        warmup_s=args.warmup if args.warmup is not None else (1 if args.quick else 3),
        connections=args.connections,
        hot_connections=args.hot_connections,
        products=args.products,
        customers=args.customers,
        api_workers=args.api_workers,
        workers=args.workers,
        pool_size=args.pool_size,
        server=args.server,
        webhook_rate=args.webhook_rate,
        backlog=args.backlog,
        scenarios=wanted,
        json_path=args.json_path,
        database_url=args.database_url,
        redis_url=args.redis_url,
        profile_dir=args.profile_dir,
        scale=args.scale,
        orders=args.orders,
        pin=args.pin,
    )


# --- CPU placement ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placement:
    server: int | None  # the APIs' core; None: not pinned (a single usable core)
    client: int | None  # wrk, pgbench, PostgreSQL, Redis, the worker, this process

    @classmethod
    def of_machine(cls) -> Placement:
        cores = orders.USABLE_CORES
        return cls(cores[0], cores[-1]) if len(cores) > 1 else cls(None, None)

    def worker(self, scenario: str) -> int | None:
        """The workers' core during ``scenario``."""
        return self.server if scenario.startswith("webhook_") else self.client

    def describe(self) -> str:
        if self.server is None:
            return "not pinned (--no-pin, or one usable core)"
        return (
            f"APIs on core {self.server}; wrk, pgbench, PostgreSQL, Redis, the worker and "
            f"the harness on core {self.client}, but the worker on core {self.server} in the "
            "webhook scenarios"
        )


def on_core(core: int | None, argv: Sequence[str]) -> list[str]:
    return list(argv) if core is None else ["taskset", "-c", str(core), *argv]


def pin_tree(root: int | None, core: int | None) -> None:
    """Move every thread of the process tree under ``root`` to ``core``; processes it starts
    later inherit the placement."""
    if root is None or core is None:
        return
    for pid in _tree(root):
        subprocess.run(
            ["taskset", "-a", "-p", "-c", str(core), str(pid)], capture_output=True, check=False
        )


# --- Data ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dataset:
    skus: list[str]
    hot: dict[str, str]  # orderly / baseline / pgbench: its hot SKU
    customers: list[tuple[str, str]]  # (id, email)
    run: str
    postgres_version: str
    orders: dict[str, list[str]]  # each customer's seeded orders (ids), newest first
    admin: tuple[str, str] | None = None  # (id, email): the audit list's reader
    seeding: dict[str, Any] | None = None  # --scale: rows and seconds per table


async def seed(settings: InfraSettings, config: Config) -> Dataset:
    """Migrate to head, then insert the products (with their opening stock movements) and
    the customers (one password, hashed once) in bulk; with ``--scale``, COPY the catalogue,
    the customers and the order history of ``bench/scale.py``."""
    engine = create_engine(settings, application_name="orderly-bench")
    try:
        orders.progress("migrating the schema to head")
        await migrate.upgrade(engine, "head")
        run = secrets.token_hex(3).upper()
        if config.scale:
            dataset = await seed_scale(settings, config, run)
        else:
            dataset = await seed_rows(engine, settings, config, run)
        await settle(engine)
        async with engine.connect() as connection:
            postgres = str(await connection.scalar(text("select version()")))
        return replace(dataset, postgres_version=postgres)
    finally:
        await engine.dispose()


async def settle(engine: AsyncEngine) -> None:
    """Freeze the seeded rows and write them out: every page a bulk load wrote is dirty and
    its rows' hint bits unset, and the load's WAL sets off checkpoints; left as they are, the
    first measured runs (Orderly's, in every scenario) would pay for it in the buffers they
    evict and the checkpoint that flushes them."""
    orders.progress("freezing and writing out the seeded tables")
    async with engine.connect() as connection:
        await connection.execute(text("set statement_timeout = 0"))  # a large database's
        await connection.execute(text("vacuum (freeze, analyze)"))
        await connection.execute(text("checkpoint"))


async def seed_rows(
    engine: AsyncEngine, settings: InfraSettings, config: Config, run: str
) -> Dataset:
    """The products (with their opening stock movements), the customers and their orders,
    in bulk."""
    now = datetime.now(UTC)
    skus = [f"B{run}-{index:05d}" for index in range(config.products)]
    hot = {name: f"HOT-{run}-{name.upper()}" for name in (*APPS, "pgbench")}
    stock = dict.fromkeys(skus, STOCK) | dict.fromkeys(hot.values(), HOT_STOCK)
    password = await Argon2Passwords.from_settings(settings).hash(orders.PASSWORD)
    customers = [
        (str(uuid.uuid4()), f"bench-{run.lower()}-{index:04d}@example.com")
        for index in range(config.customers)
    ]
    orders.progress(f"seeding {len(stock)} products and {len(customers)} customers")
    async with engine.begin() as connection:
        await connection.execute(
            insert(products),
            [
                {
                    "sku": sku,
                    "name": f"Bench product {sku}",
                    "description": "",
                    "unit_price": 1250,
                    "currency": "EUR",
                    "active": True,
                    "on_hand": units,
                    "reserved": 0,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                    "low_stock_threshold": 0,
                }
                for sku, units in stock.items()
            ],
        )
        await connection.execute(
            insert(stock_movements),
            [
                {
                    "id": uuid.uuid4(),
                    "sku": sku,
                    "at": now,
                    "kind": "opening",
                    "on_hand_delta": units,
                    "reserved_delta": 0,
                    "note": "bench seed",
                    "reference": None,
                    "actor_id": "bench",
                    "request_id": "bench",
                }
                for sku, units in stock.items()
            ],
        )
        await connection.execute(
            insert(users),
            [
                {
                    "id": uuid.UUID(user_id),
                    "email": email,
                    "display_name": "Bench customer",
                    "password_hash": password,
                    "role": "customer",
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for user_id, email in customers
            ],
        )
        placed = await seed_orders(connection, skus, customers, now)
        await connection.execute(text("analyze"))
    return Dataset(skus, hot, customers, run, "", placed)


async def seed_orders(
    connection: AsyncConnection,
    skus: Sequence[str],
    customers: Sequence[tuple[str, str]],
    now: datetime,
) -> dict[str, list[str]]:
    """ORDERS_PER_CUSTOMER paid orders per customer, LINES_PER_ORDER lines each, with a
    shipping address, one a minute into the past, copied in bulk; each customer's order ids,
    newest first."""
    orders.progress(
        f"seeding {ORDERS_PER_CUSTOMER * len(customers)} orders of {LINES_PER_ORDER} lines"
    )
    order_rows: list[tuple[Any, ...]] = []
    line_rows: list[tuple[Any, ...]] = []
    placed: dict[str, list[str]] = {}
    for number, (customer_id, email) in enumerate(customers):
        address = json.dumps({
            "name": f"Customer {number}",
            "line1": f"{number} rue de la Paix",
            "line2": "",
            "postal_code": "75002",
            "city": "Paris",
            "region": "",
            "country": "FR",
            "phone": None,
        })  # fmt: skip
        ids = placed[customer_id] = []
        for index in range(ORDERS_PER_CUSTOMER):
            order_id = uuid.uuid4()
            ids.append(str(order_id))
            at = now - timedelta(minutes=index + 1, microseconds=number)
            total = 0
            for line_no in range(1, LINES_PER_ORDER + 1):
                sku = skus[(number * ORDERS_PER_CUSTOMER + index * 7 + line_no) % len(skus)]
                quantity = 1 + (index + line_no) % 3
                total += 1250 * quantity
                line_rows.append((order_id, line_no, sku, quantity, 1250, "EUR", 0, 0, 0, 0))
            order_rows.append((
                order_id, customer_id, "paid", total, "EUR", at, at, at + timedelta(minutes=30),
                2, None, email, address, None, 0, None,
            ))  # fmt: skip
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None  # noqa: S101 - an asyncpg connection while checked out
    await driver.copy_records_to_table(
        "orders", records=order_rows, columns=[column.name for column in orders_table.c]
    )
    await driver.copy_records_to_table(
        "order_lines", records=line_rows, columns=[column.name for column in order_lines.c]
    )
    return placed


async def seed_scale(settings: InfraSettings, config: Config, run: str) -> Dataset:
    """``bench/scale.py``'s data by COPY, with the three hot products."""
    size = scale.Size(config.products, config.customers, config.orders)
    hot = {name: f"HOT-{run}-{name.upper()}" for name in (*APPS, "pgbench")}
    password = await Argon2Passwords.from_settings(settings).hash(orders.PASSWORD)
    started = time.monotonic()
    connection = await asyncpg.connect(scale.driver_url(settings.database_url))
    try:
        seeded = await scale.seed(
            connection,
            size,
            run=run,
            password_hash=password,
            hot=list(hot.values()),
            progress=orders.progress,
        )
        placed = await orders_of(connection, seeded.customers[:SCALE_READERS])
    finally:
        await connection.close()
    seconds = round(time.monotonic() - started, 1)
    orders.progress(f"seeded in {seconds} s")
    seeding = {"rows": seeded.rows, "seconds": seeded.seconds, "total_s": seconds}
    return Dataset(seeded.skus, hot, seeded.customers, run, "", placed, seeded.admin, seeding)


async def orders_of(
    connection: asyncpg.Connection, customers: Sequence[tuple[str, str]]
) -> dict[str, list[str]]:
    """The seeded orders of ``customers`` (ids, newest first), for order_get."""
    rows = await connection.fetch(
        "SELECT customer_id, id FROM orders WHERE customer_id = ANY($1::varchar[]) "
        "ORDER BY customer_id, placed_at DESC, id DESC",
        [customer_id for customer_id, _ in customers],
    )
    placed: dict[str, list[str]] = {}
    for row in rows:
        placed.setdefault(row["customer_id"], []).append(str(row["id"]))
    return placed


def access_tokens(
    secret: str, customers: Sequence[tuple[str, str]], role: str = "customer"
) -> list[str]:
    """Access tokens as Orderly issues them (HS256, sub/role/iat/exp/jti), signed with the
    APIs' key: the customers need not sign in one by one."""
    now = int(time.time())
    expires = now + int(TOKEN_TTL.total_seconds())
    return [
        jwt.encode(
            {
                "sub": user_id,
                "role": role,
                "iat": now,
                "exp": expires,
                "jti": uuid.uuid4().hex,
            },
            secret,
            algorithm="HS256",
        )
        for user_id, _ in customers
    ]


# --- Servers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    ready_path: str


def start_server(
    name: str,
    config: Config,
    *,
    env: dict[str, str],
    workdir: Path,
    stack: contextlib.ExitStack,
    placement: Placement,
) -> Server:
    port = orders._free_port()
    if name == "orderly":
        argv, ready = orderly_argv(config, port), "/ready"
    else:
        argv, ready = baseline_argv(config, port), "/api/v1/products?limit=1"
    log = workdir / f"{name}.log"
    orders.progress(f"starting {name} ({config.api_workers} worker(s)) on {HOST}:{port}")
    process = orders.spawn(on_core(placement.server, argv), env, log, stack)
    return Server(name, process, port, log, ready)


def orderly_argv(config: Config, port: int) -> list[str]:
    return server_argv(config, port, API_FACTORY)


def baseline_argv(config: Config, port: int) -> list[str]:
    """The baseline under exactly the server command line Orderly runs under."""
    return server_argv(config, port, "baseline:create_app", app_dir=BENCH)


def server_argv(config: Config, port: int, factory: str, app_dir: Path | None = None) -> list[str]:
    """``orderly serve``'s production command line (or granian's equivalent) for ``factory``."""
    if config.server == "uvicorn":
        argv = api_argv(HOST, port, production=True, workers=config.api_workers)
        argv[argv.index(API_FACTORY)] = factory
        argv[argv.index("--log-level") + 1] = "warning"
    else:
        argv = [
            sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
            "--host", HOST, "--port", str(port), "--workers", str(config.api_workers),
            "--loop", "uvloop", "--no-ws", "--log-level", "warning", factory,
        ]  # fmt: skip
    if app_dir is not None:
        option = "--app-dir" if config.server == "uvicorn" else "--working-dir"
        argv[argv.index(factory) : argv.index(factory)] = [option, str(app_dir)]
    return argv


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + orders.READY_TIMEOUT_S
    url = f"http://{HOST}:{server.port}{server.ready_path}"
    while True:
        if server.process.poll() is not None:
            raise orders.BenchError(f"{server.name} exited\n{orders.tail(server.log)}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(url, timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        if time.monotonic() > deadline:
            raise orders.BenchError(
                f"{server.name} did not answer {url}\n{orders.tail(server.log)}"
            )
        time.sleep(0.2)


def _tree(root: int) -> list[int]:
    table = orders._process_table()
    pending, found = [root], []
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(child for child, (parent, _) in table.items() if parent == pid)
    return found


def reset_peak_rss(root: int) -> None:
    """Start each process's ``VmHWM`` again from its current resident set (Linux's
    ``clear_refs``), so that a peak belongs to the run that follows."""
    for pid in _tree(root):
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mb(root: int) -> float:
    """The largest ``VmHWM`` (peak resident set) of any process in the tree under ``root``."""
    peak = 0
    for pid in _tree(root):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return round(peak / 1024, 1)


# --- Load ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measured:
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    requests: int
    cpu_ms_per_request: float | None
    cpu_percent_of_one_core: dict[str, float | None]
    peak_rss_mb: float | None = None
    error_kinds: dict[str, int] | None = None

    def public(self) -> dict[str, Any]:
        return {
            "rps": self.rps,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "requests": self.requests,
            "server_cpu_ms_per_request": self.cpu_ms_per_request,
            "peak_rss_mb": self.peak_rss_mb,
            "cpu_percent_of_one_core": self.cpu_percent_of_one_core,
        }


class Load:
    """wrk runs against one server, with the CPU each party used meanwhile."""

    def __init__(
        self,
        config: Config,
        placement: Placement,
        probe_roots: dict[str, int | None],
        data: Path,
        settings: InfraSettings,
    ) -> None:
        self._config, self._placement, self._roots, self._data = (
            config,
            placement,
            probe_roots,
            data,
        )
        self._settings = settings

    def run(
        self,
        server: Server,
        scenario: str,
        data: Path | None = None,
        connections: int | None = None,
    ) -> Measured:
        connections = connections or self._config.connections
        data = data or self._data
        asyncio.run(vacuum(self._settings))
        if self._config.warmup_s:
            self._wrk(server, scenario, data, connections, self._config.warmup_s)
        probe = orders.CpuProbe({"server": server.process.pid, **self._roots})
        reset_peak_rss(server.process.pid)
        profiler = self._profile(server, scenario)
        before, children_before = probe.snapshot(), _children_cpu_s()
        result = self._wrk(server, scenario, data, connections, self._config.duration_s)
        if profiler is not None:
            profiler.wait(timeout=60)
        after, children_after = probe.snapshot(), _children_cpu_s()
        cpu = probe.split(before, after)
        wall = after.at - before.at
        wrk_share = round(100 * (children_after - children_before) / wall, 1)
        cpu["wrk"] = wrk_share  # with py-spy's when profiling
        cpu["other"] = max(0.0, round((cpu["other"] or 0.0) - wrk_share, 1))
        errors = sum(result["errors"].values())
        good = result["requests"] - result["errors"]["status"]
        seconds = result["duration_us"] / 1e6
        server_share = cpu.get("server")
        return Measured(
            rps=round(max(0, good) / seconds, 1),
            p50_ms=round(result["p50_us"] / 1000, 2),
            p99_ms=round(result["p99_us"] / 1000, 2),
            errors=errors,
            requests=result["requests"],
            cpu_ms_per_request=(
                round(server_share * 10 * wall / result["requests"], 2)
                if server_share is not None and result["requests"]
                else None
            ),
            cpu_percent_of_one_core=cpu,
            peak_rss_mb=peak_rss_mb(server.process.pid),
            error_kinds={kind: n for kind, n in result["errors"].items() if n},
        )

    def _profile(self, server: Server, scenario: str) -> subprocess.Popen[bytes] | None:
        """py-spy sampling Orderly's API for the measured run (--profile): collapsed stacks
        in ``<dir>/<scenario>.txt``, for flame graph tools or a quick ``sort``."""
        directory = self._config.profile_dir
        if directory is None or server.name != "orderly":
            return None
        directory.mkdir(parents=True, exist_ok=True)
        argv = [
            "py-spy",
            "record",
            "--pid",
            str(server.process.pid),
            "--duration",
            str(self._config.duration_s),
            "--rate",
            "250",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(directory / f"{scenario}.txt"),
        ]
        return subprocess.Popen(
            on_core(self._placement.client, argv),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _wrk(
        self, server: Server, scenario: str, data: Path, connections: int, seconds: int
    ) -> dict[str, Any]:
        url = f"http://{HOST}:{server.port}/"
        argv = on_core(
            self._placement.client,
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(LUA),
                url,
                "--",
                scenario,
                str(data),
                f"{server.name}-{uuid.uuid4().hex[:8]}",
            ],
        )
        run = subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=seconds + 60
        )
        for line in run.stdout.splitlines():
            if line.startswith(WRK_RESULT):
                parsed: dict[str, Any] = json.loads(line.removeprefix(WRK_RESULT))
                return parsed
        raise orders.BenchError(f"wrk gave no result ({run.returncode}):\n{run.stdout}{run.stderr}")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def write_data(
    path: Path,
    *,
    skus: Sequence[str] = (),
    tokens: Sequence[str] = (),
    replays: Sequence[tuple[str, str, str]] = (),
    reads: Sequence[tuple[str, str]] = (),
    cursors: Sequence[str] = (),
) -> Path:
    lines = [f"S {sku}" for sku in skus] + [f"T {token}" for token in tokens]
    lines += [f"C {cursor}" for cursor in cursors]
    lines += [f"R {token} {key} {sku}" for token, key, sku in replays]
    lines += [f"O {token} {order_id}" for token, order_id in reads]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- Scenario checks ----------------------------------------------------------------------


async def prime_replays(
    server: Server, dataset: Dataset, tokens: Sequence[str]
) -> list[tuple[str, str, str]]:
    """Place REPLAY_ORDERS orders (one line each) and return them as (token, key, sku)."""
    placed: list[tuple[str, str, str]] = []
    async with orders.open_client("raw", server.port, 8) as client:

        async def place(index: int) -> None:
            token = tokens[index % len(tokens)]
            sku = dataset.skus[(index * 7919) % len(dataset.skus)]
            key = f"replay-{server.name}-{dataset.run}-{index}"
            body = json.dumps({"lines": [{"sku": sku, "quantity": 1}]}).encode()
            headers = {
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": key,
                "Content-Type": "application/json",
            }
            reply = await client.send("POST", "/api/v1/orders", headers, body)
            if reply.status != 201:
                raise orders.BenchError(f"priming a replay got {orders.problem_of(reply)}")
            placed.append((token, key, sku))

        jobs = [lambda i=i: place(i) for i in range(REPLAY_ORDERS)]
        await orders.gather_bounded(jobs, 8)
    return placed


async def vacuum(settings: InfraSettings) -> None:
    """``VACUUM ANALYZE`` before each run, so that no run inherits the dead rows of the one
    before it or meets autovacuum halfway."""
    engine = create_engine(settings, application_name="orderly-bench")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("set statement_timeout = 0"))  # a large database's
            await connection.execute(text("vacuum analyze"))
    finally:
        await engine.dispose()


async def pending_work(settings: InfraSettings) -> dict[str, int]:
    """What the workers have yet to do: events not yet relayed, webhook deliveries pending,
    emails due."""
    engine = create_engine(settings, application_name="orderly-bench")
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "select (select count(*) from outbox where state = 'pending') as events,"
                        " (select count(*) from webhook_deliveries where state = 'pending')"
                        " as deliveries,"
                        " (select count(*) from mail_messages where status = 'pending'"
                        " and next_attempt_at <= now()) as emails"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    return dict(row._mapping)


async def count_orders(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(text("orders"))) or 0)


async def oversold(engine: AsyncEngine, sku: str) -> str | None:
    """None when the product's reserved stock is exactly its order lines' quantity and
    within its stock on hand; else what is wrong. One statement: one snapshot."""
    ordered = (
        select(func.coalesce(func.sum(order_lines.c.quantity), 0))
        .where(order_lines.c.sku == sku)
        .scalar_subquery()
    )
    query = select(products.c.on_hand, products.c.reserved, ordered.label("ordered")).where(
        products.c.sku == sku
    )
    await asyncio.sleep(SETTLE_S)  # requests wrk cut off at the end may still be committing
    async with engine.connect() as connection:
        row = (await connection.execute(query)).one()
    if row.reserved != row.ordered or row.reserved > row.on_hand:
        return f"{sku}: reserved {row.reserved}, ordered {row.ordered}, on hand {row.on_hand}"
    return None


def run_pgbench(
    settings: InfraSettings,
    *,
    sku: str,
    customer: str,
    clients: int,
    seconds: int,
    placement: Placement,
    workdir: Path,
) -> Measured:
    """pgbench running bench/pgbench/reserve.sql on ``sku`` with ``clients`` connections."""
    url = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    logs = workdir / "pgbench"
    logs.mkdir(exist_ok=True)
    argv = on_core(
        placement.client,
        [
            "pgbench",
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            "1",
            "-T",
            str(seconds),
            "-D",
            f"sku={sku}",
            "-D",
            f"customer={customer}",
            "-f",
            str(PGBENCH_SQL),
            "-l",
            "--log-prefix",
            str(logs / "tx"),
            url,
        ],
    )
    run = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=seconds + 60)
    if run.returncode != 0:
        raise orders.BenchError(f"pgbench failed ({run.returncode}):\n{run.stdout}{run.stderr}")
    latencies: list[float] = []
    failed = 0
    for log in logs.glob("tx*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)
            else:
                failed += 1
        log.unlink()
    tps = re.search(r"tps = ([\d.]+)", run.stdout)
    latencies.sort()
    return Measured(
        rps=round(float(tps[1]), 1) if tps else 0.0,
        p50_ms=_rounded(orders.percentile(latencies, 0.5)),
        p99_ms=_rounded(orders.percentile(latencies, 0.99)),
        errors=failed,
        requests=len(latencies),
        cpu_ms_per_request=None,
        cpu_percent_of_one_core={},
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# --- Scenarios ----------------------------------------------------------------------------


@dataclass
class Bench:
    config: Config
    placement: Placement
    settings: InfraSettings
    dataset: Dataset
    tokens: list[str]
    servers: dict[str, Server]
    load: Load
    workdir: Path
    worker: webhooks.Worker
    env: dict[str, str]

    def order_reads(self) -> list[tuple[str, str]]:
        """(token, order id): some of each customer's own orders, read with its token."""
        return [
            (token, order_id)
            for token, (customer_id, _) in zip(self.tokens, self.dataset.customers, strict=True)
            for order_id in self.dataset.orders.get(customer_id, [])[:READ_ORDERS_PER_CUSTOMER]
        ]

    def sample_requests(self, name: str) -> list[tuple[str, dict[str, str]]]:
        """A few requests of the scenario ``name``, as (path, headers)."""
        if name == "product_get":
            return [(f"/api/v1/products/{sku}", {}) for sku in self.dataset.skus[:3]]
        if name == "product_list":
            return [("/api/v1/products?limit=50", {})]
        if name == "order_get":
            return [
                (f"/api/v1/orders/{order_id}", {"Authorization": f"Bearer {token}"})
                for token, order_id in self.order_reads()[:: READ_ORDERS_PER_CUSTOMER * 250]
            ]
        return [
            ("/api/v1/orders?limit=50", {"Authorization": f"Bearer {token}"})
            for token in self.tokens[::250]
        ]

    def same_answers(self, name: str) -> str | None:
        """None when Orderly and the baseline answer the scenario's sample requests with the
        same status, ``ETag`` and body, byte for byte; else what differs."""
        for path, headers in self.sample_requests(name):
            answers = []
            for app in APPS:
                url = f"http://{HOST}:{self.servers[app].port}{path}"
                request = urllib.request.Request(url, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                        answers.append((answer.status, answer.headers.get("ETag"), answer.read()))
                except urllib.error.HTTPError as error:
                    answers.append((error.code, None, error.read()))
            if answers[0] != answers[1]:
                ours, theirs = answers
                return (
                    f"GET {path}: Orderly answered {ours[0]} {ours[1]} {ours[2][:300]!r}, the "
                    f"baseline {theirs[0]} {theirs[1]} {theirs[2][:300]!r}"
                )
            if answers[0][0] != 200:
                return f"GET {path}: both answered {answers[0][0]}"
        return None

    def scenario(self, name: str) -> dict[str, Any]:
        orders.progress(f"scenario {name}")
        if name == "webhook_latency":
            return self.webhook_latency()
        if name == "webhook_isolation":
            with contextlib.ExitStack() as stack:
                hanging = webhooks.Hanging(stack)
                return self.webhook_latency(hanging.url)
        if name == "webhook_throughput":
            return self.webhook_throughput()
        entry: dict[str, Any] = {}
        notes: list[str] = []
        if name in SAME_ANSWERS and (difference := self.same_answers(name)):
            notes.append(f"not the same answers: {difference}")
        for app in APPS:
            settled = self.settle()
            measured, note = self.measure(name, self.servers[app])
            entry[app] = measured.public() | {"settled": settled}
            if note:
                notes.append(f"{app}: {note}")
                entry[app]["errors"] += 1
        if name == "hot_sku":
            asyncio.run(vacuum(self.settings))
            pgbench = run_pgbench(
                self.settings,
                sku=self.dataset.hot["pgbench"],
                customer=self.dataset.customers[0][0],
                clients=self.config.hot_connections,
                seconds=self.config.duration_s,
                placement=self.placement,
                workdir=self.workdir,
            )
            entry["pgbench"] = pgbench.public()
            if note := asyncio.run(self.check_hot("pgbench")):
                notes.append(f"pgbench: {note}")
            entry["ratio"] = _ratio(entry["orderly"]["rps"], pgbench.rps)
            entry["ratio_to_baseline"] = _ratio(entry["orderly"]["rps"], entry["baseline"]["rps"])
        else:
            entry["ratio"] = _ratio(entry["orderly"]["rps"], entry["baseline"]["rps"])
        if notes:
            entry["problems"] = notes
        return entry

    def settle(self) -> dict[str, Any]:
        """Wait (up to :data:`SETTLE_TIMEOUT_S`) until the workers have relayed every event
        and sent every email due: the orders a run places leave emails to send, and the
        worker shares its core with PostgreSQL, so the run after it would pay for them. How
        long it waited, and what was left."""
        started = time.monotonic()
        while True:
            left = asyncio.run(pending_work(self.settings))
            waited = time.monotonic() - started
            if not (left["events"] or left["emails"]) or waited > SETTLE_TIMEOUT_S:
                return {"waited_s": round(waited, 1), "left": left}
            time.sleep(0.5)

    def measure(self, name: str, server: Server) -> tuple[Measured, str | None]:  # noqa: PLR0911
        tokens = self.tokens
        if name in {"product_get", "product_list"}:
            return self.load.run(server, name), None
        if name == "product_list_deep":
            data = write_data(self.workdir / "deep.txt", cursors=[self.deep_cursor()])
            return self.load.run(server, name, data), None
        if name == "order_get":
            data = write_data(self.workdir / "order-get.txt", reads=self.order_reads())
            return self.load.run(server, name, data), None
        if name == "order_list":
            data = write_data(self.workdir / "order-list.txt", tokens=tokens)
            return self.load.run(server, name, data), None
        if name == "audit_list":
            data = write_data(self.workdir / "admin.txt", tokens=[self.admin_token()])
            return self.load.run(server, name, data), None
        if name == "order_place":
            data = write_data(self.workdir / "place.txt", skus=self.dataset.skus, tokens=tokens)
            return self.load.run(server, name, data), None
        if name == "order_replay":
            replays = asyncio.run(prime_replays(server, self.dataset, tokens))
            data = write_data(self.workdir / f"replay-{server.name}.txt", replays=replays)
            before = asyncio.run(self.orders_now())
            measured = self.load.run(server, name, data)
            after = asyncio.run(self.orders_now())
            note = None if after == before else f"{after - before} orders placed by replays"
            return measured, note
        if name == "hot_sku":
            data = write_data(
                self.workdir / f"hot-{server.name}.txt",
                skus=[self.dataset.hot[server.name]],
                tokens=tokens,
            )
            measured = self.load.run(server, name, data, self.config.hot_connections)
            return measured, asyncio.run(self.check_hot(server.name))
        raise AssertionError(name)

    def deep_cursor(self) -> str:
        """The cursor of a page near the end of the catalogue (in SKU order): the one after
        the product ``DEEP_PAGE_FROM_END`` before the last, as Orderly writes it."""
        return scale.deep_cursor(
            [*self.dataset.skus, *self.dataset.hot.values()], DEEP_PAGE_FROM_END
        )

    def admin_token(self) -> str:
        """An admin's access token (``--scale`` seeds one): the audit list's reader."""
        if self.dataset.admin is None:
            raise orders.BenchError("audit_list needs an admin: run it with --scale")
        return access_tokens(self.env["JWT_SECRET"], [self.dataset.admin], "admin")[0]

    async def orders_now(self) -> int:
        engine = create_engine(self.settings, application_name="orderly-bench")
        try:
            return await count_orders(engine)
        finally:
            await engine.dispose()

    async def check_hot(self, owner: str) -> str | None:
        engine = create_engine(self.settings, application_name="orderly-bench")
        try:
            return await oversold(engine, self.dataset.hot[owner])
        finally:
            await engine.dispose()

    def webhook_throughput(self) -> dict[str, Any]:
        """A backlog of --backlog events, delivered by the one worker to one fast receiver."""
        asyncio.run(vacuum(self.settings))
        measured = asyncio.run(
            webhooks.backlog_throughput(
                self.settings, self.worker, self.config.backlog, timeout_s=600.0
            )
        )
        return {"orderly": measured}

    def webhook_latency(self, hanging_url: str | None = None) -> dict[str, Any]:
        """bench/webhooks.py's measurement, on this stack, at --webhook-rate orders/s; with
        ``hanging_url``, beside an endpoint that never answers (webhook_isolation)."""
        asyncio.run(vacuum(self.settings))
        asyncio.run(webhooks.forget_endpoints(self.settings))
        listener = webhooks.listening_socket(contextlib.ExitStack())
        url = f"http://{HOST}:{listener.getsockname()[1]}{webhooks.RECEIVER_PATH}"
        secret = asyncio.run(webhooks.register_receiver(self.settings, url, [webhooks.PLACED]))
        if hanging_url is not None:
            asyncio.run(webhooks.register_receiver(self.settings, hanging_url, [webhooks.PLACED]))
        customers = self.dataset.customers[:50]
        seeded = orders.Seeded(self.dataset.skus, [email for _, email in customers], "")
        orderly = self.servers["orderly"]
        api = orders.Api(orderly.process, orderly.port, orderly.log)
        running = webhooks.Running(
            self.settings,
            api,
            [self.worker],
            seeded,
            listener,
            secret,
            [f"Bearer {token}" for token in self.tokens[:50]],
        )
        reset_peak_rss(orderly.process.pid)
        config = webhooks.Config(
            rate=self.config.webhook_rate,
            duration_s=float(self.config.duration_s),
            warmup_s=float(self.config.warmup_s),
            workers=1,
            api_workers=self.config.api_workers,
            pay=False,
            products=0,
            customers=0,
            max_in_flight=256,
            drain_timeout_s=180.0,
            quick=self.config.quick,
            json_path=None,
        )
        roots = {"server": orderly.process.pid, **self.load._roots}
        run = asyncio.run(webhooks.measure(config, running, orders.CpuProbe(roots)))
        listener.close()
        asyncio.run(webhooks.forget_endpoints(self.settings))
        deliveries = webhooks.delivery_results(run, [webhooks.PLACED])
        placed = deliveries["by_type"][webhooks.PLACED]
        latency = placed["latency_ms"]
        requests = webhooks.request_results(run.measured.place)
        errors = placed["missing"] + placed["duplicates"] + deliveries["invalid"]
        errors += requests["errors"] + run.measured.unsent
        return {
            "orderly": {
                "rps": placed["per_s"],
                "p50_ms": latency["p50"],
                "p99_ms": latency["p99"],
                "errors": errors,
                "requests": placed["expected"],
                "orders_per_s": requests["ok_per_s"],
                "stages_ms": deliveries["stages_ms"],
                "peak_rss_mb": peak_rss_mb(orderly.process.pid),
                "cpu_percent_of_one_core": run.cpu,
            },
        }


def _ratio(orderly: float | None, other: float | None) -> float | None:
    return round(orderly / other, 3) if orderly and other else None


# --- Orchestration ------------------------------------------------------------------------


def bench(config: Config, stack: contextlib.ExitStack) -> dict[str, Any]:
    started = datetime.now(UTC)
    placement = Placement.of_machine() if config.pin else Placement(None, None)
    workdir = orders.make_workdir(stack)
    servers = orders.start_servers(workdir, stack, config.database_url, config.redis_url)
    pin_tree(servers.postgres_pid, placement.client)
    pin_tree(servers.redis_pid, placement.client)
    if placement.client is not None:
        os.sched_setaffinity(0, {placement.client})
    settings = orders.infra_settings(servers)
    dataset = asyncio.run(seed(settings, config))
    secret = secrets.token_urlsafe(48)
    # The APIs run in production; the worker adds the development-only webhook permissions
    # it needs to deliver to receivers on 127.0.0.1 over plain http (webhooks.start_workers).
    env = {
        **orders.api_environment(settings),
        "LOG_LEVEL": "WARNING",
        "JWT_SECRET": secret,
        "DB_POOL_SIZE": str(config.pool_size),
    }
    apps = {
        name: start_server(name, config, env=env, workdir=workdir, stack=stack, placement=placement)
        for name in APPS
    }
    workers = webhooks.start_workers(config.workers, env, workdir, stack)
    for each in workers:
        pin_tree(each.process.pid, placement.client)
    worker = workers[0]
    for server in apps.values():
        wait_ready(server)
    tokens = access_tokens(secret, dataset.customers)
    roots: dict[str, int | None] = {
        "PostgreSQL": servers.postgres_pid,
        "Redis": servers.redis_pid,
        "worker": worker.process.pid,
    }
    roots |= {f"worker {n}": each.process.pid for n, each in enumerate(workers[1:], start=2)}
    skus = write_data(workdir / "skus.txt", skus=dataset.skus)
    load = Load(config, placement, roots, skus, settings)
    run = Bench(config, placement, settings, dataset, tokens, apps, load, workdir, worker, env)
    results: dict[str, Any] = {}
    for name in config.scenarios:
        # The webhook scenarios measure the worker: it gets the APIs' core (idle but for the
        # orders webhook_latency places), away from PostgreSQL and the receivers.
        for each in workers:
            pin_tree(each.process.pid, placement.worker(name))
        pending = run.settle() if name in WEBHOOK_SCENARIOS else None
        pending = pending or {"waited_s": 0.0, "left": asyncio.run(pending_work(settings))}
        results[name] = run.scenario(name)
        results[name]["pending_at_start"] = pending
        results[name]["target"] = target(name, results[name], scale=config.scale)
        print(scenario_line(name, results[name]), flush=True)
    for server in apps.values():
        if server.process.poll() is not None:
            raise orders.BenchError(
                f"{server.name} exited during the run\n{orders.tail(server.log)}"
            )
    return {
        "benchmark": "side-by-side",
        "started_at": started.isoformat(timespec="seconds"),
        "machine": orders.machine_info(),
        "settings": {
            "quick": config.quick,
            "duration_s": config.duration_s,
            "warmup_s": config.warmup_s,
            "connections": config.connections,
            "hot_connections": config.hot_connections,
            "products": config.products,
            "customers": config.customers,
            "server": config.server,
            "api_workers": config.api_workers,
            "workers": config.workers,
            "scale": config.scale,
            "orders": config.orders,
            "seeding": dataset.seeding,
            "db_pool_size": config.pool_size,
            "webhook_rate": config.webhook_rate,
            "backlog": config.backlog,
            "cpu_placement": placement.describe(),
            "load_generator": _first_line(["wrk", "--version"]),
            "orderly_revision": orders._revision(),
            "python": sys.version.split()[0],
            "postgresql": dataset.postgres_version,
            "uvicorn": version("uvicorn"),
            "granian": version("granian"),
            "fastapi": version("fastapi"),
            "sqlalchemy": version("sqlalchemy"),
            "asyncpg": version("asyncpg"),
        },
        "scenarios": results,
    }


def _first_line(argv: list[str]) -> str:
    run = subprocess.run(argv, capture_output=True, text=True, check=False)
    return (run.stdout or run.stderr).splitlines()[0].strip() if (run.stdout or run.stderr) else ""


# --- Report -------------------------------------------------------------------------------


def scenario_line(name: str, entry: dict[str, Any]) -> str:
    orderly = entry["orderly"]
    line = f"  {name}: orderly {orderly['rps']} rps, p50 {orderly['p50_ms']} ms"
    line += f", p99 {orderly['p99_ms']} ms"
    if "baseline" in entry:
        base = entry["baseline"]
        line += f"; baseline {base['rps']} rps, p50 {base['p50_ms']} ms"
    if "pgbench" in entry:
        line += f"; pgbench {entry['pgbench']['rps']} tps"
    if entry.get("ratio") is not None:
        line += f"; ratio {entry['ratio']}"
    return line


# Issue 15's targets: ratios to the baseline in the same run, the webhook engine's figures.
RATIO_TARGETS = {
    "product_get": 0.75,
    "product_list": 0.75,
    "order_get": 0.75,
    "order_list": 0.75,
    "order_place": 0.85,
    "order_replay": 0.75,
}
PLACEMENT_TAIL = 3.0  # the placement's p99 at most this many times its p50
WEBHOOK_P99_MS = 100.0  # commit to receiver, at --webhook-rate orders/s
BACKLOG_PER_S = 1_000.0  # deliveries per second of a backlog, one worker
BACKLOG_CPU_MS = 1.0  # worker CPU per delivery
SCALE_GROWTH = 1.5  # --scale: p50 and p99 at most this many times the 10,000-product run's


def target(name: str, entry: dict[str, Any], *, scale: bool) -> dict[str, Any]:
    """What ``name`` must reach, what it reached, and whether that meets it (``None``: one
    run cannot tell)."""
    orderly = entry["orderly"]
    p50, p99, errors = orderly.get("p50_ms"), orderly.get("p99_ms"), orderly.get("errors", 0)
    if scale:
        return {
            "wanted": f"p50 and p99 within {SCALE_GROWTH} x of the 10,000-product run's "
            "(bench/scale.py compares two runs)",
            "measured": f"p50 {p50} ms, p99 {p99} ms",
            "met": None,
        }
    if name in RATIO_TARGETS:
        ratio = entry.get("ratio")
        wanted = f"ratio >= {RATIO_TARGETS[name]}"
        measured = f"ratio {ratio}"
        met = ratio is not None and ratio >= RATIO_TARGETS[name] and not errors
        if name == "order_place":
            tail = p99 / p50 if p50 and p99 else None
            wanted += f", p99 <= {PLACEMENT_TAIL:g} x p50"
            measured += f", p99 {'n/a' if tail is None else f'{tail:.1f}'} x p50"
            met = met and tail is not None and tail <= PLACEMENT_TAIL
        return {"wanted": wanted, "measured": measured, "met": met}
    if name in ("webhook_latency", "webhook_isolation"):
        return {
            "wanted": f"p99 <= {WEBHOOK_P99_MS:g} ms from commit to receiver, nothing lost",
            "measured": f"p99 {p99} ms, {errors} errors",
            "met": p99 is not None and p99 <= WEBHOOK_P99_MS and not errors,
        }
    if name == "webhook_throughput":
        rps, cpu = orderly.get("rps"), orderly.get("worker_cpu_ms_per_delivery")
        return {
            "wanted": f">= {BACKLOG_PER_S:,.0f} deliveries/s, <= {BACKLOG_CPU_MS:g} ms of worker "
            "CPU each, nothing lost",
            "measured": f"{rps}/s, {cpu} ms, {errors} errors",
            "met": rps is not None
            and cpu is not None
            and rps >= BACKLOG_PER_S
            and cpu <= BACKLOG_CPU_MS
            and not errors,
        }
    return {
        "wanted": "no errors, no oversell (no throughput target)",
        "measured": f"{errors} errors",
        "met": not errors,
    }


def target_line(name: str, entry: dict[str, Any]) -> str:
    found = entry.get("target")
    if not found:
        return f"  {name}: no target"
    verdict = {True: "met", False: "NOT MET", None: "see bench/scale.py"}[found["met"]]
    return f"  {name}: {found['wanted']}; measured {found['measured']}: {verdict}"


def render(report: dict[str, Any]) -> str:
    header = [
        "scenario",
        "Orderly rps",
        "p50",
        "p99",
        "errors",
        "baseline rps",
        "p50",
        "p99",
        "errors",
        "ratio",
        "Orderly CPU/req",
        "baseline CPU/req",
        "peak RSS",
    ]
    rows = []
    for name, entry in report["scenarios"].items():
        orderly = entry["orderly"]
        base = entry.get("pgbench") or entry.get("baseline") or {}
        label = f"{name} (vs pgbench)" if "pgbench" in entry else name
        rows.append(
            [
                label,
                orders.number(orderly["rps"]),
                orders.number(orderly["p50_ms"], " ms"),
                orders.number(orderly["p99_ms"], " ms"),
                str(orderly["errors"]),
                orders.number(base.get("rps")),
                orders.number(base.get("p50_ms"), " ms"),
                orders.number(base.get("p99_ms"), " ms"),
                str(base.get("errors", "")),
                "n/a" if entry.get("ratio") is None else f"{entry['ratio']:.2f}",
                orders.number(orderly.get("server_cpu_ms_per_request"), " ms"),
                orders.number(entry.get("baseline", {}).get("server_cpu_ms_per_request"), " ms"),
                orders.number(orderly.get("peak_rss_mb"), " MB"),
            ]
        )
    settings, machine = report["settings"], report["machine"]
    lines = [
        orders.table(header, rows),
        "",
        orders.machine_line(machine),
        f"CPU placement: {settings['cpu_placement']}",
        f"Orderly on {settings['server']} ({settings['api_workers']} worker process(es), pool "
        f"{settings['db_pool_size']}); wrk: {settings['connections']} connections "
        f"({settings['hot_connections']} on the hot SKU), {settings['duration_s']} s per run "
        f"after {settings['warmup_s']} s of warm-up; {settings['workers']} background worker(s)",
    ]
    if seeding := settings.get("seeding"):
        counts = ", ".join(f"{table} {n}" for table, n in seeding["rows"].items())
        lines.append(f"scale: seeded by COPY in {seeding['total_s']} s ({counts})")
    if "webhook_latency" in report["scenarios"]:
        hooks = report["scenarios"]["webhook_latency"]["orderly"]
        lines.append(
            f"webhook_latency: orders placed at {hooks['orders_per_s']}/s; rps is deliveries "
            "per second, p50/p99 run from the event's commit to its arrival at the receiver"
        )
    if "webhook_isolation" in report["scenarios"]:
        lines.append(
            "webhook_isolation: as webhook_latency, beside an endpoint that never answers; "
            "the figures are the answering receiver's"
        )
    if "webhook_throughput" in report["scenarios"]:
        backlog = report["scenarios"]["webhook_throughput"]["orderly"]
        lines.append(
            f"webhook_throughput: {backlog['requests']:,} events of a backlog delivered in "
            f"{backlog['seconds']} s; rps is deliveries per second; the worker used "
            f"{backlog['worker_cpu_ms_per_delivery']} ms of CPU per delivery"
        )
    lines.append("targets:")
    lines.extend(target_line(name, entry) for name, entry in report["scenarios"].items())
    for name, entry in report["scenarios"].items():
        lines.extend(f"PROBLEM in {name}: {problem}" for problem in entry.get("problems", []))
    return "\n".join(lines)


def chart(report: dict[str, Any], path: Path) -> None:
    """Bars of throughput, Orderly against its reference, per scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, ours, theirs, labels = [], [], [], []
    for name, entry in report["scenarios"].items():
        reference = entry.get("pgbench") or entry.get("baseline")
        if reference is None:
            continue
        names.append(name + ("\n(vs pgbench)" if "pgbench" in entry else ""))
        ours.append(entry["orderly"]["rps"])
        theirs.append(reference["rps"])
        labels.append(entry.get("ratio"))
    figure, axes = plt.subplots(figsize=(10, 4.8), dpi=110)
    positions = range(len(names))
    width = 0.38
    axes.bar(
        [p - width / 2 for p in positions],
        theirs,
        width,
        label="bare FastAPI + asyncpg (hot_sku: pgbench)",
        color="#9aa5b1",
    )
    bars = axes.bar(
        [p + width / 2 for p in positions], ours, width, label="Orderly", color="#1f6feb"
    )
    for bar, ratio in zip(bars, labels, strict=True):
        if ratio is not None:
            axes.annotate(
                f"{ratio:.2f}x",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=9,
            )
    axes.set_xticks(list(positions), names, fontsize=9)
    axes.set_ylabel("requests per second")
    machine = report["machine"]
    axes.set_title(
        f"Orderly vs a bare handler, same SQL ({machine['cpu_model']}, {machine['cores']} cores)",
        fontsize=10,
    )
    axes.legend(fontsize=9)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    for tool in ("wrk", "pgbench", "taskset"):
        if shutil.which(tool) is None:
            print(
                f"error: {tool} is not installed (Debian: apt-get install wrk postgresql-client "
                "util-linux)",
                file=sys.stderr,
            )
            return 2
    with orders.signals_interrupt(), contextlib.ExitStack() as stack:
        try:
            report = bench(config, stack)
        except orders.BenchError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted: stopping what was started", file=sys.stderr)
            return 130
    RESULTS.mkdir(exist_ok=True)
    stem = ("scale-" if config.scale else "") + ("quick" if config.quick else "latest")
    paths = [RESULTS / f"{stem}.json"] + ([config.json_path] if config.json_path else [])
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)  # .bench-tmp goes with the run's files
        path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    chart(report, RESULTS / f"{stem}.png")
    print(render(report))
    print(f"\nresults: {', '.join(str(p) for p in paths)}; chart: {RESULTS / f'{stem}.png'}")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())

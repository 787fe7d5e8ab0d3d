"""Orderly's API and the bare baseline called in one process: CPU per request, and FastAPI's part.

Run from the repository root (it is not a test)::

    uv run python bench/inprocess.py                          # five reads, about a minute
    uv run python bench/inprocess.py --scenarios order_list --profile .bench-tmp/profiles

Both applications (``orderly_http.app:create_app`` and ``bench/baseline.py``) are called as
ASGI applications, one request after another, with no server and no socket in between, against
the same embedded PostgreSQL, seeded as ``bench/run.py`` seeds it (300 products, 3 customers
with their orders), with an admin and 60 audit entries for ``audit_list``. On a machine with
two cores or more this process runs on core 0 and PostgreSQL on core 1, as ``bench/run.py``
places the APIs and the database.

For each read it prints the CPU time per request of each application (the best of five
rounds of ``--requests``/5, the two taking turns), their ratio (the baseline's over Orderly's:
what ``bench/run.py``'s ratio would be if the server and the load generator cost nothing), and
how much of each request's CPU FastAPI spent solving its parameters and dependencies
(``solve_dependencies``: reading each declared query parameter and header, and running each
dependency, the audit list's account check included). With ``--concurrency`` above 1 that
column holds only for routes whose dependencies do no I/O: CPU time is the process's, and
another request's runs while one waits.
``--profile DIR`` also writes a cProfile of Orderly's requests per scenario
(``DIR/<scenario>.prof``, for ``python -m pstats``). ``--concurrency 16`` keeps 16 requests in
flight, as wrk's 16 connections do: each request then shares the event loop's wake-ups with
others, which changes what a request costs (both applications get cheaper per request).

What it leaves out is what the server does (uvicorn's parsing and writing, the same for both)
and what only load shows (waiting for connections, PostgreSQL's core shared with wrk): those
are ``bench/run.py``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import secrets
import shutil
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastapi.routing
import uvloop
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message

from orderly_db import migrate
from orderly_db.engine import create_engine, transaction
from orderly_db.tables import audit_entries, users

if TYPE_CHECKING:  # mypy, run from the repository root, knows bench/ as the package bench
    from bench import baseline, orders, run
else:  # run as a script, bench/ comes first on sys.path
    import baseline
    import orders
    import run

SCENARIOS = ("product_get", "product_list", "order_get", "order_list", "audit_list")
PRODUCTS = 300
CUSTOMERS = 3
AUDIT_ENTRIES = 60
ROUNDS = 5
WARMUP = 100


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    headers: list[tuple[bytes, bytes]]


@dataclass(slots=True)
class Timer:
    """CPU time spent in ``solve_dependencies`` by the application being measured."""

    seconds: float = 0.0
    calls: int = 0
    depth: int = 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=5000, help="per application (5000)")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, in order (default: {','.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="requests in flight at once (1; bench/run.py's wrk keeps 16)",
    )
    parser.add_argument("--profile", type=Path, help="write a cProfile of Orderly per scenario")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if args.concurrency < 1 or args.requests < ROUNDS * args.concurrency:
        parser.error("--requests must be at least five times --concurrency, which is 1 or more")
    return args


async def call(app: ASGIApp, request: Request) -> int:
    """One GET through ``app``; its status."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    path, _, query = request.path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *request.headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


async def measure(  # noqa: PLR0917 - one measurement's facts
    apps: Sequence[ASGIApp],
    request: Request,
    requests: int,
    concurrency: int,
    timer: Timer,
    profile: Path | None,
) -> list[tuple[float, float]]:
    """For each app, CPU microseconds per request and FastAPI's share of them: the best of
    :data:`ROUNDS` rounds, the apps taking turns round by round, so that both meet the same
    moments of a machine whose speed drifts (a shared virtual machine's does)."""
    for app in apps:
        for _ in range(WARMUP):
            status = await call(app, request)
            if status != 200:
                raise orders.BenchError(f"{request.path} answered {status}")
    best = [(float("inf"), 0.0) for _ in apps]
    each = requests // ROUNDS // concurrency
    per_round = each * concurrency

    async def requests_of(app: ASGIApp) -> None:
        for _ in range(each):
            await call(app, request)

    for _ in range(ROUNDS):
        for index, app in enumerate(apps):
            timer.seconds, timer.calls = 0.0, 0
            started = time.process_time()
            with _profiled(profile if index == 0 else None):
                await asyncio.gather(*(requests_of(app) for _ in range(concurrency)))
            spent = (time.process_time() - started) / per_round * 1e6
            best[index] = min(best[index], (spent, timer.seconds / per_round * 1e6))
    return best


@contextlib.contextmanager
def _profiled(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        path.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(path)


def time_dependencies(timer: Timer) -> None:
    """Count the CPU of FastAPI's ``solve_dependencies`` (the outermost call of each request)
    into ``timer``. FastAPI's routes look it up in ``fastapi.routing`` on every request."""
    namespace = vars(fastapi.routing)
    solve: Callable[..., Awaitable[Any]] = namespace["solve_dependencies"]

    async def timed(*args: Any, **kwargs: Any) -> Any:
        outermost = timer.depth == 0
        timer.depth += 1
        started = time.process_time()
        try:
            return await solve(*args, **kwargs)
        finally:
            timer.depth -= 1
            if outermost:
                timer.seconds += time.process_time() - started
                timer.calls += 1

    namespace["solve_dependencies"] = timed


async def compare(args: argparse.Namespace, servers: orders.Servers) -> None:
    settings = orders.infra_settings(servers)
    engine = create_engine(settings, application_name="orderly-bench")
    try:
        await migrate.upgrade(engine, "head")
        config = run.parse_args(["--products", str(PRODUCTS), "--customers", str(CUSTOMERS)])
        dataset = await run.seed_rows(engine, settings, config, secrets.token_hex(3).upper())
        admin = await seed_audit(engine, dataset)
    finally:
        await engine.dispose()
    secret = secrets.token_urlsafe(48)
    os.environ.update(
        {key: value for key, value in orders.api_environment(settings).items() if key.isupper()}
        | {"JWT_SECRET": secret}
    )
    customer_id = dataset.customers[0][0]
    token = run.access_tokens(secret, dataset.customers[:1])[0]
    signed_in = [(b"authorization", f"Bearer {token}".encode())]
    admin_token = run.access_tokens(secret, [admin], "admin")[0]
    requests = {
        "product_get": Request(f"/api/v1/products/{dataset.skus[len(dataset.skus) // 2]}", []),
        "product_list": Request("/api/v1/products?limit=50", []),
        "order_get": Request(f"/api/v1/orders/{dataset.orders[customer_id][0]}", signed_in),
        "order_list": Request("/api/v1/orders?limit=50", signed_in),
        "audit_list": Request(
            "/api/v1/audit?limit=50", [(b"authorization", f"Bearer {admin_token}".encode())]
        ),
    }
    from orderly_http.app import create_app

    orderly, bare = create_app(), baseline.create_app()
    timer = Timer()
    time_dependencies(timer)
    print(
        f"{'scenario':13} {'Orderly CPU/req':>16} {'baseline CPU/req':>17} {'ratio':>6} "
        f"{'FastAPI params, Orderly':>24} {'baseline':>9}"
    )
    async with orderly.router.lifespan_context(orderly), bare.router.lifespan_context(bare):
        run.pin_tree(servers.postgres_pid, 1 if _pinned() else None)
        for name in args.scenarios.split(","):
            profile = args.profile / f"{name}.prof" if args.profile else None
            measured = await measure(
                (orderly, bare), requests[name], args.requests, args.concurrency, timer, profile
            )
            (ours, our_params), (theirs, their_params) = measured
            print(
                f"{name:13} {ours:13.0f} us {theirs:14.0f} us {theirs / ours:6.2f} "
                f"{our_params:21.0f} us {their_params:6.0f} us",
                flush=True,
            )


async def seed_audit(engine: AsyncEngine, dataset: run.Dataset) -> tuple[str, str]:
    """An admin, the audit list's reader, and :data:`AUDIT_ENTRIES` entries of placed orders
    shaped as ``bench/scale.py`` writes them; the admin's (id, email)."""
    now = datetime.now(UTC)
    admin = (str(uuid.uuid4()), f"inprocess-{secrets.token_hex(3)}-admin@example.com")
    customer_id = dataset.customers[0][0]
    async with transaction(engine) as connection:
        password = await connection.scalar(select(users.c.password_hash).limit(1))
        await connection.execute(
            insert(users).values(
                id=uuid.UUID(admin[0]),
                email=admin[1],
                display_name="Bench admin",
                password_hash=password,
                role="admin",
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
        await connection.execute(
            insert(audit_entries),
            [
                {
                    "id": uuid.uuid4(),
                    "at": now - timedelta(seconds=index),
                    "actor_kind": "user",
                    "actor_id": customer_id,
                    "actor_role": "customer",
                    "operation": "order.place",
                    "target_type": "order",
                    "target_id": str(uuid.uuid4()),
                    "request_id": "bench",
                    "idempotency_key": f"bench-{index}",
                    "mode": "execute",
                    "changes": {
                        "after": {
                            "status": "placed",
                            "lines": [{"sku": sku, "quantity": 1} for sku in dataset.skus[:2]],
                        }
                    },
                }
                for index in range(AUDIT_ENTRIES)
            ],
        )
    return admin


def _pinned() -> bool:
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(".bench-tmp") / f"inprocess-{secrets.token_hex(3)}"
    workdir.mkdir(parents=True)
    if _pinned():
        os.sched_setaffinity(0, {0})
    try:
        with contextlib.ExitStack() as stack:
            servers = orders.start_servers(workdir, stack)
            asyncio.run(compare(args, servers), loop_factory=uvloop.new_event_loop)
    except orders.BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

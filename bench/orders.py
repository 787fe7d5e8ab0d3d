"""Order placement over HTTP against the real stack: orders per second and latency.

Run by hand from the repository root (it is not a test)::

    uv run python bench/orders.py              # 20 s per scenario
    uv run python bench/orders.py --quick      # 5 s per scenario, under a minute in all
    uv run python bench/orders.py --json results.json --concurrency 32 --workers 2

What runs
    Embedded PostgreSQL and Redis (Orderly's own helpers, data in a fresh directory under
    ``.bench-tmp/`` in the repository, removed at the end), or the servers named by
    ``--database-url`` / ``--redis-url``. The schema is migrated to head and seeded through
    the core's use cases: products with ample stock and customer accounts (Argon2id at its
    cheapest, so that signing in is not what is measured). The API runs as a subprocess,
    exactly as ``orderly serve`` starts it (uvicorn, uvloop, httptools, no access log,
    ``ENVIRONMENT=production``, ``LOG_LEVEL=WARNING``), on a free port of 127.0.0.1.

What is measured
    ``place``: ``--concurrency`` clients, each sending ``POST /api/v1/orders`` (1-3 random
    distinct SKUs, quantity 1, a new ``Idempotency-Key`` each time, as a random signed-in
    customer) and waiting for the answer before sending the next. Expected: 201.

    ``replay``: K orders are placed first (not measured); then the clients resend exactly
    those requests (same customer, key and body). Each key belongs to one client, so no two
    retries of one key are in flight at once. Expected: 201, ``Idempotent-Replayed: true``,
    and the body, ``ETag`` and ``Location`` of the first answer, byte for byte (every answer
    is checked).

    Each scenario starts with an uncounted warm-up (``--warmup``, 2 s), then runs for
    ``--duration`` seconds; requests still in flight at the end are awaited and counted.

How to read the figures
    ``requests`` counts every answer and transport failure; ``errors`` those that were not
    the expected answer (their kinds are listed under the table). ``req/s`` is the number of
    expected answers divided by the measured time. Latencies (ms) are those of the expected
    answers, from just before the request is written to when the whole body has been read,
    as the client saw them: they include the client's own scheduling delays.

    The load is a closed loop: at most ``--concurrency`` requests are in flight, so
    throughput is about concurrency / mean latency, the server is never pushed past that
    many, and latencies are not those an open stream of arrivals would meet. Raise the
    concurrency until req/s stops growing to find the saturation point; beyond it only the
    latency grows.

    The load generator, the API and PostgreSQL share the machine. The CPU table shows, as a
    share of one core (100% = one core busy for the whole scenario), what each took during
    the measured run: ``client`` (this process), ``API`` (the uvicorn processes),
    ``PostgreSQL`` and ``Redis`` (the embedded servers' process trees; n/a for external
    ones), ``other`` (anything else on the machine, such as a test run), ``steal`` (taken by
    the hypervisor) and ``idle``. On a small machine the client's share is capacity the API
    did not get. ``--pin`` puts the API on the first usable core and this process on the
    second; PostgreSQL and Redis stay free to use both.

The load generator
    By default a minimal HTTP/1.1 client on asyncio streams (keep-alive, one connection per
    concurrent client), about 0.5 ms of CPU per request here. ``--client httpx`` uses
    ``httpx.AsyncClient`` with a pool of ``--concurrency`` connections instead; with httpcore
    1.0.9 it costs 5-10 ms of CPU per request on this kind of machine (its pool re-scans
    every connection on each assignment, and with anyio >= 4.11, which no longer installs
    sniffio, it retries a failing ``import sniffio`` on every lock it creates), which is
    enough to take a quarter to half a core from the API at this load. The report names the
    client used and its CPU share.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import logging
import math
import os
import platform
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from returns.pipeline import is_successful
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_cli import embedded
from orderly_cli.processes import answers_health, api_argv
from orderly_core.accounts.registration import NewUser, create_user
from orderly_core.catalogue.use_cases import NewProduct, create_product
from orderly_core.shared.context import Actor, Context, Role
from orderly_core.unit_of_work import Dependencies
from orderly_db import migrate
from orderly_db.engine import create_engine
from orderly_db.settings import ConfigurationError, InfraSettings, load_settings
from orderly_db.unit_of_work import dependencies_from_settings

REPO = Path(__file__).resolve().parent.parent
TMP_ROOT = REPO / ".bench-tmp"
DATABASE_NAME = "orderly_bench"
HOST = "127.0.0.1"
ORDERS_PATH = "/api/v1/orders"
TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
PASSWORD = "bench-password-0123"  # noqa: S105 - the seeded customers' password
REPLAYED = "idempotent-replayed"
OPERATOR = Context(Actor.operator("bench"), request_id="bench")
HASH_SETTINGS = {"password_hash_time_cost": 1, "password_hash_memory_kib": 8192}
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
REQUEST_TIMEOUT_S = 30.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
CLIENT_NAMES = {"httpx": "httpx.AsyncClient", "raw": "raw asyncio HTTP/1.1"}
USABLE_CORES = sorted(os.sched_getaffinity(0))


class BenchError(Exception):
    """The benchmark could not run; the message says why."""


@dataclass(frozen=True, slots=True)
class Config:
    concurrency: int
    duration_s: float
    warmup_s: float
    workers: int
    client: str
    products: int
    customers: int
    replay_keys: int
    pin: bool
    quick: bool
    database_url: str | None
    redis_url: str | None
    json_path: Path | None


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        description="Order placement over HTTP against the real stack (see the module doc)."
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="short run: 5 s per scenario unless --duration")
    add("--concurrency", type=_positive, default=16, help="concurrent clients (16)")
    add("--duration", type=float, default=None, help="seconds per scenario (20; quick: 5)")
    add("--warmup", type=float, default=2.0, help="uncounted seconds before each scenario (2)")
    add("--workers", type=_positive, default=1, help="uvicorn worker processes (1)")
    add("--client", choices=sorted(CLIENT_NAMES), default="raw", help="load generator (raw)")
    add("--products", type=_positive, default=200, help="products to seed (200)")
    add("--customers", type=_positive, default=50, help="customers to seed (50)")
    add("--replay-keys", type=_positive, default=200, help="orders replayed (200)")
    add("--pin", action="store_true", help="API on the first usable core, client on the second")
    add("--database-url", help="use this PostgreSQL (migrated and written to) instead")
    add("--redis-url", help="use this Redis instead of an embedded one")
    add("--json", type=Path, dest="json_path", help="also write the results to this file")
    args = parser.parse_args(argv)
    duration = args.duration if args.duration is not None else (5.0 if args.quick else 20.0)
    if duration <= 0 or args.warmup < 0:
        parser.error("--duration must be positive and --warmup not negative")
    if args.pin and len(USABLE_CORES) < 2:
        parser.error("--pin needs at least two usable cores")
    return Config(
        concurrency=args.concurrency,
        duration_s=duration,
        warmup_s=args.warmup,
        workers=args.workers,
        client=args.client,
        products=args.products,
        customers=args.customers,
        replay_keys=max(args.replay_keys, args.concurrency),
        pin=args.pin,
        quick=args.quick,
        database_url=args.database_url,
        redis_url=args.redis_url,
        json_path=args.json_path,
    )


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- HTTP clients -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class Client(Protocol):
    async def send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply: ...

    async def aclose(self) -> None: ...


class HttpxClient:
    """httpx.AsyncClient with one pooled keep-alive connection per concurrent client."""

    def __init__(self, base_url: str, pool: int) -> None:
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        self._client = httpx.AsyncClient(
            base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_S, trust_env=False
        )

    async def send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        response = await self._client.request(method, path, headers=headers, content=body)
        answer = {name.lower(): value for name, value in response.headers.items()}
        return Reply(response.status_code, answer, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()


type _Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class RawClient:
    """HTTP/1.1 over asyncio streams: keep-alive connections reused last-in first-out,
    Content-Length or chunked bodies. Enough for this API, and cheap."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._idle: list[_Stream] = []

    async def send(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        stream = await self._stream()
        reusable = False
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                stream[1].write(self._head(method, path, headers, len(body)) + body)
                reply, reusable = await _read_reply(stream[0])
        finally:
            if reusable:
                self._idle.append(stream)
            else:
                stream[1].close()
        return reply

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _stream(self) -> _Stream:
        """The most recently used idle connection the server has not closed, or a new one."""
        while self._idle:
            stream = self._idle.pop()
            if not stream[0].at_eof():
                return stream
            stream[1].close()
        return await self._connect()

    async def _connect(self) -> _Stream:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            return await asyncio.open_connection(self._host, self._port)

    def _head(self, method: str, path: str, headers: dict[str, str], length: int) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}:{self._port}"]
        lines += [f"Content-Length: {length}", *(f"{k}: {v}" for k, v in headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_reply(reader: asyncio.StreamReader) -> tuple[Reply, bool]:
    """One response, and whether its connection may carry another request."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    reusable = headers.get("connection", "").lower() != "close"
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await read_chunked(reader)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body, reusable = await reader.read(), False
    return Reply(status, headers, body), reusable


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields
        pass
    return b"".join(parts)


@contextlib.asynccontextmanager
async def open_client(kind: str, port: int, pool: int) -> AsyncIterator[Client]:
    client: Client = (
        HttpxClient(f"http://{HOST}:{port}", pool) if kind == "httpx" else RawClient(HOST, port)
    )
    try:
        yield client
    finally:
        await client.aclose()


TRANSPORT_ERRORS = (
    OSError,
    EOFError,
    TimeoutError,
    ValueError,
    asyncio.LimitOverrunError,
    httpx.HTTPError,
)


# --- The workload -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRequest:
    authorization: str
    key: str
    body: bytes

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": self.authorization,
            "Idempotency-Key": self.key,
            "Content-Type": "application/json",
        }


type Check = Callable[[Reply], str | None]
"""None when the reply is the expected one, else what was wrong with it."""
type NextRequest = Callable[[], tuple[OrderRequest, Check]]


def new_order(rng: random.Random, skus: Sequence[str], tokens: Sequence[str]) -> OrderRequest:
    chosen = rng.sample(skus, rng.randint(1, min(3, len(skus))))
    lines = [{"sku": sku, "quantity": 1} for sku in chosen]
    body = json.dumps({"lines": lines}, separators=(",", ":")).encode()
    return OrderRequest(rng.choice(tokens), str(uuid.uuid4()), body)


def problem_of(reply: Reply) -> str:
    """``HTTP <status> <code>``, the code taken from a problem document when there is one."""
    try:
        document = json.loads(reply.body)
    except ValueError:
        document = None
    code = document.get("code", "") if isinstance(document, dict) else ""
    return f"HTTP {reply.status} {code}".rstrip()


def check_placed(reply: Reply) -> str | None:
    if reply.status != 201:
        return problem_of(reply)
    if reply.headers.get(REPLAYED) is not None:
        return "new key answered as a replay"
    return None


def replay_check(first: Reply) -> Check:
    """The check of a retry: the first answer again, marked as replayed."""

    def check(reply: Reply) -> str | None:
        if reply.status != first.status:
            return problem_of(reply)
        if reply.headers.get(REPLAYED) != "true":
            return "not marked Idempotent-Replayed: true"
        if reply.body != first.body:
            return "body differs (same JSON)" if same_json(reply, first) else "body differs"
        for name in ("etag", "location"):
            if reply.headers.get(name) != first.headers.get(name):
                return f"{name} differs"
        return None

    return check


def same_json(one: Reply, other: Reply) -> bool:
    try:
        return bool(json.loads(one.body) == json.loads(other.body))
    except ValueError:
        return False


@dataclass
class Tally:
    latencies_s: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)


async def _client_loop(
    client: Client, next_request: NextRequest, deadline: float, tally: Tally
) -> None:
    while time.perf_counter() < deadline:
        request, check = next_request()
        started = time.perf_counter()
        try:
            reply = await client.send("POST", ORDERS_PATH, request.headers(), request.body)
        except TRANSPORT_ERRORS as error:
            tally.failures[f"transport: {type(error).__name__}"] += 1
            await asyncio.sleep(0.05)
            continue
        elapsed = time.perf_counter() - started
        problem = check(reply)
        if problem is None:
            tally.latencies_s.append(elapsed)
        else:
            tally.failures[problem] += 1


async def run_phase(
    client: Client, loops: Sequence[NextRequest], seconds: float
) -> tuple[Tally, float]:
    """Every loop runs for ``seconds``; the tally, and the time until the last answer."""
    tally = Tally()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client_loop(client, loop, deadline, tally) for loop in loops))
    return tally, time.perf_counter() - started


async def gather_bounded[T](jobs: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    semaphore = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await job()

    return list(await asyncio.gather(*(run(job) for job in jobs)))


# --- CPU accounting -----------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    at: float
    client_s: float
    parties: dict[str, int | None]  # clock ticks of each party's process tree
    machine: tuple[int, int, int]  # ticks: busy (steal excluded), steal, all


def _process_table() -> dict[int, tuple[int, int]]:
    """pid: (parent pid, clock ticks used by it and by its waited-for children)."""
    table: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), sum(int(value) for value in fields[11:15]))
    return table


def _tree_ticks(table: dict[int, tuple[int, int]], root: int) -> int | None:
    if root not in table:
        return None
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += table[pid][1]
        pending.extend(children.get(pid, ()))
    return total


def _machine_ticks() -> tuple[int, int, int]:
    with Path("/proc/stat").open() as stat:
        values = [int(value) for value in stat.readline().split()[1:9]]
    idle, steal, total = values[3] + values[4], values[7], sum(values)
    return total - idle - steal, steal, total


class CpuProbe:
    """CPU used between two snapshots by this process, by process trees named by their root
    pid (None: not on this machine), and by the whole machine."""

    def __init__(self, roots: dict[str, int | None]) -> None:
        self._roots = roots
        lines = Path("/proc/stat").read_text().splitlines()
        self.cores = sum(1 for line in lines if line[:3] == "cpu" and line[3:4].isdigit())

    def snapshot(self) -> CpuSnapshot:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        table = _process_table()
        parties = {
            name: None if root is None else _tree_ticks(table, root)
            for name, root in self._roots.items()
        }
        return CpuSnapshot(
            time.perf_counter(), usage.ru_utime + usage.ru_stime, parties, _machine_ticks()
        )

    def split(self, before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float | None]:
        """Each party's share of one core (%), then other, steal and idle."""
        wall = after.at - before.at
        shares: dict[str, float | None] = {"client": (after.client_s - before.client_s) / wall}
        for name, ticks in after.parties.items():
            previous = before.parties[name]
            used = None if ticks is None or previous is None else ticks - previous
            shares[name] = None if used is None else used / CLOCK_TICKS / wall
        busy, steal, total = (a - b for a, b in zip(after.machine, before.machine, strict=True))
        known = sum(share for share in shares.values() if share is not None)
        machine_busy = self.cores * busy / total if total else 0.0
        stolen = self.cores * steal / total if total else 0.0
        shares["other"] = max(0.0, machine_busy - known)
        shares["steal"] = stolen
        shares["idle"] = max(0.0, self.cores - machine_busy - stolen)
        return {name: None if s is None else round(100 * s, 1) for name, s in shares.items()}


# --- Scenarios ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    name: str
    expected: str
    requests: int
    errors: int
    error_kinds: dict[str, int]
    elapsed_s: float
    throughput_rps: float
    latency_ms: dict[str, float | None]
    cpu_percent_of_one_core: dict[str, float | None]


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def latency_marks(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50, p90, p99, max and mean of durations in seconds, in milliseconds (0.01 ms)."""
    ordered = sorted(seconds)
    marks = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "max": 1.0}
    latency = {
        mark: None if (value := percentile(ordered, fraction)) is None else value * 1000
        for mark, fraction in marks.items()
    }
    latency["mean"] = 1000 * sum(ordered) / len(ordered) if ordered else None
    return {mark: None if v is None else round(v, 2) for mark, v in latency.items()}


def summarise(
    name: str, expected: str, tally: Tally, elapsed: float, cpu: dict[str, float | None]
) -> ScenarioResult:
    ordered = tally.latencies_s
    errors = sum(tally.failures.values())
    return ScenarioResult(
        name=name,
        expected=expected,
        requests=len(ordered) + errors,
        errors=errors,
        error_kinds=dict(tally.failures.most_common()),
        elapsed_s=round(elapsed, 3),
        throughput_rps=round(len(ordered) / elapsed, 1),
        latency_ms=latency_marks(ordered),
        cpu_percent_of_one_core=cpu,
    )


async def measure(
    name: str,
    expected: str,
    *,
    client: Client,
    loops: Sequence[NextRequest],
    config: Config,
    probe: CpuProbe,
) -> ScenarioResult:
    progress(f"{name}: {config.warmup_s:g} s warm-up, then {config.duration_s:g} s measured")
    if config.warmup_s > 0:
        await run_phase(client, loops, config.warmup_s)
    before = probe.snapshot()
    tally, elapsed = await run_phase(client, loops, config.duration_s)
    return summarise(name, expected, tally, elapsed, probe.split(before, probe.snapshot()))


async def place_scenario(
    client: Client, config: Config, skus: Sequence[str], tokens: Sequence[str], probe: CpuProbe
) -> ScenarioResult:
    rng = random.Random()

    def next_request() -> tuple[OrderRequest, Check]:
        return new_order(rng, skus, tokens), check_placed

    loops = [next_request] * config.concurrency
    return await measure(
        "place", "201, new order", client=client, loops=loops, config=config, probe=probe
    )


async def replay_scenario(
    client: Client, config: Config, skus: Sequence[str], tokens: Sequence[str], probe: CpuProbe
) -> ScenarioResult:
    primed = await prime_replays(client, config, skus, tokens)
    loops = [
        itertools.cycle(primed[index :: config.concurrency]).__next__
        for index in range(config.concurrency)
    ]
    expected = "201, Idempotent-Replayed: true, first answer byte for byte"
    return await measure("replay", expected, client=client, loops=loops, config=config, probe=probe)


async def prime_replays(
    client: Client, config: Config, skus: Sequence[str], tokens: Sequence[str]
) -> list[tuple[OrderRequest, Check]]:
    """Place the orders to be replayed; each with the check of its retries."""
    progress(f"replay: placing the {config.replay_keys} orders to replay")
    rng = random.Random()
    requests = [new_order(rng, skus, tokens) for _ in range(config.replay_keys)]

    def place(request: OrderRequest) -> Awaitable[Reply]:
        return client.send("POST", ORDERS_PATH, request.headers(), request.body)

    jobs = [functools.partial(place, request) for request in requests]
    replies = await gather_bounded(jobs, config.concurrency)
    failed = [problem_of(reply) for reply in replies if reply.status != 201]
    if failed:
        raise BenchError(f"{len(failed)} of the orders to replay failed: {Counter(failed)}")
    return [(r, replay_check(reply)) for r, reply in zip(requests, replies, strict=True)]


async def sign_in_all(client: Client, emails: Sequence[str], limit: int) -> list[str]:
    """The ``Authorization`` header value of each customer."""

    async def sign_in(email: str) -> str:
        form = urlencode({"username": email, "password": PASSWORD}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        reply = await client.send("POST", TOKEN_PATH, headers, form)
        if reply.status != 200:
            raise BenchError(f"sign-in of {email} answered {problem_of(reply)}: {reply.body!r}")
        return f"Bearer {json.loads(reply.body)['access_token']}"

    progress(f"signing in {len(emails)} customers")
    return await gather_bounded([functools.partial(sign_in, email) for email in emails], limit)


async def run_scenarios(
    config: Config, port: int, seeded: Seeded, probe: CpuProbe
) -> list[ScenarioResult]:
    async with open_client(config.client, port, config.concurrency) as client:
        tokens = await sign_in_all(client, seeded.emails, config.concurrency)
        place = await place_scenario(client, config, seeded.skus, tokens, probe)
        replay = await replay_scenario(client, config, seeded.skus, tokens, probe)
    return [place, replay]


# --- The stack ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Servers:
    database_url: str
    redis_url: str
    postgres_pid: int | None  # None: not embedded
    redis_pid: int | None


@dataclass(frozen=True, slots=True)
class Seeded:
    skus: list[str]
    emails: list[str]
    postgres_version: str


@dataclass(frozen=True, slots=True)
class Api:
    process: subprocess.Popen[bytes]
    port: int
    log: Path


def make_workdir(stack: contextlib.ExitStack) -> Path:
    """A fresh directory under the repository (embedded PostgreSQL adds o+x to the parents
    of its data directory, so it must not be under /tmp or home); removed at the end."""
    workdir = TMP_ROOT / secrets.token_hex(4)
    workdir.mkdir(parents=True)
    stack.callback(_remove_workdir, workdir)
    stack.callback(embedded.stop_all)
    return workdir


def _remove_workdir(workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    with contextlib.suppress(OSError):
        TMP_ROOT.rmdir()


def start_servers(
    workdir: Path,
    stack: contextlib.ExitStack,
    database_url: str | None = None,
    redis_url: str | None = None,
) -> Servers:
    """Embedded PostgreSQL and Redis in ``workdir``, stopped by ``stack``, unless given."""
    postgres_pid = None
    if database_url is None:
        postgres_dir = workdir / "pg"
        stack.callback(embedded.EmbeddedPostgres(postgres_dir, postgres_dir, 0).stop)
        progress("starting embedded PostgreSQL")
        postgres = embedded.start_postgres(postgres_dir)
        stack.callback(postgres.stop)
        embedded.create_database(postgres, DATABASE_NAME)
        database_url, postgres_pid = postgres.url(DATABASE_NAME), _postmaster_pid(postgres_dir)
    redis_pid = None
    if redis_url is None:
        redis_dir = workdir / "redis"
        stack.callback(embedded.EmbeddedRedis(redis_dir, 0, None).stop)
        progress("starting embedded Redis")
        redis = embedded.start_redis(redis_dir)
        stack.callback(redis.stop)
        redis_url, redis_pid = redis.url, redis.pid
    return Servers(database_url, redis_url, postgres_pid, redis_pid)


def infra_settings(servers: Servers) -> InfraSettings:
    """The settings of the benchmark's own connections (and of the API): these servers, and
    Argon2id at its cheapest."""
    try:
        return load_settings(
            InfraSettings,
            database_url=servers.database_url,
            redis_url=servers.redis_url,
            **HASH_SETTINGS,
        )
    except ConfigurationError as error:
        raise BenchError(str(error)) from None


def _postmaster_pid(data_dir: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    return None


async def prepare_database(settings: InfraSettings, products: int, customers: int) -> Seeded:
    """Migrate to head and seed products and customers through the core."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    engine = create_engine(settings, application_name="orderly-bench")
    try:
        progress("migrating the schema to head")
        await migrate.upgrade(engine, "head")
        deps = dependencies_from_settings(engine, settings)
        run = secrets.token_hex(3).upper()  # unique names: a given database may be reused
        progress(f"seeding {products} products and {customers} customers")
        skus = await seed_products(deps, products, run)
        emails = await seed_customers(deps, customers, run)
        return Seeded(skus, emails, await _postgres_version(engine))
    finally:
        await engine.dispose()


async def seed_products(deps: Dependencies, count: int, run: str) -> list[str]:
    skus: list[str] = []
    for index in range(count):
        sku = f"BENCH-{run}-{index:04d}"
        new = NewProduct(
            sku=sku, name=f"Bench product {index}", unit_price=1250, currency="EUR",
            on_hand=1_000_000,
        )  # fmt: skip
        result = await create_product(deps, OPERATOR, new)
        if not is_successful(result):
            raise BenchError(f"could not create product {sku}: {result.failure()}")
        skus.append(sku)
    return skus


async def seed_customers(deps: Dependencies, count: int, run: str) -> list[str]:
    emails: list[str] = []
    for index in range(count):
        email = f"bench-{run.lower()}-{index:03d}@example.com"
        new = NewUser(email, PASSWORD, f"Bench customer {index}", Role.CUSTOMER)
        result = await create_user(deps, OPERATOR, new)
        if not is_successful(result):
            raise BenchError(f"could not create customer {email}: {result.failure()}")
        emails.append(email)
    return emails


async def _postgres_version(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return str(await connection.scalar(text("select version()")))


def start_api(
    settings: InfraSettings,
    workdir: Path,
    stack: contextlib.ExitStack,
    *,
    workers: int,
    pin: bool = False,
    env: Mapping[str, str] | None = None,
) -> Api:
    """uvicorn as ``orderly serve`` runs it, with ``env`` (by default
    :func:`api_environment`), in its own process group (a Ctrl-C reaches only this process,
    which then stops the API)."""
    port = _free_port()
    argv = api_argv(HOST, port, production=True, workers=workers, log_level="warning")
    log = workdir / "api.log"
    progress(f"starting the API ({workers} worker(s)) on {HOST}:{port}")
    if pin:
        os.sched_setaffinity(0, {USABLE_CORES[0]})  # inherited by the API and its workers
    try:
        process = spawn(argv, api_environment(settings) if env is None else env, log, stack)
    finally:
        if pin:
            os.sched_setaffinity(0, {USABLE_CORES[1]})
    return Api(process, port, log)


def spawn(
    argv: Sequence[str], env: Mapping[str, str], log: Path, stack: contextlib.ExitStack
) -> subprocess.Popen[bytes]:
    """``argv`` in a process group of its own, its output in ``log``; ``stack`` stops it
    (see :func:`stop_process`)."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            process_group=0,
        )  # fmt: skip
    stack.callback(stop_process, process)
    return process


def api_environment(settings: InfraSettings) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ENVIRONMENT": "production",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "PASSWORD_HASH_TIME_COST": str(settings.password_hash_time_cost),
        "PASSWORD_HASH_MEMORY_KIB": str(settings.password_hash_memory_kib),
        # Benchmark customers place many orders and pay none: the limit of unpaid orders
        # per customer would turn most placements into refusals.
        "MAX_OPEN_UNPAID_ORDERS": "1000",
        "PYTHONUNBUFFERED": "1",
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_ready(api: Api) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not answers_health(f"http://{HOST}:{api.port}/ready"):
        if api.process.poll() is not None:
            raise BenchError(f"the API exited with code {api.process.returncode}\n{tail(api.log)}")
        if time.monotonic() > deadline:
            reason = f"GET /ready did not answer 200 within {READY_TIMEOUT_S:g} s"
            raise BenchError(f"{reason}\n{tail(api.log)}")
        time.sleep(0.1)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group, SIGKILL to whatever is left after the grace."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_GRACE_S)
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def tail(log: Path, lines: int = 20) -> str:
    try:
        content = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(content[-lines:])


# --- Orchestration and report -------------------------------------------------------------


def bench(config: Config, stack: contextlib.ExitStack) -> dict[str, Any]:
    started = datetime.now(UTC)
    workdir = make_workdir(stack)
    servers = start_servers(workdir, stack, config.database_url, config.redis_url)
    settings = infra_settings(servers)
    seeded = asyncio.run(prepare_database(settings, config.products, config.customers))
    api = start_api(settings, workdir, stack, workers=config.workers, pin=config.pin)
    wait_until_ready(api)
    roots = {
        "API": api.process.pid,
        "PostgreSQL": servers.postgres_pid,
        "Redis": servers.redis_pid,
    }
    scenarios = asyncio.run(run_scenarios(config, api.port, seeded, CpuProbe(roots)))
    if api.process.poll() is not None:
        raise BenchError(f"the API exited during the run\n{tail(api.log)}")
    return {
        "benchmark": "orders",
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "software": software_info(seeded.postgres_version),
        "config": config_info(config, settings, servers),
        "scenarios": [asdict(result) for result in scenarios],
        "api_log": tail(api.log).splitlines(),
    }


def machine_info() -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(USABLE_CORES),
        "ram_gib": round(_mem_total_kib() / 1024**2, 1),
        "kernel": platform.release(),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def _mem_total_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def software_info(postgres_version: str) -> dict[str, str]:
    return {
        "orderly": _revision(),
        "python": platform.python_version(),
        "postgresql": postgres_version,
        "uvicorn": version("uvicorn"),
        "httpx": version("httpx"),
    }


def _revision() -> str:
    """The checked-out commit, and whether the working tree differs from it."""

    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
        return run.stdout.strip()

    try:
        commit, changes = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} + uncommitted changes" if changes else commit


def config_info(config: Config, settings: InfraSettings, servers: Servers) -> dict[str, Any]:
    return {
        "concurrency": config.concurrency,
        "duration_s": config.duration_s,
        "warmup_s": config.warmup_s,
        "api_workers": config.workers,
        "client": CLIENT_NAMES[config.client],
        "pinned": _pinning(config),
        "products": config.products,
        "customers": config.customers,
        "replay_keys": config.replay_keys,
        "db_pool_per_worker": f"{settings.db_pool_size}+{settings.db_max_overflow}",
        "postgresql": "embedded" if servers.postgres_pid is not None else "given",
        "redis": "embedded" if servers.redis_pid is not None else "given",
    }


def _pinning(config: Config) -> str:
    if not config.pin:
        return "no"
    return f"API on core {USABLE_CORES[0]}, client on core {USABLE_CORES[1]}"


def render(report: dict[str, Any]) -> str:
    machine, software, config = report["machine"], report["software"], report["config"]
    scenarios: list[dict[str, Any]] = report["scenarios"]
    lines = [
        f"Orderly order placement over HTTP ({report['started_at']})",
        machine_line(machine),
        f"  software  Orderly {software['orderly']}, Python {software['python']}, "
        f"uvicorn {software['uvicorn']} (uvloop, httptools), httpx {software['httpx']}",
        f"  database  {software['postgresql']}",
        f"  config    concurrency {config['concurrency']}, {config['duration_s']:g} s per "
        f"scenario after {config['warmup_s']:g} s warm-up, API workers {config['api_workers']}, "
        f"client {config['client']}, pinned: {config['pinned']}",
        f"  data      {config['products']} products, {config['customers']} customers, "
        f"{config['replay_keys']} replayed orders, DB pool {config['db_pool_per_worker']} "
        "per API worker",
        "",
        _latency_table(scenarios),
        "",
        "CPU during each measured run, % of one core (the machine has "
        f"{machine['usable_cores']} cores = {100 * machine['usable_cores']}%):",
        _cpu_table(scenarios),
        *_error_lines(scenarios),
    ]
    return "\n".join(lines)


def machine_line(machine: dict[str, Any]) -> str:
    return (
        f"  machine   {machine['cpu_model']}, {machine['cores']} cores "
        f"({machine['usable_cores']} usable), {machine['ram_gib']} GiB RAM, "
        f"Linux {machine['kernel']}"
    )


def _latency_table(scenarios: list[dict[str, Any]]) -> str:
    header = ["scenario", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    rows = [
        [
            s["name"], str(s["requests"]), str(s["errors"]), f"{s['throughput_rps']:.1f}",
            *(number(s["latency_ms"][mark]) for mark in ("p50", "p90", "p99", "max")),
        ]
        for s in scenarios
    ]  # fmt: skip
    return table(header, rows)


def _cpu_table(scenarios: list[dict[str, Any]]) -> str:
    parties = list(scenarios[0]["cpu_percent_of_one_core"]) if scenarios else []
    rows = [
        [s["name"], *(number(s["cpu_percent_of_one_core"][p], "%") for p in parties)]
        for s in scenarios
    ]
    return table(["scenario", *parties], rows)


def _error_lines(scenarios: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"  {s['name']}: {count} x {kind}"
        for s in scenarios
        for kind, count in s["error_kinds"].items()
    ]
    return ["", "Errors (answers other than the expected one):", *lines] if lines else []


def number(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.1f}{unit}"


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    return "\n".join(line(cells) for cells in [header, *rows])


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the run like Ctrl-C; none interrupts the clean-up."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        with contextlib.ExitStack() as stack, signals_interrupt():
            report = bench(config, stack)
            progress("stopping the API and the servers")
    except KeyboardInterrupt:
        print("interrupted: everything started was stopped", file=sys.stderr)
        return 130
    except (BenchError, embedded.EmbeddedServerError, migrate.MigrationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(render(report))
    if report["api_log"]:
        print("\nAPI log (last lines):\n  " + "\n  ".join(report["api_log"]))
    if config.json_path is not None:
        config.json_path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nresults written to {config.json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Webhook deliveries at a fixed order rate, against the real stack: outbox-to-receiver
latency and deliveries per second.

Run by hand from the repository root (it is not a test)::

    uv run python bench/webhooks.py              # 20 orders/s for 20 s
    uv run python bench/webhooks.py --quick      # 20 orders/s for 5 s, about a minute in all
    uv run python bench/webhooks.py --rate 50 --workers 2 --pay --json results.json

What runs
    What ``bench/orders.py`` runs (embedded PostgreSQL and Redis in a fresh directory under
    ``.bench-tmp/``, migrated and seeded through the core, the API as ``orderly serve`` runs
    it), and besides:

    - ``--workers`` background workers, each started as ``orderly worker`` starts it
      (``python -m orderly_worker``), with the API's environment: ``LOG_LEVEL=WARNING``, and
      ``WEBHOOK_ALLOW_HTTP`` and ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` (also given to the API),
      since the receiver is plain http on 127.0.0.1. The workers' own settings
      (``WORKER_MAX_JOBS``, ``WORKER_RELAY_POLL_S``...) come from this process's environment.
    - A webhook receiver in this process: a minimal HTTP/1.1 server on asyncio streams, on a
      free port of 127.0.0.1, registered through the core (as an operator) as the one
      endpoint, for ``order.placed`` (and ``order.paid`` with ``--pay``). It answers
      ``204`` as soon as it has read a request, then records the arrival time
      (``time.time()``), checks the signature with ``orderly_core.webhooks.signing.verify``
      and reads the envelope's ``id``, ``type``, ``subject`` and ``created_at``.

What is measured
    Orders are placed over HTTP as in ``orders.py`` (``POST /api/v1/orders``, 1-3 random
    SKUs, a new ``Idempotency-Key``, a random signed-in customer) at a fixed rate: request n
    is sent at start + n / ``--rate`` whether or not the earlier ones have been answered (an
    open loop: a slow API does not lower the rate it is offered). At most
    ``--max-in-flight`` requests are outstanding; one that would exceed it is not sent and
    counts as an error. With ``--pay`` each order is also paid as soon as it is placed: a
    member of staff records its total by hand (``POST /api/v1/orders/{id}/pay``, the manual
    provider). An uncounted warm-up
    (``--warmup`` seconds at the same rate) comes first and its deliveries are awaited. The
    measured run lasts ``--duration`` seconds; then the benchmark waits until every event of
    the orders it placed has been delivered (at most ``--drain-timeout`` seconds), and
    another second for late duplicates, before reading what Orderly recorded.

How to read the figures
    Rates are taken over the middle 90 % of a series (from its 5th to its 95th percentile,
    all of it below 20 events), so that a straggler does not make them.

    ``requests``: ``sent/s`` is the rate at which requests left, ``ok/s`` the rate at which
    the expected answers (201 for an order, 200 for a payment) came back: below ``sent/s``,
    the API is not keeping up with the offered rate. Latencies are ``orders.py``'s, of the
    expected answers. ``behind schedule`` is how late orders left compared with their time:
    when it grows, the load generator (this process, shared with the receiver) is the
    bottleneck, not Orderly.

    ``deliveries``: ``expected`` counts the events of the orders placed (and paid) in the
    measured run; ``received`` those that arrived, correctly signed, at least once;
    ``missing`` those that never did; ``duplicates`` the arrivals of a ``webhook-id``
    already received; ``unexpected`` correctly signed deliveries of no order this benchmark
    knows of (say, one whose answer was lost). ``invalid`` counts the requests the receiver
    refused (bad signature or envelope, a ``webhook-id`` other than the envelope's ``id``):
    errors. ``per s`` is the rate at which deliveries arrived: the order rate while the
    workers keep up, less when they do not (the backlog then grows, and so do the latencies
    and ``drain s``, from the last order's answer to the last delivery).

    ``outbox to receiver`` is, for each event, its first arrival minus the envelope's
    ``created_at``, which the API stamps on the event inside the transaction, just before
    it commits; both clocks are this machine's. Orderly's records split it in three:
    ``created_at`` to the relay's claim (the outbox row's ``dispatched_at``: the rest of the
    transaction, its commit and ``NOTIFY``, and the relay's query), the claim to the first
    attempt (the relay's transaction and its commit, then the delivery engine's claim of the
    due delivery), and the attempt to the arrival (the worker's HTTP client and the
    receiver). Below: what Orderly recorded of these events and deliveries. A delivery whose
    worker died mid-attempt is sent again once its lease ends (about 30 s with the default
    ``WORKER_DELIVERY_TIMEOUT_S``): a maximum latency of that size is such a delivery, not a
    slow one.

    The CPU table is ``orders.py``'s, from the first measured order to the last delivery,
    with a column for the workers (all of them) and ``bench`` for this process (load
    generator and receiver); ``ms per order`` divides each party's CPU time by the orders
    placed, so that runs at different rates compare. Check ``other`` before trusting a
    figure: on a machine running something else too, every latency grows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from returns.pipeline import is_successful
from sqlalchemy import and_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_cli import embedded
from orderly_cli.processes import worker_argv
from orderly_core.accounts.registration import NewUser, create_user
from orderly_core.shared.context import Role
from orderly_core.webhooks.endpoints import NewEndpoint, RegisteredEndpoint, register_endpoint
from orderly_core.webhooks.signing import InvalidSignature, verify
from orderly_db import migrate
from orderly_db.engine import create_engine
from orderly_db.settings import ConfigurationError, InfraSettings
from orderly_db.tables import outbox, webhook_attempts, webhook_deliveries
from orderly_db.unit_of_work import dependencies_from_settings
from orderly_mail.catcher import Keeper, MailCatcher
from orderly_worker.settings import WorkerEnv, load_worker_env

if TYPE_CHECKING:  # mypy, run from the repository root, knows bench/orders.py as bench.orders
    from bench import orders
else:  # run as a script, bench/ comes first on sys.path
    import orders

HOST = orders.HOST
RECEIVER_PATH = "/webhooks/orderly"
PLACED, PAID = "order.placed", "order.paid"
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
WEBHOOK_PERMISSIONS = {"WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true"}
SETTLE_S = 1.0  # after the last delivery, how long duplicates may still come
SIGN_IN_CONCURRENCY = 8
PROGRESS_EVERY_S = 5.0
NOT_SENT = "not sent: --max-in-flight requests outstanding"
LOG_WIDTH = 300  # characters of each log line printed (the JSON keeps them whole)


@dataclass(frozen=True, slots=True)
class Config:
    rate: float
    duration_s: float
    warmup_s: float
    workers: int
    api_workers: int
    pay: bool
    products: int
    customers: int
    max_in_flight: int
    drain_timeout_s: float
    quick: bool
    json_path: Path | None

    @property
    def event_types(self) -> tuple[str, ...]:
        return (PLACED, PAID) if self.pay else (PLACED,)


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        description="Webhook deliveries at a fixed order rate (see the module doc)."
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="short run: 5 s unless --duration")
    add("--rate", type=_positive_float, default=20.0, help="orders per second (20)")
    add("--duration", type=_positive_float, default=None, help="measured seconds (20; quick: 5)")
    add("--warmup", type=float, default=2.0, help="uncounted seconds before the run (2)")
    add("--workers", type=_positive_int, default=1, help="worker processes (1)")
    add("--api-workers", type=_positive_int, default=1, help="uvicorn worker processes (1)")
    add("--pay", action="store_true", help="pay each order too; subscribe to order.paid")
    add("--products", type=_positive_int, default=200, help="products to seed (200)")
    add("--customers", type=_positive_int, default=50, help="customers to seed (50)")
    add("--max-in-flight", type=_positive_int, default=256, help="outstanding requests (256)")
    add("--drain-timeout", type=_positive_float, default=60.0, help="wait for deliveries (60)")
    add("--json", type=Path, dest="json_path", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    duration = args.duration if args.duration is not None else (5.0 if args.quick else 20.0)
    return Config(
        rate=args.rate,
        duration_s=duration,
        warmup_s=args.warmup,
        workers=args.workers,
        api_workers=args.api_workers,
        pay=args.pay,
        products=args.products,
        customers=args.customers,
        max_in_flight=args.max_in_flight,
        drain_timeout_s=args.drain_timeout,
        quick=args.quick,
        json_path=args.json_path,
    )


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


# --- The receiver -------------------------------------------------------------------------


type Key = tuple[str, str]
"""What a delivery is of: the event's subject (``order:<id>``) and type."""


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float  # time.time() once the whole request had been read
    webhook_id: str
    event_id: str
    event_type: str
    subject: str
    created_at: float  # the envelope's, as Unix time (0 when unreadable)
    problem: str | None  # why the receiver refuses it, or None

    @property
    def key(self) -> Key:
        return self.subject, self.event_type


def read_delivery(
    secret: str, at: float, request_line: str, headers: Mapping[str, str], body: bytes
) -> Arrival:
    """One request as the receiver sees it, checked as Orderly's documentation says."""
    webhook_id = headers.get("webhook-id", "")

    def refused(problem: str) -> Arrival:
        return Arrival(at, webhook_id, "", "", "", 0.0, problem)

    if request_line.split(" ")[:2] != ["POST", RECEIVER_PATH]:
        return refused(f"unexpected request: {request_line[:60]}")
    try:
        verify(secret, headers, body, now=int(at))
    except InvalidSignature as error:
        return refused(f"signature: {error}")
    try:
        envelope = json.loads(body)
        event_id, subject = str(envelope["id"]), str(envelope["subject"])
        event_type = str(envelope["type"])
        created = datetime.fromisoformat(envelope["created_at"])
    except (ValueError, KeyError, TypeError) as error:
        return refused(f"unreadable envelope: {type(error).__name__}")
    if created.tzinfo is None:
        return refused("created_at without a time zone")
    problem = None if event_id == webhook_id else "webhook-id is not the envelope's id"
    return Arrival(at, webhook_id, event_id, event_type, subject, created.timestamp(), problem)


class Receiver:
    """Webhook receiver: HTTP/1.1 with keep-alive on asyncio streams; answers 204 at once,
    then checks and records the request."""

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self.arrivals: list[Arrival] = []
        self.first: dict[str, Arrival] = {}  # webhook-id: its first valid arrival
        self.keys: set[Key] = set()
        self._arrived = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self, listener: socket.socket) -> None:
        self._server = await asyncio.start_server(self._serve, sock=listener)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self._server.wait_closed()

    async def wait_for(self, keys: set[Key], within_s: float, what: str) -> set[Key]:
        """Wait until a delivery of each key has arrived, at most ``within_s`` seconds; the
        keys still missing."""
        missing = keys - self.keys
        deadline = time.monotonic() + within_s
        note = time.monotonic() + PROGRESS_EVERY_S
        while missing and (left := deadline - time.monotonic()) > 0:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, PROGRESS_EVERY_S)):
                    await self._arrived.wait()
            missing -= self.keys
            if missing and time.monotonic() >= note:
                orders.progress(f"{what}: waiting for {len(missing)} deliveries")
                note += PROGRESS_EVERY_S
        return missing

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._exchange(reader, writer):
                pass
        except orders.TRANSPORT_ERRORS:
            pass  # the sender closed the connection (or sent something unreadable)
        except asyncio.CancelledError:
            # Interrupted: end quietly (asyncio 3.12.1 would log the cancelled handler).
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request, answer it, record it; whether the connection stays open."""
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await orders.read_chunked(reader)
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        at = time.time()
        writer.write(NO_CONTENT)
        self._record(read_delivery(self._secret, at, head[0], headers, body))
        await writer.drain()
        return headers.get("connection", "").lower() != "close"

    def _record(self, arrival: Arrival) -> None:
        self.arrivals.append(arrival)
        if arrival.problem is None and arrival.webhook_id not in self.first:
            self.first[arrival.webhook_id] = arrival
            self.keys.add(arrival.key)
            self._arrived.set()


def listening_socket(stack: contextlib.ExitStack) -> socket.socket:
    """The receiver's socket, bound now so that its URL can be registered before it serves."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stack.callback(listener.close)
    listener.bind((HOST, 0))
    listener.listen(128)
    return listener


# --- The load: orders at a fixed rate -----------------------------------------------------


@dataclass
class Requests:
    """The requests of one kind (placing or paying) of a phase."""

    sent: list[float] = field(default_factory=list)  # perf_counter when each one left
    answered: list[float] = field(default_factory=list)  # ... each expected answer was read
    latencies_s: list[float] = field(default_factory=list)  # of the expected answers
    failures: Counter[str] = field(default_factory=Counter)

    async def send(
        self, client: orders.Client, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[orders.Reply, float] | None:
        """``POST path``: its answer and latency, or None after a transport failure."""
        started = time.perf_counter()
        self.sent.append(started)
        try:
            reply = await client.send("POST", path, headers, body)
        except orders.TRANSPORT_ERRORS as error:
            self.failures[f"transport: {type(error).__name__}"] += 1
            return None
        return reply, time.perf_counter() - started

    def expected(self, latency_s: float) -> None:
        self.answered.append(time.perf_counter())
        self.latencies_s.append(latency_s)


@dataclass
class Phase:
    """One run of the load (the warm-up, then the measured run) and what it placed."""

    name: str
    seconds: float
    scheduled: int = 0
    behind_s: list[float] = field(default_factory=list)  # how late each order was sent
    unsent: int = 0  # orders not sent: --max-in-flight requests were outstanding
    place: Requests = field(default_factory=Requests)
    pay: Requests = field(default_factory=Requests)
    expected: set[Key] = field(default_factory=set)  # the deliveries its orders should bring
    started_at: float = 0.0  # time.time() when the first order was due
    answered_at: float = 0.0  # time.time() when the last answer had arrived


class Load:
    """Open loop: orders sent on a schedule, each in a task of its own."""

    def __init__(
        self,
        client: orders.Client,
        config: Config,
        skus: Sequence[str],
        tokens: Sequence[str],
        staff: str = "",
    ) -> None:
        self._client = client
        self._config = config
        self._skus = skus
        self._tokens = tokens
        self._staff = staff  # the Authorization of the member of staff who records payments
        self._rng = random.Random()

    async def run(self, phase: Phase) -> None:
        phase.scheduled = max(1, round(self._config.rate * phase.seconds))
        interval = 1.0 / self._config.rate
        tasks: list[asyncio.Task[None]] = []
        in_flight: set[asyncio.Task[None]] = set()
        start = time.perf_counter() + interval / 2
        phase.started_at = time.time() + interval / 2
        for index in range(phase.scheduled):
            request = orders.new_order(self._rng, self._skus, self._tokens)
            due = start + index * interval
            if (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            phase.behind_s.append(time.perf_counter() - due)
            if len(in_flight) >= self._config.max_in_flight:
                phase.unsent += 1
                continue
            task = asyncio.create_task(self._order(phase, request))
            tasks.append(task)
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*tasks)
        phase.answered_at = time.time()

    async def _order(self, phase: Phase, request: orders.OrderRequest) -> None:
        path, headers = orders.ORDERS_PATH, request.headers()
        if (answer := await phase.place.send(self._client, path, headers, request.body)) is None:
            return
        reply, latency = answer
        if (problem := orders.check_placed(reply)) is not None:
            phase.place.failures[problem] += 1
            return
        if (order_id := _order_id(reply)) is None:
            phase.place.failures["201 without the order's id"] += 1
            return
        phase.place.expected(latency)
        phase.expected.add((f"order:{order_id}", PLACED))
        if self._config.pay:
            await self._pay(phase, order_id, json.loads(reply.body).get("total"))

    async def _pay(self, phase: Phase, order_id: str, total: object) -> None:
        headers = {
            "Authorization": self._staff,
            "Idempotency-Key": str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        body = json.dumps({"amount": total, "reference": "bench"}).encode()
        if (
            answer := await phase.pay.send(self._client, _pay_path(order_id), headers, body)
        ) is None:
            return
        reply, latency = answer
        if reply.status != 201:
            phase.pay.failures[orders.problem_of(reply)] += 1
            return
        phase.pay.expected(latency)
        phase.expected.add((f"order:{order_id}", PAID))


def _pay_path(order_id: str) -> str:
    return f"{orders.ORDERS_PATH}/{order_id}/pay"


def _order_id(reply: orders.Reply) -> str | None:
    try:
        document = json.loads(reply.body)
    except ValueError:
        return None
    found = document.get("id") if isinstance(document, dict) else None
    return found if isinstance(found, str) else None


# --- The stack ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


def stack_environment(settings: InfraSettings) -> dict[str, str]:
    """What the API and the workers run with: ``orders.py``'s API environment (production,
    ``LOG_LEVEL=WARNING``); the workers add :data:`WORKER_OVERRIDES`."""
    return {**orders.api_environment(settings), "LOG_LEVEL": "WARNING"}


# The workers deliver to receivers on 127.0.0.1 over plain http, which only a development
# configuration may allow: a production one refuses to start with these permissions.
WORKER_OVERRIDES = {**WEBHOOK_PERMISSIONS, "ENVIRONMENT": "development"}


def worker_options(settings: InfraSettings) -> WorkerEnv:
    """The workers' settings as they will read them (from this environment)."""
    try:
        return load_worker_env(
            database_url=settings.database_url,
            redis_url=settings.redis_url,
            webhook_allow_http=True,
            webhook_allow_private_addresses=True,
        )
    except ConfigurationError as error:
        raise orders.BenchError(f"worker settings: {error}") from None


def start_workers(
    count: int, env: Mapping[str, str], workdir: Path, stack: contextlib.ExitStack
) -> list[Worker]:
    """``count`` workers as ``orderly worker`` runs them, each in its own process group, with
    a :class:`MailSink` as their SMTP server."""
    sink = MailSink(workdir / "mail", stack)
    smtp = {"SMTP_HOST": HOST, "SMTP_PORT": str(sink.port)}
    orders.progress(f"starting {count} worker process(es)")
    workers: list[Worker] = []
    for index in range(1, count + 1):
        log = workdir / f"worker-{index}.log"
        process = orders.spawn(worker_argv(), {**env, **WORKER_OVERRIDES, **smtp}, log, stack)
        workers.append(Worker(f"worker {index}", process, log))
    return workers


class _Accepting(Keeper):
    """Accepts every email and keeps nothing of it."""

    def __init__(self) -> None:
        super().__init__(Path("."))
        self.accepted = 0

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        del server, session, envelope
        self.accepted += 1
        return "250 OK"


class MailSink:
    """The workers' SMTP server, on 127.0.0.1 in a thread of this process: it accepts every
    email and discards it. Orders mail their customers, so the workers send an email per
    order placed; with no server to take them, each would fail its connection and come back
    on the retry schedule, which is not what a shop's worker does."""

    def __init__(self, folder: Path, stack: contextlib.ExitStack) -> None:
        self._keeper = _Accepting()
        self._catcher = MailCatcher(folder, 0, HOST, keeper=self._keeper)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._catcher.start(), self._loop).result(10)
        stack.callback(self.stop)

    @property
    def port(self) -> int:
        return self._catcher.port

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._catcher.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


async def register_receiver(settings: InfraSettings, url: str, types: Sequence[str]) -> str:
    """Register the receiver's endpoint through the core, as an operator; its secret."""
    engine = create_engine(settings, application_name="orderly-bench")
    try:
        deps = dependencies_from_settings(engine, settings)
        policy = replace(deps.webhooks, allow_http=True, allow_private_addresses=True)
        new = NewEndpoint(url, tuple(types))
        result = await register_endpoint(replace(deps, webhooks=policy), orders.OPERATOR, new)
    finally:
        await engine.dispose()
    registered = result.value_or(None)
    if not isinstance(registered, RegisteredEndpoint) or registered.secret is None:
        raise orders.BenchError(f"could not register the receiver {url}: {result}")
    orders.progress(f"registered the receiver {url} for {', '.join(types)}")
    return registered.secret


async def seed_staff(settings: InfraSettings) -> str:
    """A member of staff, made through the core as an operator, who records payments; their
    email (their password is the customers')."""
    engine = create_engine(settings, application_name="orderly-bench")
    email = f"bench-staff-{uuid.uuid4().hex[:8]}@example.com"
    try:
        deps = dependencies_from_settings(engine, settings)
        new = NewUser(email, orders.PASSWORD, "Bench staff", Role.STAFF)
        result = await create_user(deps, orders.OPERATOR, new)
    finally:
        await engine.dispose()
    if not is_successful(result):
        raise orders.BenchError(f"could not create the member of staff {email}: {result}")
    return email


async def wait_for_workers(engine: AsyncEngine, workers: Sequence[Worker]) -> None:
    """Until every worker's delivery engine listens for ``NOTIFY orderly_outbox`` (its
    start-up is then done and it polls the queue): its listening connection's last statement
    is the ``LISTEN``, or the probe that checks the connection now and then."""
    listening = text(
        "select count(*) from pg_stat_activity where application_name = 'orderly-worker'"
        " and (query like 'LISTEN %' or query = 'SELECT 1')"
    )
    deadline = time.monotonic() + orders.READY_TIMEOUT_S
    while True:
        check_alive(workers)
        async with engine.connect() as connection:
            if (await connection.scalar(listening) or 0) >= len(workers):
                return
        if time.monotonic() > deadline:
            raise orders.BenchError(
                f"the workers were not listening within {orders.READY_TIMEOUT_S:g} s\n"
                + logs_text(workers)
            )
        await asyncio.sleep(0.1)


def check_alive(workers: Sequence[Worker], api: orders.Api | None = None) -> None:
    if api is not None and api.process.poll() is not None:
        raise orders.BenchError(f"the API exited during the run\n{orders.tail(api.log)}")
    for worker in workers:
        if worker.process.poll() is not None:
            code = worker.process.returncode
            raise orders.BenchError(
                f"{worker.name} exited with code {code}\n" + logs_text([worker])
            )


def logs_text(workers: Sequence[Worker]) -> str:
    return "\n".join(f"{w.name} log:\n{orders.tail(w.log)}" for w in workers)


# --- The run ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """What Orderly recorded of one event of the measured run, and of its delivery."""

    event_id: str
    key: Key
    created_at: float
    dispatched_at: float | None
    event_state: str
    delivery_state: str | None  # None: no delivery made (yet)
    attempts: int
    first_attempt_at: float | None


@dataclass(frozen=True, slots=True)
class Run:
    warmup: Phase
    measured: Phase
    receiver: Receiver
    cpu: dict[str, float | None]
    cpu_elapsed_s: float
    records: list[Record]


@dataclass(frozen=True, slots=True)
class Running:
    """What the measurement runs against."""

    settings: InfraSettings
    api: orders.Api
    workers: list[Worker]
    seeded: orders.Seeded
    listener: socket.socket  # the receiver's, bound already
    secret: str  # the receiver's endpoint's signing secret
    tokens: Sequence[str] = ()  # the customers' access tokens; none: sign them in first
    staff_email: str = ""  # the member of staff who records payments (with --pay)


async def measure(config: Config, running: Running, probe: orders.CpuProbe) -> Run:
    workers, seeded = running.workers, running.seeded
    receiver = Receiver(running.secret)
    await receiver.start(running.listener)
    engine = create_engine(running.settings, application_name="orderly-bench")
    try:
        async with orders.open_client("raw", running.api.port, config.max_in_flight) as client:
            tokens = list(running.tokens) or await orders.sign_in_all(
                client, seeded.emails, SIGN_IN_CONCURRENCY
            )
            await wait_for_workers(engine, workers)
            staff = ""
            if config.pay and running.staff_email:
                [staff] = await orders.sign_in_all(client, [running.staff_email], 1)
            load = Load(client, config, seeded.skus, tokens, staff)
            warmup = await warm_up(config, load, receiver, workers)
            measured = Phase("measured", config.duration_s)
            orders.progress(f"placing orders at {config.rate:g}/s for {config.duration_s:g} s")
            before = probe.snapshot()
            await load.run(measured)
            check_alive(workers, running.api)
            await receiver.wait_for(measured.expected, config.drain_timeout_s, "measured run")
            after = probe.snapshot()
            await asyncio.sleep(SETTLE_S)
        records = await read_records(engine, measured, config.event_types)
    finally:
        await engine.dispose()
        await receiver.stop()
    cpu = probe.split(before, after)
    return Run(warmup, measured, receiver, cpu, after.at - before.at, records)


async def warm_up(
    config: Config, load: Load, receiver: Receiver, workers: Sequence[Worker]
) -> Phase:
    """The uncounted warm-up, and its deliveries; an error when not one of them arrives."""
    warmup = Phase("warm-up", config.warmup_s)
    if config.warmup_s <= 0:
        return warmup
    orders.progress(f"warm-up: {config.warmup_s:g} s at {config.rate:g} orders/s")
    await load.run(warmup)
    missing = await receiver.wait_for(warmup.expected, config.drain_timeout_s, "warm-up")
    if warmup.expected and missing == warmup.expected:
        raise orders.BenchError(
            f"not one warm-up delivery arrived within {config.drain_timeout_s:g} s\n"
            + logs_text(workers)
        )
    return warmup


async def read_records(engine: AsyncEngine, phase: Phase, types: Sequence[str]) -> list[Record]:
    """Orderly's records of the measured run's events: the outbox rows, their deliveries and
    first attempts."""
    first_attempt = and_(
        webhook_attempts.c.delivery_id == webhook_deliveries.c.id, webhook_attempts.c.number == 1
    )
    since = datetime.fromtimestamp(phase.started_at - 1.0, UTC)
    query = (
        select(
            outbox.c.id,
            outbox.c.subject,
            outbox.c.type,
            outbox.c.created_at,
            outbox.c.dispatched_at,
            outbox.c.state,
            webhook_deliveries.c.state.label("delivery_state"),
            webhook_deliveries.c.attempts,
            webhook_attempts.c.at.label("attempt_at"),
        )
        .select_from(
            outbox.outerjoin(
                webhook_deliveries, webhook_deliveries.c.event_id == outbox.c.id
            ).outerjoin(webhook_attempts, first_attempt)
        )
        .where(outbox.c.type.in_(list(types)), outbox.c.created_at >= since)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [
        Record(
            event_id=str(row.id),
            key=(row.subject, row.type),
            created_at=row.created_at.timestamp(),
            dispatched_at=_unix(row.dispatched_at),
            event_state=row.state,
            delivery_state=row.delivery_state,
            attempts=row.attempts or 0,
            first_attempt_at=_unix(row.attempt_at),
        )
        for row in rows
        if (row.subject, row.type) in phase.expected
    ]


def _unix(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


# --- Results ------------------------------------------------------------------------------


def rate(moments: Sequence[float]) -> float | None:
    """Events per second of a series of moments, over its middle 90 % (from the 5th to the
    95th percentile; all of it below 20 moments), so that one straggler does not make it."""
    ordered = sorted(moments)
    last = len(ordered) - 1
    low, high = (last * 5 // 100, last - last * 5 // 100) if len(ordered) >= 20 else (0, last)
    if high <= low or ordered[high] <= ordered[low]:
        return None
    return round((high - low) / (ordered[high] - ordered[low]), 2)


def order_results(config: Config, phase: Phase) -> dict[str, Any]:
    kinds = {"place": phase.place, "pay": phase.pay} if config.pay else {"place": phase.place}
    rows = {name: request_results(requests) for name, requests in kinds.items()}
    if phase.unsent:
        rows["place"]["errors"] += phase.unsent
        rows["place"]["error_kinds"][NOT_SENT] = phase.unsent
    return {
        "scheduled": phase.scheduled,
        "target_per_s": config.rate,
        "behind_schedule_ms": orders.latency_marks(phase.behind_s),
        "requests": rows,
    }


def request_results(requests: Requests) -> dict[str, Any]:
    return {
        "sent": len(requests.sent),
        "ok": len(requests.latencies_s),
        "errors": sum(requests.failures.values()),
        "error_kinds": dict(requests.failures.most_common()),
        "sent_per_s": rate(requests.sent),
        "ok_per_s": rate(requests.answered),
        "latency_ms": orders.latency_marks(requests.latencies_s),
    }


def delivery_results(run: Run, types: Sequence[str]) -> dict[str, Any]:
    """Per event type (and all together when there are several)."""
    measured, receiver = run.measured, run.receiver
    known = measured.expected | run.warmup.expected
    rows: dict[str, Any] = {}
    groups = [(t, {t}) for t in types]
    if len(types) > 1:
        groups.append(("all", set(types)))
    for name, wanted in groups:
        expected = {key for key in measured.expected if key[1] in wanted}
        firsts = [a for a in receiver.first.values() if a.key in expected]
        valid = [a for a in receiver.arrivals if a.problem is None and a.event_type in wanted]
        strangers = [a for a in receiver.first.values() if a.key not in known]
        arrived = [a.at for a in firsts]
        last = max(arrived, default=None)
        rows[name] = {
            "expected": len(expected),
            "received": len(firsts),
            "missing": len(expected) - len(firsts),
            "duplicates": sum(1 for a in valid if a.key in expected) - len(firsts),
            "unexpected": sum(1 for a in strangers if a.event_type in wanted),
            "per_s": rate(arrived),
            "drain_s": None if last is None else round(max(0.0, last - measured.answered_at), 3),
            "latency_ms": orders.latency_marks([a.at - a.created_at for a in firsts]),
        }
    invalid = Counter(a.problem for a in receiver.arrivals if a.problem is not None)
    return {
        "by_type": rows,
        "invalid": sum(invalid.values()),
        "invalid_kinds": dict(invalid.most_common()),
        "stages_ms": stages(run),
    }


def stages(run: Run) -> dict[str, Any]:
    """The outbox-to-receiver latency split by Orderly's records."""
    relay: list[float] = []
    queue: list[float] = []
    send: list[float] = []
    for record in run.records:
        arrival = run.receiver.first.get(record.event_id)
        if arrival is None or record.dispatched_at is None or record.first_attempt_at is None:
            continue
        relay.append(record.dispatched_at - record.created_at)
        queue.append(record.first_attempt_at - record.dispatched_at)
        send.append(arrival.at - record.first_attempt_at)
    return {
        "n": len(relay),
        "created_to_claimed": orders.latency_marks(relay),
        "claimed_to_attempt": orders.latency_marks(queue),
        "attempt_to_arrival": orders.latency_marks(send),
    }


def record_results(run: Run) -> dict[str, Any]:
    deliveries = Counter(r.delivery_state or "none" for r in run.records)
    return {
        "events": len(run.records),
        "event_states": dict(Counter(r.event_state for r in run.records).most_common()),
        "delivery_states": dict(deliveries.most_common()),
        "attempts": sum(r.attempts for r in run.records),
        "retried": sum(1 for r in run.records if r.attempts > 1),
    }


def cpu_results(run: Run, workers: int) -> dict[str, Any]:
    """``orders.py``'s split with the workers summed, ``bench`` for this process, and each
    party's CPU time per order placed."""
    shares = run.cpu
    names = [f"worker {index}" for index in range(1, workers + 1)]
    per_worker = {name: shares[name] for name in names}
    known = [share for share in per_worker.values() if share is not None]
    label = "worker" if workers == 1 else "workers"
    percent = {
        "API": shares["API"],
        label: round(sum(known), 1) if known else None,
        "PostgreSQL": shares["PostgreSQL"],
        "Redis": shares["Redis"],
        "bench": shares["client"],
        "other": shares["other"],
        "steal": shares["steal"],
        "idle": shares["idle"],
    }
    placed = len(run.measured.place.latencies_s)
    parties = ("API", label, "PostgreSQL", "Redis", "bench")
    per_order = {
        name: None if (share := percent[name]) is None or not placed
        else round(share / 100 * run.cpu_elapsed_s * 1000 / placed, 2)
        for name in parties
    }  # fmt: skip
    return {
        "elapsed_s": round(run.cpu_elapsed_s, 3),
        "percent_of_one_core": percent,
        "ms_per_order": per_order,
        "per_worker_percent": per_worker,
    }


def warmup_results(run: Run) -> dict[str, Any]:
    phase = run.warmup
    received = sum(1 for key in phase.expected if key in run.receiver.keys)
    return {
        "seconds": phase.seconds,
        "sent": len(phase.place.sent),
        "placed": len(phase.place.latencies_s),
        "errors": sum(phase.place.failures.values()) + sum(phase.pay.failures.values()),
        "deliveries_expected": len(phase.expected),
        "deliveries_received": received,
    }


# --- Orchestration and report -------------------------------------------------------------


def bench(config: Config, stack: contextlib.ExitStack) -> dict[str, Any]:
    started = datetime.now(UTC)
    workdir = orders.make_workdir(stack)
    servers = orders.start_servers(workdir, stack)
    settings = orders.infra_settings(servers)
    options = worker_options(settings)
    listener = listening_socket(stack)
    url = f"http://{HOST}:{listener.getsockname()[1]}{RECEIVER_PATH}"
    seeded = asyncio.run(orders.prepare_database(settings, config.products, config.customers))
    secret = asyncio.run(register_receiver(settings, url, config.event_types))
    env = stack_environment(settings)
    api = orders.start_api(settings, workdir, stack, workers=config.api_workers, env=env)
    workers = start_workers(config.workers, env, workdir, stack)
    orders.wait_until_ready(api)
    roots = {
        "API": api.process.pid,
        **{worker.name: worker.process.pid for worker in workers},
        "PostgreSQL": servers.postgres_pid,
        "Redis": servers.redis_pid,
    }
    staff = asyncio.run(seed_staff(settings)) if config.pay else ""
    running = Running(settings, api, workers, seeded, listener, secret, staff_email=staff)
    run = asyncio.run(measure(config, running, orders.CpuProbe(roots)))
    check_alive(workers, api)
    return {
        "benchmark": "webhooks",
        "started_at": started.isoformat(timespec="seconds"),
        "machine": orders.machine_info(),
        "software": software_info(seeded.postgres_version),
        "config": config_info(config, options, settings, url),
        "orders": order_results(config, run.measured),
        "deliveries": delivery_results(run, config.event_types),
        "orderly_records": record_results(run),
        "cpu": cpu_results(run, config.workers),
        "warmup": warmup_results(run),
        "samples_ms": samples(run),
        "logs": {
            "API": orders.tail(api.log).splitlines(),
            **{w.name: orders.tail(w.log).splitlines() for w in workers},
        },
    }


def samples(run: Run) -> dict[str, list[float]]:
    """Every measured latency, in milliseconds, in the order they happened."""
    firsts = sorted(run.receiver.first.values(), key=lambda a: a.at)
    measured = run.measured.expected
    return {
        "outbox_to_receiver": [
            round(1000 * (a.at - a.created_at), 2) for a in firsts if a.key in measured
        ],
        "placement": [round(1000 * s, 2) for s in run.measured.place.latencies_s],
        "payment": [round(1000 * s, 2) for s in run.measured.pay.latencies_s],
    }


def software_info(postgres_version: str) -> dict[str, str]:
    return {
        **orders.software_info(postgres_version),
        "arq": version("arq"),
        "redis": version("redis"),
        "asyncpg": version("asyncpg"),
        "aiohttp": version("aiohttp"),
    }


def config_info(
    config: Config, options: WorkerEnv, settings: InfraSettings, url: str
) -> dict[str, Any]:
    return {
        "rate_per_s": config.rate,
        "duration_s": config.duration_s,
        "warmup_s": config.warmup_s,
        "pay": config.pay,
        "event_types": list(config.event_types),
        "workers": config.workers,
        "delivery_concurrency": options.worker_delivery_concurrency,
        "delivery_per_endpoint": options.worker_delivery_per_endpoint,
        "worker_relay_poll_s": options.worker_relay_poll_s,
        "worker_db_pool": f"{options.db_pool_size}+{options.db_max_overflow}",
        "api_workers": config.api_workers,
        "api_db_pool_per_worker": f"{settings.db_pool_size}+{settings.db_max_overflow}",
        "client": orders.CLIENT_NAMES["raw"],
        "max_in_flight": config.max_in_flight,
        "drain_timeout_s": config.drain_timeout_s,
        "products": config.products,
        "customers": config.customers,
        "receiver": url,
    }


STAGE_LABELS = {
    "created_to_claimed": "  created_at to the relay's claim",
    "claimed_to_attempt": "  claim to the attempt (the engine's claim)",
    "attempt_to_arrival": "  attempt to arrival (HTTP)",
}


def render(report: dict[str, Any]) -> str:
    machine, software, config = report["machine"], report["software"], report["config"]
    cpu = report["cpu"]
    lines = [
        f"Orderly webhook deliveries at a fixed order rate ({report['started_at']})",
        orders.machine_line(machine),
        f"  software  Orderly {software['orderly']}, Python {software['python']}, "
        f"uvicorn {software['uvicorn']} (uvloop, httptools), arq {software['arq']}, "
        f"aiohttp {software['aiohttp']}",
        f"  database  {software['postgresql']}",
        f"  config    {config['rate_per_s']:g} orders/s for {config['duration_s']:g} s after "
        f"{config['warmup_s']:g} s warm-up{', each paid' if config['pay'] else ''}; "
        f"API workers {config['api_workers']}, client {config['client']}",
        f"  workers   {config['workers']} process(es), {config['delivery_concurrency']} "
        f"attempts at once each ({config['delivery_per_endpoint']} per endpoint), "
        f"relay poll {config['worker_relay_poll_s']:g} s, DB pool {config['worker_db_pool']} each",
        f"  receiver  {config['receiver']} for {', '.join(config['event_types'])} "
        "(in this process, answers 204)",
        "",
        _orders_table(report["orders"]),
        _schedule_line(report["orders"]),
        "",
        _deliveries_table(report["deliveries"]),
        "",
        _latency_table(report),
        "",
        f"CPU from the first measured order to the last delivery ({cpu['elapsed_s']:.1f} s): "
        f"% of one core ({machine['usable_cores']} cores = {100 * machine['usable_cores']}%) "
        "and ms per order placed",
        _cpu_table(cpu),
        "",
        _records_line(report["orderly_records"]),
        _warmup_line(report["warmup"]),
        *_error_lines(report),
    ]
    return "\n".join(lines)


def _orders_table(results: dict[str, Any]) -> str:
    header = ["requests", "sent", "ok", "errors", "sent/s", "ok/s", "p50 ms", "p90 ms"]
    header += ["p99 ms", "max ms"]
    rows = [
        [
            name, str(r["sent"]), str(r["ok"]), str(r["errors"]),
            orders.number(r["sent_per_s"]), orders.number(r["ok_per_s"]),
            *(orders.number(r["latency_ms"][mark]) for mark in ("p50", "p90", "p99", "max")),
        ]
        for name, r in results["requests"].items()
    ]  # fmt: skip
    return orders.table(header, rows)


def _schedule_line(results: dict[str, Any]) -> str:
    behind = results["behind_schedule_ms"]
    return (
        f"  {results['scheduled']} orders due at {results['target_per_s']:g}/s; requests left "
        f"{orders.number(behind['p50'])} ms (p50), {orders.number(behind['p99'])} ms (p99), "
        f"{orders.number(behind['max'])} ms (max) behind schedule"
    )


def _deliveries_table(results: dict[str, Any]) -> str:
    header = ["deliveries", "expected", "received", "missing", "duplicates", "unexpected"]
    header += ["per s", "drain s"]
    rows = [
        [
            name, str(r["expected"]), str(r["received"]), str(r["missing"]),
            str(r["duplicates"]), str(r["unexpected"]), orders.number(r["per_s"]),
            "n/a" if r["drain_s"] is None else f"{r['drain_s']:.2f}",
        ]
        for name, r in results["by_type"].items()
    ]  # fmt: skip
    table = orders.table(header, rows)
    return f"{table}\n  invalid deliveries (signature, envelope): {results['invalid']}"


def _latency_table(report: dict[str, Any]) -> str:
    header = ["latency", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    marks = ("p50", "p90", "p99", "max")
    deliveries = report["deliveries"]
    overall = deliveries["by_type"]["all" if "all" in deliveries["by_type"] else PLACED]
    entries: list[tuple[str, int, dict[str, float | None]]] = [
        ("outbox to receiver", overall["received"], overall["latency_ms"])
    ]
    split = deliveries["stages_ms"]
    entries += [(label, split["n"], split[name]) for name, label in STAGE_LABELS.items()]
    for name, r in report["orders"]["requests"].items():
        label = "order placement (HTTP)" if name == "place" else "order payment (HTTP)"
        entries.append((label, r["ok"], r["latency_ms"]))
    rows = [
        [label, str(count), *(orders.number(values[mark]) for mark in marks)]
        for label, count, values in entries
    ]
    return orders.table(header, rows)


def _cpu_table(cpu: dict[str, Any]) -> str:
    percent, per_order = cpu["percent_of_one_core"], cpu["ms_per_order"]
    parties = list(percent)
    rows = [
        ["% of one core", *(orders.number(percent[p], "%") for p in parties)],
        ["ms per order", *(orders.number(per_order[p]) if p in per_order else "" for p in parties)],
    ]
    lines = orders.table(["", *parties], rows).splitlines()
    return "\n".join(line.rstrip() for line in lines)


def _records_line(records: dict[str, Any]) -> str:
    def counts(states: dict[str, int]) -> str:
        return ", ".join(f"{count} {state}" for state, count in states.items()) or "none"

    return (
        f"Orderly's records of the measured events: {records['events']} in the outbox "
        f"({counts(records['event_states'])}); deliveries: {counts(records['delivery_states'])}; "
        f"{records['attempts']} attempts, {records['retried']} deliveries retried"
    )


def _warmup_line(warmup: dict[str, Any]) -> str:
    return (
        f"Warm-up ({warmup['seconds']:g} s, not counted): {warmup['placed']} orders placed, "
        f"{warmup['errors']} errors, {warmup['deliveries_received']} of "
        f"{warmup['deliveries_expected']} deliveries received"
    )


def _error_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        f"  {name}: {count} x {kind}"
        for name, r in report["orders"]["requests"].items()
        for kind, count in r["error_kinds"].items()
    ]
    lines += [
        f"  receiver: {count} x {kind}"
        for kind, count in report["deliveries"]["invalid_kinds"].items()
    ]
    return ["", "Errors:", *lines] if lines else []


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        with contextlib.ExitStack() as stack, orders.signals_interrupt():
            report = bench(config, stack)
            orders.progress("stopping the workers, the API and the servers")
    except KeyboardInterrupt:
        print("interrupted: everything started was stopped", file=sys.stderr)
        return 130
    except (orders.BenchError, embedded.EmbeddedServerError, migrate.MigrationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(render(report))
    for name, lines in report["logs"].items():
        if lines:
            shown = [line if len(line) <= LOG_WIDTH else line[:LOG_WIDTH] + "..." for line in lines]
            print(
                f"\n{name} log (last lines, cut at {LOG_WIDTH} characters):\n  "
                + "\n  ".join(shown)
            )
    if config.json_path is not None:
        config.json_path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nresults written to {config.json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --- Scenarios of the side-by-side harness (bench/run.py) ---------------------------------

BACKLOG_TYPE = "stock.low"  # the backlog's events: no other endpoint subscribes to them


async def forget_endpoints(settings: InfraSettings) -> None:
    """Remove every webhook endpoint (and so their deliveries): each scenario registers its
    own receivers, and what an earlier one left behind would share the worker with it."""
    engine = create_engine(settings, application_name="orderly-bench")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM webhook_endpoints"))
    finally:
        await engine.dispose()


async def add_backlog(settings: InfraSettings, events: int) -> None:
    """``events`` committed at once (one transaction, one ``NOTIFY``), as if a burst of
    business had happened while no worker ran."""
    engine = create_engine(settings, application_name="orderly-bench")
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO outbox (id, type, subject, sequence, data, request_id,"
                    " created_at, state)"
                    " SELECT gen_random_uuid(), :type, 'product:backlog-' || n, 1,"
                    " jsonb_build_object('sku', 'backlog-' || n), 'bench-backlog', now(),"
                    " 'pending' FROM generate_series(1, :events) AS n"
                ),
                {"type": BACKLOG_TYPE, "events": events},
            )
            await connection.execute(text("SELECT pg_notify('orderly_outbox', '')"))
    finally:
        await engine.dispose()


async def backlog_throughput(
    settings: InfraSettings, worker: Worker, events: int, timeout_s: float
) -> dict[str, Any]:
    """How fast one worker delivers a backlog of ``events`` to one fast receiver, and the
    worker's CPU per delivery (its process's CPU from the commit to the last arrival)."""
    await forget_endpoints(settings)
    with contextlib.ExitStack() as stack:
        listener = listening_socket(stack)
        url = f"http://{HOST}:{listener.getsockname()[1]}{RECEIVER_PATH}"
        secret = await register_receiver(settings, url, [BACKLOG_TYPE])
        receiver = Receiver(secret)
        await receiver.start(listener)
        probe = orders.CpuProbe({"worker": worker.process.pid})
        try:
            orders.progress(f"committing a backlog of {events:,} events")
            before = probe.snapshot()
            await add_backlog(settings, events)
            keys = {(f"product:backlog-{n}", BACKLOG_TYPE) for n in range(1, events + 1)}
            missing = await receiver.wait_for(keys, timeout_s, "backlog")
            after = probe.snapshot()
        finally:
            await receiver.stop()
    await forget_endpoints(settings)
    arrived = sorted(arrival.at for arrival in receiver.first.values())
    per_s = rate(arrived)
    worker_share = probe.split(before, after)["worker"] or 0.0
    worker_cpu_s = worker_share / 100 * (after.at - before.at)
    delivered = len(arrived)
    duplicates = sum(1 for a in receiver.arrivals if a.problem is None) - delivered
    invalid = sum(1 for a in receiver.arrivals if a.problem is not None)
    return {
        "rps": None if per_s is None else round(per_s, 1),
        "p50_ms": None,
        "p99_ms": None,
        "errors": len(missing) + invalid,
        "requests": delivered,
        "duplicates": duplicates,
        "seconds": round(after.at - before.at, 2),
        "worker_cpu_ms_per_delivery": round(1000 * worker_cpu_s / delivered, 3)
        if delivered
        else None,
        "cpu_percent_of_one_core": probe.split(before, after),
    }


class Hanging:
    """An endpoint that accepts connections, reads the requests and never answers: every
    attempt to it lasts the worker's whole timeout."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._listener = listening_socket(stack)
        self.url = f"http://{HOST}:{self._listener.getsockname()[1]}{RECEIVER_PATH}"
        self._held: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        stack.callback(self.close)

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop:
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)  # read by nobody, answered never

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        for connection in self._held:
            connection.close()

"""The delivery engine: relays committed events and sends their webhook deliveries, in every
worker.

One loop per worker process does both. It wakes when PostgreSQL notifies ``orderly_outbox``
(sent by the commit that adds an event), when an attempt ends while due deliveries wait for
room, and, as a safety net and for scheduled retries, every ``poll_s`` seconds. Each wake-up:

1. relays a batch of events (:func:`~orderly_core.webhooks.delivery.relay_events`). The
   deliveries the engine has room for are created leased to it, in the relay's own
   transaction, and sent at once: a new event reaches its endpoints after one transaction;
2. when deliveries may be due beyond those (the relay had no room for some, a retry came due,
   an attempt ended while some waited for room), claims them while there is room
   (:func:`~orderly_core.webhooks.delivery.claim_deliveries`);
3. room is at most ``concurrency`` attempts under way in all and ``per_endpoint`` to one
   endpoint, so an endpoint that hangs or fails holds only its own share and the others keep
   their pace (a claim does not even look at an endpoint without room). Whatever is taken is
   leased for ``lease``, longer than an attempt may last;
4. every delivery taken is sent at once, concurrently, over the worker's one pooled HTTP
   client; as attempts end, their outcomes are recorded in batches, one transaction each
   (:func:`~orderly_core.webhooks.delivery.record_deliveries`);
5. due emails, its second channel (:mod:`orderly_worker.mail`), are claimed with a room and
   a lease of their own, when the relay made some or on the safety net's poll;

and again from 1 until the outbox is empty.

Several workers run engines at once: claims skip rows another worker holds, so no delivery is
sent by two workers at a time. A worker killed mid-attempt leaves its leases to run out and
another worker sends those deliveries again (at least once; the receiver drops a duplicate
by its ``webhook-id``). Nothing of it lives in Redis: an outage of the job queue does not
delay a single delivery.

When PostgreSQL is unreachable the engine logs it, waits (from :data:`FIRST_BACKOFF_S`,
doubling up to :data:`MAX_BACKOFF_S`) and tries again; outcomes not yet recorded are kept
and recorded once it is back. Every ``reconcile_every_s`` seconds it also closes the records
of jobs that ended or were lost without their record saying so
(:func:`orderly_core.jobs.reconcile.reconcile_jobs`).

The listening connection is watched, since a lost one would leave only the slow poll: the
driver tells when the server ends it (a restart, a terminated backend), the engine checks it
on every wake-up, and probes it with a query every ``reconcile_every_s`` seconds (a
connection that died without a word). A lost listener is logged (``relay_listener_lost``)
and replaced, then ``relay_listening`` says it hears again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orderly_core.jobs.reconcile import JobStates, reconcile_jobs
from orderly_core.shared.context import Actor, Context
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.delivery import (
    RELAY_BATCH,
    Claimed,
    Room,
    Sent,
    claim_deliveries,
    record_deliveries,
    relay_events,
    send_delivery,
)
from orderly_core.webhooks.model import Delivery, DeliveryState
from orderly_core.webhooks.ports import WebhookSender
from orderly_db.outbox import CHANNEL
from orderly_worker.mail import MailChannel
from orderly_worker.telemetry import delivery_span, observe_deliveries

MAX_BACKOFF_S = 30.0
FIRST_BACKOFF_S = 0.25  # a PostgreSQL restart takes about that long
PROBE_TIMEOUT_S = 5.0
RELAY_ACTOR = Actor.system("relay")

log = structlog.get_logger("orderly_worker.engine")


@dataclass(frozen=True, slots=True)
class EngineOptions:
    poll_s: float = 1.0  # the safety net's interval, and how late a retry may start
    reconcile_every_s: float = 10.0
    reconcile_grace: timedelta = timedelta(seconds=30)  # a job record this stale is closed
    concurrency: int = 256  # attempts under way at once, in all
    per_endpoint: int = 32  # ...and to one endpoint
    batch: int = 128  # deliveries claimed in one transaction
    lease: timedelta = timedelta(seconds=30)  # longer than any attempt may last
    record_delay_s: float = 0.01  # ended attempts gather this long before being recorded


class DeliveryEngine:
    def __init__(
        self,
        deps: Dependencies,
        engine: AsyncEngine,
        sender: WebhookSender,
        options: EngineOptions,
        states: JobStates | None = None,
        *,
        mail: MailChannel | None = None,
    ) -> None:
        self._deps = deps
        self._mail = mail  # the second channel: due emails, sent over SMTP
        self._engine = engine
        self._sender = sender
        self._states = states  # the queue, asked about jobs whose records were left open
        self._options = options
        self._wake = asyncio.Event()
        self._ended = asyncio.Event()  # an attempt ended: outcomes to record
        self._task: asyncio.Task[None] | None = None
        self._recorder: asyncio.Task[None] | None = None
        self._last_reconcile = 0.0
        self._sending: set[asyncio.Task[None]] = set()
        self._under_way: Counter[uuid.UUID] = Counter()  # attempts under way, by endpoint
        self._outcomes: list[Sent] = []
        self._due = True  # deliveries may be due that nobody has taken: claim at the wake-up
        self._waiting = False  # the last claim left due deliveries for want of room
        self._mail_due = True  # emails may be due: claim them at the wake-up

    def start(self) -> None:
        if self._mail is not None:
            self._mail.on_ended = self._ended.set
            self._mail.on_room = self._mail_room
        self._task = asyncio.create_task(self._run(), name="orderly-delivery-engine")
        self._recorder = asyncio.create_task(self._record_loop(), name="orderly-recorder")

    def _mail_room(self) -> None:
        """Emails wait for the room the mail channel has again: claim them at once."""
        self._mail_due = True
        self._wake.set()

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop claiming; let the attempts under way end (for up to ``grace_s``) and record
        them. Attempts cut short are sent again by another worker once their lease ends."""
        await _cancel(self._task)
        if self._sending:
            await asyncio.wait(self._sending, timeout=grace_s)
        for task in list(self._sending):
            task.cancel()
        if self._mail is not None:
            await self._mail.stop(grace_s)
        await _cancel(self._recorder)
        with contextlib.suppress(Exception):
            await self._record_ended()

    @property
    def under_way(self) -> int:
        return len(self._sending)

    async def _run(self) -> None:
        backoff = min(self._options.poll_s, FIRST_BACKOFF_S)
        listener: _Listener | None = None
        lost = False
        try:
            while True:
                self._wake.clear()
                try:
                    if listener is not None and not listener.hears():
                        log.warning("relay_listener_lost")
                        await listener.close()
                        listener, lost = None, True
                    if listener is None:
                        listener = await self._listen()
                        if lost:
                            log.info("relay_listening")
                            lost = False
                    await self._wake_up(listener)
                    backoff = min(self._options.poll_s, FIRST_BACKOFF_S)
                except Exception as error:  # an outage: logged, then waited out
                    log.warning("relay_unavailable", error=f"{type(error).__name__}: {error}")
                    self._due = self._mail_due = True  # a claim cut short: claim again
                    if listener is not None:
                        await listener.close()
                        listener, lost = None, True
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), self._options.poll_s)
                except TimeoutError:  # the safety net: retries come due, a wake-up was missed
                    self._due = self._mail_due = True
        finally:  # stopped (cancelled) wherever it was waiting: its connection goes back
            if listener is not None:
                await listener.close()

    async def _listen(self) -> _Listener:
        """A connection of its own that hears ``NOTIFY orderly_outbox``, and wakes the engine
        when the server ends it."""
        connection = await self._engine.connect()
        try:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            listener = _Listener(connection, driver)

            def wake(*_: object) -> None:
                self._wake.set()

            def ended(*_: object) -> None:
                listener.ended = True
                self._wake.set()

            driver.add_termination_listener(ended)
            await driver.add_listener(CHANNEL, wake)
        except BaseException:
            await _close(connection)
            raise
        return listener

    async def _wake_up(self, listener: _Listener) -> None:
        ctx = Context(RELAY_ACTOR, f"relay-{uuid.uuid4().hex[:12]}")
        while True:  # a batch relayed, then what is due sent: a backlog starts leaving at once
            room = self._room()
            report = (
                await relay_events(self._deps, ctx, room=room if room.free > 0 else None)
            ).unwrap()
            for one in report.claimed:
                self._send(one)
            if report.events:
                log.debug(
                    "events_relayed",
                    events=report.events,
                    deliveries=report.deliveries,
                    sent_at_once=len(report.claimed),
                )
            if report.deliveries > len(report.claimed):
                self._due = True
            if self._due or self._waiting:
                await self._claim(ctx)
            if self._mail is not None and (self._mail_due or report.messages):
                self._mail_due = False
                await self._mail.claim(ctx)
            if report.events < RELAY_BATCH:
                break
        if time.monotonic() - self._last_reconcile >= self._options.reconcile_every_s:
            self._last_reconcile = time.monotonic()
            await listener.probe()
            if self._states is not None:
                await self._reconcile(ctx)

    def _room(self) -> Room:
        options = self._options
        return Room(
            free=options.concurrency - len(self._sending),
            per_endpoint=options.per_endpoint,
            lease=options.lease,
            under_way=dict(self._under_way),
        )

    async def _claim(self, ctx: Context) -> None:
        """Claim and send due deliveries while there is room."""
        self._due = False
        while (room := self._room()).free > 0:
            room = replace(room, free=min(self._options.batch, room.free))
            claimed = (await claim_deliveries(self._deps, ctx, room)).unwrap()
            for one in claimed:
                self._send(one)
            if len(claimed) < room.free:
                # Fewer than asked: nothing else is due, or what is due waits for room at an
                # endpoint that is full now; an attempt ending there wakes the loop to claim
                # again.
                taken = Counter(one.delivery.endpoint_id for one in claimed)
                self._waiting = any(room.of(e) <= taken[e] for e in {*room.under_way, *taken})
                return
        self._waiting = True

    def _send(self, claimed: Claimed) -> None:
        endpoint = claimed.delivery.endpoint_id
        self._under_way[endpoint] += 1
        task = asyncio.create_task(self._attempt(claimed))
        self._sending.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._sending.discard(finished)
            self._under_way[endpoint] -= 1
            left = self._under_way[endpoint]
            if not left:
                del self._under_way[endpoint]
            # Room is claimed again in handfuls, not one delivery per transaction: once the
            # endpoint is down to half its share, or the engine to half its room.
            half = left <= self._options.per_endpoint // 2
            if self._waiting and (half or len(self._sending) <= self._options.concurrency // 2):
                self._wake.set()

        task.add_done_callback(done)

    async def _attempt(self, claimed: Claimed) -> None:
        with delivery_span(claimed):  # continues the trace of the request behind the event
            sent = await send_delivery(self._deps, claimed, self._sender)
        self._outcomes.append(sent)
        self._ended.set()

    async def _record_loop(self) -> None:
        """Record ended attempts, a batch per transaction: whatever ended while the previous
        batch was being recorded."""
        backoff = FIRST_BACKOFF_S
        while True:
            await self._ended.wait()
            await asyncio.sleep(self._options.record_delay_s)  # let a batch gather
            self._ended.clear()
            try:
                await self._record_ended()
                backoff = FIRST_BACKOFF_S
            except Exception as error:  # an outage: the outcomes are kept, and tried again
                log.warning("delivery_record_failed", error=f"{type(error).__name__}: {error}")
                self._ended.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _record_ended(self) -> None:
        if self._mail is not None:
            await self._mail.record_ended()
        batch, self._outcomes = self._outcomes, []
        if not batch:
            return
        ctx = Context(RELAY_ACTOR, f"deliveries-{uuid.uuid4().hex[:12]}")
        try:
            recorded = (await record_deliveries(self._deps, ctx, batch)).unwrap()
        except BaseException:
            self._outcomes[:0] = batch
            raise
        observe_deliveries(batch, recorded)
        requests = {sent.claimed.delivery.id: sent.claimed.event.request_id for sent in batch}
        for delivery in recorded:
            _log_attempt(delivery, requests[delivery.id])

    async def _reconcile(self, ctx: Context) -> None:
        """Close stale job records; the job queue being out of reach (Redis down) only
        postpones it, and never holds up a delivery."""
        assert self._states is not None  # noqa: S101 - checked by the caller
        grace = self._options.reconcile_grace
        try:
            closed = (await reconcile_jobs(self._deps, ctx, self._states, grace=grace)).unwrap()
        except Exception as error:
            log.warning("job_reconcile_failed", error=f"{type(error).__name__}: {error}")
            return
        for job in closed.closed:
            log.warning(
                "job_record_closed", job_id=job.id, status=job.status.value, reason=job.last_error
            )


def _log_attempt(delivery: Delivery, request_id: str) -> None:
    fields = {
        "request_id": request_id,
        "delivery_id": str(delivery.id),
        "endpoint_id": str(delivery.endpoint_id),
        "event_id": str(delivery.event_id),
        "attempt": delivery.attempts,
        "status": delivery.last_status,
    }
    if delivery.state is DeliveryState.DELIVERED:
        log.debug("webhook_delivered", **fields)
    elif delivery.state is DeliveryState.DEAD:
        log.warning("webhook_dead_letter", error=delivery.last_error, **fields)
    else:
        log.info(
            "webhook_attempt_failed",
            error=delivery.last_error,
            next_attempt_at=delivery.next_attempt_at,
            **fields,
        )


class _Listener:
    """The engine's listening connection, and whether it still hears."""

    def __init__(self, connection: AsyncConnection, driver: Any) -> None:
        self._connection = connection
        self._driver = driver
        self.ended = False  # set by the driver when the connection ends

    def hears(self) -> bool:
        return not (self.ended or self._connection.closed or self._driver.is_closed())

    async def probe(self) -> None:
        """One query on the connection: fails if it died without the driver noticing."""
        await asyncio.wait_for(self._driver.execute("SELECT 1"), PROBE_TIMEOUT_S)

    async def close(self) -> None:
        if not self.hears():  # broken: not for the pool to hand out again
            with contextlib.suppress(Exception):
                await self._connection.invalidate()
        await _close(self._connection)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _close(connection: AsyncConnection | None) -> None:
    if connection is not None:
        with contextlib.suppress(Exception):
            await connection.close()

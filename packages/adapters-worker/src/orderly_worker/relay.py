"""The relay: moves committed events from the outbox onto the job queue, in every worker.

It wakes when PostgreSQL notifies ``orderly_outbox`` (sent by the commit that adds an event)
and, as a safety net, every ``poll_s`` seconds, so an event leaves within milliseconds of its
commit without busy polling. Each wake-up relays batches until the outbox is empty (see
:func:`orderly_core.webhooks.delivery.relay_events`: several workers relay at once without
handing on the same event twice) and queues the deliveries asked for again (redeliveries,
replays); every ``sweep_every_s`` seconds it also queues again the deliveries whose jobs were
lost, and closes the records of jobs that ended or were lost without their record saying so
(:func:`orderly_core.jobs.reconcile.reconcile_jobs`, with the same grace).

When Redis or PostgreSQL is unreachable the relay logs it, waits (from
:data:`FIRST_BACKOFF_S`, doubling up to :data:`MAX_BACKOFF_S`) and tries again: the events
wait in PostgreSQL meanwhile, and the worker does not stop.

The listening connection is watched, since a lost one would leave only the slow poll: the
driver tells when the server ends it (a restart, a terminated backend), the relay checks it
on every wake-up, and probes it with a query every ``sweep_every_s`` seconds (a connection
that died without a word). A lost listener is logged (``relay_listener_lost``) and replaced,
then ``relay_listening`` says it hears again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orderly_core.jobs.ports import JobQueue
from orderly_core.jobs.reconcile import JobStates, reconcile_jobs
from orderly_core.shared.context import Actor, Context
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.delivery import RELAY_BATCH, relay_events, sweep_deliveries
from orderly_db.outbox import CHANNEL

MAX_BACKOFF_S = 30.0
FIRST_BACKOFF_S = 0.25  # a PostgreSQL restart takes about that long
PROBE_TIMEOUT_S = 5.0
RELAY_ACTOR = Actor.system("relay")

log = structlog.get_logger("orderly_worker.relay")


@dataclass(frozen=True, slots=True)
class RelayOptions:
    poll_s: float = 1.0  # the safety net's interval
    sweep_every_s: float = 10.0
    sweep_grace: timedelta = timedelta(seconds=30)  # a queued attempt this late was lost


class Relay:
    def __init__(
        self,
        deps: Dependencies,
        engine: AsyncEngine,
        queue: JobQueue,
        options: RelayOptions,
        states: JobStates | None = None,
    ) -> None:
        self._deps = deps
        self._engine = engine
        self._queue = queue
        self._states = states  # the queue, asked about jobs whose records were left open
        self._options = options
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_sweep = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="orderly-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        backoff = min(self._options.poll_s, FIRST_BACKOFF_S)
        listener: _Listener | None = None
        lost = False
        try:
            while True:
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
                    await self._relay_all(listener)
                    backoff = min(self._options.poll_s, FIRST_BACKOFF_S)
                except Exception as error:  # an outage: logged, then waited out
                    log.warning("relay_unavailable", error=f"{type(error).__name__}: {error}")
                    if listener is not None:
                        await listener.close()
                        listener, lost = None, True
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._options.poll_s)
                self._wake.clear()
        finally:  # stopped (cancelled) wherever it was waiting: its connection goes back
            if listener is not None:
                await listener.close()

    async def _listen(self) -> _Listener:
        """A connection of its own that hears ``NOTIFY orderly_outbox``, and wakes the relay
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

    async def _relay_all(self, listener: _Listener) -> None:
        ctx = Context(RELAY_ACTOR, f"relay-{uuid.uuid4().hex[:12]}")
        while True:
            report = (await relay_events(self._deps, ctx, self._queue)).unwrap()
            if report.events:
                log.info("events_relayed", events=report.events, deliveries=report.deliveries)
            if report.events < RELAY_BATCH:
                break
        grace = None  # each wake-up: what was asked for again (redeliveries, replays)
        if time.monotonic() - self._last_sweep >= self._options.sweep_every_s:
            self._last_sweep = time.monotonic()
            grace = self._options.sweep_grace  # now and then: what the queue lost
            await listener.probe()
        swept = (await sweep_deliveries(self._deps, ctx, self._queue, grace=grace)).unwrap()
        if swept:
            log.info("deliveries_queued", deliveries=swept, lost_ones_included=grace is not None)
        if grace is not None and self._states is not None:
            closed = (await reconcile_jobs(self._deps, ctx, self._states, grace=grace)).unwrap()
            for job in closed.closed:
                log.warning(
                    "job_record_closed",
                    job_id=job.id,
                    status=job.status.value,
                    reason=job.last_error,
                )


class _Listener:
    """The relay's listening connection, and whether it still hears."""

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


async def _close(connection: AsyncConnection | None) -> None:
    if connection is not None:
        with contextlib.suppress(Exception):
            await connection.close()

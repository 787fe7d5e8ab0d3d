"""The relay: moves committed events from the outbox onto the job queue, in every worker.

It wakes when PostgreSQL notifies ``orderly_outbox`` (sent by the commit that adds an event)
and, as a safety net, every ``poll_s`` seconds, so an event leaves within milliseconds of its
commit without busy polling. Each wake-up relays batches until the outbox is empty (see
:func:`orderly_core.webhooks.delivery.relay_events`: several workers relay at once without
handing on the same event twice) and queues the deliveries asked for again (redeliveries,
replays); every ``sweep_every_s`` seconds it also queues again the deliveries whose jobs were
lost.

When Redis or PostgreSQL is unreachable the relay logs it, waits (doubling up to
:data:`MAX_BACKOFF_S`) and tries again: the events wait in PostgreSQL meanwhile, and the
worker does not stop.
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
from orderly_core.shared.context import Actor, Context
from orderly_core.unit_of_work import Dependencies
from orderly_core.webhooks.delivery import RELAY_BATCH, relay_events, sweep_deliveries
from orderly_db.outbox import CHANNEL

MAX_BACKOFF_S = 30.0
RELAY_ACTOR = Actor.system("relay")

log = structlog.get_logger("orderly_worker.relay")


@dataclass(frozen=True, slots=True)
class RelayOptions:
    poll_s: float = 1.0  # the safety net's interval
    sweep_every_s: float = 10.0
    sweep_grace: timedelta = timedelta(seconds=30)  # a queued attempt this late was lost


class Relay:
    def __init__(
        self, deps: Dependencies, engine: AsyncEngine, queue: JobQueue, options: RelayOptions
    ) -> None:
        self._deps = deps
        self._engine = engine
        self._queue = queue
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
        backoff = self._options.poll_s
        listener: AsyncConnection | None = None
        try:
            while True:
                try:
                    if listener is None or listener.closed:
                        listener = await self._listen()
                    await self._relay_all()
                    backoff = self._options.poll_s
                except Exception as error:  # an outage: logged, then waited out
                    log.warning("relay_unavailable", error=f"{type(error).__name__}: {error}")
                    await _close(listener)
                    listener = None
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._options.poll_s)
                self._wake.clear()
        finally:  # stopped (cancelled) wherever it was waiting: its connection goes back
            await _close(listener)

    async def _listen(self) -> AsyncConnection:
        """A connection of its own that hears ``NOTIFY orderly_outbox``."""
        connection = await self._engine.connect()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection

        def wake(*_: object) -> None:
            self._wake.set()

        await driver.add_listener(CHANNEL, wake)
        return connection

    async def _relay_all(self) -> None:
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
        swept = (await sweep_deliveries(self._deps, ctx, self._queue, grace=grace)).unwrap()
        if swept:
            log.info("deliveries_queued", deliveries=swept, lost_ones_included=grace is not None)


async def _close(connection: AsyncConnection | None) -> None:
    if connection is not None:
        with contextlib.suppress(Exception):
            await connection.close()

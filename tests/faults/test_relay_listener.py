"""The relay hears PostgreSQL again after a restart: events committed afterwards leave at
once, not at the next poll (item 18)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_cli.embedded import EmbeddedPostgres
from orderly_core.platform.outbox import EventType, new_event
from orderly_core.shared.context import Actor, Context
from orderly_core.testing import ScriptedSender
from orderly_core.unit_of_work import Dependencies
from orderly_db.tables import outbox
from orderly_db.unit_of_work import sql_dependencies
from orderly_worker.engine import DeliveryEngine, EngineOptions
from tests.db_fixtures import FAST_PASSWORDS

pytestmark = pytest.mark.postgres

POLL_S = 30.0  # the safety net: far longer than any wait below
PROMPT_S = 2.0


async def _seconds_to_relay(deps: Dependencies, engine: AsyncEngine) -> float:
    """Commit one event; how long until the relay has handed it on."""
    ctx = Context(Actor.system("test"), f"req-{uuid.uuid4().hex[:8]}")
    event = new_event(
        uuid.uuid4(),
        ctx,
        datetime.now(UTC),
        EventType.ORDER_PLACED,
        subject=f"order/{uuid.uuid4()}",
        sequence=1,
        data={},
    )
    async with deps.unit_of_work() as uow:
        await uow.outbox.add(event)
        await uow.commit()
    committed = time.monotonic()
    state = select(outbox.c.state).where(outbox.c.id == event.id)
    while time.monotonic() - committed < PROMPT_S * 2:
        async with engine.connect() as connection:
            if await connection.scalar(state) != "pending":
                return time.monotonic() - committed
        await asyncio.sleep(0.02)
    return float("inf")


async def test_the_relay_listens_again_after_postgresql_restarts(
    fault_engine: AsyncEngine, fault_postgres: EmbeddedPostgres
) -> None:
    deps = sql_dependencies(fault_engine, passwords=FAST_PASSWORDS)
    options = EngineOptions(poll_s=POLL_S, reconcile_every_s=3600)
    relay = DeliveryEngine(deps, fault_engine, ScriptedSender(), options)
    with structlog.testing.capture_logs() as logs:
        relay.start()
        try:
            assert await _seconds_to_relay(deps, fault_engine) < PROMPT_S

            await asyncio.to_thread(fault_postgres.restart)
            deadline = time.monotonic() + 10
            while not any(e["event"] == "relay_listening" for e in logs):
                assert time.monotonic() < deadline, "the relay never listened again"
                await asyncio.sleep(0.05)

            assert await _seconds_to_relay(deps, fault_engine) < PROMPT_S
        finally:
            await relay.stop()
    events = [e["event"] for e in logs]
    assert "relay_listener_lost" in events or "relay_unavailable" in events

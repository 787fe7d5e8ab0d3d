"""A worker's metrics: served on a port of its own, its jobs counted by outcome, its dead
letters by reason, and the outbox's backlog sampled from PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from arq import ArqRedis
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.jobs import payloads as jobs
from orderly_core.platform.outbox import Event, EventType
from orderly_core.unit_of_work import Dependencies
from orderly_worker.telemetry import sample_outbox
from tests.cli.processes import free_port
from tests.worker.helpers import import_payload, outcome, run_worker, worker_running

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

HEADER = "sku,name,description,price,currency,on_hand\n"


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_the_worker_serves_its_metrics_on_its_own_port(
    worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("WORKER_METRICS_PORT", str(port))

    async with worker_running(), httpx.AsyncClient(trust_env=False) as client:
        for _ in range(100):  # until the worker has started
            try:
                scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)

    assert scraped.status_code == 200
    assert "# TYPE orderly_job_runs_total counter" in scraped.text
    assert "orderly_outbox_pending_events" in scraped.text
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(httpx.ConnectError):  # stopped with the worker
            await client.get(f"http://127.0.0.1:{port}/metrics")


@pytest.mark.usefixtures("worker_env")
async def test_job_runs_are_counted_by_outcome_and_dead_letters_by_reason(
    queue: ArqRedis,
) -> None:
    name = jobs.IMPORT_PRODUCTS
    before = (
        _count("orderly_job_runs_total", job=name, outcome="succeeded"),
        _count("orderly_job_runs_total", job=name, outcome="dead"),
        _count("orderly_dead_letters_total", job=name, reason="invalid_payload"),
        _count("orderly_job_duration_seconds_count", job=name),
    )
    good = await queue.enqueue_job(name, import_payload(HEADER + "mug-1,Mug,,1,EUR,1\n"))
    bad = await queue.enqueue_job(name, {"not": "a payload"})

    await run_worker()

    assert (await outcome(good)).result["status"] == "succeeded"
    assert (await outcome(bad)).result["status"] == "dead"
    after = (
        _count("orderly_job_runs_total", job=name, outcome="succeeded"),
        _count("orderly_job_runs_total", job=name, outcome="dead"),
        _count("orderly_dead_letters_total", job=name, reason="invalid_payload"),
        _count("orderly_job_duration_seconds_count", job=name),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 2]


async def test_the_outbox_backlog_and_its_oldest_event_are_sampled(
    pg_deps: Dependencies, clean_engine: AsyncEngine
) -> None:
    await sample_outbox(clean_engine)
    assert _count("orderly_outbox_pending_events") == 0
    assert _count("orderly_outbox_oldest_pending_age_seconds") == 0

    now = datetime.now(UTC)
    async with pg_deps.unit_of_work() as uow:
        for age_s in (90, 30, 5):
            await uow.outbox.add(
                Event(
                    uuid.uuid4(), EventType.STOCK_LOW, "product:MUG-1", 1, {}, "req-1",
                    now - timedelta(seconds=age_s),
                )
            )  # fmt: skip
        await uow.commit()
    await sample_outbox(clean_engine)

    assert _count("orderly_outbox_pending_events") == 3
    assert 90 <= _count("orderly_outbox_oldest_pending_age_seconds") < 120

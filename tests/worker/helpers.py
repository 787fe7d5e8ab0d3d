"""Running the worker and reading what it left behind, for the worker tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

from arq import Worker
from arq.jobs import Job, JobResult
from arq.worker import Function, get_kwargs
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly_core.jobs import payloads as jobs
from orderly_core.shared.context import Mode
from orderly_db.tables import jobs as job_records
from orderly_db.tables import products
from orderly_worker.process import worker_from
from orderly_worker.settings import build_worker_settings, load_worker_env

WORKER_REDIS_DB = 9
RETRY_BASE_S = 0.05  # backoff in tests: tens of milliseconds instead of seconds
REQUEST_ID = "req-worker-test"
UNREACHABLE_POSTGRES = "postgresql+asyncpg://orderly@127.0.0.1:1/orderly"


async def run_worker(functions: Sequence[Function] | None = None, **options: Any) -> Worker:
    """Build the worker from the environment, run it until the queue is empty, shut it down."""
    settings = build_worker_settings(load_worker_env(), setup_logging=False)
    kwargs = cast("dict[str, Any]", get_kwargs(settings))
    # No scheduled jobs unless a test asks: one falling due mid-test would be counted too.
    kwargs |= {"burst": True, "handle_signals": False, "cron_jobs": [], **options}
    if functions is not None:
        kwargs["functions"] = list(functions)
    worker = Worker(**kwargs)
    try:
        async with asyncio.timeout(60):  # a guard against a hung worker, not an assertion
            await worker.async_run()
    finally:
        await worker.close()
    return worker


@asynccontextmanager
async def worker_running(**options: Any) -> AsyncIterator[Worker]:
    """A worker built from the environment, running (not in burst mode) until the block ends."""
    settings = build_worker_settings(load_worker_env(), setup_logging=False)
    worker = worker_from(settings, **({"handle_signals": False, "cron_jobs": []} | options))
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()


async def outcome(job: Job | None) -> JobResult:
    assert job is not None, "the job was not enqueued"
    info = await job.result_info()
    assert info is not None, "the job left no result"
    return info


def import_payload(csv_text: str, mode: Mode = Mode.EXECUTE) -> dict[str, str]:
    job = jobs.ImportProductsJob(
        csv_text=csv_text, request_id=REQUEST_ID, requested_by="alice", mode=mode
    )
    return job.to_payload()


async def stored_products(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    async with engine.connect() as connection:
        rows = (await connection.execute(select(products))).mappings().all()
    return {row["sku"]: dict(row) for row in rows}


async def stored_jobs(engine: AsyncEngine, *, status: str | None = None) -> list[dict[str, Any]]:
    """The jobs table's rows (optionally of one status), newest first, as they are stored."""
    query = select(job_records).order_by(job_records.c.created_at.desc(), job_records.c.id.desc())
    if status is not None:
        query = query.where(job_records.c.status == status)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return [dict(row) for row in rows]


async def stored_job(engine: AsyncEngine, job_id: str) -> dict[str, Any]:
    """The row of one job, which must exist."""
    found = [row for row in await stored_jobs(engine) if row["id"] == job_id]
    assert found, f"no record of job {job_id}"
    return found[0]
